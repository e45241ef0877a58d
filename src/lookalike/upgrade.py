"""Giving an index made before SFace joined the presets the second network's vectors.

``lookalike upgrade``: each face without an SFace vector is found again in its photo by the
box the index holds (the photo read again, its landmarks taken in that box) and SFace
encodes it; dlib's vectors, the boxes, names and groups stay as they are: nothing is
detected or encoded by dlib again.  Photos are spread over a process pool and come back to
this process, which writes them in committed batches, so a Ctrl-C keeps what is done and the
same command finishes the job.  Until every face has its vector the index answers as it was
made to; then, in one transaction, its settings become its preset's of today, and it answers
with the fused vectors.  A photo that is gone or has changed since it was indexed cannot be
read as it was: it is reported, and the index is left as it was until ``lookalike index``
has brought it up to date.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace

import numpy as np

from . import faces as facelib
from .encoding import file_hash, worker_signals
from .faces import QUALITY, Settings, former_preset
from .images import DEFAULT_MAX_PIXELS, ImageError, load_photo
from .index import Index, IndexFileError
from .indexer import BATCH_SECONDS, sigterm_interrupts

#: Faces of photos written in one transaction at most (photos are written every
#: BATCH_SECONDS too).
BATCH_FACES = 256


@dataclass
class Summary:
    """What one run did."""

    index: str
    settings: Settings  # the settings the index has at the end
    photos: int = 0  # photos read again
    faces: int = 0  # faces given their SFace vector
    left: int = 0  # faces still without one
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (photo, why)
    upgraded: bool = False  # the settings changed in this run
    interrupted: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "networks": self.settings.networks,
            "photos": self.photos,
            "faces": self.faces,
            "faces_left": self.left,
            "unreadable": [{"photo": p, "reason": r} for p, r in self.unreadable],
            "upgraded": self.upgraded,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
        }


def target(settings: Settings) -> Settings:
    """What an index made with ``settings`` becomes: the same settings on the networks of
    their preset today.  ValueError where they are no preset (or ``--quality cli``, which
    is dlib's network alone)."""
    preset = former_preset(settings)
    if preset is None:
        raise ValueError(
            "only an index made with --quality default or best takes the second network "
            f"(this one: {settings.networks}, and other settings); index into a new --index "
            "instead"
        )
    return replace(settings, networks=Settings(**QUALITY[preset]).networks)


def upgrade(
    idx: Index, jobs: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS, progress=False
) -> Summary:
    """Give ``idx`` SFace's vectors and its preset's networks (module docstring)."""
    started = time.monotonic()
    with idx.writer():
        settings = idx.settings()
        if settings is None:
            raise IndexFileError(f"{idx.path} holds no faces yet (run `lookalike index DIR`)")
        summary = Summary(str(idx.path), settings)
        if "sface" in settings.weights:
            return summary
        goal = target(settings)
        todo = idx.without_sface()
        results = _encode_all(todo, goal, jobs, max_pixels, progress)
        try:
            with sigterm_interrupts(), closing(results):
                for batch in _batches(results):
                    idx.set_sface([v for _, vectors, _ in batch for v in vectors])
                    for photo, vectors, error in batch:
                        summary.photos += 1
                        summary.faces += len(vectors)
                        if error:
                            summary.unreadable.append((photo, error))
        except KeyboardInterrupt:
            summary.interrupted = True
        summary.left = sum(len(f) for f in idx.without_sface().values())
        if not summary.left and not summary.interrupted:
            idx.set_settings(goal)
            idx.gallery()  # the search sidecar, fused, now rather than at the next match
            summary.settings, summary.upgraded = goal, True
    summary.seconds = time.monotonic() - started
    return summary


Job = tuple[str, str | None, list[tuple[int, list[int]]]]
Done = tuple[str, list[tuple[int, np.ndarray]], str | None]


def _encode_all(
    todo: dict, settings: Settings, jobs: int | None, max_pixels: int, progress: bool
) -> Iterator[Done]:
    """Each photo's faces' SFace vectors (or why it could not be read), as they are done."""
    import multiprocessing

    from tqdm import tqdm

    work = [(path, sha1, found) for (path, sha1), found in todo.items()]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    bar = tqdm(total=len(work), unit="photo", disable=None if progress else True, leave=False)
    if jobs == 1:
        results = (_encode(job, settings, max_pixels) for job in work)
        pool = None
    else:
        pool = multiprocessing.Pool(jobs, worker_signals)
        results = pool.imap_unordered(_work, [(job, settings, max_pixels) for job in work])
    try:
        with bar:
            for done in results:
                yield done
                bar.update()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _work(args: tuple[Job, Settings, int]) -> Done:
    return _encode(*args)


def _encode(job: Job, settings: Settings, max_pixels: int) -> Done:
    """SFace's vector of each face of one photo, read again as it was indexed."""
    path, sha1, found = job
    try:
        if sha1 is not None and file_hash(path) != sha1:
            return path, [], "changed since it was indexed"
        photo = load_photo(path, max_pixels, settings.shrink, settings.resample)
    except (ImageError, OSError) as e:
        return path, [], getattr(e, "strerror", None) or str(e)
    return path, [(i, facelib.sface_of(photo, box, settings)) for i, box in found], None


def _batches(results: Iterator[Done]) -> Iterator[list[Done]]:
    """Results grouped so that each write is one transaction, at least every BATCH_SECONDS."""
    batch: list[Done] = []
    last = time.monotonic()
    for done in results:
        batch.append(done)
        faces = sum(len(v) for _, v, _ in batch)
        if faces >= BATCH_FACES or time.monotonic() - last >= BATCH_SECONDS:
            yield batch
            batch, last = [], time.monotonic()
    if batch:
        yield batch
