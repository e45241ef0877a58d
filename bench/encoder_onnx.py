"""dlib's face encoder on onnxruntime against dlib itself: speed on one core, and parity.

Speed: CPU milliseconds a face, single-threaded, for dlib (``compute_face_descriptor``, one
chip a call) and onnxruntime in batches of 1 and of 8, on the same real chips; each engine
timed ``--rounds`` times, alternating, and the median run reported.  Parity: the L2 distance
between the two engines' encodings of every face found in ``--photos`` LFW photos (one photo
each of people spread over the alphabet), max and median.  Prints JSON on stdout.

    python bench/encoder_onnx.py [--lfw DIR] [--photos 1000] [--time-faces 64] [--rounds 3]

(``--photos`` is raised to ``--time-faces`` where smaller.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, as an indexing worker
os.environ["LOOKALIKE_ENGINE"] = "onnx"  # cut the chips fast; each engine is called directly

import numpy as np  # noqa: E402
from measure import alternate  # noqa: E402

from lookalike import faces  # noqa: E402
from lookalike.images import load_photo  # noqa: E402
from lookalike.models import dlibnets, encoder, runtime  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def lfw_photos(lfw: Path, count: int) -> list[Path]:
    """The first photo of ``count`` people spread evenly over LFW's alphabetical list."""
    people = sorted((lfw / "images").iterdir())
    step = max(1, len(people) // count)
    return [sorted(p.glob("*.jpg"))[0] for p in people[::step][:count]]


def chips_of(photos: list[Path]) -> list[np.ndarray]:
    settings = faces.Settings()
    return [face.chip for p in photos for face in faces.detect(load_photo(p), settings)]


def ms_per_face(encode, chips: list[np.ndarray], batch: int) -> float:
    started = time.process_time()
    for i in range(0, len(chips), batch):
        encode(chips[i : i + batch])
    return 1000 * (time.process_time() - started) / len(chips)


def timings(chips: list[np.ndarray], rounds: int) -> dict[str, dict]:
    """Each engine's ms a face, ``rounds`` runs alternating: the runs and their median."""
    dlib_encoder = dlibnets.encoder()
    engines = {
        "dlib": (lambda cs: [dlib_encoder.compute_face_descriptor(c) for c in cs], 1),
        "onnx batch 1": (encoder.embed, 1),
        "onnx batch 8": (encoder.embed, 8),
    }
    for encode, batch in engines.values():
        encode(chips[:batch])  # warm up: models loaded, session built
    timers = {name: partial(ms_per_face, e, chips, b) for name, (e, b) in engines.items()}
    return alternate(timers, rounds)


def parity(chips: list[np.ndarray]) -> dict:
    dlib_encoder = dlibnets.encoder()
    ours = np.concatenate([encoder.embed(chips[i : i + 8]) for i in range(0, len(chips), 8)])
    theirs = np.array([dlib_encoder.compute_face_descriptor(c) for c in chips], np.float32)
    gaps = np.linalg.norm(ours - theirs, axis=1)
    return {"faces": len(chips), "max": float(gaps.max()), "median": float(np.median(gaps))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--photos", type=int, default=1000, help="LFW photos cut for parity")
    parser.add_argument("--time-faces", type=int, default=64, help="faces timed a run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count = max(args.photos, args.time_faces)
    chips = chips_of(lfw_photos(args.lfw, count))
    print(f"{len(chips)} faces in {count} LFW photos", file=sys.stderr)
    result = {
        "threads": runtime.threads(),
        "ms_per_face": timings(chips[: args.time_faces], args.rounds),
        "parity": parity(chips),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
