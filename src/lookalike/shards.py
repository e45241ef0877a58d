"""The approximate index's shards on disk: which faces each holds, building them (side by
side, on a cluster, resumed after a kill), loading and updating them.

Shard ``k`` holds the faces whose ids lie in ``[k * SPAN, (k + 1) * SPAN)``: two files
beside the SQLite file, named for the faces it holds, ``<index>.s<k>.<digest>.ann`` (the
graph, HNSW by usearch, half floats, keyed by face id) and ``...ann.npy`` (each face's id
and squared norm, for updates), ``digest`` a hash of those ids and norms.  A shard is
written atomically when it is done (its keys last: a graph without them is unfinished), and
saved every :data:`CHECKPOINT` faces while it is built (``...ann.partial``), so a build that
is stopped resumes where it was.  A file that does not load or check is never trusted.
:mod:`lookalike.ann` searches them.
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

from .index import Gallery, replaced_atomically, sidecar_paths, write_atomically

#: Face ids a shard covers.  On 1M synthetic fused faces (docs/ann.md, "Shards"), four
#: graphs of 250,000 reach the recall of one of 1,000,000 at about the same search cost
#: (each is searched less wide: 0.999 at 1,000 against 0.964) and build 30% faster, two at
#: a time on two cores.
SPAN = 250_000
#: HNSW parameters: edges a node (M), candidates kept while building.  Faces clustered
#: like LFW's people are a hard case: the 10th nearest person is hardly farther than the
#: 1st, so recall of the top 10 people needs a well-linked graph (docs/ann.md).  usearch's
#: 8-bit storage is for unit vectors: it ranks by angle, not by L2.
DTYPE = "f16"
CONNECTIVITY = 32
EXPANSION_ADD = 128
#: Beyond this share of a shard's faces changed, it is built again rather than updated
#: (many removals leave an HNSW graph with holes; building is the same work as adding).
UPDATE_LIMIT = 0.2
#: Faces added between two progress reports of a shard being built.
CHUNK = 5_000
#: Faces added between two saves of a shard being built (``<shard>.ann.partial``): a build
#: stopped loses at most these (minutes of a core), not the shard.
CHECKPOINT = 250_000
_KEYS = np.dtype([("face_id", "<i8"), ("sq", "<f4")])

#: Hears of the faces added to a graph, a chunk at a time.
Progress = Callable[[int], None]
#: Builds graphs elsewhere (the workers of a Dask cluster): given ``(key, face ids,
#: vectors)`` for each shard, yields ``(key, the graph saved as bytes)`` as each is done,
#: by :func:`graph_bytes`; this process writes them (it is the index's only writer).
Remote = Callable[[Iterator[tuple[object, np.ndarray, np.ndarray]]], Iterator[tuple[object, bytes]]]


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


def load(index_path: Path, shard: Shard) -> object | None:
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


def former(index_path: Path, shard: Shard) -> Path | None:
    """The keys file of an earlier version of the shard, if there is one."""
    for number, digest, path in _files(index_path):
        if number == shard.number and digest != shard.digest and path.suffix == ".npy":
            return path
    return None


def update(index_path: Path, shard: Shard, gallery: Gallery) -> object | None:
    """The shard made from an earlier version of it, the faces changed removed and added;
    None when there is none, it is unusable, or too much changed (build it instead)."""
    from usearch.index import Index

    keys_path = former(index_path, shard)
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
    return load(index_path, shard)


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


def remove_replaced(index_path: Path, shards: list[Shard], built: set[Shard]) -> None:
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
