"""The real dlib models on real photos: parity with face_recognition and known distances."""

import numpy as np
import pytest
from conftest import EXAMPLES, needs_data

from lookalike import api
from lookalike.faces import Settings, detect
from lookalike.images import load_photo

pytestmark = needs_data


def test_embedding_equals_face_recognition_on_the_same_face():
    face_recognition = pytest.importorskip("face_recognition")
    path = EXAMPLES / "obama.jpg"
    (ours,) = api.encode(path)
    image = face_recognition.load_image_file(path)
    (theirs,) = face_recognition.face_encodings(image, [ours.box], num_jitters=1, model="small")
    assert np.linalg.norm(ours.embedding - theirs) < 1e-6


def test_detection_on_the_shrunk_copy_finds_face_recognitions_face():
    face_recognition = pytest.importorskip("face_recognition")
    path = EXAMPLES / "obama-1080p.jpg"
    (ours,) = api.encode(path)
    (theirs,) = face_recognition.face_encodings(face_recognition.load_image_file(path))
    assert np.linalg.norm(ours.embedding - theirs) < 0.1


def test_same_person_is_near_and_different_people_far():
    same, _, _ = api.distance(EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg")
    other, _, _ = api.distance(EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg")
    assert same.distance < 0.6 and same.same_person
    assert other.distance > 0.6 and not other.same_person


def test_two_faces_are_found_with_boxes_in_original_pixels():
    photo = load_photo(EXAMPLES / "two_people.jpg")
    found = detect(photo, Settings())
    assert len(found) == 2
    for f in found:
        top, right, bottom, left = f.box
        assert 0 <= left < right <= photo.width and 0 <= top < bottom <= photo.height
        assert f.embedding.shape == (128,) and f.embedding.dtype == np.float32
        assert f.chip.shape == (150, 150, 3)


def test_shrinking_keeps_boxes_in_original_pixels():
    small = api.encode(EXAMPLES / "obama-480p.jpg")[0].box
    big = api.encode(EXAMPLES / "obama-1080p.jpg")[0].box
    ratio = (big[2] - big[0]) / (small[2] - small[0])
    assert ratio == pytest.approx(1080 / 480, rel=0.15)


def test_rgba_png_is_read():
    assert len(api.encode(EXAMPLES / "test_images" / "32bit.png")) == 1
