"""Indexing a folder: walk it, decide what needs encoding, encode in a process pool, store.

dlib runs each call on one core, so photos are spread over a pool of worker processes;
results come back to this process, which alone writes the index, one committed batch at a
time: Ctrl-C, SIGTERM or a crash loses at most the batch in flight.  A second run encodes
only what changed: same size and mtime is unchanged; otherwise the content hash decides
(a moved or copied photo reuses its stored faces).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field, replace

import numpy as np

from . import ann, shards
from . import faces as facelib
from .distributor import Distributor, LocalPool
from .encoding import Job, Result, file_hash, looks_like_image
from .faces import Settings
from .images import DEFAULT_MAX_PIXELS, is_image
from .index import UNNAMED, Index, IndexFileError, PhotoRecord, path_key
from .models import dlibnets
from .people import credit

BATCH_SIZE = 32
BATCH_SECONDS = 2.0


@dataclass
class Summary:
    """What one indexing run did."""

    root: str
    photos: int = 0
    encoded: int = 0
    unchanged: int = 0
    reused: int = 0
    removed: int = 0
    faces: int = 0
    other_files: int = 0
    no_face: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    stopped_by: str = ""  # what interrupted the run when not Ctrl-C (a lost Dask scheduler)

    def as_dict(self) -> dict:
        return {
            "folder": self.root,
            "photos": self.photos,
            "encoded": self.encoded,
            "unchanged": self.unchanged,
            "reused": self.reused,
            "removed": self.removed,
            "faces": self.faces,
            "other_files": self.other_files,
            "without_face": self.no_face,
            "unreadable": [{"photo": p, "reason": r} for p, r in self.unreadable],
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
        }


def person_name(root: str, path: str, unnamed: bool = False) -> str:
    """``root/<person>/x.jpg`` belongs to ``<person>``; ``root/obama.jpg`` to ``obama``;
    with ``unnamed``, every photo to nobody yet (:data:`~lookalike.index.UNNAMED`)."""
    if unnamed:
        return UNNAMED
    parent = os.path.dirname(path)
    if os.path.normpath(parent) == os.path.normpath(root):
        stem = os.path.splitext(os.path.basename(path))[0]
        return path_key(stem)
    return path_key(os.path.basename(parent))


def index_folder(
    root: str | os.PathLike,
    index: Index,
    settings: Settings,
    jobs: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    unnamed: bool = False,
    distributor: Distributor | None = None,
) -> Summary:
    """Bring ``index`` up to date with the photos under ``root`` (see module docstring);
    photos are encoded by ``distributor``, by default a local pool of ``jobs`` processes.
    With ``unnamed``, no name is taken from folders or files: the faces belong to nobody
    until `lookalike cluster` and `lookalike name` say who they are."""
    started = time.monotonic()
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise IndexFileError(f"no such folder: {root}")
    summary = Summary(root=path_key(root))
    with index.writer(), sigterm_interrupts():
        _check_settings(index, settings)
        try:
            workers = distributor or _local(jobs)
            _update(root, index, settings, workers, max_pixels, progress, summary, unnamed)
        except KeyboardInterrupt as e:  # each step is a transaction: what is committed stays
            summary.interrupted = True
            summary.stopped_by = str(e)
    summary.seconds = time.monotonic() - started
    return summary


def _update(
    root: str,
    index: Index,
    settings: Settings,
    distributor: Distributor,
    max_pixels: int,
    progress: bool,
    summary: Summary,
    unnamed: bool = False,
) -> None:
    """Plan, encode and store, drop what is gone, credit, refresh the search sidecar.

    Interrupted while encoding, the photos stored so far are credited to their people before
    the interruption goes on up (a second Ctrl-C stops that too; the next run redoes it).
    """
    todo, seen, moved, renamed = _plan(root, index, summary, unnamed)
    touched = index.remove(moved)  # found at their new place: the old entries go
    touched |= index.rename(renamed) | set(renamed.values())
    summary.removed = len(moved)
    results = _encode_all(todo, settings, max_pixels, progress, distributor)
    try:
        with closing(results):
            for batch in _batches(results):
                _store(index, batch, summary, touched)
    except KeyboardInterrupt:
        _credit(index, touched)
        raise
    gone = set(index.paths_under(root)) - seen
    touched |= index.remove(gone)
    summary.removed += len(gone)
    _credit(index, touched)
    gallery = index.gallery()  # brings the search sidecar up to date now, not at the next match
    if ann.wanted("auto", len(gallery.X)):  # and the ANN graphs that match will search
        with suppress(OSError):  # a read-only folder: match searches exactly
            _build_graphs(index, gallery, distributor, progress)


def _build_graphs(index: Index, gallery, distributor: Distributor, progress: bool) -> None:
    """The approximate index's shards, built where the photos were encoded (side by side
    in the local pool's processes, or on the Dask cluster's workers) with a bar of the
    faces added and the time left; Ctrl-C keeps the shards done (:mod:`.ann`)."""
    from tqdm import tqdm

    bar = tqdm(unit=" faces", desc="approximate index", disable=None if progress else True)
    with bar:

        def started(total: int) -> shards.Progress:
            bar.reset(total)
            return bar.update

        local = isinstance(distributor, LocalPool)
        jobs, remote = (distributor.jobs, None) if local else (None, distributor.graphs)
        ann.refresh(index.path, gallery, jobs=jobs, progress=started, remote=remote)


def _check_settings(index: Index, settings: Settings) -> None:
    stored = index.settings()
    if stored is None:
        index.set_settings(settings, dlibnets.dlib_info())
    elif stored != settings:
        raise IndexFileError(settings_mismatch(index, stored, settings))


def settings_mismatch(index: Index, stored: Settings, wanted: Settings) -> str:
    diff = settings_diff(stored, wanted, "index")
    fused = replace(stored, networks=wanted.networks)
    if "sface" not in stored.weights and wanted in (fused, facelib.as_now(fused)):
        return (
            f"{index.path} was made before the second network (SFace) joined its preset "
            f"({diff}); "
            "`lookalike upgrade` gives it SFace's vectors, or use a new --index"
        )
    return f"{index.path} was built with other settings: {diff}; use a new --index"


def settings_diff(stored: Settings, wanted: Settings, where: str) -> str:
    """``jitters=2 (index: 1)``: each field ``wanted`` that differs from ``stored``."""
    had = stored.as_dict()
    return ", ".join(
        f"{k}={v} ({where}: {had[k]})" for k, v in wanted.as_dict().items() if had[k] != v
    )


def _walk(root: str) -> Iterator[tuple[str, os.stat_result | OSError]]:
    """Every file under ``root`` with its stat (or the error); symlinked folders not followed.

    A folder that cannot be listed comes as ``(folder + "/", error)``.
    """
    unlisted: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=unlisted.append):
        yield from _unlisted(unlisted)
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                yield path, os.stat(path)
            except OSError as e:
                yield path, e
    yield from _unlisted(unlisted)


def _unlisted(errors: list[OSError]) -> Iterator[tuple[str, OSError]]:
    while errors:
        e = errors.pop(0)
        yield os.path.join(os.fsdecode(e.filename), ""), e


def _plan(
    root: str, index: Index, summary: Summary, unnamed: bool = False
) -> tuple[list[Job], set[str], list[str], dict[str, str]]:
    """The files that need encoding, the keys of every photo seen under ``root``, the old
    keys of photos that moved here (their files are gone from there), and the unchanged
    photos whose name changed (``key -> name``: indexed ``--unnamed`` now, or not)."""
    known = index.stats_by_path()
    prehash = bool(known)  # only an index with photos can hold a moved one
    todo, seen, reuse, moved, renamed = [], set(), [], [], {}
    for path, st in _walk(root):
        key = path_key(path)
        if isinstance(st, OSError):
            reason = st.strerror or str(st)
            if path.endswith(os.sep):  # a folder that cannot be listed: keep what we had of it
                summary.unreadable.append((key, reason))
                seen.update(k for k in known if k.startswith(key))
            elif looks_like_image(path):
                seen.add(key)
                summary.photos += 1
                summary.unreadable.append((key, reason))
                reuse.append((_error_record(root, path, key, reason, unnamed), []))
            continue
        if not looks_like_image(path) and not is_image(path):
            summary.other_files += 1
            continue
        seen.add(key)
        summary.photos += 1
        name = person_name(root, path, unnamed)
        if known.get(key, ())[:2] == (st.st_size, st.st_mtime_ns):
            summary.unchanged += 1
            if known[key][2] != name:
                renamed[key] = name
            continue
        job = Job(path, key, name, st.st_size, st.st_mtime_ns)
        if prehash and (found := _reusable(index, job)):
            record, faces, old = found
            reuse.append((record, faces))
            if _moved_away(old):
                moved.append(old)
            summary.reused += 1
            continue
        todo.append(job)
    if reuse:
        index.write(reuse)
    return todo, seen, moved, renamed


def _reusable(index: Index, job: Job) -> tuple[PhotoRecord, list[tuple], str] | None:
    """A photo with the same content already indexed (moved, copied, or only touched): the
    record and faces to store for ``job``, and the key it was indexed under."""
    try:
        job.sha1 = file_hash(job.path)
    except OSError:
        return None
    hit = index.photo_by_hash(job.sha1)
    if hit is None:
        return None
    photo_id, status, width, height, old = hit
    record = PhotoRecord(
        job.key, job.name, job.size, job.mtime_ns, job.sha1, status, None, width, height
    )
    return record, index.faces_of_photo(photo_id), old


def _moved_away(key: str) -> bool:
    """The file once indexed as ``key`` is gone (a key with an escaped, non-UTF-8 byte is
    not its file's real name: kept)."""
    return "\\x" not in key and not os.path.lexists(key)


def _error_record(
    root: str, path: str, key: str, reason: str, unnamed: bool = False
) -> PhotoRecord:
    return PhotoRecord(key, person_name(root, path, unnamed), None, None, None, "error", reason)


def _encode_all(
    todo: list[Job], settings: Settings, max_pixels: int, progress: bool, distributor: Distributor
) -> Iterator[Result]:
    """Results in the order they are done; the biggest files go first, so that no worker is
    left with a 12 MP photo while the others are idle at the end."""
    from tqdm import tqdm  # imported here: `lookalike match` never needs it

    todo = sorted(todo, key=lambda job: -job.size)
    bar = tqdm(total=len(todo), unit="photo", disable=None if progress else True, leave=False)
    with bar, closing(distributor.results(todo, settings, max_pixels)) as results:
        for result in results:
            yield result
            bar.update()


def _local(jobs: int | None) -> Distributor:
    return LocalPool(jobs)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While indexing, SIGTERM stops the run the way Ctrl-C does (committed work is kept)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _batches(results: Iterator[Result]) -> Iterator[list[Result]]:
    """Group results so each write is one transaction, at least every BATCH_SECONDS.

    The first result is a batch of its own: the index exists, with a face in it, from the
    first second of a long run (and an interrupted run keeps it).
    """
    batch: list[Result] = []
    last = -float("inf")  # so the first result is due at once
    for result in results:
        batch.append(result)
        if len(batch) >= BATCH_SIZE or time.monotonic() - last >= BATCH_SECONDS:
            yield batch
            batch, last = [], time.monotonic()
    if batch:
        yield batch


def _store(index: Index, batch: list[Result], summary: Summary, touched: set[str]) -> None:
    items = []
    for r in batch:
        j = r.job
        if r.status == "other":
            summary.photos -= 1
            summary.other_files += 1
            continue
        record = PhotoRecord(
            j.key, j.name, j.size, j.mtime_ns, j.sha1, r.status, r.error, r.width, r.height
        )
        items.append((record, r.faces))
    index.write(items)
    for r in batch:
        summary.encoded += r.status != "other"
        summary.faces += len(r.faces)
        if r.status == "noface":
            summary.no_face.append(r.job.key)
        elif r.status == "error":
            summary.unreadable.append((r.job.key, r.error or "unreadable"))
        touched.add(r.job.name)


def _credit(index: Index, names: set[str]) -> None:
    """Re-choose each affected person's credited faces (and any left undone by a crash).

    One transaction for all: a commit per person cost seconds over LFW's 5,749 people.
    """
    chosen = {}
    for name in (names | set(index.uncredited_names())) - {UNNAMED}:
        rows = index.faces_of_person(name)
        if not rows:
            continue
        face_ids = np.array([r[0] for r in rows])
        photo_ids = np.array([r[1] for r in rows])
        areas = np.array([r[2] for r in rows])
        X = np.stack([r[3] for r in rows])
        chosen[name] = face_ids[credit(photo_ids, areas, X)]
    if chosen:
        index.set_credited_many(chosen)
