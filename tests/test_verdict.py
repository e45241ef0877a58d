"""The open-set verdict and the words for a distance: pure functions, no models."""

import numpy as np
import pytest

from lookalike import verdict
from lookalike.verdict import BANDS, FARTHEST, resemblance, same_person, same_person_line

LFW_PEOPLE = 5749


def test_the_line_is_stricter_the_more_people_the_gallery_holds():
    people = np.array([1, 2, 5, 10, 100, 1000, LFW_PEOPLE, 100_000])
    lines = same_person_line(people)
    assert np.all(np.diff(lines) < 0)
    assert same_person_line(1) == pytest.approx(verdict.LINE_AT_ONE)
    # one person is a verification pair: about the pairwise line, 0.6
    assert same_person_line(1) == pytest.approx(0.6, abs=0.02)


def test_a_stranger_at_0_55_among_lfw_is_not_the_same_person():
    # on View 1 96% of people have a stranger nearer than 0.55 among LFW's people
    assert not same_person(0.55, LFW_PEOPLE)
    assert not same_person(0.45, LFW_PEOPLE)


def test_the_same_distance_can_be_the_same_person_in_a_small_gallery():
    assert same_person(0.5, 5)
    assert not same_person(0.5, LFW_PEOPLE)


def test_a_near_identical_face_is_the_same_person_at_any_size():
    for people in (1, 5, LFW_PEOPLE, 10**6):
        assert same_person(0.05, people)


def test_a_negative_calibrated_distance_counts_as_zero():
    assert same_person(-0.1, LFW_PEOPLE)
    assert resemblance(-0.1) == resemblance(0.0) == BANDS[0][1]


def test_a_gallery_of_one_person_has_no_second():
    assert same_person(0.4, 1)
    assert not same_person(0.7, 1)


@pytest.mark.parametrize("people", [1, 5, 100, LFW_PEOPLE])
def test_the_verdict_is_monotonic_in_the_distance(people):
    d = np.linspace(0, 1, 201)
    called = [same_person(x, people) for x in d]
    assert called == sorted(called, reverse=True)


def test_the_words_grow_weaker_with_the_distance_and_cover_every_distance():
    words = [w for _, w in BANDS] + [FARTHEST]
    seen = [resemblance(d) for d in np.linspace(0, 2, 401)]
    assert [words.index(w) for w in seen] == sorted(words.index(w) for w in seen)
    assert set(seen) == set(words)
    assert resemblance(0.44) == "very close lookalike"
    assert resemblance(0.9) == FARTHEST


def test_no_word_says_same_person():
    # only the verdict may say so
    for _, words in BANDS:
        assert "same" not in words
    assert "same" not in FARTHEST


def test_the_same_photo_line_is_above_float16_rounding_and_below_any_other_photo():
    rng = np.random.default_rng(0)
    e = rng.normal(0, 0.09, 128).astype(np.float32)  # dlib embeddings are about unit length
    rounded = e.astype(np.float16).astype(np.float32)
    assert np.linalg.norm(e - rounded) < verdict.SAME_PHOTO / 10
    assert verdict.SAME_PHOTO < 0.05  # LFW's two nearest different photos: 0.05 apart (best)


def test_plain_l2_has_its_own_stricter_line_among_many_people():
    # the nearest stranger is nearer in plain L2 than calibrated among many people
    assert same_person_line(LFW_PEOPLE, calibrated=False) < same_person_line(LFW_PEOPLE)
    assert same_person(0.42, LFW_PEOPLE)
    assert not same_person(0.42, LFW_PEOPLE, calibrated=False)
    assert same_person_line(1, calibrated=False) == pytest.approx(0.6, abs=0.02)
