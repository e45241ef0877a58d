"""Crediting faces to people: which face in each of a person's photos is that person.

A folder of someone's photos often shows other people too (a wedding, a team, a crowd).
One face per photo is credited to the person: the one that agrees best with the person's
other photos; the rest stay in the index as unnamed bystanders.
"""

from __future__ import annotations

import numpy as np


def credit(photo_ids: np.ndarray, areas: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Indices (into the rows) of the credited face of each photo.

    Rows are the faces of one person's photos: ``photo_ids[i]`` is face ``i``'s photo,
    ``areas[i]`` its box area, ``X[i]`` its embedding.  A face's score is its median, over
    the person's *other* photos, of the distance to that photo's nearest face; the
    lowest score wins.  A person with one photo, or a photo no other photo agrees with,
    falls back to the largest face.
    """
    photos = np.unique(photo_ids)
    if len(photos) <= 1:
        return np.array([int(np.argmax(areas))] if len(areas) else [], dtype=np.int64)
    order = np.argsort(photo_ids, kind="stable")
    starts = np.searchsorted(photo_ids[order], photos)
    # nearest[i, j]: distance from face i to the nearest face of photo j
    nearest = np.minimum.reduceat(_pairwise(X)[:, order], starts, axis=1)
    nearest[photo_ids[:, None] == photos[None, :]] = np.nan
    score = np.nanmedian(nearest, axis=1)
    chosen = []
    for p in photos:
        rows = np.flatnonzero(photo_ids == p)
        chosen.append(int(rows[np.lexsort((-areas[rows], score[rows]))[0]]))
    return np.array(chosen, dtype=np.int64)


def _pairwise(X: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", X, X)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    return np.sqrt(np.maximum(d2, 0.0))
