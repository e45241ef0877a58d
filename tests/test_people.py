"""Crediting one face per photo to the photo's person, on synthetic embeddings."""

import numpy as np

from lookalike.people import credit


def test_the_face_that_agrees_with_other_photos_is_credited():
    rng = np.random.default_rng(1)
    me = rng.normal(size=128)
    stranger = rng.normal(size=128)
    noise = lambda: rng.normal(size=128) * 0.05  # noqa: E731
    # photo 0: me alone; photo 1: a big stranger and me, smaller; photo 2: me alone
    X = np.stack([me + noise(), stranger + noise(), me + noise(), me + noise()])
    photo_ids = np.array([0, 1, 1, 2])
    areas = np.array([100, 900, 100, 100])
    chosen = credit(photo_ids, areas, X)
    assert sorted(chosen.tolist()) == [0, 2, 3]


def test_a_single_photo_credits_its_largest_face():
    X = np.random.default_rng(2).normal(size=(3, 128))
    assert credit(np.array([5, 5, 5]), np.array([10, 30, 20]), X).tolist() == [1]


def test_nothing_to_credit():
    assert credit(np.array([]), np.array([]), np.zeros((0, 128))).tolist() == []
