"""LFW: its pairs files, the face of each photo in an index of it, and the built-in galleries
made from it (``make gallery``).

LFW centres the person each photo is named after, so a photo's face is the one nearest its
centre; the few photos where lookalike's detector finds none, or only someone beside the
person named, are searched again with the CNN detector.  The galleries' files are read by
:mod:`lookalike.gallery`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from . import api
from .cohort import Cohort, offset_for
from .faces import TOLERANCE, Settings, detect, fuse, parts_of
from .images import load_photo
from .index import Index, IndexFileError

DEFAULT_CACHE = Path(platformdirs.user_cache_dir("lookalike"))


@dataclass
class Pair:
    """A pair of LFW photos (paths relative to ``images/``) from a pairs file, and its fold."""

    a: str
    b: str
    same: bool
    fold: int


def photo(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """A pairs file: a header line, then folds of same-person lines and different-person lines."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split()
    folds, per_fold = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    pairs = []
    for i, line in enumerate(lines[1 : 1 + 2 * folds * per_fold]):
        f = line.split("\t")
        same = len(f) == 3
        a, b = (
            (photo(f[0], f[1]), photo(f[0], f[2]))
            if same
            else (photo(f[0], f[1]), photo(f[2], f[3]))
        )
        pairs.append(Pair(a, b, same, i // (2 * per_fold)))
    return pairs


@dataclass
class PhotoFaces:
    """What the index found in one photo: how many faces, and the chosen one (or none)."""

    status: str
    count: int
    box: list[int] | None
    embedding: np.ndarray | None
    centred: bool = True  # the chosen box holds the photo's centre (:func:`holds_centre`)


def holds_centre(box: list[int], width: int, height: int) -> bool:
    """Whether a (top, right, bottom, left) box holds the photo's centre.  LFW centres the
    person named: a face that does not is someone beside them, found where theirs was not
    (5 of 13,233 photos with the default settings, ``Elena_de_Chavez_0001.jpg``: Hugo
    Chavez)."""
    top, right, bottom, left = box
    return left <= width / 2 <= right and top <= height / 2 <= bottom


def nearest_centre(boxes: list[list[int]], width: int, height: int) -> int:
    """Index of the box whose centre is nearest the photo's: LFW centres the person named."""

    def off_centre(box: list[int]) -> float:
        top, right, bottom, left = box
        return ((left + right - width) / 2) ** 2 + ((top + bottom - height) / 2) ** 2

    return min(range(len(boxes)), key=lambda i: off_centre(boxes[i]))


def photo_faces(
    index: Index,
    root: str | os.PathLike,
    choose: Callable[[list[list[int]], int, int], int] = nearest_centre,
) -> dict[str, PhotoFaces]:
    """Each photo under ``root`` by its path relative to ``root``, with its chosen face."""
    root = os.path.abspath(os.fspath(root))
    grouped: dict[str, tuple[str, int, int, list, list]] = {}
    for path, status, width, height, box, embedding in index.photo_faces(root):
        rel = os.path.relpath(path, root)
        entry = grouped.setdefault(rel, (status, width, height, [], []))
        if box is not None:
            entry[3].append(box)
            entry[4].append(embedding)
    out = {}
    for rel, (status, width, height, boxes, embeddings) in grouped.items():
        if not boxes:
            out[rel] = PhotoFaces(status, 0, None, None)
            continue
        i = choose(boxes, width, height)
        centred = holds_centre(boxes[i], width, height)
        out[rel] = PhotoFaces(status, len(boxes), boxes[i], embeddings[i], centred)
    return out


def build(
    images: str | os.PathLike,
    out: str | os.PathLike,
    index_path: str | os.PathLike,
    settings: Settings,
    dev_pairs: str | os.PathLike,
    jobs: int | None = None,
) -> int:
    """Index LFW's ``images/<person>/*.jpg`` (incrementally) and write the gallery file,
    with the offset that calibrates verdicts against it (:func:`dev_offset`, on the pairs
    file ``dev_pairs``: View 1's ``pairsDevTrain.txt``).

    The few photos in which ``settings`` find no face (36 of 13,233 with the default), or
    only someone beside the person named (:func:`holds_centre`, 5), are searched again with
    the CNN detector, so that every photo and person is in with their own face: it decides
    only where the face is, not how it is encoded; a photo where it finds none is left out.
    Returns the number of photos in the gallery.
    """
    api.index(images, index_path, settings, jobs, progress=True)
    with Index.open(index_path) as idx:
        if idx.settings() != settings:
            raise IndexFileError(f"{index_path} was built with other settings")
        found = dict(sorted(photo_faces(idx, images).items()))
    for rel, f in found.items():
        if not f.count or not f.centred:
            found[rel] = _found_by_cnn(Path(images) / rel, settings)
    found = {rel: f for rel, f in found.items() if f.count}
    people = sorted({os.path.dirname(rel) for rel in found})
    code = {name: i for i, name in enumerate(people)}
    fused = np.stack([f.embedding for f in found.values()])
    parts = {k: v.astype(np.float16) for k, v in parts_of(fused, settings.networks).items()}
    person = np.array([code[os.path.dirname(rel)] for rel in found], np.int32)
    rows = {rel: i for i, rel in enumerate(found)}
    pairs = read_pairs(dev_pairs)
    calibrations = _calibration(fuse(parts, settings.networks), person, rows, pairs, "")
    if settings.networks != "dlib":  # what the preset was before SFace: dlib's alone
        calibrations |= _calibration(fuse(parts, "dlib"), person, rows, pairs, "dlib_")
    np.savez_compressed(
        out,
        settings=np.array(json.dumps(settings.as_dict())),
        names=np.array(people),
        person=person,
        files=np.array([os.path.basename(rel) for rel in found]),
        boxes=np.array([f.box for f in found.values()], np.int16),
        X=parts["dlib"],
        **({"S": parts["sface"]} if "sface" in parts else {}),
        **calibrations,
    )
    return len(found)


def _calibration(
    X: np.ndarray, person: np.ndarray, rows: dict[str, int], pairs: list[Pair], prefix: str
) -> dict[str, np.ndarray]:
    """The offset (:func:`dev_offset`) and typical nearness (:class:`Cohort`) of the gallery
    ``X``, as its file stores them (``prefix``: for which networks)."""
    return {
        f"{prefix}offset": np.array(dev_offset(X, person, rows, pairs)),
        f"{prefix}typical": np.array(Cohort.of(X, person).typical),
    }


def dev_offset(X: np.ndarray, person: np.ndarray, rows: dict[str, int], pairs: list[Pair]) -> float:
    """The cohort offset that makes :data:`~lookalike.faces.TOLERANCE` the most accurate
    same-person line on ``pairs`` (LFW View 1's training pairs), each face of the gallery
    ``X`` (``rows``: the row of each LFW path, in order) calibrated against the gallery less
    the pairs' people."""
    pair_people = {rel.split("/")[0] for p in pairs for rel in (p.a, p.b)}
    owner = np.array([rel.split("/")[0] for rel in rows])
    keep = ~np.isin(owner, list(pair_people))
    cohort = Cohort.of(X[keep], person[keep])
    a, b = (X[[rows[getattr(p, side)] for p in pairs]].astype(np.float32) for side in "ab")
    d = np.linalg.norm(a - b, axis=1)
    same = np.array([p.same for p in pairs])
    return offset_for(cohort, d, cohort.nearness(a), cohort.nearness(b), same, TOLERANCE)


def _found_by_cnn(path: Path, settings: Settings) -> PhotoFaces:
    """The centred face of a photo, found by dlib's CNN detector (none: not even by it)."""
    photo = load_photo(path)
    cnn = dataclasses.replace(settings, detector="cnn", upsample=0, fallback="none", min_face=0)
    found = detect(photo, cnn)
    boxes = [list(f.box) for f in found]
    i = nearest_centre(boxes, photo.width, photo.height) if found else 0
    if not found or not holds_centre(boxes[i], photo.width, photo.height):
        return PhotoFaces("noface", 0, None, None)
    return PhotoFaces("ok", len(found), boxes[i], found[i].embedding)


def cached_index(cache: str | os.PathLike, settings: Settings) -> Path:
    """The index of LFW made with ``settings`` in the folder ``cache`` (one per settings)."""
    key = hashlib.sha1(json.dumps(settings.as_dict(), sort_keys=True).encode()).hexdigest()
    return Path(cache) / f"lfw-{key[:12]}.db"
