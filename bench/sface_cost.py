"""What the second network costs a face on one thread: SFace as shipped (its int8 graph,
the unused inputs dropped so that onnxruntime runs it) against the float32 graph lookalike
builds of it (:mod:`lookalike.models.sface`), on real faces, alternating, medians; and the
alignment (landmarks and the 112x112 warp).

    python bench/sface_cost.py [--faces 64] [--rounds 3]       (the end of make bench-sface)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lookalike import align  # noqa: E402
from lookalike.faces import Settings, detect, dlib_only, face_rect  # noqa: E402
from lookalike.images import load_photo  # noqa: E402
from lookalike.models import dlibnets, runtime, sface  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def chips_of(lfw: Path, n: int) -> tuple[list[np.ndarray], float]:
    """SFace's chips of ``n`` LFW faces (the first photo of people spread over LFW), and the
    median ms of the alignment (5-point landmarks and the warp) a face."""
    chips, align_ms = [], []
    for folder in sorted((lfw / "images").iterdir())[:: max(1, 5749 // n)]:
        photo = load_photo(next(folder.iterdir()))
        found = detect(photo, dlib_only(Settings(fallback="none")))
        if not found:
            continue
        started = time.process_time()
        rect = face_rect(photo, found[0].box)
        shape = dlibnets.landmarks("5-point")(photo.pixels, rect)
        chips.append(align.sface_chip(photo.pixels, shape))
        align_ms.append(1000 * (time.process_time() - started))
        if len(chips) == n:
            break
    return chips, statistics.median(align_ms)


def per_face(session, chips: list[np.ndarray], batch: int) -> float:
    """CPU ms a face for ``session`` over ``chips``, ``batch`` at a time."""
    x = np.stack(chips).transpose(0, 3, 1, 2).astype(np.float32)
    session.run(None, {"data": x[:batch]})  # warm
    started = time.process_time()
    for i in range(0, len(x), batch):
        session.run(None, {"data": x[i : i + batch]})
    return 1000 * (time.process_time() - started) / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--faces", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["LOOKALIKE_ONNX_THREADS"] = "1"
    chips, align_ms = chips_of(args.lfw, args.faces)
    shipped = runtime.new_session(sface.shipped(sface.weights_file()).SerializeToString())
    converted = sface._session()
    out = {"faces": len(chips), "align_ms": round(align_ms, 2)}
    for batch in (1, 8):
        times = {"shipped": [], "converted": []}
        for r in range(args.rounds):
            order = ("shipped", "converted") if r % 2 == 0 else ("converted", "shipped")
            for name in order:
                session = shipped if name == "shipped" else converted
                times[name].append(per_face(session, chips, batch))
        ms = {k: statistics.median(v) for k, v in times.items()}
        out[f"batch {batch}"] = {
            "shipped_ms": round(ms["shipped"], 2),
            "converted_ms": round(ms["converted"], 2),
            "ratio": round(ms["shipped"] / ms["converted"], 2),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
