"""The Python API: what the command line does, for a program or a notebook.

>>> from lookalike import api
>>> summary = api.index("celebs/", "celebs.db")
>>> api.match("me.jpg", "celebs.db", top=5)[0].name
'jerry_seinfeld'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from . import config, search
from . import faces as facelib
from .cohort import Cohort
from .faces import Face, Settings
from .gallery import BuiltinGallery, builtin_gallery, cohort_for
from .images import DEFAULT_MAX_PIXELS, ImageError, load_photo
from .index import Gallery, Index, IndexFileError, default_path
from .indexer import Summary, index_folder, settings_mismatch


class NoFaceError(Exception):
    """A query photo in which no face was found."""


@dataclass
class Match:
    """One ranked face: who, how far, where."""

    rank: int
    name: str | None  # None: an unnamed bystander in someone's photo
    distance: float
    similarity: float
    same_person: bool
    path: str
    box: list[int]
    face_id: int
    query_face: int = 0
    #: the distance calibrated against the LFW cohort (:mod:`lookalike.cohort`), which the
    #: verdict and the similarity are taken from; None where no cohort has these settings
    calibrated: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Query:
    """What was matched: a face from a photo, or a person already in the index."""

    label: str
    embeddings: list[np.ndarray]
    boxes: list[list[int] | None]
    chips: list[np.ndarray | None] = field(default_factory=list)
    exclude: str | None = None  # a person's own faces are left out of their matches
    faces_found: int = 1


def encode(
    path: str | os.PathLike, settings: Settings = Settings(), max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Face]:
    """Every face in the photo at ``path``, largest first; ImageError names the file."""
    try:
        photo = load_photo(path, max_pixels, settings.shrink, settings.resample)
    except ImageError as e:
        raise ImageError(f"{os.fsdecode(path)}: {e}") from None
    found = facelib.detect(photo, settings)
    return sorted(found, key=lambda f: -f.area)


def encode_largest(
    path: str | os.PathLike, settings: Settings = Settings(), max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[Face, int]:
    """The largest face in the photo and how many faces it has; NoFaceError if none."""
    found = encode(path, settings, max_pixels)
    if not found:
        raise NoFaceError(f"no face found in {path}")
    return found[0], len(found)


def index(
    folder: str | os.PathLike,
    index_path: str | os.PathLike | None = None,
    settings: Settings = Settings(),
    jobs: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
) -> Summary:
    """Index every photo under ``folder`` (incrementally) into the index file."""
    with Index.open(index_path, create=True) as idx:
        return index_folder(folder, idx, settings, jobs, max_pixels, progress)


def index_settings(idx: Index, wanted: dict | None = None) -> Settings:
    """The index's settings; a query asking for different ones is refused."""
    stored = idx.settings()
    if stored is None:
        raise IndexFileError(f"{idx.path} holds no faces yet (run `lookalike index DIR`)")
    wanted = {k: v for k, v in (wanted or {}).items() if v is not None}
    asked = Settings(**{**stored.as_dict(), **wanted})
    if asked != stored:
        raise ValueError(settings_mismatch(idx, stored, asked))
    return stored


def indexing_settings(idx: Index, wanted: dict) -> Settings:
    """What to index with: the index's own settings, or for a new index those ``wanted``
    (the defaults for the rest); asking an index for other settings is refused."""
    if idx.settings() is None:
        return Settings(**wanted)
    return index_settings(idx, wanted)


def make_query(
    idx: Index,
    query: str,
    settings: Settings,
    all_faces: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Query:
    """Encode a query photo, or take an indexed person's mean face when ``query`` names one."""
    if not os.path.exists(query) and idx.person_face_ids(query):
        gallery = idx.gallery()
        code = gallery.names.index(query)
        centroid = gallery.X[gallery.person == code].mean(axis=0)
        return Query(query, [centroid], [None], [None], exclude=query)
    if not os.path.lexists(query):  # a broken link or a link loop is a file: say what is wrong
        raise FileNotFoundError(f"no such photo or indexed person: {query}")
    found = encode(query, settings, max_pixels)
    if not found:
        raise NoFaceError(f"no face found in {query}")
    chosen = found if all_faces else found[:1]
    return Query(
        query,
        [f.embedding for f in chosen],
        [list(f.box) for f in chosen],
        [f.chip for f in chosen],
        faces_found=len(found),
    )


def rank(
    gallery: Gallery,
    q: np.ndarray,
    top: int = 5,
    per_person: bool = True,
    exclude: str | None = None,
) -> list[tuple[int, float]]:
    """``(row, L2 distance)`` of the nearest faces (one per person when ``per_person``)."""
    d = search.distances(gallery.X, q, sq=gallery.sq)
    if exclude is not None and exclude in gallery.names:
        d[gallery.person == gallery.names.index(exclude)] = np.inf
    rows = search.top_k_per_person(d, gallery.person, top) if per_person else search.top_k(d, top)
    return [(int(r), float(d[r])) for r in rows if np.isfinite(d[r])]


def open_index(
    index_path: str | os.PathLike | None = None,
    gallery: str | None = None,
    settings: dict | None = None,
    lfw: str | os.PathLike | None = None,
) -> Index | BuiltinGallery:
    """What to match against: the built-in LFW gallery when ``gallery="lfw"``, or when no
    index is named (neither ``index_path`` nor ``$LOOKALIKE_INDEX``) and the default index
    does not exist yet; otherwise the index file.  The built-in gallery is the one made with
    the ``settings`` asked for (``--quality best`` has its own), else the default one; its
    faces are cut from the LFW photos in ``lfw``, else where :func:`config.find_lfw` finds
    them, if anywhere."""
    if gallery is not None and gallery != BuiltinGallery.NAME:
        raise ValueError(f"unknown gallery {gallery!r} (built in: {BuiltinGallery.NAME})")
    unnamed = index_path is None and not os.environ.get("LOOKALIKE_INDEX")
    if gallery or (unnamed and not default_path().exists()):
        return builtin_gallery(Settings(**{**Settings().as_dict(), **(settings or {})}), lfw)
    return Index.open(index_path)


def match(
    query: str,
    index_path: str | os.PathLike | None = None,
    top: int = 5,
    per_person: bool = True,
    tolerance: float = facelib.TOLERANCE,
    all_faces: bool = False,
    settings: dict | None = None,
    gallery: str | None = None,
) -> list[Match]:
    """The indexed faces nearest to the query photo (or indexed person's name); see
    :func:`open_index` for when the built-in LFW gallery answers."""
    with open_index(index_path, gallery, settings) as idx:
        q = make_query(idx, query, index_settings(idx, settings), all_faces)
        return match_query(idx, q, top, per_person, tolerance)


def match_query(
    idx: Index,
    q: Query,
    top: int = 5,
    per_person: bool = True,
    tolerance: float = facelib.TOLERANCE,
) -> list[Match]:
    with idx.snapshot():  # the faces ranked are the faces described, while `index` runs
        gallery = idx.gallery()
        hits = [rank(gallery, e, top, per_person, q.exclude) for e in q.embeddings]
        info = idx.describe_faces(gallery.face_ids[r] for found in hits for r, _ in found)
    cohort = cohort_for(idx.settings())
    out: list[Match] = []
    for n, found in enumerate(hits):
        rows = [r for r, _ in found]
        d = np.array([dist for _, dist in found])
        calibrated = _calibrated(cohort, d, q.embeddings[n], gallery.X[rows])
        for i, r in enumerate(rows):
            face = info[int(gallery.face_ids[r])]
            verdict = d[i] if calibrated is None else calibrated[i]
            out.append(
                Match(
                    i + 1,
                    face["name"],
                    round(float(d[i]), 6),
                    round(search.similarity(verdict, tolerance), 1),
                    bool(verdict <= tolerance),
                    face["path"],
                    face["box"],
                    int(gallery.face_ids[r]),
                    n,
                    None if calibrated is None else round(float(calibrated[i]), 6),
                )
            )
    return out


def _calibrated(
    cohort: Cohort | None, d: np.ndarray, a: np.ndarray, B: np.ndarray
) -> np.ndarray | None:
    """L2 distances ``d`` from face ``a`` to faces ``B``, calibrated (None without a cohort)."""
    if cohort is None or not len(d):
        return None
    return cohort.calibrate(d, cohort.nearness(a), cohort.nearness(B))


@dataclass
class Comparison:
    """The distance between the largest faces of two photos."""

    distance: float
    metric: str
    tolerance: float
    same_person: bool
    similarity: float
    a: str
    b: str
    box_a: list[int]
    box_b: list[int]
    faces_a: int
    faces_b: int
    #: as :attr:`Match.calibrated` (L2 only)
    calibrated: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def distance(
    a: str | os.PathLike,
    b: str | os.PathLike,
    metric: str = "l2",
    tolerance: float | None = None,
    settings: Settings = Settings(),
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[Comparison, Face, Face]:
    """Compare the largest face of photo ``a`` with that of photo ``b``; with L2, the verdict
    is taken from the distance calibrated against the LFW cohort of these settings, if any."""
    tolerance = search.TOLERANCES[metric] if tolerance is None else tolerance
    fa, na = encode_largest(a, settings, max_pixels)
    fb, nb = encode_largest(b, settings, max_pixels)
    d = search.distance(fa.embedding, fb.embedding, metric)
    cohort = cohort_for(settings) if metric == "l2" else None
    calibrated = _calibrated(cohort, np.array([d]), fa.embedding, fb.embedding[None, :])
    verdict = d if calibrated is None else float(calibrated[0])
    result = Comparison(
        round(d, 6),
        metric,
        tolerance,
        verdict <= tolerance,
        round(search.similarity(verdict, tolerance), 1),
        os.fspath(a),
        os.fspath(b),
        list(fa.box),
        list(fb.box),
        na,
        nb,
        None if calibrated is None else round(verdict, 6),
    )
    return result, fa, fb


def info(index_path: str | os.PathLike | None = None) -> dict:
    """Where the index is, what made it, and how much it holds; where the LFW photos are
    (``lfw``: None when not known)."""
    lfw = config.find_lfw()
    with Index.open(index_path) as idx:
        meta = idx.meta()
        settings = idx.settings()
        return {
            "path": str(idx.path),
            "format_version": int(meta.get("format_version", 0)),
            "settings": settings.as_dict() if settings else None,
            "dlib_at_index": _json_or_none(meta.get("dlib")),
            "dlib_running": facelib.dlib_info(),
            **idx.counts(),
            "lfw": str(lfw) if lfw else None,
        }


def _json_or_none(raw: str | None):
    return json.loads(raw) if raw else None
