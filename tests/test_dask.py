"""Indexing on a Dask cluster: a real LocalCluster, and a scheduler and workers started with
Dask's own commands, on 127.0.0.1.  Every run must end in the index a local ``--jobs 2`` run
makes of the same folder (same photos, statuses, boxes, embeddings and credited faces)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import robustness_kit as kit
from conftest import CELEBS, EXAMPLES, LFW, needs_data
from robustness_kit import lookalike
from test_interrupts import wait_for_first_batch
from test_robustness import make_corpus

from lookalike.distributor import DaskCluster
from lookalike.encoding import Job, encode_file
from lookalike.faces import Settings
from lookalike.images import DEFAULT_MAX_PIXELS as MAX_PIXELS
from lookalike.index import path_key, unpack

distributed = pytest.importorskip("distributed")
pytestmark = needs_data
DASK = str(Path(sys.executable).with_name("dask"))
PHOTOS = ["obama.jpg", "biden.jpg", "two_people.jpg", "alex-lacamoire.png"]


def index_rows(folder: Path, index: Path, *args: str) -> dict:
    result = lookalike("index", folder, "--index", index, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return kit.rows(index)


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """A handful of example photos, a photo without a face and a truncated one."""
    folder = tmp_path_factory.mktemp("cluster") / "examples"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copyfile(EXAMPLES / name, folder / name)
    kit.save_no_face(folder / "suit.jpg")
    kit.save_truncated(folder / "truncated.jpg")
    return folder


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("send", [(), ("--send-photos",)], ids=["shared-paths", "send-photos"])
def test_local_cluster_equals_local_run(examples, local_cluster, tmp_path, send):
    local = index_rows(examples, tmp_path / "local.db", "--jobs", "2")
    remote = index_rows(examples, tmp_path / "cluster.db", "--cluster", local_cluster, *send)
    kit.same_content(local, remote)
    assert remote[path_key(str(examples / "truncated.jpg"))]["status"] == "error"
    again = lookalike("index", examples, "--index", tmp_path / "cluster.db", "--json")
    assert '"encoded": 0' in again.stdout, again.stderr  # incremental as ever


def test_odd_files_sent_to_the_cluster_read_as_locally(local_cluster, tmp_path):
    """test_robustness's folder of odd files (empty, truncated, a bomb, a symlink loop, every
    pixel mode, EXIF rotations, a non-UTF-8 name...), sent as bytes: every status and reason
    as a local run gives them."""
    make_corpus(tmp_path / "odd")
    local = index_rows(tmp_path / "odd", tmp_path / "local.db", "--jobs", "2")
    sent = index_rows(
        tmp_path / "odd", tmp_path / "sent.db", "--cluster", local_cluster, "--send-photos"
    )
    kit.same_content(local, sent)
    assert {p: r["error"] for p, r in sent.items()} == {p: r["error"] for p, r in local.items()}


def test_a_task_that_raises_fails_its_photo_alone(local_cluster):
    """Photos go out in chunks; a chunk whose task raises (a photo that made the encoder
    fail: here a job with no path, which no folder gives) is tried again a photo a task, so
    that only that photo is unreadable and its neighbours are encoded as locally."""
    photos = sorted((LFW / "images").glob("*/*.jpg"))[:23]
    jobs = [Job(str(p), str(p), p.parent.name, p.stat().st_size, 0) for p in photos]
    broken = Job(None, "broken", "nobody", 0, 0)  # type: ignore[arg-type]
    todo = [*jobs[:11], broken, *jobs[11:]]
    settings = Settings()
    with DaskCluster(local_cluster) as cluster:
        assert len(next(cluster._chunks(todo))) > 1  # the broken job shares a task
        results = {r.job.key: r for r in cluster.results(todo, settings, MAX_PIXELS)}
    assert len(results) == len(todo)
    assert results["broken"].status == "error"
    assert results["broken"].error.startswith("failed on the cluster (TypeError")
    for job in jobs[9:14]:  # the broken job's neighbours, encoded as a local run encodes them
        here = encode_file(Job(job.path, job.key, job.name, job.size, 0), settings, MAX_PIXELS)
        there = results[job.key]
        assert there.status == here.status
        assert [f[:4] for f in there.faces] == [tuple(f.box) for f in here.faces]
        for remote, local in zip(there.faces, here.faces, strict=True):
            assert np.allclose(unpack(remote[4]), local.parts["dlib"], atol=1e-5)
            assert np.allclose(unpack(remote[5]), local.parts["sface"], atol=1e-5)


def test_cluster_from_the_environment(examples, local_cluster, tmp_path):
    env = {**os.environ, "LOOKALIKE_CLUSTER": local_cluster}
    result = lookalike("index", examples, "--index", tmp_path / "i.db", "--jobs", "2", env=env)
    kit.assert_one_line_error(result, "--jobs sets local processes")


def test_unreachable_scheduler_is_one_line(examples, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    result = lookalike("index", examples, "--index", tmp_path / "i.db", "--cluster", address)
    kit.assert_one_line_error(result, "cannot reach the Dask scheduler at " + address)


def test_send_photos_needs_a_cluster(examples, tmp_path):
    result = lookalike("index", examples, "--index", tmp_path / "i.db", "--send-photos")
    kit.assert_one_line_error(result, "--send-photos", "--cluster")


# -- a scheduler and workers as separate processes -------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str) -> subprocess.Popen:
    """A Dask command in a session of its own (its whole group is killed at the end)."""
    return subprocess.Popen(
        [DASK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def dask_processes() -> Iterator[tuple[str, subprocess.Popen, list[subprocess.Popen]]]:
    """`dask scheduler` and two `dask worker --nthreads 1`; each stops by itself once idle
    or alone for two minutes, and all are killed at the end."""
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    procs = [
        start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--no-dashboard",
            "--idle-timeout",
            "120",
        )
    ]
    try:
        worker = [
            "worker",
            address,
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--death-timeout",
            "120",
        ]
        procs += [start(*worker, "--name", f"w{n}") for n in range(2)]
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs[0], procs[1:]
    finally:
        for proc in procs:
            kill(proc)


def busy_worker(client: distributed.Client) -> int:
    """The number of a worker (named wN) that holds a photo's task right now."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
        for address, tasks in client.processing().items():
            if tasks:
                return int(names[address][1:])
        time.sleep(0.05)
    pytest.fail("no worker was given a photo")


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    """10 celebs5 gallery photos, 2 per person: a run that lasts a few seconds."""
    folder = tmp_path_factory.mktemp("cluster") / "gallery"
    for person in sorted((CELEBS / "gallery").iterdir()):
        (folder / person.name).mkdir(parents=True)
        for photo in sorted(person.iterdir())[:2]:
            shutil.copyfile(photo, folder / person.name / photo.name)
    return folder


@pytest.fixture(scope="module")
def gallery_local(gallery, tmp_path_factory) -> dict:
    return index_rows(gallery, tmp_path_factory.mktemp("local") / "local.db", "--jobs", "2")


def test_killed_worker_is_retried(gallery, gallery_local, dask_processes, tmp_path):
    """A worker killed (nanny and all) with a photo's task on it, once the first batch is
    committed: its tasks go to the other worker, and the run ends as a local run does."""
    address, _, workers = dask_processes
    index = tmp_path / "index.db"
    proc = kit.popen("index", gallery, "--index", index, "--cluster", address)
    try:
        with distributed.Client(address, timeout=60) as client:
            wait_for_first_batch(proc, index)
            kill(workers[busy_worker(client)])
        out, err = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    kit.same_content(gallery_local, kit.rows(index))


def test_lost_scheduler_stops_like_ctrl_c(gallery, gallery_local, dask_processes, tmp_path):
    """The scheduler killed mid-run: one line, exit 1, what is committed kept; the same
    command on a local pool finishes the job."""
    address, scheduler, _ = dask_processes
    index = tmp_path / "index.db"
    proc = kit.popen("index", gallery, "--index", index, "--cluster", address)
    try:
        wait_for_first_batch(proc, index)
        kill(scheduler)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"Error: the Dask scheduler at {address} went away: every committed batch is kept; "
        "run the same command to finish"
    )
    assert all(row["status"] != "error" for row in kit.rows(index).values())
    kit.same_content(gallery_local, index_rows(gallery, index, "--jobs", "2"))


@pytest.fixture(scope="module")
def lfw_photos(tmp_path_factory) -> Path:
    """The first 100 LFW photos (by person), indexed ``--quality best`` below: a run that
    lasts seconds after its first commit (the 10 photos of ``gallery``, or these with
    ``default``, were sometimes done before the signal sent on the first commit arrived)."""
    folder = tmp_path_factory.mktemp("cluster") / "lfw"
    photos = sorted((LFW / "images").glob("*/*.jpg"))[:100]
    for photo in photos:
        (folder / photo.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, folder / photo.parent.name / photo.name)
    return folder


def test_ctrl_c_on_a_cluster_run(lfw_photos, local_cluster, tmp_path):
    """Ctrl-C (SIGINT to the command's process group): as in a local run, and the same
    command finishes the job."""
    index = tmp_path / "index.db"
    command = ("index", lfw_photos, "--index", index, "--quality", "best")
    command += ("--cluster", local_cluster)
    proc = kit.popen(*command)
    try:
        wait_for_first_batch(proc, index)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("Error: interrupted: every committed batch")
    local = index_rows(lfw_photos, tmp_path / "local.db", "--jobs", "2", "--quality", "best")
    kit.same_content(local, index_rows(lfw_photos, index, "--cluster", local_cluster))


def test_shards_of_the_approximate_index_are_built_on_the_workers(
    examples, local_cluster, tmp_path, monkeypatch
):
    """The workers build the shards' graphs and send them back; this process, the index's
    only writer, writes them: the same search as a local build."""
    from lookalike import ann, api, shards
    from lookalike.index import Index

    monkeypatch.setattr(ann, "THRESHOLD", 2)  # the examples' few faces count as many
    monkeypatch.setattr(shards, "SPAN", 2)
    monkeypatch.setattr(shards, "_build_task", None)  # no shard is built in this process
    db = tmp_path / "cluster.db"
    api.index(examples, db, cluster=local_cluster)
    with Index.open(db) as idx:
        gallery = idx.gallery()
        planned = shards.plan(gallery)
        assert len(planned) >= 2
        assert all(shards.load(db, s) is not None for s in planned)  # built, sound
        graph = ann.open_graph(db, gallery, build=False)
        assert not len(graph.exact)
        for row in range(len(gallery.X)):
            q = gallery.X[row]
            assert graph.rank(q, 3, False) == api.rank(gallery, q, 3, False)
