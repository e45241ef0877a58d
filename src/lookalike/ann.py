"""The approximate nearest-neighbour index: search that stays fast at millions of faces.

An HNSW graph (usearch) over the gallery's vectors, stored as half floats and keyed by face
id, in a sidecar beside the SQLite file, as the vectors sidecar is:
``<index>.g<generation>.ann`` (the graph, served memory-mapped) and
``<index>.g<generation>.ann.npy`` (each face's id and squared norm, for updates).  It is
used only when its generation is the index's own; otherwise it is brought up to date first
(:func:`refresh`): renamed when only names changed, updated in place (faces removed and
added) when few faces changed, rebuilt when many did.  A file that does not load or check
is rebuilt, never trusted.

The graph only proposes candidates: they are ranked again by the exact L2 distance of
:mod:`lookalike.search`, and enough of them are asked for that the ``top`` people are
found (the window grows until they are, as :func:`search.top_k_per_person`'s does).
docs/ann.md has the measurements behind the choices here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import search
from .index import Gallery, replaced_atomically, write_atomically

#: ``match`` searches the graph from this many faces on (at 1M, exact search took 319 ms a
#: query in bench-ann's run, the graph 10 ms: docs/ann.md); ``--ann``/``--exact`` override.
THRESHOLD = 1_000_000
MODES = ("auto", "exact", "ann")
#: HNSW parameters: edges a node (M), candidates kept while building and while searching.
#: Faces clustered like LFW's people are a hard case: the 10th nearest person is hardly
#: farther than the 1st, so recall of the top 10 people needs a well-linked graph or a wide
#: search.  At 1M faces, 200 queries (docs/ann.md): connectivity 32 and 128 when adding
#: find 0.9935 of the top-10 people searching 1,000 wide in 9.5 ms (build 26 min on one
#: core); the former 16 and 64 needed 4,000 (0.9925, 23 ms; build 13 min).  usearch's 8-bit
#: storage is for unit vectors: it ranks by angle, not by L2.
DTYPE = "f16"
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 1000
#: How wide a graph built before 2026-12-04 (connectivity 16) is searched for that recall:
#: it is used as it is, not built again, until the index changes by more than UPDATE_LIMIT.
FORMER_EXPANSION_SEARCH = 4000
#: Candidates asked for at least, and per person wanted (faces of a person sit together).
MIN_CANDIDATES = 64
CANDIDATES_PER_PERSON = 16
#: Beyond this share of faces changed, the graph is built again rather than updated (many
#: removals leave an HNSW graph with holes; building is the same work as adding anyway).
UPDATE_LIMIT = 0.2
_KEYS = np.dtype([("face_id", "<i8"), ("sq", "<f4")])


def wanted(mode: str, faces: int) -> bool:
    """Whether a search of ``faces`` faces goes through the graph (``mode``: MODES)."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r} (one of {', '.join(MODES)})")
    return mode == "ann" or (mode == "auto" and faces >= THRESHOLD)


def paths(index_path: Path, generation: int) -> tuple[Path, Path]:
    """The graph and its keys for this generation of the index at ``index_path``."""
    stem = index_path.with_name(f"{index_path.name}.g{generation}.ann")
    return stem, stem.with_name(stem.name + ".npy")


@dataclass
class Ann:
    """A gallery's graph: ``rank`` answers as :func:`api.rank` does, through it."""

    graph: object  # usearch.index.Index
    gallery: Gallery

    def rank(
        self, q: np.ndarray, top: int, per_person: bool = True, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """``(row, L2 distance)`` of the nearest faces (one per person when
        ``per_person``), people coded ``exclude`` left out; candidates from the graph,
        ranked by exact L2."""
        g = self.gallery
        people = len(g.names) - (exclude is not None)
        want = min(top, people) if per_person else min(top, len(g.X))
        count = max(MIN_CANDIDATES, CANDIDATES_PER_PERSON * top)
        q = np.asarray(q, np.float32)
        while True:
            rows, d = self._candidates(q, count)
            if exclude is not None:
                d[g.person[rows] == exclude] = np.inf
            picked = (
                search.top_k_per_person(d, g.person[rows], top)
                if per_person
                else search.top_k(d, top)
            )
            found = [(int(rows[i]), float(d[i])) for i in picked if np.isfinite(d[i])]
            if len(found) >= want or count >= len(g.X):
                return found
            count *= 4

    def _candidates(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``count`` nearest faces the graph finds, and their exact L2."""
        wide = (
            EXPANSION_SEARCH if self.graph.connectivity >= CONNECTIVITY else FORMER_EXPANSION_SEARCH
        )
        self.graph.expansion_search = max(wide, count)
        keys = np.asarray(self.graph.search(q, count, threads=1).keys, np.int64)
        rows = np.searchsorted(self.gallery.face_ids, keys)
        rows = np.sort(rows[rows < len(self.gallery.face_ids)])  # in file order: fewer seeks
        sq = None if self.gallery.sq is None else self.gallery.sq[rows]
        return rows, search.distances(self.gallery.X[rows], q, sq=sq)


Notify = Callable[[str], None]


def open_graph(index_path: Path | None, gallery: Gallery, notify: Notify | None = None) -> Ann:
    """The graph of ``gallery``: the sidecar of its generation, brought up to date first
    when it is missing or stale; built in memory where there is no sidecar to keep (the
    built-in gallery, a read-only folder).  ``notify`` hears of a build or an update
    before it starts (a build of millions of faces takes a while)."""
    if index_path is None or gallery.generation is None:
        return Ann(_announced_build(gallery, notify), gallery)
    try:
        graph = refresh(index_path, gallery, notify)
    except OSError:
        return Ann(_announced_build(gallery, notify), gallery)
    return Ann(graph, gallery)


def refresh(index_path: Path, gallery: Gallery, notify: Notify | None = None) -> object:
    """The current generation's graph, memory-mapped; made first if needed (from an older
    generation's when it can be updated, else built) and older generations removed."""
    graph_path, keys_path = paths(index_path, gallery.generation)
    graph = _load(graph_path, keys_path, gallery)
    if graph is not None:
        return graph
    older = _older(index_path, gallery.generation)
    if older is not None and notify:
        notify(f"bringing the approximate index of {len(gallery.X):,} faces up to date")
    if older is None or not _update(older, gallery, graph_path, keys_path):
        _save(_announced_build(gallery, notify), gallery, graph_path, keys_path)
    _remove_older(index_path, gallery.generation)
    graph = _load(graph_path, keys_path, gallery)
    if graph is None:
        raise OSError(f"cannot read back {graph_path}")
    return graph


def build(gallery: Gallery) -> object:
    """A new graph of every face in ``gallery`` (keys: face ids), added on one thread:
    usearch 2.26's concurrent inserts left 1 to 3 of LFW's 5,749 faces that no search
    reaches (docs/ann.md); the update's adds (:func:`_update`) are one-threaded too."""
    from usearch.index import Index  # imported here: exact searches never need it

    graph = Index(
        ndim=gallery.X.shape[1],
        metric="l2sq",
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )
    for part in _slices(len(gallery.X)):
        graph.add(gallery.face_ids[part], np.asarray(gallery.X[part], np.float32), threads=1)
    return graph


def _slices(n: int, step: int = 1_000_000) -> list[slice]:
    """Slices of a memory-mapped matrix small enough to convert one at a time."""
    return [slice(start, start + step) for start in range(0, n, step)]


def _announced_build(gallery: Gallery, notify: Notify | None) -> object:
    if notify:
        notify(f"building the approximate index of {len(gallery.X):,} faces (once: docs/ann.md)")
    return build(gallery)


def _load(graph_path: Path, keys_path: Path, gallery: Gallery) -> object | None:
    """The graph at ``graph_path`` if it loads and holds exactly the gallery's faces (its
    count and its keys file's; the generation in the names vouches for which faces)."""
    from usearch.index import Index

    try:
        keys = np.load(keys_path, mmap_mode="r", allow_pickle=False)
        graph = Index.restore(graph_path, view=True)
    except (OSError, ValueError, RuntimeError, EOFError):
        return None
    n = len(gallery.face_ids)
    if graph is None or keys.dtype != _KEYS or keys.shape != (n,) or len(graph) != n:
        return None
    if graph.ndim != gallery.X.shape[1]:
        return None
    return graph


def _generations(index_path: Path) -> list[tuple[int, Path]]:
    """Every graph and keys file of the index at ``index_path``, with its generation."""
    pattern = re.compile(re.escape(index_path.name) + r"\.g(\d+)\.ann(\.npy)?")
    return [(int(m[1]), p) for p in index_path.parent.iterdir() if (m := pattern.fullmatch(p.name))]


def _older(index_path: Path, generation: int) -> tuple[Path, Path] | None:
    """The newest older generation's graph and keys, if any."""
    found = [g for g, p in _generations(index_path) if g < generation and p.suffix == ".ann"]
    return paths(index_path, max(found)) if found else None


def _update(older: tuple[Path, Path], gallery: Gallery, graph_path: Path, keys_path: Path) -> bool:
    """Make this generation's graph from an older one: renamed when the same faces hold the
    same vectors (names changed), else those changed removed and added; False when the
    older one is unusable or too much changed (build instead)."""
    from usearch.index import Index

    try:
        old = np.load(older[1], allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    if old.dtype != _KEYS:
        return False
    removed, added = _diff(old, gallery)
    if len(removed) + len(added) > UPDATE_LIMIT * max(len(gallery.face_ids), 1):
        return False
    if not len(removed) and not len(added):
        os.replace(older[0], graph_path)
        _save_keys(gallery, keys_path)
        return True
    try:
        graph = Index.restore(older[0])
    except (OSError, ValueError, RuntimeError):
        return False
    if graph is None or len(graph) != len(old):
        return False
    if len(removed):
        graph.remove(removed)
    if len(added):
        rows = np.searchsorted(gallery.face_ids, added)
        graph.add(added, np.asarray(gallery.X[rows], np.float32), threads=1)
    _save(graph, gallery, graph_path, keys_path)
    return True


def _diff(old: np.ndarray, gallery: Gallery) -> tuple[np.ndarray, np.ndarray]:
    """Face ids to remove from the old graph and to add to it.  A face whose squared norm
    changed holds another vector (SQLite reuses the id of a deleted last row): both."""
    new_ids = gallery.face_ids
    sq = _squared_norms(gallery)
    common, in_old, in_new = np.intersect1d(
        old["face_id"], new_ids, assume_unique=True, return_indices=True
    )
    changed = common[old["sq"][in_old] != sq[in_new]]
    removed = np.union1d(np.setdiff1d(old["face_id"], common, assume_unique=True), changed)
    added = np.union1d(np.setdiff1d(new_ids, common, assume_unique=True), changed)
    return removed, added


def _save(graph: object, gallery: Gallery, graph_path: Path, keys_path: Path) -> None:
    """Write the graph, then its keys, each atomically (the keys last: a graph without
    them is never loaded)."""
    with replaced_atomically(graph_path) as tmp:
        graph.save(str(tmp))
    _save_keys(gallery, keys_path)


def _save_keys(gallery: Gallery, keys_path: Path) -> None:
    keys = np.empty(len(gallery.face_ids), _KEYS)
    keys["face_id"] = gallery.face_ids
    keys["sq"] = _squared_norms(gallery)
    write_atomically(keys_path, lambda f: np.save(f, keys))


def _squared_norms(gallery: Gallery) -> np.ndarray:
    """Each face's squared norm (kept with the keys: a changed one is another vector)."""
    return gallery.sq if gallery.sq is not None else np.einsum("ij,ij->i", gallery.X, gallery.X)


def _remove_older(index_path: Path, generation: int) -> None:
    for g, p in _generations(index_path):
        if g < generation:
            p.unlink(missing_ok=True)


def describe(index_path: Path, generation: int | None, faces: int) -> dict:
    """What ``lookalike info`` says: whether ``match`` searches a graph, and whether this
    generation's is built (a stale one is brought up to date by the next match)."""
    graph_path, keys_path = (None, None) if generation is None else paths(index_path, generation)
    current = graph_path is not None and graph_path.exists() and keys_path.exists()
    return {
        "used": wanted("auto", faces),
        "threshold": THRESHOLD,
        "path": str(graph_path) if current else None,
        "bytes": graph_path.stat().st_size if current else None,
    }
