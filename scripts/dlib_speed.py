"""How fast is the dlib this interpreter runs: HOG detection and one face encoding.

Run it under each venv's python to compare builds (README, "Fast encoder")::

    .venv/bin/python scripts/dlib_speed.py
    .venv-fast/bin/python scripts/dlib_speed.py

Prints one JSON line: the dlib (version, BLAS), the median milliseconds of HOG detection on
a 720p photo (upsample 1) and of encoding one aligned face chip (1 jitter), over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import dlib

from lookalike import faces
from lookalike.images import load_photo
from lookalike.models import dlibnets

PHOTO = Path(__file__).resolve().parents[1].parent / "shared/data/examples/obama-720p.jpg"


def median_ms(call, runs: int) -> float:
    call()  # warm-up: lazy model loads, BLAS thread start
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    pixels = load_photo(args.photo).pixels
    detector = dlib.get_frontal_face_detector()
    rect = max(detector(pixels, 1), key=lambda r: r.area())
    shape = dlibnets.landmarks("5-point")(pixels, rect)
    chip = dlib.get_face_chip(pixels, shape, size=faces.CHIP_SIZE, padding=faces.CHIP_PADDING)
    encoder = dlibnets.encoder()
    print(
        json.dumps(
            {
                "dlib": dlibnets.dlib_info(),
                "photo": args.photo.name,
                "hog_ms": median_ms(lambda: detector(pixels, 1), args.runs),
                "encode_ms": median_ms(lambda: encoder.compute_face_descriptor(chip, 1), args.runs),
                "runs": args.runs,
            }
        )
    )


if __name__ == "__main__":
    main()
