"""The index: one SQLite file holding every photo seen, its faces and their embeddings.

Tables: ``meta`` (format version and the settings that made the embeddings), ``photos``
(path, size, mtime, content hash, status, error, person name: ``""`` for a photo whose faces
belong to nobody yet, indexed ``--unnamed``) and ``faces`` (box, dlib's vector as packed
float32, since format 3 SFace's beside it where the settings fuse it, whether the face is
credited to the photo's person, the aligned chip as JPEG); since format
2, ``named_faces`` (names given by hand, keyed by the photo's content hash and the face's
box, so that they survive re-indexing) and ``face_groups`` (the groups of the last
``lookalike cluster``: :mod:`lookalike.groups`).  Writes happen in batches, one
transaction each (WAL), so an interrupted run keeps every committed batch.  Nothing is ever
pickled: embeddings are raw float32 with their size checked.  Each network's vector is
stored as it makes it; the vector search sees (``Gallery.X``) is fused from them with the
weights the settings record (:func:`lookalike.faces.fuse`).
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .faces import Face, Settings, fuse, vector_length

FORMAT_VERSION = 3
#: The name of a photo whose faces belong to nobody yet (``index --unnamed``).
UNNAMED = ""
APP = "lookalike"
#: The length of one network's vector.
DIM = 128
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    sha1 TEXT,
    status TEXT NOT NULL,          -- ok | noface | error
    error TEXT,
    width INTEGER,
    height INTEGER
);
CREATE INDEX IF NOT EXISTS photos_sha1 ON photos(sha1);
CREATE INDEX IF NOT EXISTS photos_name ON photos(name);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    top INTEGER NOT NULL, right INTEGER NOT NULL, bottom INTEGER NOT NULL, left INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    credited INTEGER NOT NULL DEFAULT 0,
    chip BLOB,
    sface BLOB
);
CREATE INDEX IF NOT EXISTS faces_photo ON faces(photo_id);
"""

#: Format 2: names given by hand and the groups of `lookalike cluster` (added in place to a
#: format 1 index by its first writer; a face's name: :data:`FACE_NAMES_SQL`).
NAMES_SQL = """
CREATE TABLE IF NOT EXISTS named_faces (
    sha1 TEXT NOT NULL,
    top INTEGER NOT NULL, right INTEGER NOT NULL, bottom INTEGER NOT NULL, left INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (sha1, top, right, bottom, left)
);
CREATE TABLE IF NOT EXISTS face_groups (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS named_added AFTER INSERT ON named_faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS named_removed AFTER DELETE ON named_faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS named_changed AFTER UPDATE ON named_faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
"""

#: Each face's name (a temporary view, made when the index is opened): the one given by
#: hand, else its photo's person's when it is the face credited to them, else NULL.  A hand
#: name of ``""`` makes the face nobody's (:func:`lookalike.groups.take_away`): its ``name``
#: is NULL, as an unnamed face's, but its ``hand`` is ``""``, not NULL, so that no folder
#: credits it again (:meth:`Index.faces_of_person` leaves out the faces named by hand).
FACE_NAMES_SQL = """
CREATE TEMP VIEW face_names AS SELECT f.id AS face_id, p.id AS photo_id, {hand} AS hand,
    NULLIF(COALESCE({hand}, CASE WHEN f.credited AND p.name != '' THEN p.name END), '') AS name
FROM faces f JOIN photos p ON p.id = f.photo_id
"""
HAND_NAME_SQL = (
    "(SELECT n.name FROM named_faces n WHERE n.sha1 = p.sha1 AND n.top = f.top"
    " AND n.right = f.right AND n.bottom = f.bottom AND n.left = f.left)"
)

#: Format 3: SFace's vector of each face (NULL in an index whose settings do not fuse it).
SFACE_SQL = "ALTER TABLE faces ADD COLUMN sface BLOB;"

#: The photos without a face or unreadable, for counting them without a scan of every photo.
PROBLEMS_SQL = "CREATE INDEX IF NOT EXISTS photos_problems ON photos(status) WHERE status != 'ok';"

#: Every change to the faces, or to whose photo they are, bumps meta's ``generation`` in the
#: same transaction (triggers: no writer can forget), so the sidecar matrix of
#: :meth:`Index.gallery` can tell when it is stale.
GENERATION_SQL = """
CREATE TRIGGER IF NOT EXISTS faces_added AFTER INSERT ON faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS faces_removed AFTER DELETE ON faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS faces_changed AFTER UPDATE OF photo_id, embedding, credited ON faces
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS photos_renamed AFTER UPDATE OF name ON photos
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""


class IndexFileError(Exception):
    """The index file cannot be used; the message names the file."""


class IndexBusyError(IndexFileError):
    """Another writer holds the index: the change asked for can be tried again later."""


@dataclass
class PhotoRecord:
    """What the index keeps about one photo file."""

    path: str
    name: str
    size: int | None
    mtime_ns: int | None
    sha1: str | None
    status: str
    error: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class Gallery:
    """Every indexed face as arrays, for search.

    ``X`` is ``float32[n, d]`` (128 a network the settings fuse); ``face_ids`` the faces' row
    ids; ``person`` an int code per face (``-1`` for an uncredited bystander) into ``names``;
    ``sq`` the squared norms of ``X``'s rows when known (they save a pass over ``X`` per
    query); ``generation`` the index's generation the arrays are (None: not from an index
    file), which keys the ANN sidecar (:mod:`lookalike.ann`).
    """

    X: np.ndarray
    face_ids: np.ndarray
    person: np.ndarray
    names: Sequence[str]
    sq: np.ndarray | None = None
    generation: int | None = None


def default_path() -> Path:
    """``$LOOKALIKE_INDEX``, else ``index.db`` in the user's data directory."""
    env = os.environ.get("LOOKALIKE_INDEX")
    if env:
        return Path(env)
    import platformdirs  # imported here: --index and $LOOKALIKE_INDEX spare its import time

    return Path(platformdirs.user_data_dir(APP)) / "index.db"


def path_key(path: str) -> str:
    """A path as stored: always valid UTF-8, even for names that are not (escaped)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def pack(embedding: np.ndarray) -> bytes:
    return np.ascontiguousarray(embedding, dtype="<f4").tobytes()


def unpack(blob: bytes, where: object = "the index") -> np.ndarray:
    """A stored network's vector as float32[128]; anything but 512 bytes is refused, never
    guessed."""
    if not isinstance(blob, bytes) or len(blob) != DIM * 4:
        size = len(blob) if isinstance(blob, bytes) else 0
        raise IndexFileError(f"{where} holds a corrupt embedding ({size} bytes)")
    return np.frombuffer(blob, dtype="<f4")


class Index:
    """A lookalike index file. Open with :meth:`open`; use as a context manager."""

    def __init__(self, path: Path, db: sqlite3.Connection):
        self.path = path
        self.db = db
        self._sface_column: bool | None = None  # known once asked: only a writer adds it

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = False) -> Index:
        """Open an index; with ``create``, make it (and its folder) when missing.

        A file that is not a lookalike index (random bytes, another SQLite database, a newer
        format) is refused with a clear error and never modified.
        """
        path = Path(path) if path is not None else default_path()
        exists = path.exists()
        if not exists and not create:
            raise IndexFileError(f"no index at {path} (run `lookalike index DIR` first)")
        if exists:
            _check_header(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path, timeout=30)
            db.execute("PRAGMA foreign_keys = ON")
            index = cls(path, db)
            index._check_or_init(exists)
            index._make_face_names()
        except sqlite3.DatabaseError as e:
            raise IndexFileError(f"{path} is not a usable lookalike index ({e})") from None
        return index

    def _check_or_init(self, exists: bool) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        if exists and tables:
            if "meta" not in tables:
                raise IndexFileError(
                    f"{self.path} is an SQLite database, but not a lookalike index"
                )
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
            if meta.get("app") != APP:
                raise IndexFileError(
                    f"{self.path} is an SQLite database, but not a lookalike index"
                )
            version = meta.get("format_version", "0")
            if not version.isdigit():
                raise IndexFileError(f"{self.path} has a broken format version ({version!r:.40})")
            version = int(version)
            if version > FORMAT_VERSION:
                raise IndexFileError(
                    f"{self.path} was made by a newer lookalike (format {version}; "
                    f"this one reads {FORMAT_VERSION}): upgrade lookalike"
                )
            return
        self.db.execute("PRAGMA journal_mode = WAL")
        with self.db:
            self.db.executescript(SCHEMA + GENERATION_SQL + NAMES_SQL + PROBLEMS_SQL)
            self._set_meta({"app": APP, "format_version": str(FORMAT_VERSION)})

    def _make_face_names(self) -> None:
        """The view of each face's name; an index older than format 2 has no hand names."""
        has_hands = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'named_faces'"
        ).fetchone()
        self.db.execute("DROP VIEW IF EXISTS temp.face_names")
        self.db.execute(FACE_NAMES_SQL.format(hand=HAND_NAME_SQL if has_hands else "NULL"))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close; an SQLite error met inside becomes one IndexFileError naming the file."""
        self.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise IndexFileError(_database_error(self.path, exc)) from None

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's writer lock: a second writer is refused, never interleaved."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(
                    f"another `lookalike index` is writing {self.path}; wait for it to finish"
                ) from None
            try:
                sface = "" if self._has_sface() else SFACE_SQL
                self.db.executescript(  # older indexes: to this format, in place
                    f"BEGIN; {GENERATION_SQL} {NAMES_SQL} {PROBLEMS_SQL} {sface} UPDATE meta SET "
                    f"value = '{FORMAT_VERSION}' WHERE key = 'format_version'; COMMIT;"
                )
                self._sface_column = True
                self._make_face_names()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one state of the index, whatever a running `index` commits.

        (A face found by one read and described by the next could otherwise be gone.)
        """
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.rollback()

    # -- settings ------------------------------------------------------------------------
    def _set_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def settings(self) -> Settings | None:
        raw = self.meta().get("settings")
        try:
            return Settings.from_dict(json.loads(raw)) if raw else None
        except (ValueError, TypeError) as e:  # not JSON, not a dict, or fields unknown here
            raise IndexFileError(
                f"{self.path} records settings this lookalike cannot read ({e}); "
                "upgrade lookalike, or index into a new --index"
            ) from None

    def set_settings(self, settings: Settings, dlib: dict | None = None) -> None:
        """Record the settings, and the dlib that encodes with them (a new index's; an index
        given a second network's vectors keeps its own).  The vectors search sees change with
        them, so the generation moves on too."""
        values = {"settings": json.dumps(settings.as_dict())}
        if dlib is not None:
            values["dlib"] = json.dumps(dlib)
        with self.db:
            self._set_meta(values)
            self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def without_sface(self) -> dict[tuple[str, str | None], list[tuple[int, list[int]]]]:
        """The faces that have no SFace vector yet, by their photo (path, content hash):
        ``(face_id, box)`` each.  (A writer's: the column exists.)"""
        rows = self.db.execute(
            "SELECT p.path, p.sha1, f.id, f.top, f.right, f.bottom, f.left FROM faces f "
            "JOIN photos p ON p.id = f.photo_id WHERE f.sface IS NULL ORDER BY p.path, f.id"
        )
        out: dict[tuple[str, str | None], list[tuple[int, list[int]]]] = {}
        for path, sha1, face_id, *box in rows:
            out.setdefault((path, sha1), []).append((face_id, box))
        return out

    def set_sface(self, vectors: Iterable[tuple[int, np.ndarray]]) -> None:
        """Store SFace's vector of faces (``face_id, vector``), one transaction."""
        with self.db:
            self.db.executemany(
                "UPDATE faces SET sface = ? WHERE id = ?", [(pack(v), int(i)) for i, v in vectors]
            )

    def networks(self) -> str:
        """The networks the index's vectors are fused from (dlib's alone while it is empty)."""
        settings = self.settings()
        return settings.networks if settings else "dlib"

    def _has_sface(self) -> bool:
        """Whether the faces table has SFace's column (format 3 on)."""
        if self._sface_column is None:
            columns = self.db.execute("PRAGMA table_info(faces)")
            self._sface_column = any(r[1] == "sface" for r in columns)
        return self._sface_column

    def _vector_columns(self) -> str:
        """The columns of ``faces f`` a face's vector is fused from: dlib's, then SFace's."""
        return "f.embedding, " + ("f.sface" if self._has_sface() else "NULL")

    def _fuse(self, dlib: Sequence[bytes], sface: Sequence[bytes | None], networks: str):
        """The vectors of faces (``n x d``) from their stored networks' vectors."""
        parts = {"dlib": _matrix(dlib, self.path)}
        if "sface" in networks:
            if any(blob is None for blob in sface):
                raise IndexFileError(f"{self.path} holds a face without SFace's vector")
            parts["sface"] = _matrix(sface, self.path)
        return fuse(parts, networks)

    # -- photos --------------------------------------------------------------------------
    def stats_by_path(self) -> dict[str, tuple[int | None, int | None, str]]:
        """``path -> (size, mtime_ns, name)`` for every photo: what an incremental run
        compares."""
        rows = self.db.execute("SELECT path, size, mtime_ns, name FROM photos")
        return {p: (s, m, n) for p, s, m, n in rows}

    def rename(self, names: dict[str, str]) -> set[str]:
        """Give photos (``path -> name``) other names, without encoding them again; an
        unnamed photo's faces are credited to no one.  Returns the names they had."""
        had = set()
        with self.db:
            for path, name in names.items():
                row = self.db.execute(
                    "SELECT id, name FROM photos WHERE path = ?", (path,)
                ).fetchone()
                if row is None:
                    continue
                had.add(row[1])
                self.db.execute("UPDATE photos SET name = ? WHERE id = ?", (name, row[0]))
                if name == UNNAMED:
                    self.db.execute("UPDATE faces SET credited = 0 WHERE photo_id = ?", (row[0],))
        return had

    def photo_by_hash(self, sha1: str) -> tuple[int, str, int, int, str] | None:
        """``(id, status, width, height, path)`` of a photo with this content, if any."""
        return self.db.execute(
            "SELECT id, status, width, height, path FROM photos "
            "WHERE sha1 = ? AND status != 'error' LIMIT 1",
            (sha1,),
        ).fetchone()

    def faces_of_photo(self, photo_id: int) -> list[tuple]:
        """A photo's faces as :meth:`write` takes them: box, vectors (dlib's, SFace's), chip."""
        return self.db.execute(
            "SELECT top, right, bottom, left, embedding, sface, chip FROM faces WHERE photo_id = ?",
            (photo_id,),
        ).fetchall()

    def write(self, items: Iterable[tuple[PhotoRecord, list[Face] | list[tuple]]]) -> None:
        """Store photos and their faces in one transaction, replacing any older rows.

        Faces are :class:`Face` objects, or rows copied from :meth:`faces_of_photo`.
        """
        with self.db:
            for record, faces in items:
                self.db.execute("DELETE FROM photos WHERE path = ?", (record.path,))
                cur = self.db.execute(
                    "INSERT INTO photos(path, name, size, mtime_ns, sha1, status, error, width,"
                    " height) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.path,
                        record.name,
                        record.size,
                        record.mtime_ns,
                        record.sha1,
                        record.status,
                        record.error,
                        record.width,
                        record.height,
                    ),
                )
                rows = [_face_row(f) for f in faces]
                self.db.executemany(
                    "INSERT INTO faces(photo_id, top, right, bottom, left, embedding, sface, chip)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(cur.lastrowid, *row) for row in rows],
                )

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new size/mtime for a photo whose content did not change."""
        with self.db:
            self.db.execute(
                "UPDATE photos SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
            )

    def paths_under(self, root: str) -> list[str]:
        prefix = root.rstrip("/") + "/"
        rows = self.db.execute(
            "SELECT path FROM photos WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
        )
        return [r[0] for r in rows]

    def remove(self, paths: Iterable[str]) -> set[str]:
        """Drop photos (and their faces); returns the person names they belonged to."""
        names = set()
        with self.db:
            for path in paths:
                row = self.db.execute(
                    "DELETE FROM photos WHERE path = ? RETURNING name", (path,)
                ).fetchone()
                if row:
                    names.add(row[0])
        return names

    # -- people --------------------------------------------------------------------------
    def faces_of_person(self, name: str) -> list[tuple[int, int, int, np.ndarray]]:
        """``(face_id, photo_id, area, vector)`` for every face in ``name``'s photos but
        those named by hand (whoever they are, they are not to be credited)."""
        rows = self.db.execute(
            "SELECT f.id, f.photo_id, (f.bottom - f.top) * (f.right - f.left), "
            f"{self._vector_columns()} FROM faces f JOIN photos p ON p.id = f.photo_id "
            "JOIN face_names n ON n.face_id = f.id WHERE p.name = ? AND n.hand IS NULL "
            "ORDER BY f.id",
            (name,),
        ).fetchall()
        if not rows:
            return []
        X = self._fuse([r[3] for r in rows], [r[4] for r in rows], self.networks())
        return [(r[0], r[1], r[2], x) for r, x in zip(rows, X, strict=True)]

    def uncredited_names(self) -> list[str]:
        """People with a photo whose faces are all uncredited (crediting was cut short)."""
        rows = self.db.execute(
            "SELECT DISTINCT p.name FROM photos p WHERE p.status = 'ok' AND NOT EXISTS "
            "(SELECT 1 FROM faces f WHERE f.photo_id = p.id AND f.credited)"
        )
        return [r[0] for r in rows]

    def set_credited(self, name: str, face_ids: Iterable[int]) -> None:
        self.set_credited_many({name: face_ids})

    def set_credited_many(self, credited: dict[str, Iterable[int]]) -> None:
        """Each person's credited faces are exactly the given ones: one transaction for all."""
        with self.db:
            for name, face_ids in credited.items():
                self.db.execute(
                    "UPDATE faces SET credited = 0 WHERE credited AND photo_id IN "
                    "(SELECT id FROM photos WHERE name = ?)",
                    (name,),
                )
                self.db.executemany(
                    "UPDATE faces SET credited = 1 WHERE id = ?", [(int(i),) for i in face_ids]
                )

    # -- search --------------------------------------------------------------------------
    def gallery(self) -> Gallery:
        """All faces as arrays for search, memory-mapped from the sidecar files when current.

        Read from SQLite a BLOB a row, a million faces take seconds; the sidecar
        (``<index>.g<generation>.vectors.npy``, the matrix, ``.rows.npy``, ids, people and
        squared norms, and ``.names.npy``, all memory-mapped) is a cache of SQLite that maps
        in milliseconds.  It is never trusted blindly: its generation must be the one SQLite
        records, its shapes and types must check (no pickle), and anything else rebuilds it,
        atomically.  Where the folder is read-only the gallery read from SQLite is used as it
        is.
        """
        generation = self.generation()
        if generation is not None:
            cached = _load_sidecar(self.path, generation, vector_length(self.networks()))
            if cached is not None:
                return cached
        gallery, generation = self._read_gallery()
        gallery.generation = generation
        if generation is not None:
            with suppress(OSError):  # a read-only folder: use the gallery as read
                _save_sidecar(self.path, generation, gallery)
        return gallery

    def generation(self) -> int | None:
        """How many changes the faces have seen (None: an index older than the counter)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else None

    def _read_gallery(self) -> tuple[Gallery, int | None]:
        """The gallery from SQLite, with the generation it is, in one read transaction."""
        snapshot = not self.db.in_transaction
        if snapshot:
            self.db.execute("BEGIN")
        try:
            generation, networks = self.generation(), self.networks()
            n = self.db.execute("SELECT count(*) FROM faces").fetchone()[0]
            X = np.empty((n, vector_length(networks)), "<f4")
            ids, person = np.empty(n, np.int64), np.empty(n, np.int32)
            names: dict[str, int] = {}
            rows = self.db.execute(
                f"SELECT f.id, {self._vector_columns()}, n.name "
                "FROM faces f JOIN face_names n ON n.face_id = f.id ORDER BY f.id"
            )
            done = 0
            # In slices, into arrays made once: a million rows as Python objects is 1 GB.
            while batch := rows.fetchmany(10_000):
                if done + len(batch) > n:
                    raise IndexFileError(f"{self.path} holds faces of photos it does not have")
                part = slice(done, done + len(batch))
                X[part] = self._fuse([r[1] for r in batch], [r[2] for r in batch], networks)
                ids[part] = [r[0] for r in batch]
                person[part] = [
                    -1 if r[3] is None else names.setdefault(r[3], len(names)) for r in batch
                ]
                done += len(batch)
        finally:
            if snapshot:
                self.db.execute("ROLLBACK")
        if done != n:
            raise IndexFileError(f"{self.path} holds faces of photos it does not have")
        sq = np.einsum("ij,ij->i", X, X)
        return Gallery(X=X, face_ids=ids, person=person, names=list(names), sq=sq), generation

    def describe_faces(self, face_ids: Iterable[int]) -> dict[int, dict]:
        """Name, photo path and box of each face id (for showing results)."""
        out = {}
        for fid, name, face_name, path, top, right, bottom, left in self.db.execute(
            "SELECT f.id, p.name, n.name, p.path, f.top, f.right, f.bottom, f.left "
            "FROM faces f JOIN photos p ON p.id = f.photo_id JOIN face_names n ON "
            "n.face_id = f.id WHERE f.id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in face_ids]),),
        ):
            out[fid] = {
                "name": face_name,
                "photo_name": name,
                "path": path,
                "box": [top, right, bottom, left],
            }
        return out

    def chip(self, face_id: int) -> bytes | None:
        row = self.db.execute("SELECT chip FROM faces WHERE id = ?", (face_id,)).fetchone()
        return row[0] if row else None

    def photo_of_face(self, face_id: int) -> tuple[str, str] | None:
        """The path and content hash of the photo holding a face, None for no such face."""
        return self.db.execute(
            "SELECT p.path, p.sha1 FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id = ?",
            (face_id,),
        ).fetchone()

    def person_face_ids(self, name: str) -> list[int]:
        rows = self.db.execute("SELECT face_id FROM face_names WHERE name = ?", (name,))
        return [r[0] for r in rows]

    def photo_faces(self, root: str) -> Iterator[tuple]:
        """``(path, status, width, height, box or None, embedding or None)`` for every photo
        under ``root``, one row per face (a photo without one: one row, no box)."""
        prefix = root.rstrip("/") + "/"
        networks = self.networks()
        rows = self.db.execute(
            "SELECT p.path, p.status, p.width, p.height, f.top, f.right, f.bottom, f.left,"
            f" {self._vector_columns()} FROM photos p LEFT JOIN faces f ON f.photo_id = p.id"
            " WHERE substr(p.path, 1, ?) = ? ORDER BY p.path, f.id",
            (len(prefix), prefix),
        )
        for path, status, width, height, *box, dlib, sface in rows:
            found = dlib is not None
            yield (
                path,
                status,
                width,
                height,
                box if found else None,
                self._fuse([dlib], [sface], networks)[0] if found else None,
            )

    # -- reporting -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Photos, faces (and those credited to someone: the others are unnamed, bystanders or
        photos indexed ``--unnamed``) and people.  People are counted from the gallery (its
        sidecar maps in a fraction of a second at 1M faces), not by ``count(DISTINCT name)``
        over every face's name (13 s at 1M faces); problem photos through their own index."""
        one = self.db.execute
        problems = dict(
            one("SELECT status, count(*) FROM photos WHERE status != 'ok' GROUP BY status")
        )
        gallery = self.gallery()
        return {
            "photos": one("SELECT count(*) FROM photos").fetchone()[0],
            "faces": len(gallery.face_ids),
            "credited_faces": int(np.count_nonzero(gallery.person >= 0)),
            "people": len(gallery.names),
            "photos_without_face": problems.get("noface", 0),
            "unreadable_photos": problems.get("error", 0),
        }

    def people(self) -> list[tuple[str, int, int]]:
        """``(name, faces, photos)`` of each person, by name: the faces credited to them (or
        named theirs by hand) and the photos named after them or holding such a face."""
        return self.db.execute(
            "WITH named AS (SELECT name, photo_id FROM face_names WHERE name IS NOT NULL) "
            "SELECT o.name, c.faces, count(DISTINCT o.photo_id) FROM (SELECT name, id AS "
            "photo_id FROM photos UNION SELECT name, photo_id FROM named) o JOIN (SELECT name, "
            "count(*) AS faces FROM named GROUP BY name) c ON c.name = o.name "
            "GROUP BY o.name ORDER BY o.name"
        ).fetchall()

    def faces_named(self, name: str) -> list[tuple[int, str, list[int], bool]]:
        """``(face_id, photo path, box, named by hand)`` of each face that is ``name``'s."""
        rows = self.db.execute(
            "SELECT f.id, p.path, f.top, f.right, f.bottom, f.left, n.hand IS NOT NULL "
            "FROM face_names n JOIN faces f ON f.id = n.face_id JOIN photos p ON p.id = "
            "f.photo_id WHERE n.name = ? ORDER BY p.path, f.id",
            (name,),
        )
        return [(r[0], r[1], list(r[2:6]), bool(r[6])) for r in rows]

    def crowded_photos(self, root: str) -> list[tuple[str, int, int | None, str | None]]:
        """``(path, faces, credited face id, its name)`` of each photo under ``root`` with
        several faces: which one is its person's (none where nobody is credited)."""
        prefix = root.rstrip("/") + "/"
        return self.db.execute(
            "SELECT p.path, count(*), max(CASE WHEN n.name IS NOT NULL THEN f.id END), "
            "max(n.name) FROM photos p JOIN faces f ON f.photo_id = p.id JOIN face_names n "
            "ON n.face_id = f.id WHERE substr(p.path, 1, ?) = ? GROUP BY p.id "
            "HAVING count(*) > 1 ORDER BY p.path",
            (len(prefix), prefix),
        ).fetchall()

    def problems(self) -> list[tuple[str, str, str | None]]:
        """``(path, status, error)`` for photos without a face or unreadable."""
        return self.db.execute(
            "SELECT path, status, error FROM photos WHERE status != 'ok' ORDER BY path"
        ).fetchall()


def _face_row(face: Face | tuple) -> tuple:
    """A face as the faces table stores it: box, dlib's vector, SFace's (or None), chip."""
    if isinstance(face, Face):
        return (*face.box, *packed_parts(face), face.chip_jpeg())
    return tuple(face)


def packed_parts(face: Face) -> tuple[bytes, bytes | None]:
    """A face's networks' vectors as stored: dlib's, and SFace's where it was made."""
    sface = face.parts.get("sface")
    return pack(face.parts["dlib"]), None if sface is None else pack(sface)


def _matrix(blobs: Sequence[bytes], where: object) -> np.ndarray:
    """Stored vectors as an ``n x 128`` float32 matrix, each checked (:func:`unpack`)."""
    joined = b"".join(blob if isinstance(blob, bytes) else b"" for blob in blobs)
    if len(joined) != len(blobs) * DIM * 4:
        for blob in blobs:
            unpack(blob, where)  # names the size of the first bad one
    return np.frombuffer(joined, dtype="<f4").reshape(len(blobs), DIM)


def _database_error(path: Path, e: sqlite3.DatabaseError) -> str:
    if "disk is full" in str(e):
        return (
            f"cannot write {path}: the disk is full; every batch committed before is "
            "kept: free some space and run the same command to finish"
        )
    if isinstance(e, sqlite3.OperationalError):
        return f"{path}: {e}"
    return f"{path} is damaged ({e}); index your folders again into a new --index"


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise IndexFileError(f"cannot read index {path}: {e.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise IndexFileError(f"{path} is not a lookalike index (not an SQLite file)")


# -- the sidecar: the gallery as memory-mappable files, a cache of SQLite ---------------------
#: A face's row in the sidecar: memory-mapped, so a search reads only the pages it touches.
_ROW = np.dtype([("face_id", "<i8"), ("person", "<i4"), ("sq", "<f4")])
_SIDECAR_SUFFIXES = ("vectors.npy", "rows.npy", "names.npy")


class Names(Sequence[str]):
    """A gallery's people, by code, over a (memory-mapped) array of fixed-width strings: a
    name becomes a Python string only when asked for (10M faces have millions of names)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, code):  # noqa: ANN001  (an int, or a slice as lists take)
        if isinstance(code, slice):
            return [str(n) for n in self.array[code]]
        return str(self.array[code])

    def __iter__(self) -> Iterator[str]:
        return iter(self.array.tolist())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool((self.array == name).any())

    def index(self, name: str, *_: int) -> int:
        found = np.flatnonzero(self.array == name) if isinstance(name, str) else []
        if not len(found):
            raise ValueError(f"{name!r} is not in the gallery")
        return int(found[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def sidecar_paths(index_path: Path, generation: int) -> list[Path]:
    """The search sidecar's files of a generation: vectors, rows, names (:meth:`Index.gallery`)."""
    stem = f"{index_path.name}.g{generation}."
    return [index_path.with_name(stem + suffix) for suffix in _SIDECAR_SUFFIXES]


def _load_sidecar(index_path: Path, generation: int, dim: int) -> Gallery | None:
    """The sidecar of this generation if it exists and every shape and type checks."""
    try:
        X, rows, names = (
            np.asarray(np.load(p, mmap_mode="r", allow_pickle=False))  # plain views
            for p in sidecar_paths(index_path, generation)
        )
    except (OSError, ValueError, EOFError):
        return None
    n = len(X) if X.ndim == 2 else -1
    if (
        X.dtype != np.dtype("<f4")
        or X.shape != (n, dim)
        or not X.flags.c_contiguous
        or rows.dtype != _ROW
        or rows.shape != (n,)
        or names.dtype.kind != "U"
        or names.ndim != 1
        or (n and not -1 <= rows["person"].min() <= rows["person"].max() < len(names))
    ):
        return None
    return Gallery(
        X=X,
        face_ids=rows["face_id"],
        person=rows["person"],
        names=Names(names),
        sq=rows["sq"],
        generation=generation,
    )


def _save_sidecar(index_path: Path, generation: int, gallery: Gallery) -> None:
    """Write this generation's sidecar (each file atomically) and drop older generations."""
    vectors, rows, names = sidecar_paths(index_path, generation)
    table = np.empty(len(gallery.X), _ROW)  # gallery: as read from SQLite (sq computed)
    table["face_id"], table["person"], table["sq"] = gallery.face_ids, gallery.person, gallery.sq
    write_atomically(vectors, lambda f: np.save(f, np.ascontiguousarray(gallery.X, "<f4")))
    write_atomically(rows, lambda f: np.save(f, table))
    write_atomically(names, lambda f: np.save(f, np.array(gallery.names, dtype=str)))
    suffixes = "|".join(re.escape(s) for s in (*_SIDECAR_SUFFIXES, "rows.npz"))
    pattern = re.compile(re.escape(index_path.name) + rf"\.g(\d+)\.({suffixes})")
    for old in index_path.parent.iterdir():
        match = pattern.fullmatch(old.name)
        if match and (int(match[1]) < generation or match[2] == "rows.npz"):  # older format
            old.unlink(missing_ok=True)


def discard(index_path: Path) -> None:
    """Remove an index and every file beside it (its journal, lock and sidecars)."""
    for path in index_path.parent.glob(glob.escape(index_path.name) + "*"):
        if path.name == index_path.name or path.name[len(index_path.name)] in "-.":
            path.unlink(missing_ok=True)


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; it replaces ``path`` when the block ends
    without an error, and is removed in any case (a reader never sees a half-written file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    with replaced_atomically(path) as tmp, open(tmp, "wb") as f:
        write(f)
