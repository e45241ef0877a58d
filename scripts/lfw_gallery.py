"""Build a built-in gallery (src/lookalike/data/lfw-gallery*.npz) from an LFW folder.

    python scripts/lfw_gallery.py ../shared/data/lfw                   # lfw-gallery.npz
    python scripts/lfw_gallery.py ../shared/data/lfw --quality best    # lfw-gallery-best.npz

LFW is indexed with the ``--quality`` preset's settings into an index in ``--cache`` (reused:
a rerun encodes nothing), then one face per photo (the one nearest the centre, where LFW puts
the person named) is written with the person's name and the photo's file name.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from lookalike.faces import QUALITY, Settings
from lookalike.gallery import PACKAGED
from lookalike.lfw import DEFAULT_CACHE, build, cached_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lfw", type=Path, help="LFW folder (holding images/<person>/*.jpg)")
    parser.add_argument("--out", type=Path, help="gallery file [default: the packaged one]")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="folder for the LFW index [%(default)s]"
    )
    parser.add_argument("--jobs", type=int, help="worker processes [default: all cores]")
    parser.add_argument("--quality", choices=tuple(PACKAGED), default="default")
    args = parser.parse_args(argv)
    out = args.out or Path(str(resources.files("lookalike"))) / PACKAGED[args.quality]
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings(**QUALITY[args.quality])
    index = cached_index(args.cache, settings)
    n = build(args.lfw / "images", out, index, settings, args.lfw / "pairsDevTrain.txt", args.jobs)
    print(f"{out}: {n} photos, {out.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
