"""The built-in gallery: one face from every photo of LFW, shipped with the package.

``match`` uses it when the user has no index of their own (or asks with ``--gallery lfw``),
so the tool answers "which celebrity do I look like?" out of the box.  The file holds no
pixels: per photo, the person's name, the LFW file name, the face's box and its 128-d
embedding as float16 (enough: on LFW View 2 accuracy moves by one pair in 6,000 and rank-1
by 0.03 points, ``bench/lfw.py``), made with the default :class:`~lookalike.faces.Settings`
by ``make gallery`` (``scripts/lfw_gallery.py``): 13,233 faces of 5,749 people, 3.3 MB.
A second file is made the same way with ``--quality best``.  Each is also the cohort that
calibrates verdicts made with its settings (:mod:`lookalike.cohort`), and records the offset
chosen for that on View 1 when it is built (:func:`dev_offset`).  They live inside the
package (``src/lookalike/data/``, package data), so an editable install and a wheel both
find them with :mod:`importlib.resources`.

A :class:`BuiltinGallery` answers the read-only questions matching asks of an
:class:`~lookalike.index.Index` (settings, the embedding matrix, who and where a face is), so
the same matching code serves both.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import platformdirs

from .cohort import Cohort, offset_for
from .config import find_lfw
from .faces import (
    QUALITY,
    TOLERANCE,
    Settings,
    as_now,
    chip_jpeg,
    cut_chip,
    detect,
    dlib_only,
    fuse,
    parts_of,
)
from .images import ImageError, load_photo
from .index import Gallery, Index, IndexFileError

NAME = "lfw"
#: The packaged files (package data, so an editable install and a wheel both find them), by
#: the ``--quality`` preset they were made with: ``match`` answers from the default one, and
#: each is the cohort that calibrates verdicts made with its settings (:func:`cohort_for`).
PACKAGED = {"default": "data/lfw-gallery.npz", "best": "data/lfw-gallery-best.npz"}
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
    from . import api

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


class BuiltinGallery:
    """The packaged LFW gallery, read-only, answering like an :class:`Index` does."""

    NAME = NAME

    def __init__(self, path: str | os.PathLike | None = None, networks: str | None = None):
        """The gallery file at ``path`` (the default one when None), its faces' vectors fused
        from the networks ``networks`` names (those it was made with when None; ``dlib``: as
        the preset was before SFace joined it)."""
        path = path or packaged(Settings())
        if path is None:
            raise IndexFileError("the built-in LFW gallery is missing from this install")
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as data:
            # a gallery made before a preset changed holds what the preset makes today where
            # the change does not touch LFW's photos (the crowd's look of 2026-12-04: 250 px
            # photos are never shrunk) or was applied to the file (best's fallback, 2026-12-03)
            made = as_now(Settings.from_dict(json.loads(str(data["settings"]))))
            self._settings = dataclasses.replace(made, networks=networks or made.networks)
            self.names = [str(n) for n in data["names"]]
            self.person = data["person"]
            self.files = data["files"]
            self.boxes = data["boxes"]
            parts = {"dlib": data["X"], "sface": data.get("S")}
            self.X = np.ascontiguousarray(fuse(parts, self._settings.networks))
            # the networks it was made with, or dlib's alone (stored beside them since SFace)
            prefix = "" if self._settings.networks == made.networks else "dlib_"
            #: None in a gallery made before verdicts were calibrated (2026-12-03)
            self.offset = float(data[f"{prefix}offset"]) if f"{prefix}offset" in data else None
            #: the whole gallery's typical nearness (:class:`Cohort`), stored since 2026-12-04
            self.typical = float(data[f"{prefix}typical"]) if f"{prefix}typical" in data else None
        #: the LFW folder (holding ``images/``) when its photos are here (:func:`builtin_gallery`)
        self.lfw: Path | None = None

    def cohort(self, without: Iterable[str] = ()) -> Cohort:
        """The gallery as a cohort to calibrate against, less the people named ``without``."""
        without = list(without)
        keep = ~np.isin(np.array(self.names)[self.person], without)
        typical = None if without else self.typical
        return Cohort.of(self.X[keep], self.person[keep], self.offset or 0.0, typical)

    def __enter__(self) -> BuiltinGallery:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def describe(self) -> str:
        preset = preset_of(self._settings)
        made = f", --quality {preset}" if preset not in (None, "default") else ""
        return (
            f"the built-in LFW gallery ({len(self.X):,} faces of {len(self.names):,} people{made})"
        )

    def settings(self) -> Settings:
        return self._settings

    def snapshot(self) -> AbstractContextManager:
        """A read-only file never changes under a query."""
        return nullcontext()

    def gallery(self) -> Gallery:
        return Gallery(
            X=self.X, face_ids=np.arange(len(self.X)), person=self.person, names=self.names
        )

    def person_face_ids(self, name: str) -> list[int]:
        if name not in self.names:
            return []
        return np.flatnonzero(self.person == self.names.index(name)).tolist()

    def chip(self, face_id: int) -> bytes | None:
        """The face as JPEG, like an index's chips: no pixels are shipped, so it is cut from
        its LFW photo by the stored box, aligned as when the gallery was made; None when the
        LFW folder is not known or lacks the photo (or holds a damaged one)."""
        path = self.photo_path(face_id)
        try:
            photo = load_photo(path) if path else None
        except ImageError:
            photo = None
        if photo is None:
            return None
        return chip_jpeg(cut_chip(photo, self.boxes[face_id].tolist(), self._settings))

    def photo_path(self, face_id: int) -> Path | None:
        """Where the face's LFW photo is, when the LFW folder is known."""
        return self.lfw / "images" / self._photo(face_id) if self.lfw else None

    def _photo(self, face_id: int) -> str:
        """The face's LFW photo relative to ``images/``: ``Name/Name_0005.jpg``."""
        return f"{self.names[self.person[face_id]]}/{self.files[face_id]}"

    def counts(self) -> dict[str, int]:
        return {"photos": len(self.X), "faces": len(self.X), "people": len(self.names)}

    def people(self) -> list[tuple[str, int, int]]:
        """``(name, faces, photos)`` of each person, by name: one face a photo."""
        n = np.bincount(self.person, minlength=len(self.names))
        return sorted((name, int(k), int(k)) for name, k in zip(self.names, n, strict=True))

    def describe_faces(self, face_ids) -> dict[int, dict]:
        out = {}
        for i in face_ids:
            i = int(i)
            name = self.names[self.person[i]]
            out[i] = {
                "name": name,
                "photo_name": name,
                "path": str(self.photo_path(i) or self._photo(i)),
                "box": self.boxes[i].tolist(),
            }
        return out


def preset_of(settings: Settings) -> str | None:
    """The ``--quality`` preset whose settings these are, if any."""
    return next((q for q in QUALITY if Settings(**QUALITY[q]) == settings), None)


def former_preset(settings: Settings) -> str | None:
    """The preset whose settings these were before SFace joined it (dlib's network alone;
    its other fields as they are today or were: :func:`as_now`)."""
    fused = [q for q in QUALITY if "sface" in Settings(**QUALITY[q]).weights]
    now = as_now(settings)
    return next((q for q in fused if dlib_only(Settings(**QUALITY[q])) == now), None)


def packaged(settings: Settings) -> Path | None:
    """The packaged gallery whose faces ``settings`` make, if there is one in this install:
    the one made with them, or, for a preset's settings before SFace joined it, the preset's
    (its dlib vectors are theirs)."""
    name = PACKAGED.get(preset_of(settings) or former_preset(settings))
    resource = resources.files("lookalike").joinpath(name) if name else None
    return Path(str(resource)) if resource and resource.is_file() else None


@cache
def _load(path: Path | None, networks: str | None = None) -> BuiltinGallery:
    return BuiltinGallery(path, networks)


def builtin_gallery(settings: Settings, lfw: str | os.PathLike | None = None) -> BuiltinGallery:
    """The packaged gallery whose faces ``settings`` make, else the default one; loaded once a
    process (it is read-only), so matching against it and calibrating share one load.  Each
    call has its own copy (the arrays shared) that knows where the LFW photos are:
    :func:`~lookalike.config.find_lfw` of ``lfw``."""
    path = packaged(settings)
    gallery = copy.copy(_load(path, settings.networks) if path else _load(packaged(Settings())))
    gallery.lfw = find_lfw(lfw)
    return gallery


@cache
def cohort_for(settings: Settings) -> Cohort | None:
    """The packaged gallery whose faces ``settings`` make (or what a preset made of them
    became: :func:`faces.as_now`; its cohort differs by a few faces) as a cohort (made
    once), or None."""
    for made in (settings, as_now(settings)):
        path = packaged(made)
        if path:
            gallery = _load(path, made.networks)
            return gallery.cohort() if gallery.offset is not None else None
    return None


def cached_index(cache: str | os.PathLike, settings: Settings) -> Path:
    """The index of LFW made with ``settings`` in the folder ``cache`` (one per settings)."""
    key = hashlib.sha1(json.dumps(settings.as_dict(), sort_keys=True).encode()).hexdigest()
    return Path(cache) / f"lfw-{key[:12]}.db"
