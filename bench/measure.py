"""Run a command and measure it: wall time (interpreter start included), peak memory, CPU.

Peak memory is the largest sum of resident set sizes over the command's whole process tree
(a pool's workers included), sampled every ``POLL_SECONDS``.  Summing RSS counts pages that
forked workers share with their parent once per process, so it errs on the high side.  A
worker's peak is the largest resident set of any one process the command started.
CPU time is summed over the same tree (each process's last sample: it misses at most a
poll's worth a process); unlike wall time it hardly moves with what else the machine runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

POLL_SECONDS = 0.02
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    seconds: float
    peak_bytes: int
    cpu_seconds: float
    stdout: str
    stderr: str
    returncode: int
    worker_peak_bytes: int = 0  # the largest resident set of one child process


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass  # the process is gone
    return kids


def _sample(pid: int) -> tuple[int, float]:
    """Resident bytes and CPU seconds (user + system) of one process; zeros once it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0, 0.0


def sample_tree(pid: int, cpu: dict[int, float], peaks: dict[int, int] | None = None) -> int:
    """Resident bytes of ``pid`` and all its descendants; records each one's CPU in ``cpu``
    and its largest resident set in ``peaks``."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        rss, seconds = _sample(p)
        total += rss
        cpu[p] = max(cpu.get(p, 0.0), seconds)
        if peaks is not None:
            peaks[p] = max(peaks.get(p, 0), rss)
        todo += _children(p)
    return total


def run(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` to the end, sampling its memory; raises if it fails."""
    started = time.perf_counter()
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    ) as proc:
        # Output is read on threads so that a chatty command never blocks on a full pipe.
        out: dict[str, str] = {}
        readers = [
            threading.Thread(target=lambda k=k, s=s: out.__setitem__(k, s.read()))
            for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for reader in readers:
            reader.start()
        peak, cpu, peaks = 0, {}, {}
        while proc.poll() is None:
            peak = max(peak, sample_tree(proc.pid, cpu, peaks))
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        for reader in readers:
            reader.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{out['stderr'][-2000:]}")
    worker = max((v for p, v in peaks.items() if p != proc.pid), default=0)
    return Run(
        seconds, peak, sum(cpu.values()), out["stdout"], out["stderr"], proc.returncode, worker
    )


def alternate(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, dict]:
    """Call each timer once a round, the order flipped every other round (as ``make bench``
    does), so that the other work sharing the machine weighs on each alike: each one's
    results in order, and their median."""
    runs: dict[str, list[float]] = {name: [] for name in timers}
    names = list(timers)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            runs[name].append(timers[name]())
    return {name: {"median": statistics.median(r), "runs": r} for name, r in runs.items()}
