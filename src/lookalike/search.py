"""Ranking: pure numpy, no I/O.

Distances between one query embedding and every indexed face (L2 by default, as dlib's
model was trained for; L1 and cosine as options), the top-k by ``argpartition``, and one
result per person (their nearest face) so that a celebrity with 200 photos cannot fill
every slot.
"""

from __future__ import annotations

import numpy as np

METRICS = ("l2", "l1", "cosine")
#: Same-person thresholds per metric.  L2's is face_recognition's 0.6 (View 1's best, 0.622,
#: scores the same within the noise); L1's and cosine's are the most accurate ones on LFW
#: View 1 (pairsDevTrain.txt, default settings, bench/lfw.py): DevTrain 98.2% each, DevTest
#: 98.5% and 98.4%, where L2 at 0.6 scores 97.9% and 98.5%.
TOLERANCES = {"l2": 0.6, "l1": 5.51, "cosine": 0.0964}


def distances(
    X: np.ndarray, q: np.ndarray, metric: str = "l2", sq: np.ndarray | None = None
) -> np.ndarray:
    """Distance from query ``q`` (``float[128]``) to each row of ``X`` (``float[n, 128]``).

    ``sq``, the squared norms of ``X``'s rows if known, saves L2 a pass over ``X``:
    ``|x - q|^2 = |x|^2 - 2 x.q + |q|^2`` ranks a million faces in tens of milliseconds.
    """
    q = np.asarray(q, dtype=np.float32)
    if metric == "l2":
        sq = np.einsum("ij,ij->i", X, X) if sq is None else sq
        return np.sqrt(np.maximum(sq - 2.0 * (X @ q) + q @ q, 0.0))
    if metric == "l1":
        return np.abs(X - q).sum(axis=1)
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1) * np.linalg.norm(q)
        return 1.0 - (X @ q) / np.maximum(norms, 1e-12)
    raise ValueError(f"unknown metric {metric!r} (one of {', '.join(METRICS)})")


def distance(a: np.ndarray, b: np.ndarray, metric: str = "l2") -> float:
    """Distance between two embeddings."""
    return float(distances(np.asarray(a, np.float32)[None, :], b, metric)[0])


def top_k(d: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest distances, nearest first."""
    k = min(k, len(d))
    if k <= 0:
        return np.array([], dtype=np.int64)
    part = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
    return part[np.argsort(d[part], kind="stable")]


def top_k_per_person(d: np.ndarray, person: np.ndarray, k: int) -> np.ndarray:
    """Indices of the nearest face of each of the ``k`` nearest people.

    ``person`` holds a person code per face; faces with code ``-1`` (bystanders, not
    credited to anyone) are not ranked.  Looks at a growing window of nearest faces
    before falling back to a full sort.
    """
    d = np.where(person >= 0, d, np.inf)
    n_people = len(np.unique(person[person >= 0]))
    k = min(k, n_people)
    window = max(64, 16 * k)
    while True:
        idx = top_k(d, min(window, len(d)))
        idx = idx[np.isfinite(d[idx])]
        _, first = np.unique(person[idx], return_index=True)
        if len(first) >= k or window >= len(d):
            return idx[np.sort(first)][:k]
        window *= 8


def similarity(d: float, tolerance: float = 0.6) -> float:
    """A distance as a percentage: 100 for identical, 50 at the tolerance, falling to 0.

    The curve face_recognition users share for turning its L2 distance into a confidence
    (linear beyond the 0.6 tolerance, steeper inside it), with ``d`` first rescaled so
    that ``tolerance`` maps to 0.6 (other metrics, other tolerances).
    """
    d = d * 0.6 / tolerance
    if d > 0.6:
        return max(0.0, (1.0 - d) / 0.8) * 100.0
    linear = 1.0 - d / 1.2
    return (linear + (1.0 - linear) * ((linear - 0.5) * 2) ** 0.2) * 100.0
