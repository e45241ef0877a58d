"""The optional fast build (`make install-fast`: dlib + OpenBLAS in .venv-fast) is a drop-in.

Its embeddings must be interchangeable with dlib-bin's, so one index can be built and queried
by either.  The fast venv is optional: without it these tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, needs_data

FAST_PYTHON = Path(os.environ.get("LOOKALIKE_FAST_PYTHON", ROOT / ".venv-fast" / "bin" / "python"))
PHOTOS = ["obama.jpg", "two_people.jpg"]

# Prints the running dlib and every face's embedding in each photo given, as JSON.
PROBE = """
import json, sys
from lookalike import faces
from lookalike.models import dlibnets
from lookalike.images import load_photo
out = {"dlib": dlibnets.dlib_info(), "faces": {}}
for path in sys.argv[1:]:
    found = faces.detect(load_photo(path), faces.Settings())
    out["faces"][path] = [[list(f.box), f.embedding.tolist()] for f in found]
print(json.dumps(out))
"""

pytestmark = [
    needs_data,
    pytest.mark.slow,
    pytest.mark.skipif(
        not FAST_PYTHON.is_file(),
        reason=f"no fast build at {FAST_PYTHON} (run `make install-fast`)",
    ),
]


def probe(python: Path | str) -> dict:
    paths = [str(EXAMPLES / p) for p in PHOTOS]
    done = subprocess.run(
        [str(python), "-c", PROBE, *paths], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def both() -> tuple[dict, dict]:
    return probe(sys.executable), probe(FAST_PYTHON)


def test_fast_build_is_blas_linked(both):
    default, fast = both
    assert fast["dlib"]["blas"], fast["dlib"]
    assert fast["dlib"]["version"] == default["dlib"]["version"]


def test_fast_build_embeddings_agree_with_default(both):
    default, fast = both
    for path, faces in default["faces"].items():
        assert faces, f"no face found in {path}"
        fast_faces = fast["faces"][path]
        assert [box for box, _ in fast_faces] == [box for box, _ in faces], path
        for (_, a), (_, b) in zip(faces, fast_faces, strict=True):
            assert np.linalg.norm(np.subtract(a, b)) < 1e-5, path
