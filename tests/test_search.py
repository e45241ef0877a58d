"""Ranking maths, on synthetic embeddings (no models)."""

import numpy as np
import pytest

from lookalike import search


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(500, 128)).astype(np.float32) * 0.1


@pytest.mark.parametrize("metric", search.METRICS)
def test_distances_match_the_definitions(X, metric):
    q = X[7] + 0.01
    naive = {
        "l2": np.linalg.norm(X - q, axis=1),
        "l1": np.abs(X - q).sum(axis=1),
        "cosine": 1 - X @ q / (np.linalg.norm(X, axis=1) * np.linalg.norm(q)),
    }[metric]
    assert np.allclose(search.distances(X, q, metric), naive, atol=1e-4)


def test_unknown_metric_is_refused(X):
    with pytest.raises(ValueError, match="unknown metric"):
        search.distances(X, X[0], "hamming")


def test_top_k_is_the_k_smallest_in_order(X):
    d = search.distances(X, X[3])
    idx = search.top_k(d, 10)
    assert list(idx) == list(np.argsort(d)[:10])
    assert idx[0] == 3
    assert len(search.top_k(d, 10_000)) == len(d)
    assert len(search.top_k(d, 0)) == 0


def test_top_k_per_person_gives_each_person_once_at_their_nearest(X):
    person = np.arange(len(X)) % 7  # 7 people, ~70 faces each
    person[::50] = -1  # some bystanders
    d = search.distances(X, X[1])
    rows = search.top_k_per_person(d, person, 5)
    assert len(set(person[rows])) == 5
    assert -1 not in person[rows]
    for r in rows:
        mine = person == person[r]
        assert d[r] == d[mine].min()
    assert list(d[rows]) == sorted(d[rows])


def test_top_k_per_person_with_fewer_people_than_k(X):
    person = np.zeros(len(X), dtype=np.int32)
    assert len(search.top_k_per_person(search.distances(X, X[0]), person, 5)) == 1


def test_similarity_is_50_at_the_tolerance_and_falls_with_distance():
    assert search.similarity(0.0) == pytest.approx(100)
    assert search.similarity(0.6) == pytest.approx(50)
    assert search.similarity(1.2) == 0
    values = [search.similarity(d) for d in np.linspace(0, 1.2, 50)]
    assert values == sorted(values, reverse=True)
    assert search.similarity(5.4, tolerance=5.4) == pytest.approx(50)
