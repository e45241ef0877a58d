"""Same-person verdicts calibrated against a crowd of strangers (cohort normalisation).

Some faces sit in a crowded part of the face space (a common look, a blurred or turned photo)
and lie near many strangers; others are far from everyone.  A fixed L2 line is too lenient
for the first and too strict for the second.  The calibrated distance of faces ``a`` and
``b`` corrects their L2 distance by how near each one's nearest strangers are:

    calibrated = d(a, b) - (nearness(a) + nearness(b)) / 2 + typical + offset

where ``nearness(x)`` is the mean L2 distance from ``x`` to the nearest face of each of the
:data:`NEAREST` cohort people nearest to it, after the :data:`SKIP` nearest person (who may
be ``x``'s own: the built-in cohort is LFW, and a celebrity's own photos are in it), and
``typical`` the median nearness of the cohort's own faces (every one of them): an ordinary
face keeps its distance, and a line learnt against one cohort holds against another, denser
or sparser (LFW less the people of the pairs it was learnt on, then all of LFW).  The
cohort is the built-in LFW gallery made with the same settings, and ``offset`` is chosen
when that gallery is built (:func:`offset_for`), so that 0.6, the same-person line, is the
most accurate line on LFW View 1's training pairs.  ``NEAREST`` and ``SKIP`` were chosen on
View 1 too (docs/accuracy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How many of the nearest cohort people a face's nearness is the mean distance to.
NEAREST = 10
#: The nearest cohort people left out first: one, who may be the face's own person.
SKIP = 1
#: Faces compared with the cohort at once (rows of the distance matrix: 13,233 floats each).
_CHUNK = 256


@dataclass
class Cohort:
    """Faces of many people, grouped by person, to measure a face's nearness against."""

    X: np.ndarray  # float32[n, 128], one person's faces in consecutive rows
    starts: np.ndarray  # the first row of each person
    sq: np.ndarray  # squared norm of each row
    offset: float = 0.0
    typical: float = 0.0  # the median nearness of the cohort's own faces

    @classmethod
    def of(
        cls, X: np.ndarray, person: np.ndarray, offset: float = 0.0, typical: float | None = None
    ) -> Cohort:
        """A cohort of the faces ``X`` of the people ``person`` (a code per face).

        ``typical`` is measured on every face unless given (the built-in galleries store
        theirs): about 1.7 s for all of LFW.  A sample of 256 faces was 0.001-0.0024 off,
        and differently so for each part of LFW left out, which moved verdicts near the
        line by as much (docs/accuracy.md).
        """
        order = np.argsort(person, kind="stable")
        X = np.ascontiguousarray(X[order], dtype=np.float32)
        person = np.asarray(person)[order]
        starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
        cohort = cls(X, starts, np.einsum("ij,ij->i", X, X), offset)
        cohort.typical = float(np.median(cohort.nearness(X))) if typical is None else typical
        return cohort

    def nearness(self, E: np.ndarray) -> np.ndarray:
        """Mean L2 distance from each row of ``E`` to its nearest cohort people (see module)."""
        E = np.atleast_2d(np.asarray(E, dtype=np.float32))
        last = min(SKIP + NEAREST, len(self.starts))
        out = np.empty(len(E))
        for i in range(0, len(E), _CHUNK):
            e = E[i : i + _CHUNK]
            d2 = self.sq[None, :] - 2.0 * (e @ self.X.T) + np.einsum("ij,ij->i", e, e)[:, None]
            people = np.minimum.reduceat(d2, self.starts, axis=1)  # each person's nearest face
            nearest = np.sqrt(np.maximum(np.partition(people, last - 1, axis=1)[:, :last], 0))
            out[i : i + _CHUNK] = np.sort(nearest, axis=1)[:, SKIP:].mean(axis=1)
        return out

    def calibrate(self, d: np.ndarray, near_a: np.ndarray, near_b: np.ndarray) -> np.ndarray:
        """The calibrated distances of faces ``d`` apart (L2) whose nearnesses are given."""
        shift = self.typical + self.offset
        return np.asarray(d) - (np.asarray(near_a) + np.asarray(near_b)) / 2 + shift


def best_threshold(d: np.ndarray, same: np.ndarray) -> float:
    """The threshold (same person when ``d <= t``) with the most right answers; NaN
    distances (a photo without a face) are left out."""
    ok = ~np.isnan(d)
    order = np.argsort(d[ok], kind="stable")
    ds, ss = d[ok][order], same[ok][order]
    # right answers when the first k (nearest) pairs are called "same": k = 0..n
    right = np.concatenate([[0], np.cumsum(ss)]) + np.concatenate(
        [[(~ss).sum()], (~ss).sum() - np.cumsum(~ss)]
    )
    k = int(np.argmax(right))
    if k == 0:
        return float(ds[0]) - 1e-6
    return float(ds[k - 1] + ds[k]) / 2 if k < len(ds) else float(ds[-1]) + 1e-6


def offset_for(
    cohort: Cohort,
    d: np.ndarray,
    near_a: np.ndarray,
    near_b: np.ndarray,
    same: np.ndarray,
    line: float,
) -> float:
    """The offset that makes ``line`` the most accurate same-person line for these pairs,
    calibrated against ``cohort``."""
    unshifted = cohort.calibrate(d, near_a, near_b) - cohort.offset
    return line - best_threshold(unshifted, np.asarray(same))
