"""A synthetic index of N faces clustered like real people, for timing search at scale.

Uniform random unit vectors are the easy case for an approximate index (every point is as
far from every other); real faces come in people.  So the faces here are drawn from LFW's
own statistics, taken from the packaged gallery (``lookalike/data/lfw-gallery.npz``):

- a person's centre ~ N(mean, B), B the between-person covariance of LFW's faces;
- each photo's face = its person's centre + N(0, W), W LFW's pooled within-person
  covariance (people with two photos or more);
- photos per person drawn from LFW's own counts (half its people have one photo, one has
  530; 2.3 on average);
- one photo in ``1 / BYSTANDER_EVERY`` also holds a bystander: a face of someone else, an
  unknown person's centre + spread, credited to nobody (as ``--unnamed`` faces are).

Written through lookalike's own store (:class:`lookalike.index.Index`), as indexing would;
no chips are stored.  ``vectors(...)`` gives the same faces without SQLite, for timing
libraries on their own.

    python bench/synthetic.py OUT.db [N] [QUALITY]    # QUALITY: a --quality preset
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

from lookalike import ann
from lookalike.faces import QUALITY, Settings, dlib_only
from lookalike.index import DIM, Index, PhotoRecord, pack
from lookalike.models.dlibnets import dlib_info

BYSTANDER_EVERY = 5
BATCH_PHOTOS = 20_000


@dataclass
class LfwStats:
    """What a synthetic gallery copies from LFW: where people are, how their photos spread,
    how many photos each has."""

    mean: np.ndarray
    between: np.ndarray  # Cholesky factor of the between-person covariance
    within: np.ndarray  # Cholesky factor of the within-person covariance
    photos_per_person: np.ndarray


def lfw_stats() -> LfwStats:
    with np.load(files("lookalike") / "data" / "lfw-gallery.npz") as data:
        X, person = data["X"].astype(np.float64), data["person"]
    counts = np.bincount(person)
    centres = np.zeros((len(counts), DIM))
    np.add.at(centres, person, X)
    centres /= counts[:, None]
    several = counts[person] >= 2
    R = (X - centres[person])[several]
    within = R.T @ R / (len(R) - np.count_nonzero(counts >= 2))
    between = np.cov(X.T) - within
    return LfwStats(X.mean(axis=0), _factor(between), _factor(within), counts)


def _factor(C: np.ndarray) -> np.ndarray:
    """A Cholesky-like factor of a covariance whose smallest eigenvalues may round below 0."""
    w, V = np.linalg.eigh(C)
    return V * np.sqrt(np.maximum(w, 0.0))


def people(stats: LfwStats, n_credited: int, rng: np.random.Generator) -> np.ndarray:
    """How many credited faces (photos) each person has, ``n_credited`` in all."""
    counts = rng.choice(stats.photos_per_person, size=n_credited // 2 + 1)
    last = int(np.searchsorted(np.cumsum(counts), n_credited))
    counts = counts[: last + 1]
    counts[-1] -= counts.sum() - n_credited
    return counts


def batches(n_faces: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(X float32[m, 128], person int64[m])`` a batch of people at a time, each bystander
    (``-1``) right after the credited face of the photo it is in."""
    rng = np.random.default_rng(seed)
    stats = lfw_stats()
    bystanders = n_faces // (BYSTANDER_EVERY + 1)
    counts = people(stats, n_faces - bystanders, rng)
    photo, first = 0, 0
    while first < len(counts):
        last = min(
            int(np.searchsorted(np.cumsum(counts[first:]), BATCH_PHOTOS)) + first + 1, len(counts)
        )
        person = np.repeat(np.arange(first, last), counts[first:last])
        centres = stats.mean + rng.standard_normal((last - first, DIM)) @ stats.between.T
        index = np.arange(photo, photo + len(person))
        where = np.flatnonzero(
            (index % BYSTANDER_EVERY == 0) & (index // BYSTANDER_EVERY < bystanders)
        )
        strangers = stats.mean + rng.standard_normal((len(where), DIM)) @ stats.between.T
        faces = np.concatenate([centres[person - first], strangers])
        faces += rng.standard_normal(faces.shape) @ stats.within.T
        codes = np.concatenate([person, np.full(len(where), -1)])
        key = np.concatenate([np.arange(len(person)) * 2, where * 2 + 1])
        order = np.argsort(key, kind="stable")
        yield faces[order].astype(np.float32), codes[order]
        photo += len(person)
        first = last


def vectors(n_faces: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All the faces and their people (``-1``: a bystander) as arrays."""
    parts = list(batches(n_faces, seed))
    return np.concatenate([x for x, _ in parts]), np.concatenate([p for _, p in parts])


def build(path: str, n_faces: int, settings: Settings, seed: int = 0, graph: bool = True) -> None:
    """Write the synthetic index: a photo per credited face, named after its person; with
    ``graph``, and from :data:`ann.THRESHOLD` faces on, the ANN graph too, as `lookalike
    index` makes it (bench/ann.py times that build on its own)."""
    with Index.open(path, create=True) as idx, idx.writer():
        idx.set_settings(dlib_only(settings), dlib_info())  # dlib's vectors alone
        photo = 0
        for X, person in batches(n_faces, seed):
            photos = _photos(X, person, photo)
            photo += int(np.count_nonzero(person >= 0))
            idx.write(photos)
        # the credited face of each photo is its first, as `lookalike index` credits it
        with idx.db:
            idx.db.execute(
                "UPDATE faces SET credited = 1 WHERE id IN "
                "(SELECT min(id) FROM faces GROUP BY photo_id)"
            )
        gallery = idx.gallery()  # writes the search sidecar, as `lookalike index` does
        if graph and ann.wanted("auto", len(gallery.X)):
            ann.refresh(idx.path, gallery)


def _name(person: int) -> str:
    return f"person{person:07d}"


def _photos(X: np.ndarray, person: np.ndarray, first: int) -> list[tuple[PhotoRecord, list]]:
    out: list[tuple[PhotoRecord, list]] = []
    for v, code in zip(X, person, strict=True):
        box = (100, 180, 180, 100) if code >= 0 else (300, 380, 380, 300)
        face = (*box, pack(v), None, None)
        if code < 0:
            out[-1][1].append(face)
            continue
        n = first + len(out)
        record = PhotoRecord(
            f"/synthetic/{_name(code)}/{n}.jpg",
            _name(code),
            1,
            1,
            f"{n:040x}",
            "ok",
            None,
            1000,
            1000,
        )
        out.append((record, [face]))
    return out


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    build(sys.argv[1], n, Settings(**QUALITY[sys.argv[3] if len(sys.argv) > 3 else "default"]))
