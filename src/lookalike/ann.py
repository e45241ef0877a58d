"""The approximate nearest-neighbour index: search that stays fast at millions of faces.

HNSW graphs (usearch) over the gallery's vectors, stored as half floats and keyed by face
id, in **shards**: shard ``k`` holds the faces whose ids lie in ``[k * SPAN, (k + 1) *
SPAN)``.  Each shard is two files beside the SQLite file, named for the faces it holds:
``<index>.s<k>.<digest>.ann`` (the graph, served memory-mapped) and ``...ann.npy`` (each
face's id and squared norm, for updates), ``digest`` a hash of those ids and norms.  So:

- a shard is written atomically when it is done, and a build that is stopped (Ctrl-C,
  ``kill -9``, a full disk) resumes at the shards not done yet: nothing finished is built
  again (:mod:`lookalike.shards`; ``lookalike index`` builds them, on both cores);
- ``match`` answers correctly at every moment: through the graphs of the shards done, and
  by exact search over the faces of the others, merged by exact L2 (:class:`Ann`);
- new photos (new face ids) touch only the shards they fall in: a shard that changed a
  little is updated in place from its former files, one that changed much is built again
  (:func:`refresh`); names never touch the graphs.

A file that does not load or check is built again, never trusted.  The graphs only
propose candidates: they are ranked again by the exact L2 distance of
:mod:`lookalike.search`, and enough of them are asked for that the ``top`` people are
found (the window grows until they are, as :func:`search.top_k_per_person`'s does).
docs/ann.md has the measurements behind the choices here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import search, shards
from .index import Gallery

#: ``match`` searches the graphs from this many faces on (at 1M, exact search took 240-420
#: ms a query in bench-ann's runs: docs/ann.md); ``--ann``/``--exact`` override.
THRESHOLD = 1_000_000
MODES = ("auto", "exact", "ann")
#: How wide each shard's graph is searched: at 1M synthetic fused faces in four shards,
#: top-10 people recall 0.999 (docs/ann.md).
EXPANSION_SEARCH = 1000
#: Candidates asked for at least, and per person wanted (faces of a person sit together).
MIN_CANDIDATES = 64
CANDIDATES_PER_PERSON = 16
#: Rows ``i[m]``, ``j[m]`` of the gallery: pairs of faces.
Pairs = tuple[np.ndarray, np.ndarray]
Notify = Callable[[str], None]
#: Hears how many faces are to be built, and gives what hears of each chunk added.
Started = Callable[[int], shards.Progress]


def wanted(mode: str, faces: int) -> bool:
    """Whether a search of ``faces`` faces goes through the graph (``mode``: MODES)."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r} (one of {', '.join(MODES)})")
    return mode == "ann" or (mode == "auto" and faces >= THRESHOLD)


# -- searching ---------------------------------------------------------------------------
@dataclass
class Ann:
    """A gallery's shards: ``rank`` answers as :func:`api.rank` does, through the graphs of
    the shards built and by exact search over the faces of the others (``exact``: rows)."""

    graphs: list[object]  # usearch.index.Index, one a shard built
    gallery: Gallery
    exact: np.ndarray

    def rank(
        self, q: np.ndarray, top: int, per_person: bool = True, exclude: int | None = None
    ) -> list[tuple[int, float]]:
        """``(row, L2 distance)`` of the nearest faces (one per person when
        ``per_person``), people coded ``exclude`` left out; candidates from the graphs,
        ranked by exact L2.  Each shard's candidates are its nearest faces, not the
        gallery's: the answer holds only where every shard's candidates reach beyond its
        last face (a shard can hold 160 faces of one person nearer than the next person's
        face), so the window grows until they do."""
        g = self.gallery
        people = len(g.names) - (exclude is not None)
        want = min(top, people) if per_person else min(top, len(g.X))
        count = max(MIN_CANDIDATES, CANDIDATES_PER_PERSON * top)
        q = np.asarray(q, np.float32)
        while True:
            rows, d, reach = self._candidates(q, count)
            if exclude is not None:
                d[g.person[rows] == exclude] = np.inf
            picked = (
                search.top_k_per_person(d, g.person[rows], top)
                if per_person
                else search.top_k(d, top)
            )
            found = [(int(rows[i]), float(d[i])) for i in picked if np.isfinite(d[i])]
            enough = len(found) >= want and (not found or found[-1][1] <= reach)
            if enough or count >= len(g.X):
                return found
            count *= 4

    def _candidates(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Rows of the ``count`` nearest faces of each graph and of the faces searched
        exactly, their exact L2, and how far every part's candidates surely reach: the
        nearest of the parts' farthest candidates (a part with fewer than ``count`` faces
        gave them all: it reaches everywhere)."""
        ids, sq = self.gallery.face_ids, self.gallery.sq
        parts = [self._nearest_exact(q, count)]
        for graph in self.graphs:
            graph.expansion_search = max(EXPANSION_SEARCH, count)
            keys = np.asarray(graph.search(q, count, threads=1).keys, np.int64)
            rows = np.searchsorted(ids, keys[: min(count, len(graph))])
            parts.append(rows[rows < len(ids)])
        rows = np.unique(np.concatenate(parts))  # sorted: in file order, fewer seeks
        d = search.distances(self.gallery.X[rows], q, sq=None if sq is None else sq[rows])
        full = [part for part in parts if len(part) >= count]
        reach = min((float(d[np.searchsorted(rows, part)].max()) for part in full), default=np.inf)
        return rows, d, reach

    def _nearest_exact(self, q: np.ndarray, count: int) -> np.ndarray:
        if not len(self.exact):
            return self.exact
        sq = None if self.gallery.sq is None else self.gallery.sq[self.exact]
        d = search.distances(self.gallery.X[self.exact], q, sq=sq)
        return self.exact[search.top_k(d, count)]


#: How wide each face's neighbours are searched for clustering (:func:`neighbours`).
EXPANSION_NEIGHBOURS = 128
#: Faces whose neighbours are searched at once (a batch on the graphs' threads).
NEIGHBOUR_BATCH = 10_000


def neighbours(a: Ann, rows: np.ndarray, k: int, threads: int = 0) -> Pairs:
    """Pairs ``(rows[m], row)``: the ``k`` nearest faces of each of ``rows`` in each graph,
    and among the faces searched exactly (the clustering of a million faces looks at these
    instead of all pairs: :func:`cluster.cluster`'s ``near``).  ``threads``: usearch's
    (0: every core)."""
    g = a.gallery
    out_i, out_j = [], []
    for start in range(0, len(rows), NEIGHBOUR_BATCH):
        part = np.asarray(rows[start : start + NEIGHBOUR_BATCH])
        Q = np.asarray(g.X[part], np.float32)
        for graph in a.graphs:
            graph.expansion_search = max(EXPANSION_NEIGHBOURS, k)
            found = graph.search(Q, min(k, len(graph)), threads=threads)
            keys = np.asarray(found.keys, np.int64).reshape(len(part), -1)
            hit = np.searchsorted(g.face_ids, keys)
            ok = (hit < len(g.face_ids)) & (np.arange(keys.shape[1]) < found.counts[:, None])
            out_i.append(np.repeat(part, ok.sum(axis=1)))
            out_j.append(hit[ok])
        if len(a.exact):
            i, j = _nearest_exactly(g, part, a.exact, k)
            out_i.append(i)
            out_j.append(j)
    empty = [np.empty(0, np.int64)]
    return np.concatenate(out_i or empty), np.concatenate(out_j or empty)


def _nearest_exactly(g: Gallery, rows: np.ndarray, among: np.ndarray, k: int) -> Pairs:
    """The ``k`` nearest of the faces ``among`` to each of ``rows``, by exact L2."""
    out_i, out_j = [], []
    B = np.asarray(g.X[among], np.float32)
    for start in range(0, len(rows), 1024):
        part = rows[start : start + 1024]
        A = np.asarray(g.X[part], np.float32)
        d = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", B, B)[None, :]
        d -= 2.0 * (A @ B.T)
        kk = min(k, len(among))
        nearest = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        out_i.append(np.repeat(part, kk))
        out_j.append(among[nearest].ravel())
    return np.concatenate(out_i), np.concatenate(out_j)


def open_graph(
    index_path: Path | None, gallery: Gallery, notify: Notify | None = None, build: bool = True
) -> Ann:
    """The shards of ``gallery``, brought up to date first (:func:`refresh`; shards not
    built yet are built only with ``build``, else searched exactly); built in memory where
    there is no sidecar to keep (the built-in gallery, a read-only folder).  ``notify``
    hears of a build or an update before it starts."""
    if index_path is None or gallery.generation is None:
        return _in_memory(gallery, notify)
    try:
        return refresh(index_path, gallery, notify, build)
    except OSError:
        return _in_memory(gallery, notify)


def _in_memory(gallery: Gallery, notify: Notify | None) -> Ann:
    if notify:
        notify(f"building the approximate index of {len(gallery.X):,} faces (once: docs/ann.md)")
    graph = shards.build(gallery.face_ids, gallery.X)
    return Ann([graph], gallery, np.empty(0, np.int64))


# -- keeping the shards current ----------------------------------------------------------
def refresh(
    index_path: Path,
    gallery: Gallery,
    notify: Notify | None = None,
    build: bool = True,
    jobs: int | None = None,
    progress: Started | None = None,
    remote: shards.Remote | None = None,
) -> Ann:
    """Every shard of ``gallery`` current: loaded, or updated in place from its former
    files when few of its faces changed, or (with ``build``) built on ``jobs`` processes or
    by ``remote`` (``progress``: told how many faces, then of each chunk added); files of
    shards gone or replaced are removed.  The shards left unbuilt are searched exactly by
    the :class:`Ann` returned."""
    planned = shards.plan(gallery)
    graphs = {s: shards.load(index_path, s) for s in planned}
    stale = [s for s in planned if graphs[s] is None]
    if stale and notify and any(shards.former(index_path, s) for s in stale):
        notify(f"bringing the approximate index of {len(gallery.X):,} faces up to date")
    for s in stale:
        graphs[s] = shards.update(index_path, s, gallery)
    todo = [s for s in planned if graphs[s] is None]
    if todo and build:
        total = sum(s.size for s in todo)
        if notify:
            notify(f"building the approximate index of {total:,} faces (once: docs/ann.md)")
        told = progress(total) if progress else None
        shards.build_shards(index_path, gallery, todo, jobs, told, remote)
        graphs.update({s: shards.load(index_path, s) for s in todo})
    shards.remove_replaced(index_path, planned, {s for s in planned if graphs[s] is not None})
    missing = [s for s in planned if graphs[s] is None]
    if missing and notify:
        faces, done = sum(s.size for s in missing), len(planned) - len(missing)
        notify(
            f"the approximate index has {done} of its {len(planned)} shards: {faces:,} faces "
            "are searched exactly (slower) until `lookalike index` builds them"
        )
    exact = np.concatenate([np.arange(s.start, s.stop) for s in missing] or [np.empty(0, int)])
    return Ann([graphs[s] for s in planned if graphs[s] is not None], gallery, exact)


# -- reporting ---------------------------------------------------------------------------
def describe(index_path: Path, gallery: Gallery | None, faces: int) -> dict:
    """What ``lookalike info`` says: whether ``match`` searches the graphs, and how far
    their build is (shards and faces done; a stale shard is searched exactly until
    ``lookalike index`` or the next ``match --ann`` brings it up to date)."""
    planned = shards.plan(gallery) if gallery is not None and gallery.generation is not None else []
    built = [s for s in planned if all(p.exists() for p in shards.shard_paths(index_path, s))]
    return {
        "used": wanted("auto", faces),
        "threshold": THRESHOLD,
        "shards": len(planned),
        "shards_built": len(built),
        "faces_in_graphs": sum(s.size for s in built),
        "bytes": sum(shards.shard_paths(index_path, s)[0].stat().st_size for s in built),
    }
