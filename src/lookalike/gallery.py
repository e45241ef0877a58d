"""The built-in gallery: one face from every photo of LFW, shipped with the package.

``match`` uses it when the user has no index of their own (or asks with ``--gallery lfw``),
so the tool answers "which celebrity do I look like?" out of the box.  The file holds no
pixels: per photo, the person's name, the LFW file name, the face's box and its 128-d
embedding as float16 (enough: on LFW View 2 accuracy moves by one pair in 6,000 and rank-1
by 0.03 points, ``bench/lfw.py``), made with the default :class:`~lookalike.faces.Settings`
by ``make gallery`` (``scripts/lfw_gallery.py``): 13,233 faces of 5,749 people, 3.3 MB.
It lives inside the package (``src/lookalike/data/``, package data), so an editable install
and a wheel both find it with :mod:`importlib.resources`.

A :class:`BuiltinGallery` answers the read-only questions matching asks of an
:class:`~lookalike.index.Index` (settings, the embedding matrix, who and where a face is), so
the same matching code serves both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import platformdirs

from .faces import Settings, detect
from .images import load_photo
from .index import Gallery, Index, IndexFileError

NAME = "lfw"
#: The packaged file (package data, so an editable install and a wheel both find it).
PACKAGED = "data/lfw-gallery.npz"
DEFAULT_CACHE = Path(platformdirs.user_cache_dir("lookalike"))


@dataclass
class PhotoFaces:
    """What the index found in one photo: how many faces, and the chosen one (or none)."""

    status: str
    count: int
    box: list[int] | None
    embedding: np.ndarray | None


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
        out[rel] = PhotoFaces(status, len(boxes), boxes[i], embeddings[i])
    return out


def build(
    images: str | os.PathLike,
    out: str | os.PathLike,
    index_path: str | os.PathLike,
    settings: Settings,
    jobs: int | None = None,
) -> int:
    """Index LFW's ``images/<person>/*.jpg`` (incrementally) and write the gallery file.

    The few photos in which ``settings`` find no face (36 of 13,233 with the default) are
    searched again with the CNN fallback, so that every photo and person is in: the
    fallback decides only where the face is, not how it is encoded.  Returns the number of
    photos in the gallery.
    """
    from . import api

    api.index(images, index_path, settings, jobs, progress=True)
    with Index.open(index_path) as idx:
        if idx.settings() != settings:
            raise IndexFileError(f"{index_path} was built with other settings")
        found = dict(sorted(photo_faces(idx, images).items()))
    for rel, f in found.items():
        if not f.count:
            found[rel] = _found_by_cnn(Path(images) / rel, settings)
    found = {rel: f for rel, f in found.items() if f.count}
    people = sorted({os.path.dirname(rel) for rel in found})
    code = {name: i for i, name in enumerate(people)}
    np.savez_compressed(
        out,
        settings=np.array(json.dumps(settings.as_dict())),
        names=np.array(people),
        person=np.array([code[os.path.dirname(rel)] for rel in found], np.int32),
        files=np.array([os.path.basename(rel) for rel in found]),
        boxes=np.array([f.box for f in found.values()], np.int16),
        X=np.stack([f.embedding for f in found.values()]).astype(np.float16),
    )
    return len(found)


def _found_by_cnn(path: Path, settings: Settings) -> PhotoFaces:
    """The centred face of a photo, found by the CNN fallback."""
    photo = load_photo(path)
    found = detect(photo, dataclasses.replace(settings, fallback="cnn"))
    if not found:
        return PhotoFaces("noface", 0, None, None)
    i = nearest_centre([list(f.box) for f in found], photo.width, photo.height)
    return PhotoFaces("ok", len(found), list(found[i].box), found[i].embedding)


class BuiltinGallery:
    """The packaged LFW gallery, read-only, answering like an :class:`Index` does."""

    NAME = NAME

    def __init__(self, path: str | os.PathLike | None = None):
        if path is None:
            resource = resources.files("lookalike").joinpath(PACKAGED)
            if not resource.is_file():
                raise IndexFileError("the built-in LFW gallery is missing from this install")
            path = Path(str(resource))
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as data:
            self._settings = Settings.from_dict(json.loads(str(data["settings"])))
            self.names = [str(n) for n in data["names"]]
            self.person = data["person"]
            self.files = data["files"]
            self.boxes = data["boxes"]
            self.X = np.ascontiguousarray(data["X"], dtype=np.float32)

    def __enter__(self) -> BuiltinGallery:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def describe(self) -> str:
        return f"the built-in LFW gallery ({len(self.X):,} faces of {len(self.names):,} people)"

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

    def chip(self, face_id: int) -> None:
        """No pixels are shipped: results show the person and the LFW file name."""
        return None

    def describe_faces(self, face_ids) -> dict[int, dict]:
        out = {}
        for i in face_ids:
            i = int(i)
            name = self.names[self.person[i]]
            out[i] = {
                "name": name,
                "photo_name": name,
                "path": str(self.files[i]),
                "box": self.boxes[i].tolist(),
            }
        return out


def cached_index(cache: str | os.PathLike, settings: Settings) -> Path:
    """The index of LFW made with ``settings`` in the folder ``cache`` (one per settings)."""
    key = hashlib.sha1(json.dumps(settings.as_dict(), sort_keys=True).encode()).hexdigest()
    return Path(cache) / f"lfw-{key[:12]}.db"
