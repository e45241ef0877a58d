"""The open-set verdict and the words for a distance: pure functions, no models."""

import numpy as np
import pytest

from lookalike import verdict
from lookalike.verdict import DLIB, FARTHEST, FUSED, Rule, rule_for

LFW_PEOPLE = 5749
LFW_PHOTOS = 13233 / 5749  # photos a person
RULES = pytest.mark.parametrize("rule", [DLIB, FUSED], ids=["dlib", "fused"])


def test_each_kind_of_vector_has_its_rule():
    assert rule_for("dlib") is DLIB
    assert rule_for("dlib*0.54+sface*0.43") is FUSED


@RULES
def test_the_line_is_stricter_the_more_people_the_gallery_holds(rule: Rule):
    people = np.array([1, 2, 5, 10, 100, 1000, LFW_PEOPLE, 100_000])
    assert np.all(np.diff(rule.line(people)) < 0)
    assert np.all(np.diff(rule.line(people, calibrated=False)) < 0)
    # one person, one photo, is a verification pair: about the pairwise line, 0.6
    assert rule.line(1) == pytest.approx(0.6, abs=0.03)


def test_the_fused_line_is_stricter_the_more_photos_each_person_has():
    photos = np.array([1, 2, 5, 20, 100])
    assert np.all(np.diff(FUSED.line(5, photos)) < 0)
    # dlib's rule was fitted on people alone: indexes made before answer as they did
    assert np.all(np.diff(DLIB.line(5, photos)) == 0)


@RULES
def test_a_stranger_near_the_line_among_lfw_is_not_the_same_person(rule: Rule):
    line = rule.line(LFW_PEOPLE, LFW_PHOTOS)
    assert not rule.same_person(line + 0.01, LFW_PEOPLE, LFW_PHOTOS)
    assert rule.same_person(line - 0.01, LFW_PEOPLE, LFW_PHOTOS)


@RULES
def test_the_same_distance_can_be_the_same_person_in_a_small_gallery(rule: Rule):
    d = rule.line(LFW_PEOPLE, LFW_PHOTOS) + 0.02
    assert rule.same_person(d, 5)
    assert not rule.same_person(d, LFW_PEOPLE, LFW_PHOTOS)


@RULES
def test_a_near_identical_face_is_the_same_person_at_any_size(rule: Rule):
    for people in (1, 5, LFW_PEOPLE, 10**6):
        assert rule.same_person(0.05, people, 20)


@RULES
def test_a_negative_calibrated_distance_counts_as_zero(rule: Rule):
    assert rule.same_person(-0.1, LFW_PEOPLE)
    assert rule.resemblance(-0.1) == rule.resemblance(0.0) == rule.bands[0][1]


@RULES
def test_a_gallery_of_one_person_has_no_second(rule: Rule):
    assert rule.same_person(0.4, 1)
    assert not rule.same_person(0.7, 1)


@RULES
@pytest.mark.parametrize("people", [1, 5, 100, LFW_PEOPLE])
def test_the_verdict_is_monotonic_in_the_distance(rule: Rule, people):
    called = [rule.same_person(x, people) for x in np.linspace(0, 1, 201)]
    assert called == sorted(called, reverse=True)


@RULES
def test_the_words_grow_weaker_with_the_distance_and_cover_every_distance(rule: Rule):
    words = [w for _, w in rule.bands] + [FARTHEST]
    seen = [rule.resemblance(d) for d in np.linspace(0, 2, 401)]
    assert [words.index(w) for w in seen] == sorted(words.index(w) for w in seen)
    assert set(seen) == set(words)
    assert rule.resemblance(0.3) == "very close lookalike"
    assert rule.resemblance(0.9) == FARTHEST


@RULES
def test_no_word_says_same_person(rule: Rule):
    # only the verdict may say so
    for _, words in rule.bands:
        assert "same" not in words
    assert "same" not in FARTHEST


def test_the_same_photo_line_is_above_float16_rounding_and_below_any_other_photo():
    rng = np.random.default_rng(0)
    e = rng.normal(0, 0.09, 128).astype(np.float32)  # dlib embeddings are about unit length
    rounded = e.astype(np.float16).astype(np.float32)
    assert np.linalg.norm(e - rounded) < verdict.SAME_PHOTO / 10
    assert verdict.SAME_PHOTO < 0.05  # LFW's two nearest different photos: 0.05 apart (best)


@RULES
def test_plain_l2_has_its_own_stricter_line_among_many_people(rule: Rule):
    # the nearest stranger is nearer in plain L2 than calibrated among many people
    assert rule.line(LFW_PEOPLE, calibrated=False) < rule.line(LFW_PEOPLE)
