"""Interruptions and concurrency, with real signals sent to a real `lookalike index` process.

A folder of 40 real photos (8 per person of celebs5) is indexed once without interruption
as the reference; every interrupted, killed or disturbed run must end, once re-run, in an
index equal to it: same photos, statuses, boxes, embeddings and credited faces.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import robustness_kit as kit
from conftest import CELEBS, EXAMPLES, needs_data
from robustness_kit import assert_one_line_error, lookalike

from lookalike.index import Index

pytestmark = needs_data
PER_PERSON = 8
#: How the interrupted runs index: ``best`` (about 4x the CPU of ``default`` a photo), so that
#: a run still lasts seconds after its first commit with the onnx encoder (with ``default``
#: the 40 photos took about a second, and a signal sent on the first commit sometimes found
#: the run over).
RUN = ("--jobs", "2", "--quality", "best")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """40 real photos, 8 per person, copied into a folder of their own."""
    folder = tmp_path_factory.mktemp("interrupts") / "gallery"
    for person in sorted((CELEBS / "gallery").iterdir()):
        (folder / person.name).mkdir(parents=True)
        for photo in sorted(person.iterdir())[:PER_PERSON]:
            shutil.copyfile(photo, folder / person.name / photo.name)
    return folder


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory) -> dict:
    """What an uninterrupted run puts in the index."""
    index = tmp_path_factory.mktemp("reference") / "index.db"
    result = lookalike("index", photos, "--index", index, *RUN)
    assert result.returncode == 0, result.stderr
    return kit.rows(index)


def start_index(photos: Path, index: Path) -> subprocess.Popen:
    return kit.popen("index", photos, "--index", index, *RUN, "--json")


def committed(index: Path) -> int:
    """Photos committed so far (0 while the file or its tables do not exist yet)."""
    try:
        db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT count(*) FROM photos").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_for_first_batch(proc: subprocess.Popen, index: Path) -> int:
    """Block until the run has committed a batch; fail if it ended before."""
    while (n := committed(index)) == 0:
        if proc.poll() is not None:
            pytest.fail(f"index ended before its first batch: {proc.communicate()}")
        time.sleep(0.02)
    return n


def wait_group_gone(pgid: int) -> bool:
    """True once no process of the run's group (workers included) is left."""
    for _ in range(100):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def finish(photos: Path, index: Path) -> dict:
    result = lookalike("index", photos, "--index", index, *RUN, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["folders"][0]


def assert_consistent(index: Path) -> None:
    """The index opens, passes SQLite's integrity check, and every 'ok' photo has a face."""
    data = kit.info(index)
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    held = kit.rows(index)
    assert data["photos"] == len(held)
    assert all(row["faces"] for row in held.values() if row["status"] == "ok")


@pytest.mark.parametrize("name, whole_group", [("SIGINT", True), ("SIGTERM", False)])
def test_signal_stops_keeps_batches_and_rerun_finishes(
    photos, reference, tmp_path, name, whole_group
):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or `kill` (SIGTERM
    to the main process only): a message, exit 1, committed batches kept."""
    index = tmp_path / "index.db"
    proc = start_index(photos, index)
    wait_for_first_batch(proc, index)
    (os.killpg if whole_group else os.kill)(proc.pid, getattr(signal, name))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "interrupted: every committed batch is kept; run the same command to finish" in err
    summary = json.loads(out)["folders"][0]
    assert summary["interrupted"] and summary["removed"] == 0
    assert wait_group_gone(proc.pid), "workers left running"
    kept = committed(index)
    assert 0 < kept == summary["encoded"]
    assert_consistent(index)
    rerun = finish(photos, index)
    assert rerun["unchanged"] == kept and rerun["encoded"] == len(reference) - kept
    kit.same_content(kit.rows(index), reference)


def test_kill_9_leaves_an_index_that_opens(photos, reference, tmp_path):
    index = tmp_path / "index.db"
    proc = start_index(photos, index)
    wait_for_first_batch(proc, index)
    proc.kill()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert wait_group_gone(proc.pid), "workers outlived their parent"
    assert "Traceback" not in err  # no orphaned worker dying on a broken pipe
    kept = committed(index)
    assert_consistent(index)
    rerun = finish(photos, index)
    assert rerun["unchanged"] == kept
    kit.same_content(kit.rows(index), reference)  # crediting cut short is redone


def test_second_index_refuses_and_match_reads_while_index_runs(photos, reference, tmp_path):
    index = tmp_path / "index.db"
    proc = start_index(photos, index)
    wait_for_first_batch(proc, index)
    second = lookalike("index", photos, "--index", index, *RUN)
    matches = [
        lookalike("match", EXAMPLES / "obama.jpg", "--index", index, "--json", "--faces")
        for _ in range(3)
    ]
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert_one_line_error(second, "another `lookalike index` is writing", str(index))
    for m in matches:  # consistent snapshots: every face listed is a face that was committed
        assert m.returncode == 0, m.stderr
        for found in json.loads(m.stdout)["matches"]:
            assert found["photo"] in reference
    kit.same_content(kit.rows(index), reference)
    assert finish(photos, index)["encoded"] == 0  # the lock is free again


def test_match_ranks_and_describes_one_snapshot(good_index, tmp_path):
    """Faces ranked by one read are described by the next even if an index run removes them."""
    index = tmp_path / "index.db"
    shutil.copyfile(good_index, index)
    with Index.open(index) as reader, reader.snapshot():
        gallery = reader.gallery()
        with Index.open(index) as writer, writer.writer():
            writer.remove(writer.paths_under(str(good_index.parent / "few")))
        described = reader.describe_faces(gallery.face_ids)
    assert len(described) == len(gallery.face_ids) > 0
    assert kit.info(index)["faces"] == 0


# -- index files that are not what they should be ---------------------------------------------
def make_bad_index(kind: str, path: Path, good: Path) -> None:
    if kind == "random bytes":
        path.write_bytes(random.Random(4).randbytes(64 * 1024))
    elif kind == "another SQLite database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE songs (title TEXT)")
        db.execute("INSERT INTO songs VALUES ('Tiny Dancer')")
        db.commit()
        db.close()
    elif kind in META_EDITS:
        shutil.copyfile(good, path)
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value = ? WHERE key = ?", META_EDITS[kind])
        db.commit()
        db.close()
    elif kind == "damaged pages":
        data = bytearray(good.read_bytes())
        rng = random.Random(5)
        for i in range(len(data) // 2, len(data)):
            data[i] = rng.randrange(256)
        path.write_bytes(bytes(data))


META_EDITS = {
    "a newer format": ("99", "format_version"),
    "a broken format version": ("x1", "format_version"),
    "settings from elsewhere": ('{"evil": 1}', "settings"),
}
BAD_INDEXES = {
    "random bytes": "not a lookalike index",
    "another SQLite database": "not a lookalike index",
    "a newer format": "newer lookalike",
    "a broken format version": "broken format version",
    "settings from elsewhere": "cannot read",
    "damaged pages": "damaged",
}


@pytest.fixture(scope="module")
def good_index(photos, tmp_path_factory) -> Path:
    """A small real index, closed (its WAL folded into the one file)."""
    index = tmp_path_factory.mktemp("good") / "index.db"
    folder = index.parent / "few"
    shutil.copytree(photos / "madonna", folder / "madonna")
    finish(folder, index)
    assert not index.with_name("index.db-wal").exists()
    return index


@pytest.mark.parametrize("kind", BAD_INDEXES)
def test_bad_index_file_is_named_never_overwritten(kind, good_index, photos, tmp_path):
    index = tmp_path / "index.db"
    make_bad_index(kind, index, good_index)
    before = hashlib.sha256(index.read_bytes()).hexdigest()
    commands = [("info",), ("match", EXAMPLES / "obama.jpg"), ("index", photos / "madonna")]
    for command in commands:
        result = lookalike(*command, "--index", index)
        assert_one_line_error(result, str(index), BAD_INDEXES[kind])
        if kind != "damaged pages" or command[0] != "index":
            assert hashlib.sha256(index.read_bytes()).hexdigest() == before, command


# -- a full disk -----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (root only); unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({made.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A file taking all of ``disk``'s free space but ``leave`` bytes."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize - leave))
    return filler


def test_disk_full_is_a_clear_error_and_keeps_committed_batches(small_disk, photos, reference):
    """A disk that fills up mid-run: one line, and the index as of its last commit."""
    index = small_disk / "index.db"
    first = finish(photos / "madonna", index)["encoded"]
    filler = fill(small_disk, leave=64 * 1024)
    result = lookalike("index", photos, "--index", index, *RUN)
    assert_one_line_error(result, str(index), "disk is full", "run the same command")
    kept = committed(index)
    assert first <= kept < len(reference)
    assert_consistent(index)
    filler.unlink()
    rerun = finish(photos, index)
    assert rerun["unchanged"] == kept
    kit.same_content(kit.rows(index), reference)


def test_wrong_sized_embedding_is_refused_not_read(good_index, photos, tmp_path):
    """Embeddings are raw float32 of a checked size: a 4-byte one is an error naming the file."""
    index = tmp_path / "index.db"
    shutil.copyfile(good_index, index)
    db = sqlite3.connect(index)
    db.execute("UPDATE faces SET embedding = x'0000803f' WHERE id = (SELECT min(id) FROM faces)")
    db.commit()
    db.close()
    for command in (("match", EXAMPLES / "obama.jpg"), ("index", photos / "madonna")):
        assert_one_line_error(lookalike(*command, "--index", index), str(index), "corrupt")
