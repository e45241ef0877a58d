"""The approximate nearest-neighbour index: search that stays fast at millions of faces.

HNSW graphs (usearch) over the gallery's vectors, stored as half floats and keyed by face
id, in **shards**: shard ``k`` holds the faces whose ids lie in ``[k * SPAN, (k + 1) *
SPAN)``.  Each shard is two files beside the SQLite file, named for the faces it holds:
``<index>.s<k>.<digest>.ann`` (the graph, served memory-mapped) and ``...ann.npy`` (each
face's id and squared norm, for updates), ``digest`` a hash of those ids and norms.  So:

- a shard is written atomically when it is done, and a build that is stopped (Ctrl-C,
  ``kill -9``, a full disk) resumes at the shards not done yet: nothing finished is built
  again (:func:`build_shards`; ``lookalike index`` builds them, on both cores);
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

import hashlib
import multiprocessing
import os
import queue
import re
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import search
from .index import Gallery, replaced_atomically, sidecar_paths, write_atomically

#: ``match`` searches the graph from this many faces on (at 1M, exact search took 319 ms a
#: query in bench-ann's run, the graph 10 ms: docs/ann.md); ``--ann``/``--exact`` override.
THRESHOLD = 1_000_000
MODES = ("auto", "exact", "ann")
#: Face ids a shard covers.  On 1M synthetic fused faces (docs/ann.md, "Shards"), four
#: graphs of 250,000 reach the recall of one of 1,000,000 at about the same search cost
#: (each is searched less wide: 0.999 at 1,000 against 0.964) and build 30% faster, two at
#: a time on two cores.
SPAN = 250_000
#: HNSW parameters: edges a node (M), candidates kept while building and while searching.
#: Faces clustered like LFW's people are a hard case: the 10th nearest person is hardly
#: farther than the 1st, so recall of the top 10 people needs a well-linked graph or a wide
#: search.  At 1M faces, 200 queries (docs/ann.md): connectivity 32 and 128 when adding
#: find 0.9935 of the top-10 people searching 1,000 wide in 9.5 ms (build 26 min on one
#: core).  usearch's 8-bit storage is for unit vectors: it ranks by angle, not by L2.
DTYPE = "f16"
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 1000
#: Candidates asked for at least, and per person wanted (faces of a person sit together).
MIN_CANDIDATES = 64
CANDIDATES_PER_PERSON = 16
#: Beyond this share of a shard's faces changed, it is built again rather than updated
#: (many removals leave an HNSW graph with holes; building is the same work as adding).
UPDATE_LIMIT = 0.2
#: Faces added between two progress reports of a shard being built.
CHUNK = 5_000
#: Faces added between two saves of a shard being built (``<shard>.ann.partial``): a build
#: stopped loses at most these (minutes of a core), not the shard.
CHECKPOINT = 250_000
_KEYS = np.dtype([("face_id", "<i8"), ("sq", "<f4")])
#: Rows ``i[m]``, ``j[m]`` of the gallery: pairs of faces.
Pairs = tuple[np.ndarray, np.ndarray]

Notify = Callable[[str], None]
#: Hears of the faces added to a graph, a chunk at a time.
Progress = Callable[[int], None]
#: Hears how many faces are to be built, and gives what hears of each chunk added.
Started = Callable[[int], Progress]
#: Builds graphs elsewhere (the workers of a Dask cluster): given ``(key, face ids,
#: vectors)`` for each shard, yields ``(key, the graph saved as bytes)`` as each is done,
#: by :func:`graph_bytes`; this process writes them (it is the index's only writer).
Remote = Callable[[Iterator[tuple[object, np.ndarray, np.ndarray]]], Iterator[tuple[object, bytes]]]


def wanted(mode: str, faces: int) -> bool:
    """Whether a search of ``faces`` faces goes through the graph (``mode``: MODES)."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r} (one of {', '.join(MODES)})")
    return mode == "ann" or (mode == "auto" and faces >= THRESHOLD)


# -- shards ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """The faces of one shard: rows ``start:stop`` of the gallery (ids sorted)."""

    number: int
    start: int
    stop: int
    digest: str

    @property
    def size(self) -> int:
        return self.stop - self.start


def plan(gallery: Gallery, span: int | None = None) -> list[Shard]:
    """The gallery's faces cut into shards by face id (``span`` ids a shard)."""
    ids = np.asarray(gallery.face_ids)
    if not len(ids):
        return []
    number = ids // (span or SPAN)
    cuts = [0, *(np.flatnonzero(np.diff(number)) + 1).tolist(), len(ids)]
    sq = _squared_norms(gallery)
    return [
        Shard(int(number[a]), a, b, _digest(ids[a:b], sq[a:b]))
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def _digest(ids: np.ndarray, sq: np.ndarray) -> str:
    """Which faces, holding which vectors: a face whose squared norm changed holds another
    vector (SQLite reuses the id of a deleted last row)."""
    h = hashlib.sha1(np.ascontiguousarray(ids, "<i8").tobytes())
    h.update(np.ascontiguousarray(sq, "<f4").tobytes())
    return h.hexdigest()[:16]


def shard_paths(index_path: Path, shard: Shard) -> tuple[Path, Path]:
    """The graph and its keys for ``shard`` of the index at ``index_path``."""
    graph = index_path.with_name(f"{index_path.name}.s{shard.number:05d}.{shard.digest}.ann")
    return graph, graph.with_name(graph.name + ".npy")


def _files(index_path: Path) -> list[tuple[int, str, Path]]:
    """Every shard file beside the index: ``(shard number, digest, path)``."""
    pattern = re.compile(
        re.escape(index_path.name) + r"\.s(\d+)\.([0-9a-f]+)\.ann(\.npy|\.partial)?"
    )
    return [
        (int(m[1]), m[2], p)
        for p in index_path.parent.iterdir()
        if (m := pattern.fullmatch(p.name))
    ]


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
    graph = build(gallery.face_ids, gallery.X)
    return Ann([graph], gallery, np.empty(0, np.int64))


# -- keeping the shards current ----------------------------------------------------------
def refresh(
    index_path: Path,
    gallery: Gallery,
    notify: Notify | None = None,
    build: bool = True,
    jobs: int | None = None,
    progress: Started | None = None,
    remote: Remote | None = None,
) -> Ann:
    """Every shard of ``gallery`` current: loaded, or updated in place from its former
    files when few of its faces changed, or (with ``build``) built on ``jobs`` processes or
    by ``remote`` (``progress``: told how many faces, then of each chunk added); files of
    shards gone or replaced are removed.  The shards left unbuilt are searched exactly by
    the :class:`Ann` returned."""
    shards = plan(gallery)
    graphs = {s: _load(index_path, s) for s in shards}
    stale = [s for s in shards if graphs[s] is None]
    if stale and notify and any(_former(index_path, s) for s in stale):
        notify(f"bringing the approximate index of {len(gallery.X):,} faces up to date")
    for s in stale:
        graphs[s] = _update(index_path, s, gallery)
    todo = [s for s in shards if graphs[s] is None]
    if todo and build:
        total = sum(s.size for s in todo)
        if notify:
            notify(f"building the approximate index of {total:,} faces (once: docs/ann.md)")
        told = progress(total) if progress else None
        build_shards(index_path, gallery, todo, jobs, told, remote)
        graphs.update({s: _load(index_path, s) for s in todo})
    _remove_replaced(index_path, shards, {s for s in shards if graphs[s] is not None})
    missing = [s for s in shards if graphs[s] is None]
    if missing and notify:
        faces = sum(s.size for s in missing)
        notify(
            f"the approximate index has {len(shards) - len(missing)} of its {len(shards)} shards: "
            f"{faces:,} faces are searched exactly (slower) until `lookalike index` builds them"
        )
    exact = np.concatenate([np.arange(s.start, s.stop) for s in missing] or [np.empty(0, int)])
    return Ann([graphs[s] for s in shards if graphs[s] is not None], gallery, exact)


def _load(index_path: Path, shard: Shard) -> object | None:
    """The shard's graph, memory-mapped, if it and its keys load and hold as many faces as
    the shard (their name's digest vouches for which ones)."""
    from usearch.index import Index  # imported here: exact searches never need it

    graph_path, keys_path = shard_paths(index_path, shard)
    try:  # the keys are written last: a graph without them is unfinished
        keys = np.load(keys_path, mmap_mode="r", allow_pickle=False)
        graph = Index.restore(graph_path, view=True)
    except (OSError, ValueError, RuntimeError, EOFError):
        return None
    if keys.dtype != _KEYS or keys.shape != (shard.size,):
        return None
    if graph is None or len(graph) != shard.size:
        return None
    return graph


def _former(index_path: Path, shard: Shard) -> Path | None:
    """The keys file of an earlier version of the shard, if there is one."""
    for number, digest, path in _files(index_path):
        if number == shard.number and digest != shard.digest and path.suffix == ".npy":
            return path
    return None


def _update(index_path: Path, shard: Shard, gallery: Gallery) -> object | None:
    """The shard made from an earlier version of it, the faces changed removed and added;
    None when there is none, it is unusable, or too much changed (build it instead)."""
    from usearch.index import Index

    keys_path = _former(index_path, shard)
    if keys_path is None:
        return None
    try:
        old = np.load(keys_path, allow_pickle=False)
        graph = Index.restore(keys_path.with_suffix(""))
    except (OSError, ValueError, RuntimeError, EOFError):
        return None
    if old.dtype != _KEYS or graph is None or len(graph) != len(old):
        return None
    removed, added = _diff(old, gallery, shard)
    if len(removed) + len(added) > UPDATE_LIMIT * max(shard.size, 1):
        return None
    if len(removed):
        graph.remove(removed)
    if len(added):
        rows = np.searchsorted(gallery.face_ids, added)
        graph.add(added, np.asarray(gallery.X[rows], np.float32), threads=1)
    graph_path, new_keys = shard_paths(index_path, shard)
    _save(graph, graph_path)
    _save_keys(gallery.face_ids[shard.start : shard.stop], _rows_sq(gallery, shard), new_keys)
    return _load(index_path, shard)


def _diff(old: np.ndarray, gallery: Gallery, shard: Shard) -> tuple[np.ndarray, np.ndarray]:
    """Face ids to remove from the shard's former graph and to add to it."""
    new_ids = gallery.face_ids[shard.start : shard.stop]
    sq = _rows_sq(gallery, shard)
    common, in_old, in_new = np.intersect1d(
        old["face_id"], new_ids, assume_unique=True, return_indices=True
    )
    changed = common[old["sq"][in_old] != sq[in_new]]
    removed = np.union1d(np.setdiff1d(old["face_id"], common, assume_unique=True), changed)
    added = np.union1d(np.setdiff1d(new_ids, common, assume_unique=True), changed)
    return removed, added


def _remove_replaced(index_path: Path, shards: list[Shard], built: set[Shard]) -> None:
    """Files of shards gone from the gallery or replaced by a version built now (a shard
    not built yet keeps its former files, to be updated from), files a killed build left
    half-written, and the single graphs of before shards (``<index>.g<generation>.ann``)."""
    done = {(s.number, s.digest) for s in built}
    numbers, planned = {s.number for s in built}, {s.number for s in shards}
    for number, digest, path in _files(index_path):
        if (number, digest) not in done and (number in numbers or number not in planned):
            path.unlink(missing_ok=True)
    leftovers = re.compile(
        r"\." + re.escape(index_path.name) + r"\.s\d+\.[0-9a-f]+\.ann(\.npy|\.partial)?\.(\d+)\.tmp"
    )
    single = re.compile(re.escape(index_path.name) + r"\.g\d+\.ann(\.npy)?")
    for path in index_path.parent.iterdir():
        left = leftovers.fullmatch(path.name)
        if single.fullmatch(path.name) or (left and not _alive(int(left[2]))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- building ----------------------------------------------------------------------------
def build(
    ids: np.ndarray,
    X: np.ndarray,
    progress: Progress | None = None,
    checkpoint: Path | None = None,
) -> object:
    """A new graph of the faces ``X`` keyed by ``ids``, added on one thread: usearch 2.26's
    concurrent inserts left 1 to 3 of LFW's 5,749 faces that no search reaches
    (docs/ann.md); shards are built side by side in processes instead.  With
    ``checkpoint``, the graph so far is saved there every :data:`CHECKPOINT` faces, and a
    build stopped is taken up from the last one saved."""
    graph = _resumed(checkpoint, ids) if checkpoint else None
    if graph is None:
        graph = _new_graph(X.shape[1])
    done = last = len(graph)
    if progress and done:
        progress(done)
    for start in range(done, len(ids), CHUNK):
        part = slice(start, start + CHUNK)
        graph.add(np.asarray(ids[part]), np.asarray(X[part], np.float32), threads=1)
        if progress:
            progress(len(ids[part]))
        if checkpoint and start + CHUNK - last >= CHECKPOINT and start + CHUNK < len(ids):
            _save(graph, checkpoint)
            last = start + CHUNK
    return graph


def _new_graph(ndim: int) -> object:
    from usearch.index import Index

    return Index(
        ndim=ndim,
        metric="l2sq",
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def _resumed(checkpoint: Path, ids: np.ndarray) -> object | None:
    """The graph saved at ``checkpoint`` if it holds the first faces of ``ids``, in order
    (as :func:`build` adds them); None otherwise."""
    from usearch.index import Index

    try:
        graph = Index.restore(checkpoint)
    except (OSError, ValueError, RuntimeError):
        return None
    if graph is None or not 0 < len(graph) <= len(ids):
        return None
    held = np.sort(np.asarray(graph.keys, np.int64))
    return graph if np.array_equal(held, np.sort(np.asarray(ids[: len(graph)]))) else None


def build_shards(
    index_path: Path,
    gallery: Gallery,
    shards: Iterable[Shard],
    jobs: int | None = None,
    progress: Progress | None = None,
    remote: Remote | None = None,
) -> None:
    """Build ``shards`` and write each atomically when done: by ``remote``, or side by side
    on ``jobs`` processes (all cores by default) that read the gallery's memory-mapped
    sidecar, else here.  ``progress`` hears of the faces added.  Stopped, the shards done
    are kept and the next call builds the others."""
    if remote is not None:
        _build_remotely(index_path, gallery, list(shards), remote, progress)
        return
    tasks = [_task(index_path, gallery, s) for s in shards]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    if jobs == 1 or (tasks and tasks[0][0] is None):
        for task in tasks:
            _build_task(task, gallery, progress)
        return
    ctx = multiprocessing.get_context("spawn")
    ticks = ctx.Queue()
    pool = ctx.Pool(jobs, _init_worker, (ticks,))
    try:
        done = pool.map_async(_build_file, tasks, chunksize=1)
        while not done.ready():
            try:
                n = ticks.get(timeout=0.2)
            except queue.Empty:
                continue
            if progress:
                progress(n)
        done.get()
    finally:
        pool.terminate()
        pool.join()


def _build_remotely(
    index_path: Path,
    gallery: Gallery,
    shards: list[Shard],
    remote: Remote,
    progress: Progress | None,
) -> None:
    """Each shard's faces sent as half floats (what the graph stores), its graph written
    here as it comes back."""
    parts = (
        (s, gallery.face_ids[s.start : s.stop], np.asarray(gallery.X[s.start : s.stop], "<f2"))
        for s in shards
    )
    for shard, blob in remote(parts):
        graph_path, keys_path = shard_paths(index_path, shard)
        write_atomically(graph_path, lambda f, blob=blob: f.write(blob))
        _save_keys(gallery.face_ids[shard.start : shard.stop], _rows_sq(gallery, shard), keys_path)
        if progress:
            progress(shard.size)


def graph_bytes(ids: np.ndarray, X: np.ndarray) -> bytes:
    """A cluster task: the graph of these faces (:func:`build`), saved as bytes."""
    return bytes(build(ids, X).save())


Task = tuple[tuple[str, str] | None, int, int, str, str]


def _task(index_path: Path, gallery: Gallery, shard: Shard) -> Task:
    """What a worker needs to build a shard: the gallery's sidecar files (None: none on
    disk), the shard's rows, and where to write it."""
    sidecar = None
    if gallery.generation is not None:
        vectors, rows, _ = sidecar_paths(index_path, gallery.generation)
        if vectors.exists() and rows.exists():
            sidecar = (str(vectors), str(rows))
    graph_path, keys_path = shard_paths(index_path, shard)
    return sidecar, shard.start, shard.stop, str(graph_path), str(keys_path)


def _build_task(task: Task, gallery: Gallery, progress: Progress | None) -> None:
    _, start, stop, graph_path, keys_path = task
    part = slice(start, stop)
    partial = _partial(graph_path)
    graph = build(gallery.face_ids[part], gallery.X[part], progress, partial)
    _save(graph, Path(graph_path))
    shard = Shard(-1, start, stop, "")
    _save_keys(gallery.face_ids[part], _rows_sq(gallery, shard), Path(keys_path))
    partial.unlink(missing_ok=True)


_ticks = None


def _init_worker(ticks) -> None:
    """A worker leaves Ctrl-C to the parent, which stops the pool; it reports progress."""
    global _ticks
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ticks = ticks


def _build_file(task: Task) -> None:
    (vectors, rows), start, stop, graph_path, keys_path = task
    X = np.load(vectors, mmap_mode="r", allow_pickle=False)
    table = np.load(rows, mmap_mode="r", allow_pickle=False)
    part = slice(start, stop)
    partial = _partial(graph_path)
    graph = build(table["face_id"][part], X[part], _ticks.put, partial)
    _save(graph, Path(graph_path))
    _save_keys(table["face_id"][part], table["sq"][part], Path(keys_path))
    partial.unlink(missing_ok=True)


def _partial(graph_path: str) -> Path:
    """Where a shard being built is saved as it goes (:func:`build`'s checkpoint)."""
    return Path(graph_path + ".partial")


def _save(graph: object, path: Path) -> None:
    with replaced_atomically(path) as tmp:
        graph.save(str(tmp))


def _save_keys(ids: np.ndarray, sq: np.ndarray, path: Path) -> None:
    """The shard's keys, written after its graph (a graph without them is unfinished)."""
    keys = np.empty(len(ids), _KEYS)
    keys["face_id"], keys["sq"] = ids, sq
    write_atomically(path, lambda f: np.save(f, keys))


def _squared_norms(gallery: Gallery) -> np.ndarray:
    return gallery.sq if gallery.sq is not None else np.einsum("ij,ij->i", gallery.X, gallery.X)


def _rows_sq(gallery: Gallery, shard: Shard) -> np.ndarray:
    part = slice(shard.start, shard.stop)
    if gallery.sq is not None:
        return gallery.sq[part]
    X = np.asarray(gallery.X[part])
    return np.einsum("ij,ij->i", X, X)


# -- reporting ---------------------------------------------------------------------------
def describe(index_path: Path, gallery: Gallery | None, faces: int) -> dict:
    """What ``lookalike info`` says: whether ``match`` searches the graphs, and how far
    their build is (shards and faces done; a stale shard is searched exactly until
    ``lookalike index`` or the next ``match --ann`` brings it up to date)."""
    shards = plan(gallery) if gallery is not None and gallery.generation is not None else []
    built = [s for s in shards if all(p.exists() for p in shard_paths(index_path, s))]
    return {
        "used": wanted("auto", faces),
        "threshold": THRESHOLD,
        "shards": len(shards),
        "shards_built": len(built),
        "faces_in_graphs": sum(s.size for s in built),
        "bytes": sum(shard_paths(index_path, s)[0].stat().st_size for s in built),
    }
