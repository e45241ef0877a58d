"""What indexing on a Dask cluster costs against the local pool, on this machine.

The first ``--photos`` LFW photos are linked into a temporary folder and indexed into a new
index each round, alternately by ``lookalike index --jobs N`` and by ``lookalike index
--cluster`` with N ``dask worker --nthreads 1`` started afresh for the round (so that both
sides load the models once per worker); the cluster's start-up is not timed, connecting to
it is.  Prints each time, the medians and the overhead; both indexes must hold the same
faces.

    python bench/cluster_overhead.py [--lfw DIR] [--photos 300] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client

from lookalike.index import Index

BIN = Path(sys.executable).parent


def link_photos(lfw: Path, count: int, folder: Path) -> None:
    """The first ``count`` photos of LFW (people in name order), as symlinks by person."""
    people = sorted((lfw / "images").iterdir())
    linked = 0
    for person in people:
        for photo in sorted(person.iterdir()):
            if linked == count:
                return
            (folder / person.name).mkdir(exist_ok=True)
            (folder / person.name / photo.name).symlink_to(photo)
            linked += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker``s, ready."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dask = str(BIN / "dask")
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            start_new_session=True,
            **quiet,
        )
    ]
    worker = [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1"]
    for _ in range(workers):
        procs.append(subprocess.Popen([*worker, "--no-dashboard"], start_new_session=True, **quiet))
    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=60)


def timed_index(folder: Path, index: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "lookalike"), "index", str(folder), "--index", str(index), *args],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def faces(index: Path) -> int:
    with Index.open(index) as idx:
        return idx.counts()["faces"]


def run_cluster(folder: Path, index: Path, workers: int) -> float:
    address, procs = start_cluster(workers)
    try:
        return timed_index(folder, index, "--cluster", address)
    finally:
        stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=Path("../shared/data/lfw"))
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"local": [], "cluster": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        link_photos(args.lfw.resolve(), args.photos, folder)  # links must not be relative
        for n in range(args.rounds):
            for side in ("local", "cluster") if n % 2 == 0 else ("cluster", "local"):
                index = Path(tmp) / f"{side}{n}.db"
                if side == "local":
                    seconds = timed_index(folder, index, "--jobs", str(args.workers))
                else:
                    seconds = run_cluster(folder, index, args.workers)
                times[side].append(seconds)
                print(f"round {n + 1} {side:7s} {seconds:6.1f} s  {faces(index)} faces", flush=True)
    local, cluster = (statistics.median(times[side]) for side in ("local", "cluster"))
    print(
        f"{args.photos} LFW photos, median of {args.rounds}: --jobs {args.workers} {local:.1f} s, "
        f"--cluster ({args.workers} workers) {cluster:.1f} s: {100 * (cluster / local - 1):+.1f}%"
    )


if __name__ == "__main__":
    main()
