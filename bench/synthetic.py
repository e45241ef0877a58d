"""A synthetic index of N faces clustered like real people, for timing search and clustering
at scale.

Uniform random unit vectors are the easy case for an approximate index (every point is as
far from every other); real faces come in people.  So the faces here are drawn from LFW's
own statistics, taken from the preset's packaged gallery (``lookalike/data/lfw-gallery.npz``;
``best``'s own for ``best``), in the joint space of both networks: a face is the 256-d
``[dlib, sface]`` of its two vectors, so the correlation between the networks is kept:

- a person's centre ~ N(mean, B), B the between-person covariance of LFW's faces;
- each photo's face = its person's centre + N(0, W), W LFW's pooled within-person
  covariance (people with two photos or more); then split: dlib's part as it is, SFace's
  made unit (as SFace's vectors are);
- photos per person drawn from LFW's own counts (half its people have one photo, one has
  530; 2.3 on average);
- one photo in ``1 / BYSTANDER_EVERY`` also holds a bystander: a face of someone else, an
  unknown person's centre + spread, credited to nobody.

Written through lookalike's own store (:class:`lookalike.index.Index`) as indexing would, a
batch of ``BATCH_PHOTOS`` photos a transaction (memory stays flat; only ``Index.gallery()``
at the end holds the whole matrix, as `lookalike index` does: 10M fused faces, 10 GiB):
both networks' vectors, the preset's settings recorded, so ``Index.gallery()`` fuses them
(256-d); ``cli``'s (dlib's network alone) stores dlib's only (128-d).  No chips are stored.
Each photo is named after its person, its face credited to them; with ``--unnamed``, as
``lookalike index --unnamed`` makes them: no name, every face credited to nobody, and the
truth (``face_id``, ``person``: -1 for a bystander) beside the index as
``OUT.db.truth.npy``, for clustering.  :func:`vectors` gives the same faces fused without
SQLite, for timing libraries on their own; :func:`new_photos`, new photos of given faces
(queries).

    python bench/synthetic.py OUT.db [N] [QUALITY] [--unnamed] [--no-graph]   # QUALITY: a preset
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from lookalike import ann
from lookalike.faces import QUALITY, Settings, fuse, parts_of
from lookalike.gallery import packaged
from lookalike.index import DIM, UNNAMED, Index, PhotoRecord, pack
from lookalike.models.dlibnets import dlib_info

BYSTANDER_EVERY = 5
BATCH_PHOTOS = 20_000
TRUTH = np.dtype([("face_id", "<i8"), ("person", "<i8")])


@dataclass(frozen=True)
class LfwStats:
    """What a synthetic gallery copies from LFW: where people are, how their photos spread
    (both in the joint ``[dlib, sface]`` space), how many photos each has."""

    mean: np.ndarray
    between: np.ndarray  # Cholesky-like factor of the between-person covariance
    within: np.ndarray  # Cholesky-like factor of the within-person covariance
    photos_per_person: np.ndarray


def lfw_stats(settings: Settings) -> LfwStats:
    """LFW's statistics from the packaged gallery of the preset ``settings`` are (the
    default's where it has none)."""
    return _stats(packaged(settings) or packaged(Settings()))


@cache
def _stats(path: Path) -> LfwStats:
    with np.load(path) as data:
        X = np.concatenate([data["X"], data["S"]], axis=1).astype(np.float64)
        person = data["person"]
    counts = np.bincount(person)
    centres = np.zeros((len(counts), X.shape[1]))
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


def _unit(V: np.ndarray) -> np.ndarray:
    return V / np.linalg.norm(V, axis=-1, keepdims=True)


def _centres(stats: LfwStats, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` people's centres, joint vectors."""
    return stats.mean + rng.standard_normal((n, len(stats.mean))) @ stats.between.T


def _faces(stats: LfwStats, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo's face of each centre: the spread added, SFace's part made unit (float32)."""
    Z = centres + rng.standard_normal(centres.shape) @ stats.within.T
    Z[:, DIM:] = _unit(Z[:, DIM:])
    return Z.astype(np.float32)


def parts(Z: np.ndarray, networks: str) -> dict[str, np.ndarray]:
    """The vectors of the networks ``networks`` fuses, from joint ones."""
    return {"dlib": Z[:, :DIM]} | ({"sface": Z[:, DIM:]} if "sface" in networks else {})


def new_photos(X: np.ndarray, settings: Settings, rng: np.random.Generator) -> np.ndarray:
    """New photos of the faces ``X`` (fused on ``settings.networks``: 256-d, or 128-d on
    dlib's alone): each network's vector moved by LFW's joint within-person spread (its dlib
    part alone where SFace is not fused), SFace's made unit again, fused again."""
    noise = rng.standard_normal((len(X), 2 * DIM)) @ lfw_stats(settings).within.T
    moved = {
        name: part + noise[:, k * DIM : (k + 1) * DIM]
        for k, (name, part) in enumerate(parts_of(X, settings.networks).items())
    }
    if "sface" in moved:
        moved["sface"] = _unit(moved["sface"])
    return fuse(moved, settings.networks)


def people(stats: LfwStats, n_credited: int, rng: np.random.Generator) -> np.ndarray:
    """How many credited faces (photos) each person has, ``n_credited`` in all."""
    counts = rng.choice(stats.photos_per_person, size=n_credited // 2 + 1)
    last = int(np.searchsorted(np.cumsum(counts), n_credited))
    counts = counts[: last + 1]
    counts[-1] -= counts.sum() - n_credited
    return counts


def batches(
    n_faces: int, settings: Settings, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(Z float32[m, 256], person int64[m])`` a batch of people at a time: each face's
    joint vector (dlib's, then SFace's unit one) and person, each bystander (``-1``) right
    after the credited face of the photo it is in."""
    rng = np.random.default_rng(seed)
    stats = lfw_stats(settings)
    bystanders = n_faces // (BYSTANDER_EVERY + 1)
    counts = people(stats, n_faces - bystanders, rng)
    ends = np.cumsum(counts)
    first = 0
    while first < len(counts):
        photo = int(ends[first - 1]) if first else 0
        last = min(int(np.searchsorted(ends, photo + BATCH_PHOTOS)) + 1, len(counts))
        yield _batch(stats, counts[first:last], first, photo, bystanders, rng)
        first = last


def _batch(
    stats: LfwStats,
    counts: np.ndarray,
    first: int,
    photo: int,
    bystanders: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The faces of people ``first, first + 1, ...`` (``counts`` photos each, the first of
    them photo number ``photo``) and of the bystanders in those photos, in photo order."""
    person = np.repeat(np.arange(first, first + len(counts)), counts)
    index = np.arange(photo, photo + len(person))
    where = np.flatnonzero((index % BYSTANDER_EVERY == 0) & (index // BYSTANDER_EVERY < bystanders))
    centres = _centres(stats, len(counts), rng)[person - first]
    faces = _faces(stats, np.concatenate([centres, _centres(stats, len(where), rng)]), rng)
    codes = np.concatenate([person, np.full(len(where), -1)])
    key = np.concatenate([np.arange(len(person)) * 2, where * 2 + 1])
    order = np.argsort(key, kind="stable")
    return faces[order], codes[order]


def vectors(
    n_faces: int, seed: int = 0, settings: Settings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All the faces, fused on ``settings.networks`` (default: the default preset's), and
    their people (``-1``: a bystander) as arrays."""
    settings = settings or Settings()
    out = [
        (fuse(parts(Z, settings.networks), settings.networks), p)
        for Z, p in batches(n_faces, settings, seed)
    ]
    return np.concatenate([x for x, _ in out]), np.concatenate([p for _, p in out])


def blobs(split: dict[str, np.ndarray]) -> list[tuple[bytes, bytes | None]]:
    """Each face's networks' vectors as the index stores them: dlib's, SFace's (or None)."""
    sface = split.get("sface")
    return [
        (pack(d), None if sface is None else pack(sface[k])) for k, d in enumerate(split["dlib"])
    ]


def build(
    path: str,
    n_faces: int,
    settings: Settings,
    seed: int = 0,
    graph: bool = True,
    unnamed: bool = False,
) -> None:
    """Write the synthetic index (and with ``unnamed``, its truth: :func:`truth_path`);
    with ``graph``, and from :data:`ann.THRESHOLD` faces on, the ANN graph too, as
    `lookalike index` makes it (bench/ann.py times that build on its own)."""
    truth = _truth_file(path, n_faces) if unnamed else None
    with Index.open(path, create=True) as idx, idx.writer():
        idx.set_settings(settings, dlib_info())
        _write(idx, batches(n_faces, settings, seed), settings.networks, truth)
        if not unnamed:  # a named photo's face is credited to its person, as indexing does
            _credit_first_faces(idx)
        gallery = idx.gallery()  # writes the search sidecar, as `lookalike index` does
        if graph and ann.wanted("auto", len(gallery.X)):
            ann.refresh(idx.path, gallery)


def _write(
    idx: Index,
    faces: Iterator[tuple[np.ndarray, np.ndarray]],
    networks: str,
    truth: np.memmap | None,
) -> None:
    """Store the faces a batch (a transaction) at a time, named after their people where
    there is no ``truth`` to write, else unnamed and their truth written."""
    photo, done = 0, 0
    for Z, person in faces:
        before = idx.db.execute("SELECT coalesce(max(id), 0) FROM faces").fetchone()[0]
        idx.write(_photos(parts(Z, networks), person, photo, truth is not None))
        photo += int(np.count_nonzero(person >= 0))
        if truth is not None:
            truth["face_id"][done : done + len(person)] = _ids(idx, before)
            truth["person"][done : done + len(person)] = person
        done += len(person)
    if truth is not None:
        if done != len(truth):
            raise RuntimeError(f"{done} faces made, {len(truth)} asked for")
        truth.flush()


def truth_path(path: str) -> str:
    """Where the truth of an ``--unnamed`` synthetic index is written: beside it."""
    return path + ".truth.npy"


def _truth_file(path: str, n_faces: int) -> np.memmap:
    """``face_id, person`` of each face, written a batch at a time (10M faces: 160 MB)."""
    return np.lib.format.open_memmap(truth_path(path), "w+", TRUTH, (n_faces,))


def _ids(idx: Index, after: int) -> list[int]:
    """The ids of the faces written since the largest was ``after``, in the order written."""
    rows = idx.db.execute("SELECT id FROM faces WHERE id > ? ORDER BY id", (after,))
    return [r[0] for r in rows]


def _credit_first_faces(idx: Index) -> None:
    """The credited face of each photo is its first, as `lookalike index` credits it."""
    with idx.db:
        idx.db.execute(
            "UPDATE faces SET credited = 1 WHERE id IN "
            "(SELECT min(id) FROM faces GROUP BY photo_id)"
        )


def _name(person: int) -> str:
    return f"person{person:07d}"


def _photos(
    split: dict[str, np.ndarray], person: np.ndarray, first: int, unnamed: bool
) -> list[tuple[PhotoRecord, list]]:
    """A photo per credited face (photo number ``first`` on), each bystander in the photo
    before it; named after its person's, or ``unnamed``."""
    out: list[tuple[PhotoRecord, list]] = []
    for (dlib, sface), code in zip(blobs(split), person, strict=True):
        box = (100, 180, 180, 100) if code >= 0 else (300, 380, 380, 300)
        face = (*box, dlib, sface, None)
        if code < 0:
            out[-1][1].append(face)
            continue
        n = first + len(out)
        name = UNNAMED if unnamed else _name(code)
        where = f"/synthetic/{n:09d}.jpg" if unnamed else f"/synthetic/{name}/{n}.jpg"
        record = PhotoRecord(where, name, 1, 1, f"{n:040x}", "ok", None, 1000, 1000)
        out.append((record, [face]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the index file to write")
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="faces [1000000]")
    parser.add_argument("quality", nargs="?", choices=list(QUALITY), default="default")
    parser.add_argument(
        "--unnamed",
        action="store_true",
        help="photos named after nobody (as index --unnamed), the truth in OUT.db.truth.npy",
    )
    parser.add_argument(
        "--no-graph",
        action="store_true",
        help="write no approximate index (bench/ann.py builds it, timed, in shards)",
    )
    args = parser.parse_args()
    settings = Settings(**QUALITY[args.quality])
    build(args.out, args.n, settings, graph=not args.no_graph, unnamed=args.unnamed)


if __name__ == "__main__":
    main()
