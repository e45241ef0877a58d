"""`make bench-serve`: how fast `lookalike serve` answers a photo, against `lookalike match`.

Issue 34's target: with the models loaded once, a warm ``POST /api/match`` of a 1080p photo
against the built-in gallery answers in under 0.5 s.  Measured in one run, on one machine:
- ``lookalike match PHOTO --json`` from interpreter start to exit (what a script pays a
  photo without the server), ``--rounds`` times;
- the server's first answer (the networks load) and ``--requests`` warm answers one after
  another, median and 95th percentile;
- ``--concurrent`` requests at once: all answered, the wall time of the lot.
The ratio is the one to read (absolute times drift 10-30% here).

    python bench/serve.py                      # obama-1080p.jpg, 20 warm requests
    python bench/serve.py --requests 50 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--photo", default="examples/obama-1080p.jpg")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--concurrent", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    photo = args.data / args.photo
    with tempfile.TemporaryDirectory() as home:
        # no index of one's own: the built-in gallery answers, as for a new user
        env = {**os.environ, "XDG_DATA_HOME": home, "LOOKALIKE_INDEX": ""}
        cli = [_timed_cli(photo, env) for _ in range(args.rounds)]
        with _server(env) as url:
            first = _timed_post(url, photo)
            warm = sorted(_timed_post(url, photo) for _ in range(args.requests))
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrent) as pool:
                answered = list(pool.map(lambda _: _post(url, photo), range(args.concurrent)))
            together = time.perf_counter() - start
    names = {a["matches"][0]["name"] for a in answered}
    median = statistics.median(warm)
    p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
    cli_median = statistics.median(cli)
    print(f"photo: {args.photo} against the built-in gallery ({os.cpu_count()} cores)")
    print(f"lookalike match --json, start to exit    median {cli_median:.3f} s ({args.rounds})")
    print(f"serve: first answer (networks load)      {first:.3f} s")
    print(f"serve: warm answers                      median {median:.3f} s, p95 {p95:.3f} s")
    print(f"  {cli_median / median:.1f}x faster than the command a photo; target < 0.5 s")
    at_once = f"serve: {args.concurrent} at once"
    print(
        f"{at_once:<41}all answered in {together:.2f} s ({together / args.concurrent:.3f} s "
        f"each), first match {sorted(names)}"
    )


def _timed_cli(photo: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lookalike", "match", str(photo), "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


class _server:
    """``lookalike serve`` on a free port, stopped on leaving."""

    def __init__(self, env: dict):
        self.env = env

    def __enter__(self) -> str:
        command = [sys.executable, "-m", "lookalike", "serve", "--port", "0"]
        self.proc = subprocess.Popen(command, env=self.env, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            found = re.search(r" at (http://\S+:\d+)/", line)
            if found:
                return found.group(1)
        raise SystemExit("lookalike serve did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _post(url: str, photo: Path) -> dict:
    boundary = "bench-serve"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{photo.name}"'
            f"\r\n\r\n"
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}/api/match", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def _timed_post(url: str, photo: Path) -> float:
    start = time.perf_counter()
    _post(url, photo)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
