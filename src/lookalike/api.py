"""The Python API: what the command line does, for a program or a notebook.

>>> from lookalike import api
>>> summary = api.index("celebs/", "celebs.db")
>>> api.match("me.jpg", "celebs.db", top=5)[0].name
'jerry_seinfeld'
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import ann, config, search, verdict
from . import faces as facelib
from .cohort import Cohort
from .distributor import DaskCluster, Distributor, LocalPool
from .faces import Face, Settings
from .gallery import BuiltinGallery, builtin_gallery, cohort_for
from .images import DEFAULT_MAX_PIXELS, ImageError, Photo, load_photo
from .index import Gallery, Index, IndexFileError, default_path
from .indexer import Summary, index_folder, settings_diff, settings_mismatch
from .models import dlibnets, encoder


class NoFaceError(Exception):
    """A query photo in which no face was found."""


def named_box(box: list[int] | tuple[int, ...] | None) -> dict[str, int] | None:
    """A box as JSON shows it: its edges by name, in the photo's own pixels."""
    if box is None:
        return None
    top, right, bottom, left = (int(v) for v in box)
    return {"top": top, "right": right, "bottom": bottom, "left": left}


@dataclass
class Match:
    """One ranked face: who, how far, where."""

    rank: int
    name: str | None  # None: an unnamed bystander in someone's photo
    distance: float
    similarity: float
    #: the open-set verdict (:mod:`lookalike.verdict`): only a nearest person can be it
    same_person: bool
    photo: str
    box: list[int]
    face_id: int
    face: int = 1  # the query's face this matches, numbered from 1 (largest first)
    #: the distance calibrated against the LFW cohort (:mod:`lookalike.cohort`), which the
    #: verdict (``same_person``) is taken from; None where no cohort has these settings.
    #: ``similarity`` and ``resemblance`` read ``distance``, which ranks the matches.
    calibrated: float | None = None
    resemblance: str = ""  # the verdict distance in words (:func:`verdict.resemblance`)

    def as_dict(self) -> dict:
        return {
            "face": self.face,
            "rank": self.rank,
            "name": self.name,
            "photo": self.photo,
            "box": named_box(self.box),
            "distance": self.distance,
            "calibrated": self.calibrated,
            "similarity": self.similarity,
            "resemblance": self.resemblance,
            "same_person": self.same_person,
            "face_id": self.face_id,
        }


@dataclass
class Query:
    """What was matched: a face from a photo, or a person already in the index."""

    label: str
    embeddings: list[np.ndarray]
    boxes: list[list[int] | None]
    chips: list[np.ndarray | None] = field(default_factory=list)
    exclude: str | None = None  # a person's own faces are left out of their matches
    faces_found: int | None = 1  # None: a person's mean face, not a photo
    #: how the face was found where the index's own detector found none (None: by it)
    found_by: str | None = None

    def as_dict(self) -> dict:
        return {
            "photo": None if self.exclude else self.label,
            "person": self.exclude,
            "faces_found": self.faces_found,
            "found_by": self.found_by,
            "faces": [{"face": n + 1, "box": named_box(b)} for n, b in enumerate(self.boxes)],
        }


def encode(
    path: str | os.PathLike, settings: Settings = Settings(), max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Face]:
    """Every face in the photo at ``path``, largest first; ImageError names the file."""
    return _detect_in(_load(path, settings, max_pixels), settings)


def _load(path: str | os.PathLike, settings: Settings, max_pixels: int) -> Photo:
    try:
        return load_photo(path, max_pixels, settings.shrink, settings.resample)
    except ImageError as e:
        raise ImageError(f"{os.fsdecode(path)}: {e}") from None


def _detect_in(photo: Photo, settings: Settings) -> list[Face]:
    return sorted(facelib.detect(photo, settings), key=lambda f: -f.area)


def encode_query(
    path: str | os.PathLike, settings: Settings = Settings(), max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[list[Face], str | None]:
    """Every face in a query photo, largest first, and how they were found: by ``settings``
    (None), or where those find none, by looking harder (:func:`faces.harder_looks`: where
    faces are looked for changes, never how they are encoded, so the faces still compare
    with an index made with ``settings``).  NoFaceError when even that finds none."""
    photo = _load(path, settings, max_pixels)
    found = _detect_in(photo, settings)
    if found:
        return found, None
    for how, harder in facelib.harder_looks(settings):
        found = _detect_in(photo, harder)
        if found:
            return found, how
    raise NoFaceError(
        f"no face found in {os.fsdecode(path)}, even upsampled and with the CNN detector: "
        "try a photo where the face is larger and turned towards the camera"
    )


def encode_largest(
    path: str | os.PathLike, settings: Settings = Settings(), max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[Face, int, str | None]:
    """The largest face in the photo, how many faces it has and how they were found
    (:func:`encode_query`)."""
    found, how = encode_query(path, settings, max_pixels)
    return found[0], len(found), how


def index(
    folder: str | os.PathLike,
    index_path: str | os.PathLike | None = None,
    settings: Settings = Settings(),
    jobs: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
    unnamed: bool = False,
    cluster: str | None = None,
    send_photos: bool = False,
) -> Summary:
    """Index every photo under ``folder`` (incrementally) into the index file, encoding on
    ``jobs`` local processes or on the workers of the Dask ``cluster`` (its address); with
    ``unnamed``, its faces belong to nobody yet (:mod:`lookalike.groups` names them)."""
    with (
        Index.open(index_path, create=True) as idx,
        distributor(jobs, cluster, send_photos) as workers,
    ):
        return index_folder(folder, idx, settings, jobs, max_pixels, progress, unnamed, workers)


@contextmanager
def distributor(jobs: int | None, cluster: str | None, send_photos: bool) -> Iterator[Distributor]:
    """A local pool of ``jobs`` processes, or a connection to the Dask scheduler at
    ``cluster`` (an empty address is no cluster: ``LOOKALIKE_CLUSTER=`` runs locally)."""
    if not cluster:
        if send_photos:
            raise ValueError("--send-photos sends photos to a cluster's workers: add --cluster")
        yield LocalPool(jobs)
        return
    if jobs is not None:
        raise ValueError(
            "--jobs sets local processes; a cluster has the workers it was started with"
        )
    with DaskCluster(cluster, send_photos) as workers:
        yield workers


def index_settings(idx: Index, wanted: dict | None = None) -> Settings:
    """The index's settings; a query asking for different ones is refused (but not one
    asking for a preset of an index made with what that preset was: :func:`faces.as_now`)."""
    stored = idx.settings()
    if stored is None:
        raise IndexFileError(f"{idx.path} holds no faces yet (run `lookalike index DIR`)")
    wanted = {k: v for k, v in (wanted or {}).items() if v is not None}
    asked = Settings(**{**stored.as_dict(), **wanted})
    if asked != stored and isinstance(idx, BuiltinGallery):
        raise ValueError(
            f"the built-in LFW gallery was made with other settings: "
            f"{settings_diff(stored, asked, 'gallery')}; it answers --quality default or best "
            "with no other detection options (`lookalike index DIR` makes an index with yours)"
        )
    if asked != stored and asked != facelib.as_now(stored):
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
    """Encode a query photo, or take an indexed person's mean face when ``query`` names one
    (the name found whatever its case, and spaces for underscores: ``joe biden``)."""
    if not os.path.lexists(query):  # a broken link is a photo that cannot be read
        return _person_query(idx, query)
    found, how = encode_query(query, settings, max_pixels)
    chosen = found if all_faces else found[:1]
    return Query(
        query,
        [f.embedding for f in chosen],
        [list(f.box) for f in chosen],
        [f.chip for f in chosen],
        faces_found=len(found),
        found_by=how,
    )


def _person_query(idx: Index, query: str) -> Query:
    """The mean face of the indexed person ``query`` names; a query that is neither a file
    nor a person is one error: a photo's name says "no such file", as everywhere, and a
    name suggests the nearest names in the index."""
    gallery = idx.gallery()
    name = find_person(gallery.names, query)
    if name is not None:
        centroid = gallery.X[gallery.person == gallery.names.index(name)].mean(axis=0)
        return Query(name, [centroid], [None], [None], exclude=name, faces_found=None)
    if _looks_like_a_photo(query):
        raise ImageError(f"{query}: no such file")  # as `distance` says
    raise FileNotFoundError(f"{query}: no such file or indexed person{_hint(gallery, query)}")


def _hint(gallery: Gallery, query: str) -> str:
    """The names ``query`` may have meant, or where to see them."""
    near = nearest_names(gallery.names, query)
    return f" (did you mean {' or '.join(near)}?)" if near else " (`lookalike people` lists them)"


def _key(name: str) -> str:
    return "_".join(name.casefold().split())


def find_person(names: list[str], query: str) -> str | None:
    """The name in ``names`` that ``query`` is, exactly or but for case and spaces."""
    if query in names:
        return query
    same = [n for n in names if _key(n) == _key(query)]
    return same[0] if len(same) == 1 else None


def nearest_names(names: list[str], query: str, n: int = 3) -> list[str]:
    """Up to ``n`` names that ``query`` may have meant (misspelt, another case)."""
    by_key = {_key(name): name for name in names}
    return [by_key[k] for k in difflib.get_close_matches(_key(query), list(by_key), n, 0.6)]


def _looks_like_a_photo(query: str) -> bool:
    return os.sep in query or os.path.splitext(query)[1].lower() in Image.registered_extensions()


def rank(
    gallery: Gallery,
    q: np.ndarray,
    top: int = 5,
    per_person: bool = True,
    exclude: str | None = None,
    graph: ann.Ann | None = None,
) -> list[tuple[int, float]]:
    """``(row, L2 distance)`` of the nearest faces (one per person when ``per_person``):
    exact, or through ``graph`` (:mod:`lookalike.ann`) when given."""
    code = _code(gallery, exclude)
    if graph is not None:
        return graph.rank(q, top, per_person, code)
    d = search.distances(gallery.X, q, sq=gallery.sq)
    if code is not None:
        d[gallery.person == code] = np.inf
    rows = search.top_k_per_person(d, gallery.person, top) if per_person else search.top_k(d, top)
    return [(int(r), float(d[r])) for r in rows if np.isfinite(d[r])]


def searcher(
    idx: Index | BuiltinGallery,
    gallery: Gallery,
    mode: str = "auto",
    notify: ann.Notify | None = None,
) -> ann.Ann | None:
    """The ANN graphs to search ``gallery`` through, or None for exact search: ``mode``
    "exact", "ann", or "auto" (the graphs from :data:`ann.THRESHOLD` faces on); ``notify``
    hears of a graph being built or updated first.  "ann" builds the shards not built yet;
    "auto" leaves that to ``lookalike index`` (hours at 10M faces) and searches their faces
    exactly meanwhile."""
    if not ann.wanted(mode, len(gallery.X)):
        return None
    return ann.open_graph(idx.path, gallery, notify, build=mode == "ann")


def _code(gallery: Gallery, name: str | None) -> int | None:
    """``name``'s person code in ``gallery``, if they are in it (one pass over the names,
    which may be millions; none for None)."""
    if name is None:
        return None
    try:
        return gallery.names.index(name)
    except ValueError:
        return None


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
    tolerance: float | None = None,
    all_faces: bool = False,
    settings: dict | None = None,
    gallery: str | None = None,
    search_mode: str = "auto",
) -> list[Match]:
    """The indexed faces nearest to the query photo (or indexed person's name); see
    :func:`open_index` for when the built-in LFW gallery answers, :func:`searcher` for
    ``search_mode``."""
    with open_index(index_path, gallery, settings) as idx:
        q = make_query(idx, query, index_settings(idx, settings), all_faces)
        return match_query(idx, q, top, per_person, tolerance, search_mode)


def match_query(
    idx: Index | BuiltinGallery,
    q: Query,
    top: int = 5,
    per_person: bool = True,
    tolerance: float | None = None,
    search_mode: str = "auto",
    notify: ann.Notify | None = None,
) -> list[Match]:
    """The ``top`` people (or faces) nearest to each face of ``q``, ranked by L2, searched
    exactly or through the ANN graph (``search_mode``, ``notify``: :func:`searcher`).  Only the
    nearest person can be the same person: the settings' :class:`verdict.Rule` decides, an
    open-set rule that holds where the query's person may not be in the index at all; a
    ``tolerance`` given instead calls them so within it.  A person's mean face is nobody's
    same person (:mod:`lookalike.verdict`)."""
    with idx.snapshot():  # the faces ranked are the faces described, while `index` runs
        gallery = idx.gallery()
        graph = searcher(idx, gallery, search_mode, notify)
        hits = [rank(gallery, e, top, per_person, q.exclude, graph) for e in q.embeddings]
        info = idx.describe_faces(gallery.face_ids[r] for found in hits for r, _ in found)
    settings = idx.settings()
    cohort, rule = cohort_for(settings), verdict.rule_for(settings.networks)
    people, photos = _compared(gallery, _code(gallery, q.exclude))
    out: list[Match] = []
    for n, (e, found) in enumerate(zip(q.embeddings, hits, strict=True), start=1):
        v = _verdict_distances(cohort, e, gallery, found)
        # the nearest person: the first row ranked, or with --faces the nearest credited face
        first = found[:1] if per_person else rank(gallery, e, 1, True, q.exclude, graph)
        near = v[:1] if per_person else _verdict_distances(cohort, e, gallery, first)
        same = (
            bool(near)
            and q.faces_found is not None  # a photo, not a mean face
            and (
                rule.same_person(near[0], people, photos, calibrated=cohort is not None)
                if tolerance is None
                else near[0] <= tolerance
            )
        )
        same_code = gallery.person[first[0][0]] if same else None
        for i, (r, dist) in enumerate(found):
            face = info[int(gallery.face_ids[r])]
            is_same = bool(gallery.person[r] == same_code)
            out.append(
                Match(
                    i + 1,
                    face["name"],
                    round(dist, 6),
                    round(search.similarity(dist, tolerance or facelib.TOLERANCE), 1),
                    is_same,
                    face["path"],
                    face["box"],
                    int(gallery.face_ids[r]),
                    n,
                    round(v[i], 6) if cohort else None,
                    _words(rule, dist, is_same),
                )
            )
    return out


def _compared(gallery: Gallery, exclude: int | None) -> tuple[int, float]:
    """What a query is compared against: the gallery's people, and their photos a person
    (faces credited to someone), the person ``exclude`` (a code) left out."""
    credited = gallery.person[gallery.person >= 0]
    people = len(gallery.names)
    if exclude is not None:
        credited = credited[credited != exclude]
        people -= 1
    return people, len(credited) / max(people, 1)


def source(idx: Index | BuiltinGallery) -> dict:
    """What a command answered from, as JSON shows it."""
    if isinstance(idx, BuiltinGallery):
        return {"kind": "builtin", "name": BuiltinGallery.NAME, "path": None, **idx.counts()}
    return {"kind": "index", "name": None, "path": str(idx.path), **idx.counts()}


def match_report(
    idx: Index | BuiltinGallery, q: Query, matches: list[Match], tolerance: float | None = None
) -> dict:
    """``match --json``: the query, what it was matched against, and the matches."""
    return {
        "query": q.as_dict(),
        "gallery": source(idx),
        "metric": "l2",
        "tolerance": facelib.TOLERANCE if tolerance is None else tolerance,
        "calibrated": cohort_for(idx.settings()) is not None,
        "matches": [m.as_dict() for m in matches],
    }


def people(idx: Index | BuiltinGallery) -> list[dict]:
    """Each indexed person: name, credited faces, photos, and one of their faces (``face``:
    its face id, to show them by)."""
    shown = _a_face_each(idx.gallery())
    return [{"name": n, "faces": f, "photos": p, "face": shown.get(n)} for n, f, p in idx.people()]


def _a_face_each(gallery: Gallery) -> dict[str, int]:
    """Each person's first face in the gallery, by name."""
    rows = np.flatnonzero(gallery.person >= 0)
    codes, first = np.unique(gallery.person[rows], return_index=True)
    return {
        gallery.names[int(c)]: int(gallery.face_ids[rows[i]])
        for c, i in zip(codes, first, strict=True)
    }


def person(idx: Index | BuiltinGallery, query: str) -> tuple[str, list[dict]]:
    """The person ``query`` names (whatever its case and spaces) and each face that is
    theirs: ``face_id``, ``photo``, ``box``, and ``by`` (``folder``: credited to the photo's
    person; ``hand``: named so by ``lookalike name``)."""
    gallery = idx.gallery()
    name = find_person(gallery.names, query)
    if name is None:
        raise ValueError(f"{query}: no such person in the index{_hint(gallery, query)}")
    faces = [
        {"face_id": f, "photo": path, "box": named_box(box), "by": "hand" if hand else "folder"}
        for f, path, box, hand in idx.faces_named(name)
    ]
    return name, faces


def _verdict_distances(
    cohort: Cohort | None, e: np.ndarray, gallery: Gallery, found: list[tuple[int, float]]
) -> list[float]:
    """The distances verdicts are taken from: calibrated against ``cohort`` where there is
    one, else L2; never below 0 (a query near its own photo calibrates below it)."""
    d = np.array([dist for _, dist in found])
    calibrated = _calibrated(cohort, d, e, gallery.X[[r for r, _ in found]])
    return [max(0.0, float(v)) for v in (d if calibrated is None else calibrated)]


def _words(rule: verdict.Rule, l2: float, same: bool) -> str:
    """What a match's distance means, in words (:meth:`verdict.Rule.resemblance`): of the L2
    distance the matches are ranked by, so that words, similarity and rank agree."""
    if l2 < verdict.SAME_PHOTO:
        return "the same photo"
    return "probably the same person" if same else rule.resemblance(l2)


def _calibrated(
    cohort: Cohort | None, d: np.ndarray, a: np.ndarray, B: np.ndarray
) -> np.ndarray | None:
    """L2 distances ``d`` from face ``a`` to faces ``B``, calibrated (None without a cohort)."""
    if cohort is None or not len(d):
        return None
    return cohort.calibrate(d, cohort.nearness(a), cohort.nearness(B))


@dataclass
class ComparedFace:
    """The face of one photo that :func:`distance` compared: its largest."""

    photo: str
    box: list[int]
    faces_found: int
    found_by: str | None = None  # as :attr:`Query.found_by`

    def as_dict(self) -> dict:
        return {
            "photo": self.photo,
            "face": 1,
            "box": named_box(self.box),
            "faces_found": self.faces_found,
            "found_by": self.found_by,
        }


@dataclass
class Comparison:
    """The distance between the largest faces of two photos."""

    distance: float
    metric: str
    tolerance: float
    same_person: bool
    similarity: float
    a: ComparedFace
    b: ComparedFace
    #: as :attr:`Match.calibrated` (L2 only)
    calibrated: float | None = None

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "tolerance": self.tolerance,
            "distance": self.distance,
            "calibrated": self.calibrated,
            "similarity": self.similarity,
            "same_person": self.same_person,
            "faces": [self.a.as_dict(), self.b.as_dict()],
        }


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
    fa, na, how_a = encode_largest(a, settings, max_pixels)
    fb, nb, how_b = encode_largest(b, settings, max_pixels)
    d = search.distance(fa.embedding, fb.embedding, metric)
    cohort = cohort_for(settings) if metric == "l2" else None
    calibrated = _calibrated(cohort, np.array([d]), fa.embedding, fb.embedding[None, :])
    v = d if calibrated is None else max(0.0, float(calibrated[0]))
    result = Comparison(
        round(d, 6),
        metric,
        tolerance,
        v <= tolerance,
        round(search.similarity(v, tolerance), 1),
        ComparedFace(os.fspath(a), list(fa.box), na, how_a),
        ComparedFace(os.fspath(b), list(fb.box), nb, how_b),
        None if calibrated is None else round(v, 6),
    )
    return result, fa, fb


def info(index_path: str | os.PathLike | None = None) -> dict:
    """Where the index is, what made it, and how much it holds; where the LFW photos are
    (``lfw``: None when not known); whether ``match`` searches an ANN graph (``ann``).  With
    no index named and none made yet: where it will be (``index`` None, ``default_index``) and
    what answers meanwhile (``gallery``: the built-in one)."""
    lfw = config.find_lfw()
    found = open_index(index_path)
    if isinstance(found, BuiltinGallery):
        return {
            "index": None,
            "default_index": str(default_path()),
            "gallery": source(found),
            "settings": found.settings().as_dict(),
            "lfw": str(lfw) if lfw else None,
        }
    with found as idx:
        meta = idx.meta()
        settings = idx.settings()
        counts = idx.counts()
        return {
            "index": str(idx.path),
            "format_version": int(meta.get("format_version", 0)),
            "settings": settings.as_dict() if settings else None,
            "dlib_at_index": _json_or_none(meta.get("dlib")),
            "dlib_running": running(),
            **counts,
            "lfw": str(lfw) if lfw else None,
            "ann": ann.describe(idx.path, idx.gallery(), counts["faces"]),
        }


def running() -> dict:
    """:func:`.models.dlibnets.dlib_info`, with the onnxruntime execution provider the
    encoder runs on here (``CPUExecutionProvider``, ``CUDAExecutionProvider``) when the
    engine is onnx: the one its session took, not the one asked for."""
    dlib = dlibnets.dlib_info()
    return dlib | ({"provider": encoder.provider()} if dlib["engine"] == "onnx" else {})


def _json_or_none(raw: str | None):
    return json.loads(raw) if raw else None
