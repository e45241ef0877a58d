"""The built-in gallery: one face from every photo of LFW, shipped with the package.

``match`` uses it when the user has no index of their own (or asks with ``--gallery lfw``),
so the tool answers "which celebrity do I look like?" out of the box.  The file holds no
pixels: per photo, the person's name, the LFW file name, the face's box and each network's
vector as float16 (enough: on LFW View 2 accuracy moves by one pair in 6,000 and rank-1 by
0.03 points, ``bench/lfw.py``), made with the default :class:`~lookalike.faces.Settings` by
``make gallery`` (:func:`lookalike.lfw.build`): 13,233 faces of 5,749 people, 6.4 MB.  A
second file is made the same way with ``--quality best``.  Each is also the cohort that
calibrates verdicts made with its settings (:mod:`lookalike.cohort`), and records the offset
chosen for that on View 1 when it is built, for its networks and for dlib's alone.  They
live inside the package (``src/lookalike/data/``, package data), so an editable install and
a wheel both find them with :mod:`importlib.resources`.

A :class:`BuiltinGallery` answers the read-only questions matching asks of an
:class:`~lookalike.index.Index` (settings, the embedding matrix, who and where a face is), so
the same matching code serves both.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from .cohort import Cohort
from .config import find_lfw
from .faces import (
    QUALITY,
    Settings,
    as_now,
    chip_jpeg,
    cut_chip,
    former_preset,
    fuse,
)
from .images import ImageError, load_photo
from .index import Gallery, IndexFileError

NAME = "lfw"
#: The packaged files (package data, so an editable install and a wheel both find them), by
#: the ``--quality`` preset they were made with: ``match`` answers from the default one, and
#: each is the cohort that calibrates verdicts made with its settings (:func:`cohort_for`).
PACKAGED = {"default": "data/lfw-gallery.npz", "best": "data/lfw-gallery-best.npz"}


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
        n = len(self.X)
        return {"photos": n, "faces": n, "credited_faces": n, "people": len(self.names)}

    def people(self) -> list[tuple[str, int, int]]:
        """``(name, faces, photos)`` of each person, by name: one face a photo."""
        n = np.bincount(self.person, minlength=len(self.names))
        return sorted((name, int(k), int(k)) for name, k in zip(self.names, n, strict=True))

    def faces_named(self, name: str) -> list[tuple[int, str, list[int], bool]]:
        """As :meth:`Index.faces_named`: each LFW photo's face, by its folder."""
        return [
            (i, str(self.photo_path(i) or self._photo(i)), self.boxes[i].tolist(), False)
            for i in self.person_face_ids(name)
        ]

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
