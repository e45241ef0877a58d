"""dlib's CNN face detector with its network on onnxruntime against dlib itself, on one core.

The photos: one each of ``--photos`` LFW people spread over the alphabet, each shrunk as the
CNN fallback shrinks them (at most 320 px).  Speed: CPU milliseconds a photo for each
engine, and for dlib's HOG detector (``hog``: the detector of ``--quality default``, upsample
0) as the baseline the CNN would replace, ``--rounds`` runs alternating, the median run.
Parity: photos where the boxes are the same, and the largest difference of confidence.
Prints JSON on stdout.

    python bench/cnn_onnx.py [--lfw DIR] [--photos 200] [--time-photos 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, as an indexing worker

import numpy as np  # noqa: E402
from measure import alternate  # noqa: E402

from lookalike import cnn, encoder, faces  # noqa: E402
from lookalike.images import load_photo, shrink  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def lfw_photos(lfw: Path, count: int) -> list[Path]:
    people = sorted((lfw / "images").iterdir())
    return [sorted(p.glob("*.jpg"))[0] for p in people[:: max(1, len(people) // count)][:count]]


def dlib_boxes(pixels: np.ndarray) -> list[tuple]:
    found = faces._cnn_detector()(pixels, 0)
    return [
        ((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), d.confidence)
        for d in found
    ]


def hog_boxes(pixels: np.ndarray) -> list:
    return list(faces._hog_detector()(pixels, 0))


def onnx_boxes(pixels: np.ndarray) -> list[tuple]:
    return [(d.rect, d.confidence) for d in cnn.detect(pixels)]


def ms_per_photo(detect, images: list[np.ndarray]) -> float:
    started = time.process_time()
    for image in images:
        detect(image)
    return 1000 * (time.process_time() - started) / len(images)


def parity(images: list[np.ndarray]) -> dict:
    same, faces_found, gap = 0, 0, 0.0
    for image in images:
        theirs, ours = dlib_boxes(image), onnx_boxes(image)
        faces_found += len(theirs)
        if [r for r, _ in theirs] == [r for r, _ in ours]:
            same += 1
            gap = max([gap] + [abs(a[1] - b[1]) for a, b in zip(theirs, ours, strict=True)])
    return {
        "photos": len(images),
        "dlib_faces": faces_found,
        "same_boxes": same,
        "max_conf_gap": gap,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--photos", type=int, default=200, help="LFW photos for parity")
    parser.add_argument("--time-photos", type=int, default=20, help="photos timed a run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = lfw_photos(args.lfw, max(args.photos, args.time_photos))
    images = [shrink(load_photo(p).pixels, faces.FALLBACK_SIDE)[0] for p in paths]
    timed = images[: args.time_photos]
    engines = {"dlib": dlib_boxes, "onnx": onnx_boxes, "hog": hog_boxes}
    for detect in engines.values():
        detect(timed[0])  # warm up: models loaded, session built
    timers = {name: partial(ms_per_photo, detect, timed) for name, detect in engines.items()}
    result = {
        "threads": encoder.threads(),
        "photo_shape": list(timed[0].shape),
        "ms_per_photo": alternate(timers, args.rounds),
        "parity": parity(images),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
