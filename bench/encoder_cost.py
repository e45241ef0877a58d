"""What one face encoding costs on one core, in CPU milliseconds (median), as JSON on stdout.

The chips come from real photos; only the encoder is timed (``faces.embed`` of one chip, with
the engine that runs by default: onnxruntime, or dlib's ``compute_face_descriptor``), the
part of indexing no pool, shrink or cache makes cheaper.

    python bench/encoder_cost.py PHOTO... [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import time

# one core, as each indexing worker encodes: a BLAS build would otherwise run several
# threads, and their CPU time would all be counted (set before dlib loads its BLAS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lookalike import faces  # noqa: E402
from lookalike.faces import Settings, detect  # noqa: E402
from lookalike.images import load_photo  # noqa: E402
from lookalike.models import runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    chips = [f.chip for p in args.photos for f in detect(load_photo(p), settings)]
    faces.embed(chips[:1], settings)  # the model loaded (and built once) before timing
    times = []
    for _ in range(args.repeat):
        for chip in chips:
            started = time.process_time()
            faces.embed([chip], settings)
            times.append(time.process_time() - started)
    print(
        json.dumps(
            {
                "ms_per_face": 1000 * float(np.median(times)),
                "samples": len(times),
                "engine": runtime.engine(),
            }
        )
    )


if __name__ == "__main__":
    main()
