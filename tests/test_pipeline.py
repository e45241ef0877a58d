"""The real dlib models on real photos: parity with face_recognition and known distances."""

import numpy as np
import pytest
from conftest import EXAMPLES, needs_data

from lookalike import api
from lookalike.faces import Settings, detect
from lookalike.images import Photo, load_photo

pytestmark = needs_data


def test_embedding_equals_face_recognition_on_the_same_face():
    face_recognition = pytest.importorskip("face_recognition")
    path = EXAMPLES / "obama.jpg"
    (ours,) = api.encode(path)
    image = face_recognition.load_image_file(path)
    (theirs,) = face_recognition.face_encodings(image, [ours.box], num_jitters=1, model="small")
    assert np.linalg.norm(ours.parts["dlib"] - theirs) < 1e-6


def test_detection_on_the_shrunk_copy_finds_face_recognitions_face():
    face_recognition = pytest.importorskip("face_recognition")
    path = EXAMPLES / "obama-1080p.jpg"
    (ours,) = api.encode(path)
    (theirs,) = face_recognition.face_encodings(face_recognition.load_image_file(path))
    assert np.linalg.norm(ours.parts["dlib"] - theirs) < 0.1


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
        assert f.embedding.shape == (256,) and f.embedding.dtype == np.float32  # dlib, SFace
        assert f.parts["dlib"].shape == f.parts["sface"].shape == (128,)
        assert f.chip.shape == (150, 150, 3)


def test_shrinking_keeps_boxes_in_original_pixels():
    small = api.encode(EXAMPLES / "obama-480p.jpg")[0].box
    big = api.encode(EXAMPLES / "obama-1080p.jpg")[0].box
    ratio = (big[2] - big[0]) / (small[2] - small[0])
    assert ratio == pytest.approx(1080 / 480, rel=0.15)


def test_rgba_png_is_read():
    assert len(api.encode(EXAMPLES / "test_images" / "32bit.png")) == 1


@pytest.mark.parametrize(
    ("photo", "first_look", "crowd"),
    [("00-story-image-serena-and-alexis-wedding.jpg", 2, 8), ("GettyImages-2493795.jpg", 4, 5)],
)
def test_a_crowd_is_looked_at_again_for_its_smaller_faces(photo, first_look, crowd):
    """Big group photos: the 1280 px copy shows the guests' faces (84 to 144 px in the photo)
    below HOG's 80 px window, and the faces it finds are at that smallest size; the crowd's
    look finds the rest, as face_recognition's CLI does (its boxes, within a few pixels)."""
    pixels = load_photo(EXAMPLES.parent / "photos" / "serena_williams" / photo)
    found = detect(pixels, Settings())
    assert len(detect(pixels, Settings(small_faces=0))) == first_look
    assert len(found) == crowd
    assert min(f.box[2] - f.box[0] for f in found) < 100  # the guests' faces, not others'


def test_a_big_photo_without_a_face_and_no_fallback_has_no_face():
    """The crowd's look asks about the faces found: none found, and no look again, is no face
    (it was a crash: the smallest of no faces)."""
    blank = Photo(np.zeros((2000, 2000, 3), np.uint8), 1.0, 2000, 2000)
    assert detect(blank, Settings(fallback="none")) == []
