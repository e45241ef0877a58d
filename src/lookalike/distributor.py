"""Where photos are encoded: a local process pool, or the workers of a Dask cluster.

img2dataset's pattern: the indexer hands its jobs to a distributor, which yields each
:class:`~lookalike.encoding.Result` back in this process as soon as it is done; this process
alone writes the index, so incremental runs, interruptions and moved photos behave the same
whichever distributor encoded them.  ``distributed`` is imported only by :class:`DaskCluster`
(``pip install 'lookalike[cluster]'``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from importlib.metadata import version
from itertools import chain
from typing import Protocol

import numpy as np

from . import shards
from .encoding import Job, Result, encode_file, init_worker, work
from .faces import Settings
from .index import packed_parts
from .models.weights import ModelError, model_dir

#: Tasks in flight per worker thread: enough that no worker waits for its next photo
#: between two results, few enough that ``--send-photos`` holds only a few photos in memory.
TASKS_PER_THREAD = 4
#: Photos a task encodes at most, where the photos are read from a shared folder: a task and
#: its result through the scheduler cost about 3 ms, a fifth of an LFW photo's encoding
#: (docs/cluster.md).  Smaller folders get smaller chunks, so that every thread has work; with
#: ``--send-photos`` a task is one photo (a chunk would hold that many photos in memory).
CHUNK_PHOTOS = 16
WINDOW_SECONDS = 5.0
QUIET_LOGGERS = ("distributed", "tornado", "asyncio")
CONNECT_SECONDS = 10


class Distributor(Protocol):
    """Encodes jobs somewhere and yields each result here, in the order they are done."""

    def results(self, todo: list[Job], settings: Settings, max_pixels: int) -> Iterator[Result]:
        """Closing the iterator (Ctrl-C) stops the work still pending."""
        ...


class ClusterError(Exception):
    """The cluster cannot be used: unreachable, no workers, or workers that cannot encode."""


class ClusterLost(KeyboardInterrupt):
    """The scheduler went away mid-run: the run stops as Ctrl-C stops it (what is committed
    stays, the same command finishes the job), never marking photos unreadable."""


class LocalPool:
    """``jobs`` worker processes on this machine (all cores by default)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs

    def results(self, todo: list[Job], settings: Settings, max_pixels: int) -> Iterator[Result]:
        import multiprocessing  # imported here: `lookalike match` never needs it

        jobs = max(1, min(self.jobs or os.cpu_count() or 1, len(todo)))
        if jobs == 1:
            for job in todo:
                yield encode_file(job, settings, max_pixels)
            return
        blas_threads = max(1, (os.cpu_count() or 1) // jobs)
        pool = multiprocessing.Pool(jobs, init_worker, (settings, max_pixels, blas_threads))
        try:
            yield from pool.imap_unordered(work, todo)
        finally:
            pool.terminate()
            pool.join()


class DaskCluster:
    """The workers of a running Dask cluster (``dask scheduler``, ``dask worker``).

    Workers read each photo at its path (a shared file system), or, with ``send_photos``,
    get its bytes from this process along with the task.  A task that raises is an
    unreadable photo; a lost worker's tasks are retried by Dask on another one; a lost
    scheduler raises :class:`ClusterLost`.  Use as a context manager (it connects on entry).
    """

    def __init__(self, address: str, send_photos: bool = False) -> None:
        self.address = address
        self.send_photos = send_photos
        self.client = None
        self._tasks = TASKS_PER_THREAD
        self._counted_at = -float("inf")
        self._levels: dict[str, int] = {}

    def __enter__(self) -> DaskCluster:
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("--cluster needs Dask: pip install 'lookalike[cluster]'") from None
        self._quiet_logs()
        try:
            self.client = Client(self.address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            self._restore_logs()
            raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: {e}") from None
        try:
            self._check_workers()
        except BaseException:
            self.client.close()
            self._restore_logs()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """After a lost scheduler, Dask's loggers stay quiet: the client's thread may still
        log the failed reconnection while the process ends."""
        lost = self.client.status != "running"
        self.client.close()
        if not lost:
            self._restore_logs()

    def _quiet_logs(self) -> None:
        """Dask's and tornado's loggers print tracebacks when a connection drops (a lost
        scheduler or worker); the run says in one line what that means for it.  Dask sets
        levels on some of its child loggers: each is raised, not only the parents."""
        loggers = [logging.getLogger(name) for name in QUIET_LOGGERS] + [
            log
            for name, log in logging.root.manager.loggerDict.items()
            if name.startswith(QUIET_LOGGERS) and isinstance(log, logging.Logger)
        ]
        self._levels = {log.name: log.level for log in loggers}
        for log in loggers:
            log.setLevel(logging.CRITICAL)

    def _restore_logs(self) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)

    def _check_workers(self) -> None:
        """Refuse a cluster whose workers cannot encode, rather than mark every photo unreadable."""
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {self.address} has no workers") from None
        try:
            found = self.client.run(_worker_check, version("lookalike"))
        except Exception as e:
            raise ClusterError(
                f"a worker of {self.address} cannot run lookalike ({type(e).__name__}: {e}); "
                "pip install 'lookalike[cluster]' on every worker"
            ) from None
        for worker, problem in found.items():
            if problem:
                raise ClusterError(f"worker {worker}: {problem}")

    def _check_paths(self, path: str) -> None:
        """Workers must see the photos at the same path, or none of them could be read."""
        for worker, seen in self.client.run(os.path.exists, path).items():
            if not seen:
                raise ClusterError(
                    f"worker {worker} cannot read {path}: share the folder at the same path "
                    "on every worker, or use --send-photos"
                )

    def results(self, todo: list[Job], settings: Settings, max_pixels: int) -> Iterator[Result]:
        from distributed import as_completed

        if todo and not self.send_photos:
            self._check_paths(todo[0].path)
        pending = iter(self._chunks(todo))
        running = as_completed(loop=self.client.loop)
        jobs_of: dict = {}
        try:
            yield from self._submit(pending, running, jobs_of, settings, max_pixels)
            for future in running:
                chunk = jobs_of.pop(future)
                results = self._results_of(future, chunk)
                if results is None:  # its worker went away as it was fetched: Dask redoes it
                    jobs_of[future] = chunk
                    running.add(future)
                    continue
                if isinstance(results, Exception):
                    if len(chunk) > 1:  # a photo of it made the task fail: each alone
                        pending = chain(([job] for job in chunk), pending)
                        results = []
                    else:
                        results = [_failed(chunk[0], results)]
                yield from results
                yield from self._submit(pending, running, jobs_of, settings, max_pixels)
        finally:
            if jobs_of and self.client.status == "running":
                self.client.cancel(list(jobs_of))

    def _window(self) -> int:
        """Tasks to keep in flight: TASKS_PER_THREAD a worker thread, counted again every
        few seconds so that workers that join mid-run get photos too (not while the
        scheduler is away: the next result says it went)."""
        due = time.monotonic() - self._counted_at > WINDOW_SECONDS
        if due and self.client.status == "running":
            threads = sum(self.client.nthreads().values())
            self._tasks = TASKS_PER_THREAD * max(1, threads)
            self._counted_at = time.monotonic()
        return self._tasks

    def _chunks(self, todo: list[Job]) -> Iterator[list[Job]]:
        """The photos in chunks of up to CHUNK_PHOTOS, no bigger than gives each task in
        flight a chunk (one photo a chunk with ``--send-photos``)."""
        size = 1 if self.send_photos else len(todo) // self._window()
        size = max(1, min(CHUNK_PHOTOS, size))
        for start in range(0, len(todo), size):
            yield todo[start : start + size]

    def _submit(self, pending, running, jobs_of, settings, max_pixels) -> Iterator[Result]:
        """Keep ``_window()`` tasks in flight; a photo this process cannot read for
        ``--send-photos`` is an unreadable photo at once."""
        while len(jobs_of) < self._window() and (chunk := next(pending, None)) is not None:
            data = [None] * len(chunk)
            if self.send_photos:  # one photo a chunk
                try:
                    data = [_read(chunk[0])]
                except OSError as e:
                    yield Result(chunk[0], "error", error=e.strerror or str(e))
                    continue
            future = self.client.submit(encode_chunk, chunk, settings, max_pixels, data, pure=False)
            jobs_of[future] = chunk
            running.add(future)

    def _results_of(self, future, chunk: list[Job]) -> list[Result] | Exception | None:
        """The chunk's results; the exception its task raised (a photo of it made the
        encoder fail: each is then tried alone); None if it must be awaited again (see
        :meth:`results`)."""
        if future.status == "finished":
            try:
                results = future.result()
            except OSError:  # the connection dropped as the result was fetched
                self._check_scheduler()
                time.sleep(0.1)  # until Dask sees the lost worker and redoes the task
                return None
            future.release()  # or a worker lost later would compute it again for nothing
            return results
        if future.status == "cancelled":
            raise ClusterLost(f"the Dask scheduler at {self.address} went away")
        self._check_scheduler()
        return future.exception()

    def _check_scheduler(self) -> None:
        if self.client.status != "running":
            raise ClusterLost(f"the Dask scheduler at {self.address} went away")

    def graphs(
        self, parts: Iterator[tuple[object, np.ndarray, np.ndarray]]
    ) -> Iterator[tuple[object, bytes]]:
        """The approximate index's shards built on the workers (:data:`shards.Remote`): a task
        a worker thread in flight, each graph back as bytes as it is done.  Dask redoes a
        lost worker's task; a lost scheduler stops the run as Ctrl-C does."""
        from distributed import as_completed

        running = as_completed(loop=self.client.loop)
        keys: dict = {}
        window = max(1, sum(self.client.nthreads().values()))
        try:
            for key, ids, X in parts:
                future = self.client.submit(shards.graph_bytes, ids, X, pure=False)
                keys[future] = key
                running.add(future)
                while len(keys) >= window:
                    yield self._graph_of(next(running), keys)
            for future in running:
                yield self._graph_of(future, keys)
        finally:
            if keys and self.client.status == "running":
                self.client.cancel(list(keys))

    def _graph_of(self, future, keys: dict) -> tuple[object, bytes]:
        key = keys.pop(future)
        if future.status == "cancelled":
            raise ClusterLost(f"the Dask scheduler at {self.address} went away")
        while True:
            try:
                blob = future.result()
                break
            except OSError:  # the connection dropped as it was fetched: Dask redoes it
                self._check_scheduler()
                time.sleep(0.1)
            except Exception as e:
                raise ClusterError(
                    f"a shard of the approximate index failed on the cluster: {e}"
                ) from None
        future.release()
        return key, blob


def _read(job: Job) -> bytes:
    """The photo's bytes, with their hash (the worker need not read the file again)."""
    with open(job.path, "rb") as f:
        data = f.read()
    job.sha1 = hashlib.sha1(data).hexdigest()
    return data


def _failed(job: Job, e: BaseException) -> Result:
    return Result(job, "error", error=f"failed on the cluster ({type(e).__name__}: {e})")


def encode_chunk(
    jobs: list[Job], settings: Settings, max_pixels: int, data: list[bytes | None]
) -> list[Result]:
    """A cluster task: :func:`encode_remote` for each photo of a chunk."""
    return [encode_remote(j, settings, max_pixels, d) for j, d in zip(jobs, data, strict=True)]


def encode_remote(job: Job, settings: Settings, max_pixels: int, data: bytes | None) -> Result:
    """A cluster task: encode one photo, its faces as the rows the index stores (box,
    each network's packed float32 vector, chip JPEG): a few KB a face over the network, not the
    67 KB of the raw chip."""
    result = encode_file(job, settings, max_pixels, data)
    result.faces = [(*f.box, *packed_parts(f), f.chip_jpeg()) for f in result.faces]
    return result


def _worker_check(client_version: str) -> str:
    """What keeps this worker from encoding as the client would ('' if nothing)."""
    try:
        model_dir()
    except ModelError as e:
        return str(e)
    here = version("lookalike")
    if here != client_version:
        return f"lookalike {here} is installed, the client runs {client_version}"
    return ""
