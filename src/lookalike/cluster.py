"""Clustering faces into people: pure functions over an embedding matrix, no I/O.

FaceNet's third task, beside verification and recognition: given faces of unknown people,
group them by person.  Every method here takes the faces' pairwise distances (plain L2, or
L2 calibrated against a cohort of strangers: :mod:`lookalike.cohort`) and returns a label
per face; a face alone in its group is a group of one.  Chinese whispers is dlib's graph
clustering (``dlib.chinese_whispers``, no model: the face models stay in :mod:`faces`).
The method and line the ``cluster`` command uses were chosen by ``bench/cluster.py`` on
half of LFW's people and reported on the other half (docs/clustering.md).

The scores (:func:`scores`) are the usual ones for clustering against known people:
pairwise precision and recall (of the pairs of faces put together, how many are one
person; of the pairs of one person, how many were put together) and BCubed (the same per
face, averaged over faces, so that a big person does not outweigh many small ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cohort import Cohort

METHODS = ("whispers", "agglomerative", "hdbscan")
LINKAGES = ("average", "complete", "single")


@dataclass(frozen=True)
class Method:
    """How to cluster: the algorithm, the distance it reads and its line.

    ``threshold`` is the largest distance of two faces put together (whispers: an edge;
    agglomerative: the linkage distance at which merging stops; hdbscan: its
    ``cluster_selection_epsilon``).  ``calibrated`` reads the distance calibrated against a
    cohort of strangers instead of plain L2.
    """

    name: str = "agglomerative"
    threshold: float = 0.5
    calibrated: bool = False
    linkage: str = "average"  # agglomerative only
    min_samples: int = 1  # hdbscan only

    def describe(self) -> str:
        parts = [self.name]
        if self.name == "agglomerative":
            parts.append(f"{self.linkage} linkage")
        if self.name == "hdbscan":
            parts.append(f"min_samples={self.min_samples}")
            if not self.threshold:
                return ", ".join([*parts, "calibrated" if self.calibrated else "L2"])
        parts.append(f"{'calibrated' if self.calibrated else 'L2'} at {self.threshold:g}")
        return ", ".join(parts)


#: dlib's own face-clustering example: Chinese whispers, an edge where L2 < 0.5.
BASELINE = Method("whispers", 0.5)
#: What `lookalike cluster` uses for dlib's vectors alone: the best BCubed F1 with pairwise
#: precision >= 99% on the first half of LFW's people (bench/cluster.py, docs/clustering.md)
#: ...
CHOSEN = Method("whispers", 0.45, calibrated=True)
#: ... and where the index's settings have no cohort to calibrate against, the best on L2;
CHOSEN_L2 = Method("agglomerative", 0.51, linkage="average")
#: the same two for dlib's and SFace's vectors fused (``default`` and ``best``), chosen with a
#: margin: the next line up holds the precision too (whispers' best sat on a cliff there).
CHOSEN_FUSED = Method("agglomerative", 0.54, calibrated=True, linkage="average")
CHOSEN_FUSED_L2 = Method("agglomerative", 0.54, linkage="average")


def chosen(networks: str, calibrated: bool) -> Method:
    """The method for vectors of the networks ``networks``, calibrated or on plain L2."""
    if "sface" in networks:
        return CHOSEN_FUSED if calibrated else CHOSEN_FUSED_L2
    return CHOSEN if calibrated else CHOSEN_L2


#: Rows of faces compared with all the others at once when finding whispers' edges.
_CHUNK = 1024


def l2_matrix(X: np.ndarray) -> np.ndarray:
    """Pairwise L2 distances of the rows of ``X``, as float32 (n x n)."""
    return _block(np.asarray(X, dtype=np.float32), 0, len(X), _Calibration.none(len(X)))


def distances(X: np.ndarray, method: Method, cohort: Cohort | None = None) -> np.ndarray:
    """The distance matrix ``method`` reads (n x n, float32)."""
    X = np.asarray(X, dtype=np.float32)
    return _block(X, 0, len(X), _calibration(X, method, cohort))


Pairs = tuple[np.ndarray, np.ndarray]
#: Pairs of faces within a line, and their distances.
Edges = tuple[np.ndarray, np.ndarray, np.ndarray]
#: The most faces linked at once (their distance matrix, twice: float32 and float64): a
#: component of more faces, chained by pairs within the line, is cut first (:func:`_parts`).
MAX_LINKED = 15_000
#: How much stricter each cut of a component too big is.
CUT_STEP = 0.01


def cluster(
    X: np.ndarray,
    method: Method = CHOSEN,
    cohort: Cohort | None = None,
    near: Pairs | None = None,
) -> np.ndarray:
    """A group label per row of ``X`` (0, 1, 2...: the biggest group first).

    A calibrated method needs a ``cohort``.  Whispers reads the distances a block of rows
    at a time (memory: the edges, not n x n); agglomerative linkage too, then links each
    connected component of the pairs within its line alone (:func:`_linked`); HDBSCAN needs
    the whole matrix.  With ``near`` (rows ``i[k]``, ``j[k]``: each face's nearest faces,
    from the approximate index), only those pairs are looked at for the edges, not all n²:
    the groups are the same wherever every pair within the line that links two faces is
    among them (each face's k nearest hold its pairs within the line unless more than k
    faces are that near).
    """
    X = np.asarray(X, dtype=np.float32)
    if len(X) <= 1:
        return np.zeros(len(X), dtype=np.int64)
    calibration = _calibration(X, method, cohort)
    inclusive = method.name == "agglomerative"
    if near is not None and method.name in ("whispers", "agglomerative"):
        edges = _near_edges(X, near, method.threshold, calibration, inclusive)
    elif method.name in ("whispers", "agglomerative"):
        edges = _edges(X, method.threshold, calibration, inclusive)
    else:
        return cluster_matrix(_block(X, 0, len(X), calibration), method)
    if method.name == "whispers":
        return relabel(_chinese_whispers(*edges[:2]))
    return relabel(_linked(X, method, calibration, edges))


def cluster_matrix(D: np.ndarray, method: Method) -> np.ndarray:
    """A group label per row of the distance matrix ``D`` (see :func:`cluster`)."""
    if method.name == "whispers":
        i, j = np.nonzero(np.triu(method.threshold > D))
        labels = _chinese_whispers(i, j)
    elif method.name == "agglomerative":
        labels = _agglomerative(D, method.threshold, method.linkage)
    elif method.name == "hdbscan":
        labels = _hdbscan(D, method.threshold, method.min_samples)
    else:
        raise ValueError(f"unknown clustering method {method.name!r} (one of {METHODS})")
    return relabel(labels)


@dataclass
class _Calibration:
    """Per face, what calibration takes off its distances (:meth:`Cohort.calibrate`):
    ``d - (near_a + near_b) / 2 + shift``; all zeros for plain L2."""

    near: np.ndarray
    shift: float

    @classmethod
    def none(cls, n: int) -> _Calibration:
        return cls(np.zeros(n, dtype=np.float32), 0.0)


def _calibration(X: np.ndarray, method: Method, cohort: Cohort | None) -> _Calibration:
    if not method.calibrated:
        return _Calibration.none(len(X))
    if cohort is None:
        raise ValueError(f"{method.describe()} needs a cohort to calibrate against")
    near = cohort.nearness(X).astype(np.float32)
    return _Calibration(near, cohort.typical + cohort.offset)


def _block(X: np.ndarray, start: int, stop: int, c: _Calibration) -> np.ndarray:
    """Distances from rows ``start:stop`` to rows ``start:``; calibrated ones never below 0
    (two photos of one face calibrate below it), a face's own always 0."""
    A, B = X[start:stop], X[start:]
    d = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", B, B)[None, :]
    d -= 2.0 * (A @ B.T)
    np.sqrt(np.maximum(d, 0.0, out=d), out=d)
    if c.shift:
        d -= (c.near[start:stop, None] + c.near[None, start:]) / 2
        d += np.float32(c.shift)
        np.maximum(d, 0.0, out=d)
    own = np.arange(stop - start)
    d[own, own] = 0.0  # each face's distance to itself (row i's own column is i)
    return d


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, 2... by falling group size (ties: first face first); a
    negative label (noise) becomes a group of its own."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(noise.sum())
    _, first, inverse, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.ravel()]


def _edges(X: np.ndarray, threshold: float, c: _Calibration, inclusive: bool = False) -> Edges:
    """The pairs of faces closer than ``threshold`` (or as close, ``inclusive``) and their
    distances, each face with itself too, found a block of rows at a time."""
    rows, cols, dists = [], [], []
    for start in range(0, len(X), _CHUNK):
        stop = min(start + _CHUNK, len(X))
        d = _block(X, start, stop, c)
        i, j = np.nonzero(d <= threshold if inclusive else d < threshold)
        upper = j >= i  # columns start at ``start``: the upper triangle, diagonal included
        rows.append(i[upper] + start)
        cols.append(j[upper] + start)
        dists.append(d[i[upper], j[upper]])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dists)


def _near_edges(
    X: np.ndarray, near: Pairs, threshold: float, c: _Calibration, inclusive: bool
) -> Edges:
    """The pairs of ``near`` closer than ``threshold`` (or as close, ``inclusive``), each
    once, and each face with itself, as :func:`_edges` gives them."""
    i, j = (np.asarray(a, np.int64) for a in near)
    i, j = np.minimum(i, j), np.maximum(i, j)
    pairs = np.unique(np.stack([i, j]), axis=1)
    i, j = pairs[:, pairs[0] != pairs[1]]
    d = _pair_distances(X, i, j, c)
    keep = d <= threshold if inclusive else d < threshold
    own = np.arange(len(X))
    zero = np.zeros(len(X), np.float32)
    return (
        np.concatenate([i[keep], own]),
        np.concatenate([j[keep], own]),
        np.concatenate([d[keep], zero]),
    )


def pair_distances(
    X: np.ndarray, i: np.ndarray, j: np.ndarray, method: Method, cohort: Cohort | None = None
) -> np.ndarray:
    """The distance ``method`` reads between rows ``i[m]`` and ``j[m]`` of ``X``."""
    X = np.asarray(X, dtype=np.float32)
    return _pair_distances(X, i, j, _calibration(X, method, cohort))


def _pair_distances(X: np.ndarray, i: np.ndarray, j: np.ndarray, c: _Calibration) -> np.ndarray:
    d = np.empty(len(i), np.float32)
    for start in range(0, len(i), 1 << 16):
        part = slice(start, start + (1 << 16))
        diff = X[i[part]] - X[j[part]]
        d[part] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    if c.shift:
        d = np.maximum(d - (c.near[i] + c.near[j]) / 2 + np.float32(c.shift), 0.0)
    return d


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The connected component of each of ``n`` faces, given the edges ``i -- j``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _linked(X: np.ndarray, method: Method, c: _Calibration, edges: Edges) -> np.ndarray:
    """Agglomerative linkage (average, complete or single), cut at the method's line, as
    on the whole matrix but a connected component at a time: two groups merge below the line
    only where some pair of their faces is within it (every linkage's distance is at least
    its closest pair's), so no group spans two components of those pairs (``edges``: the
    pairs within the line), and within one the merges below the line are the same.
    Memory: the largest component's matrix, at most :data:`MAX_LINKED` faces (:func:`_parts`)."""
    labels = np.zeros(len(X), np.int64)
    first = 0
    for rows in _parts(len(X), *edges, method.threshold):
        if len(rows) > 1:
            part = _Calibration(c.near[rows], c.shift)
            D = _block(X[rows], 0, len(rows), part)
            found = _agglomerative(D, method.threshold, method.linkage)
            labels[rows] = first + found
            first += int(found.max()) + 1
        else:
            labels[rows] = first
            first += 1
    return labels


def _parts(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray, line: float) -> list[np.ndarray]:
    """The connected components of the pairs within ``line`` (rows of faces); one of more
    than :data:`MAX_LINKED` faces (many people chained by a face near two of them: seen on
    100,000 synthetic faces of 40,000 people) is cut along a stricter line, again until its
    parts fit: their groups are never merged, so precision is kept, and a person whose
    faces were chained only at the line may stay in two groups."""
    keep = d <= line
    component = _components(n, i[keep], j[keep])
    order = np.argsort(component, kind="stable")
    out = []
    for rows in np.split(order, np.flatnonzero(np.diff(component[order])) + 1):
        if len(rows) <= MAX_LINKED or line <= CUT_STEP:
            out.extend(np.array_split(rows, -(-len(rows) // MAX_LINKED)))
            continue
        inside = np.zeros(n, bool)
        inside[rows] = True
        mine = keep & inside[i]
        local = np.searchsorted(rows, np.stack([i[mine], j[mine]]))
        parts = _parts(len(rows), local[0], local[1], d[mine], line - CUT_STEP)
        out.extend(rows[p] for p in parts)
    return out


def _chinese_whispers(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """dlib's Chinese whispers on the edges ``i[k] -- j[k]`` (self-loops included, as
    dlib's ``chinese_whispers_clustering`` has them, so that no face is left out).

    Run on each connected component alone, its faces in order: whispers visits nodes in a
    random order drawn from one generator, so on the whole graph a change anywhere could
    regroup faces everywhere; this way a component whose faces and edges did not change is
    grouped as before, and keeps its group ids (:mod:`lookalike.groups`).
    """
    import dlib

    n = int(max(i.max(initial=-1), j.max(initial=-1))) + 1
    component = _components(n, i, j)
    labels = component.astype(np.int64) * n  # a component's own labels stay within it
    order = np.argsort(component[i], kind="stable")
    bounds = np.flatnonzero(np.diff(component[i][order])) + 1
    for edges in np.split(order, bounds):
        nodes, local = np.unique(np.concatenate([i[edges], j[edges]]), return_inverse=True)
        if len(nodes) < 2:
            continue
        pairs = local.reshape(2, -1).T.tolist()
        labels[nodes] += np.asarray(dlib.chinese_whispers(pairs), dtype=np.int64)
    return labels


def _agglomerative(D: np.ndarray, threshold: float, linkage: str) -> np.ndarray:
    """Hierarchical clustering (scipy's, O(n^2) memory and time for average, complete and
    single linkage), cut where the linkage distance passes ``threshold``."""
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as link
    from scipy.spatial.distance import squareform

    if linkage not in LINKAGES:
        raise ValueError(f"unknown linkage {linkage!r} (one of {LINKAGES})")
    condensed = squareform(D, checks=False).astype(np.float64)
    Z = link(condensed, method=linkage)
    return fcluster(Z, t=threshold, criterion="distance")


def _hdbscan(D: np.ndarray, epsilon: float, min_samples: int) -> np.ndarray:
    """scikit-learn's HDBSCAN on the precomputed distances; its noise faces are groups of
    one."""
    from sklearn.cluster import HDBSCAN

    model = HDBSCAN(
        min_cluster_size=2,
        min_samples=min_samples,
        metric="precomputed",
        cluster_selection_epsilon=float(epsilon),
        copy=True,
    )
    return model.fit_predict(D.astype(np.float64))


# -- scores against known people ----------------------------------------------------------
def scores(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise and BCubed precision, recall and F1 of ``labels`` against the people
    ``truth`` (a code per face), the number of groups and of people, and the share of
    people with two faces or more whose faces are split over more than one group."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    _, g = np.unique(labels, return_inverse=True)
    _, p = np.unique(truth, return_inverse=True)
    g, p = g.ravel(), p.ravel()
    cells = np.unique(np.stack([g, p]), axis=1, return_counts=True)
    (cg, cp), n = cells
    size_g = np.bincount(g)
    size_p = np.bincount(p)
    pairs = _pairs(n).sum()
    pp = _pairs(size_g).sum()
    tp = _pairs(size_p).sum()
    precision = pairs / pp if pp else 1.0
    recall = pairs / tp if tp else 1.0
    b_precision = float((n * n / size_g[cg]).sum() / len(g))
    b_recall = float((n * n / size_p[cp]).sum() / len(g))
    groups_of = np.bincount(cp)
    several = size_p >= 2
    return {
        "pairwise_precision": float(precision),
        "pairwise_recall": float(recall),
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
        "groups": int(len(size_g)),
        "people": int(len(size_p)),
        "split": float((groups_of[several] > 1).mean()) if several.any() else 0.0,
    }


def _pairs(n: np.ndarray) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    return n * (n - 1) / 2


def _f1(precision: float, recall: float) -> float:
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0
