"""Clustering faces into people (pure functions): the scores, the labels, the ids kept across
runs, and the chosen method on LFW's real embeddings (the packaged gallery, no encoding)."""

import numpy as np
import pytest

from lookalike import cluster as C
from lookalike.gallery import BuiltinGallery
from lookalike.groups import keep_ids


@pytest.fixture(scope="module")
def lfw() -> BuiltinGallery:
    return BuiltinGallery()


@pytest.fixture(scope="module")
def lfw_dlib(lfw) -> BuiltinGallery:
    """The same faces, dlib's vectors alone (as before SFace joined)."""
    return BuiltinGallery(lfw.path, networks="dlib")


def test_scores_of_a_small_example_worked_by_hand():
    s = C.scores(np.array([0, 0, 1, 1, 1]), np.array([7, 7, 7, 9, 9]))
    assert s["pairwise_precision"] == pytest.approx(2 / 4)  # pairs put together: 4, right: 2
    assert s["pairwise_recall"] == pytest.approx(2 / 4)  # pairs of one person: 4, together: 2
    assert s["bcubed_precision"] == pytest.approx(11 / 15)
    assert s["bcubed_recall"] == pytest.approx(11 / 15)
    assert s["bcubed_f1"] == pytest.approx(11 / 15)
    assert (s["groups"], s["people"]) == (2, 2)
    assert s["split"] == pytest.approx(1 / 2)  # person 7 is in two groups, person 9 in one


def test_a_perfect_clustering_scores_one_and_splits_no_one():
    truth = np.array([3, 3, 1, 2, 2, 2])
    s = C.scores(np.array([5, 5, 0, 4, 4, 4]), truth)
    assert all(s[k] == 1.0 for k in s if "precision" in k or "recall" in k or "f1" in k)
    assert s["split"] == 0.0


def test_labels_are_numbered_by_falling_size_and_noise_is_alone():
    labels = C.relabel(np.array([4, -1, 2, 2, 2, 4, -1]))
    assert labels.tolist() == [1, 2, 0, 0, 0, 1, 3]


def test_every_method_labels_every_face(lfw):
    X, truth = _people(lfw, 4, 8)
    cohort = lfw.cohort()
    for method in (
        C.BASELINE,
        C.CHOSEN_FUSED,
        C.CHOSEN_FUSED_L2,
        C.Method("agglomerative", 0.6, True, "complete"),
        C.Method("hdbscan", 0.0, False, min_samples=2),
    ):
        labels = C.cluster(X, method, cohort)
        assert labels.shape == truth.shape and labels.min() == 0
        assert C.scores(labels, truth)["pairwise_precision"] > 0.9, method.describe()


def test_no_face_or_one_face():
    assert C.cluster(np.zeros((0, 128), np.float32)).tolist() == []
    assert C.cluster(np.ones((1, 128), np.float32), C.BASELINE).tolist() == [0]


def test_a_calibrated_method_needs_a_cohort(lfw):
    with pytest.raises(ValueError, match="cohort"):
        C.cluster(lfw.X[:3], C.CHOSEN_FUSED, None)


@pytest.mark.parametrize("method", [C.CHOSEN_FUSED, C.CHOSEN], ids=["average", "whispers"])
def test_the_chosen_methods_regroup_nothing_when_a_stranger_joins(lfw, method):
    """Both run on each connected component alone: a face far from everyone changes no other
    group (what lets `cluster` keep the ids of groups that did not change)."""
    X, _ = _people(lfw, 6, 10)
    before = C.cluster(X, method, lfw.cohort())
    stranger = lfw.X[lfw.person == lfw.names.index("Zico")][:1]
    after = C.cluster(np.concatenate([X, stranger]), method, lfw.cohort())
    assert C.scores(after[:-1], before)["pairwise_f1"] == 1.0


@pytest.mark.parametrize("networks", ["fused", "dlib"])
def test_the_chosen_method_beats_dlibs_baseline_on_the_held_out_people(lfw, lfw_dlib, networks):
    """The claim of docs/clustering.md, on the half of LFW's people not used to choose: the
    method chosen for each kind of vector against dlib's own example on dlib's vectors."""
    names = sorted(lfw.names)
    held_out = np.isin(np.array(lfw.names)[lfw.person], names[len(names) // 2 :])
    g = lfw if networks == "fused" else lfw_dlib
    X, truth = g.X[held_out], g.person[held_out]
    cohort = g.cohort(without=names[len(names) // 2 :])
    method = C.chosen(g.settings().networks, calibrated=True)
    chosen = C.scores(C.cluster(X, method, cohort), truth)
    baseline = C.scores(C.cluster(lfw_dlib.X[held_out], C.BASELINE), truth)
    assert chosen["bcubed_f1"] >= baseline["bcubed_f1"] + 0.03
    assert chosen["pairwise_precision"] >= 0.99


def test_ids_are_kept_for_groups_that_stay():
    old = {1: {10, 11, 12}, 2: {20, 21}, 3: {30, 31, 32, 33}}
    found = [
        [30, 31, 32, 33, 34],  # group 3 and a new face: still group 3
        [10, 11, 12],  # group 1, unchanged
        [20],  # group 2 split in halves: neither holds more than half of it
        [21],
        [40, 41],  # new
    ]
    assert keep_ids(found, old, next_id=4) == [3, 1, 4, 5, 6]


def test_the_bigger_part_of_a_split_group_keeps_its_id_and_faces_gone_do_not_count():
    old = {7: {1, 2, 3, 4, 5}, 8: {6, 7, 8}}
    # faces 4 and 5 were named (no longer clustered): group 7 is {1, 2, 3} now
    found = [[1, 2], [3], [6, 7, 8]]
    assert keep_ids(found, old, next_id=9) == [7, 9, 8]


def test_an_id_goes_to_one_group_only():
    old = {1: {1, 2, 3}}
    assert keep_ids([[1, 2, 3], [1, 2, 3]], old, next_id=2) == [1, 2]


def _people(lfw: BuiltinGallery, n: int, photos: int) -> tuple[np.ndarray, np.ndarray]:
    """``photos`` faces of each of the ``n`` people with the most photos in LFW."""
    counts = np.bincount(lfw.person)
    people = np.argsort(-counts, kind="stable")[:n]
    rows = np.concatenate([np.flatnonzero(lfw.person == p)[:photos] for p in people])
    return lfw.X[rows], lfw.person[rows]


@pytest.mark.parametrize("method", [C.CHOSEN_FUSED, C.CHOSEN], ids=["average", "whispers"])
def test_each_faces_nearest_faces_group_as_all_pairs_do(lfw, method):
    """A million faces are grouped from each face's nearest faces (the approximate index
    finds them), not from all pairs: with the 30 nearest, LFW's held-out people are grouped
    exactly as from all pairs."""
    names = sorted(lfw.names)
    rows = np.flatnonzero(np.isin(np.array(lfw.names)[lfw.person], names[len(names) // 2 :]))
    X = lfw.X[rows[:3000]]
    d = C.l2_matrix(X)
    nearest = np.argsort(d, axis=1)[:, :30]
    near = (np.repeat(np.arange(len(X)), 30), nearest.ravel())
    cohort = lfw.cohort(without=names[len(names) // 2 :])
    every = C.cluster(X, method, cohort)
    assert (C.cluster(X, method, cohort, near) == every).all()


def test_a_component_too_big_to_link_is_cut_along_a_stricter_line(monkeypatch):
    """Faces chained within the line (each near the next) make one component of them all;
    above MAX_LINKED faces it is cut along stricter lines until its parts fit, so memory
    stays bounded: no group is made of faces a stricter cut put apart."""
    monkeypatch.setattr(C, "MAX_LINKED", 50)
    rng = np.random.default_rng(0)
    steps = rng.uniform(0.05, 0.45, 200)  # a chain: each face within 0.5 of the next
    X = np.zeros((200, 128), np.float32)
    X[:, 0] = np.cumsum(steps)
    method = C.Method("agglomerative", 0.5, linkage="average")
    i, j, d = C._edges(X, method.threshold, C._Calibration.none(len(X)), inclusive=True)
    parts = C._parts(len(X), i, j, d, method.threshold)
    assert max(len(p) for p in parts) <= 50 and sorted(np.concatenate(parts)) == list(range(200))
    labels = C.cluster(X, method)
    part_of = np.empty(200, int)
    for k, p in enumerate(parts):
        part_of[p] = k
    for group in np.unique(labels):
        assert len(set(part_of[labels == group])) == 1  # never across a cut
