"""Encoding one photo, in a worker: the jobs the indexer hands out, their results, and how
worker processes are set up.

The indexer (:mod:`lookalike.indexer`) plans the jobs and writes the results; a distributor
(:mod:`lookalike.distributor`: the local process pool, or a Dask cluster) runs
:func:`encode_file` on them wherever it runs, and ``lookalike upgrade``'s pool uses the same
worker set-up.  Every failure of a photo becomes its result's status, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sys
from contextlib import suppress
from dataclasses import dataclass, field

from . import faces as facelib
from .faces import Face, Settings
from .images import ImageError, load_photo
from .models import dlibnets

#: Files with these extensions are reported when they cannot be read; any other file that
#: is not an image is skipped silently (and counted).
IMAGE_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".jfif",
    ".jpe",
    ".png",
    ".webp",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
}


@dataclass
class Job:
    path: str  # as on disk (may hold undecodable bytes as surrogates)
    key: str  # as stored in the index
    name: str
    size: int
    mtime_ns: int
    sha1: str | None = None


@dataclass
class Result:
    job: Job
    status: str  # ok | noface | error | other
    faces: list[Face] = field(default_factory=list)
    error: str | None = None
    width: int | None = None
    height: int | None = None


def looks_like_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def file_hash(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_worker_settings: tuple[Settings, int] | None = None


def init_worker(settings: Settings, max_pixels: int, blas_threads: int) -> None:
    """Workers leave Ctrl-C to the parent, which stops them and keeps what is committed.

    A parent killed outright (``kill -9``) takes its workers with it: left alone they would
    finish their photo and die on a broken pipe, a traceback each on the user's terminal.
    """
    global _worker_settings
    worker_signals()
    _limit_blas_threads(blas_threads)
    _worker_settings = (settings, max_pixels)


def worker_signals() -> None:
    """A pool worker ignores Ctrl-C (its parent stops it) and dies with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()


def _limit_blas_threads(threads: int) -> None:
    """Give each worker its share of the cores in a BLAS-linked dlib (`make install-fast`).

    N workers with a BLAS thread per core each oversubscribe the cores: measured slower than
    one thread per worker (README, "Fast encoder").  dlib, and so OpenBLAS, is loaded before
    the pool forks, so setting OPENBLAS_NUM_THREADS here would come too late; one the user
    set is kept.  dlib-bin has no BLAS: nothing to do.
    """
    if "OPENBLAS_NUM_THREADS" in os.environ or not dlibnets.dlib_info()["blas"]:
        return
    import ctypes

    # another BLAS than OpenBLAS: its own environment variables decide
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(threads)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def work(job: Job) -> Result:
    settings, max_pixels = _worker_settings
    return encode_file(job, settings, max_pixels)


def encode_file(job: Job, settings: Settings, max_pixels: int, data: bytes | None = None) -> Result:
    """Detect and encode every face of one file (or of ``data``, its bytes sent along);
    every failure becomes a status."""
    try:
        if job.sha1 is None:
            job.sha1 = file_hash(job.path)
        source = job.path if data is None else io.BytesIO(data)
        photo = load_photo(source, max_pixels, settings.shrink, settings.resample)
    except ImageError as e:
        status = "error" if looks_like_image(job.path) else "other"
        return Result(job, status, error=str(e))
    except OSError as e:
        return Result(job, "error", error=e.strerror or str(e))
    found = facelib.detect(photo, settings)
    return Result(job, "ok" if found else "noface", found, None, photo.width, photo.height)
