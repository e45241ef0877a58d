"""A synthetic index of N faces (random unit vectors), for timing search at scale.

Written through lookalike's own store (:class:`lookalike.index.Index`), as indexing would:
photos of ``FACES_PER_PHOTO`` faces, ``PHOTOS_PER_PERSON`` photos a person, the first face
of each photo credited to its person (the others are bystanders).  No chips are stored.

    python bench/synthetic.py OUT.db [N] [QUALITY]    # QUALITY: a --quality preset
"""

from __future__ import annotations

import sys

import numpy as np

from lookalike.faces import QUALITY, Settings, dlib_info
from lookalike.index import DIM, Index, PhotoRecord, pack

FACES_PER_PHOTO = 5
PHOTOS_PER_PERSON = 5
BATCH_PHOTOS = 10_000


def build(path: str, n_faces: int, settings: Settings, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_photos = n_faces // FACES_PER_PHOTO
    with Index.open(path, create=True) as idx, idx.writer():
        idx.set_settings(settings, dlib_info())
        for start in range(0, n_photos, BATCH_PHOTOS):
            idx.write(_photos(rng, start, min(start + BATCH_PHOTOS, n_photos)))
        names = {_name(p) for p in range(n_photos)}
        credited = {}
        for name in names:
            first = {}
            for face_id, photo_id, _, _ in idx.faces_of_person(name):
                first.setdefault(photo_id, face_id)
            credited[name] = list(first.values())
        idx.set_credited_many(credited)
        idx.gallery()  # writes the search sidecar, as `lookalike index` does


def _name(photo: int) -> str:
    return f"person{photo // PHOTOS_PER_PERSON:06d}"


def _photos(rng: np.random.Generator, start: int, stop: int):
    X = rng.standard_normal(((stop - start) * FACES_PER_PHOTO, DIM), dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for i, p in enumerate(range(start, stop)):
        record = PhotoRecord(
            f"/synthetic/{_name(p)}/{p}.jpg",
            _name(p),
            1,
            1,
            f"{p:040x}",
            "ok",
            width=1000,
            height=1000,
        )
        rows = X[i * FACES_PER_PHOTO : (i + 1) * FACES_PER_PHOTO]
        faces = [
            (100 * k, 100 * k + 80, 100 * k + 80, 100 * k, pack(v), None)
            for k, v in enumerate(rows)
        ]
        yield record, faces


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    build(sys.argv[1], n, Settings(**QUALITY[sys.argv[3] if len(sys.argv) > 3 else "default"]))
