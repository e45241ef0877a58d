"""A real `lookalike serve` for tests: the command itself, on a free port of 127.0.0.1.

It runs under `timeout`, so that a server a crashed test leaves behind stops by itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LIFETIME_S = 600


@contextmanager
def serving(index: Path | None, *args: str, said: list[str] | None = None) -> Iterator[str]:
    """``lookalike serve`` over ``index`` (None: as a new user has it), its URL; stopped on
    leaving.  ``said`` gets what it wrote before it served."""
    where = ["--index", str(index)] if index is not None else []
    command = ["timeout", str(LIFETIME_S), sys.executable, "-m", "lookalike", "serve"]
    server = subprocess.Popen(
        [*command, *where, "--port", "0", *args], stderr=subprocess.PIPE, text=True
    )
    said = [] if said is None else said
    try:
        for line in server.stderr:
            said.append(line)
            found = re.search(r" at (http://\S+:\d+/)", line)
            if found:  # what it says from now on is read aside, so that it never blocks
                threading.Thread(target=said.extend, args=(server.stderr,), daemon=True).start()
                yield found.group(1).rstrip("/")
                return
        raise AssertionError(f"lookalike serve did not start: {''.join(said)}")
    finally:
        server.terminate()
        server.wait(30)
