"""dlib's CNN face detector with its network on onnxruntime against dlib itself, on one core.

The photos: one each of ``--photos`` LFW people spread over the alphabet, each shrunk as the
CNN fallback shrinks them (at most 320 px).  Speed: CPU milliseconds a photo for each
engine, and for dlib's HOG detector (``hog``: the detector of ``--quality default``, upsample
0) as the baseline the CNN would replace, ``--rounds`` runs alternating, the median run.
Parity, on those photos and on the web photos (``--web``, shrunk as a harder look at a query
shrinks them): photos where dlib and onnx find as many faces, where every box is within 2 px
and where the boxes are the same, and the largest differences.  Prints JSON on stdout.

    python bench/cnn_onnx.py [--lfw DIR] [--photos 200] [--time-photos 20] [--rounds 3]
                             [--web DIR ...] [--web-side 800]
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

from lookalike import faces  # noqa: E402
from lookalike.images import load_photo, shrink  # noqa: E402
from lookalike.models import cnn, dlibnets, runtime  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def lfw_photos(lfw: Path, count: int) -> list[Path]:
    people = sorted((lfw / "images").iterdir())
    return [sorted(p.glob("*.jpg"))[0] for p in people[:: max(1, len(people) // count)][:count]]


def dlib_boxes(pixels: np.ndarray) -> list[tuple]:
    found = dlibnets.cnn_detector()(pixels, 0)
    return [
        ((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), d.confidence)
        for d in found
    ]


def hog_boxes(pixels: np.ndarray) -> list:
    return list(dlibnets.hog_detector()(pixels, 0))


def onnx_boxes(pixels: np.ndarray) -> list[tuple]:
    return [(d.rect, d.confidence) for d in cnn.detect(pixels)]


def ms_per_photo(detect, images: list[np.ndarray]) -> float:
    started = time.process_time()
    for image in images:
        detect(image)
    return 1000 * (time.process_time() - started) / len(images)


def parity(images: list[np.ndarray]) -> dict:
    """dlib's boxes against ours: the same count, each box within 2 px, confidences."""
    counted, near, same, faces_found, box_gap, conf_gap = 0, 0, 0, 0, 0, 0.0
    for image in images:
        theirs, ours = sorted(dlib_boxes(image)), sorted(onnx_boxes(image))
        faces_found += len(theirs)
        if len(theirs) != len(ours):
            continue
        counted += 1
        gaps = [
            max(abs(a - b) for a, b in zip(t, o, strict=True))
            for (t, _), (o, _) in zip(theirs, ours, strict=True)
        ]
        near += max(gaps, default=0) <= 2
        same += max(gaps, default=0) == 0
        box_gap = max([box_gap, *gaps])
        conf_gap = max([conf_gap] + [abs(t[1] - o[1]) for t, o in zip(theirs, ours, strict=True)])
    return {
        "photos": len(images),
        "dlib_faces": faces_found,
        "same_count": counted,
        "boxes_within_2px": near,
        "same_boxes": same,
        "max_box_gap_px": box_gap,
        "max_conf_gap": conf_gap,
    }


def web_photos(folders: list[Path], side: int) -> list[np.ndarray]:
    """Every photo under ``folders``, shrunk to ``side`` as a harder look shrinks them."""
    paths = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())
    return [shrink(load_photo(p).pixels, side)[0] for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=DATA / "lfw")
    parser.add_argument("--photos", type=int, default=200, help="LFW photos for parity")
    parser.add_argument("--time-photos", type=int, default=20, help="photos timed a run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--web",
        type=Path,
        nargs="*",
        default=[DATA / "celebs5" / "gallery", DATA / "photos"],
        help="folders of web photos for parity too, shrunk to --web-side (none: LFW only)",
    )
    parser.add_argument("--web-side", type=int, default=faces.HARDER_CNN_SIDE)
    args = parser.parse_args()
    paths = lfw_photos(args.lfw, max(args.photos, args.time_photos))
    images = [shrink(load_photo(p).pixels, faces.FALLBACK_SIDE)[0] for p in paths]
    timed = images[: args.time_photos]
    engines = {"dlib": dlib_boxes, "onnx": onnx_boxes, "hog": hog_boxes}
    for detect in engines.values():
        detect(timed[0])  # warm up: models loaded, session built
    timers = {name: partial(ms_per_photo, detect, timed) for name, detect in engines.items()}
    result = {
        "threads": runtime.threads(),
        "photo_shape": list(timed[0].shape),
        "ms_per_photo": alternate(timers, args.rounds),
        "parity": parity(images),
        "web_parity": parity(web_photos(args.web, args.web_side)) if args.web else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
