"""Does a face found by looking harder encode like the one the index's detector finds?

Where a query photo shows no face to the index's own detector, ``match`` and ``distance``
look again (:func:`lookalike.faces.harder_looks`: HOG upsampled, then the CNN detector) and
encode what they find with the index's settings.  That is fair only if such a face encodes
as the same face found by the index's detector would: this script runs each harder look on
LFW photos where the index's detector does find a face, pairs the faces by their boxes
(:func:`agreement.pair_faces`) and reports the L2 between the two encodings of each face,
against the agreement the project asks of its own faces and face_recognition's
(``agreement.MAX_DISTANCE``).

    python bench/look_harder.py --lfw ../shared/data/lfw --photos 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agreement import MAX_DISTANCE, compare  # noqa: E402

from lookalike.faces import QUALITY, Settings, detect, harder_looks  # noqa: E402
from lookalike.images import load_photo  # noqa: E402


def faces_of(photo, settings: Settings) -> list[dict]:
    return [{"box": list(f.box), "encoding": f.embedding} for f in detect(photo, settings)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw", default="../shared/data/lfw", help="LFW folder (holds images/)")
    ap.add_argument("--photos", type=int, default=200, help="every n-th LFW photo, this many")
    ap.add_argument("--quality", choices=list(QUALITY), default="default")
    args = ap.parse_args()
    settings = Settings(**QUALITY[args.quality])
    paths = sorted((Path(args.lfw) / "images").glob("*/*.jpg"))
    paths = paths[:: max(1, len(paths) // args.photos)][: args.photos]
    own: dict[str, list[dict]] = {}
    harder: dict[str, dict[str, list[dict]]] = {how: {} for how, _ in harder_looks(settings)}
    seconds = dict.fromkeys(harder, 0.0)
    for path in paths:
        photo = load_photo(path, detect_side=settings.shrink, resample=settings.resample)
        own[path.name] = faces_of(photo, settings)
        for how, looks in harder_looks(settings):
            start = time.perf_counter()
            harder[how][path.name] = faces_of(photo, looks)
            seconds[how] += time.perf_counter() - start
    print(f"{len(paths)} LFW photos, --quality {args.quality}: each face the index's detector")
    print("finds, encoded again where a harder look finds it (L2 between the two encodings)")
    heads = ("faces", "median", "p95", "max", "<= 0.1", "s/photo")
    print(f"{'look':<22} " + " ".join(f"{h:>7}" for h in heads))
    for how, found in harder.items():
        a = compare(own, found)
        d = np.array(a.distances)
        within = int((d <= MAX_DISTANCE).sum())
        print(
            f"{how:<22} {a.common:>3}/{a.cli_faces:<3} {np.median(d):7.4f} "
            f"{np.percentile(d, 95):7.4f} {d.max():7.4f} {within:>4}/{len(d):<3} "
            f"{seconds[how] / len(paths):8.2f}"
        )


if __name__ == "__main__":
    main()
