"""The second network's choices, made on LFW View 1 only: alignment, colour order, weights.

SFace (:mod:`lookalike.models.sface`) is run on the face of every photo that View 1's pairs
name (``pairsDevTrain.txt`` and ``pairsDevTest.txt``: 4,992 photos), cut at the box each
packaged gallery holds, and compared with dlib's vectors of the same faces (the galleries'):

1. where dlib's five points (eye corners, base of the nose) lie in SFace's chips, on average,
   when the chips are aligned by the 68-point model's eye centres, nose tip and mouth
   corners onto ArcFace's template (:data:`lookalike.align.FIVE_POINT_TEMPLATE`);
2. SFace alone, aligned either way, in RGB or BGR, with its mirror image or not;
3. the weight of SFace's unit vector beside dlib's (one concatenated vector: squared L2 is the
   weighted sum of the two squared distances), against the sum of z-scored distances, for
   ``default`` and ``best``; then the scale that makes 0.6 the plain distance's best line.

Errors are counted on all 3,200 pairs at the line best on them (the calibrated distance:
each face against the gallery less the pairs' people, as the galleries' offsets are chosen);
rank-1: each photo of View 1's people who have two or more, against every other LFW face.
The weights table reads the packaged galleries' SFace vectors (those ``make gallery`` made).

    python bench/sface.py --lfw ../shared/data/lfw      # make bench-sface
"""

from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from lookalike import align
from lookalike.cohort import Cohort, best_threshold
from lookalike.faces import TOLERANCE, face_rect, parts_of
from lookalike.gallery import PACKAGED, BuiltinGallery
from lookalike.images import load_photo
from lookalike.lfw import read_pairs
from lookalike.models import dlibnets, sface

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2)


def view1(lfw: Path) -> list:
    return read_pairs(lfw / "pairsDevTrain.txt") + read_pairs(lfw / "pairsDevTest.txt")


def landmarks(job: tuple[Path, list[int]]) -> tuple[np.ndarray, np.ndarray, list]:
    """A face's two landmark sets (5 and 68 points) and its chips aligned each way."""
    path, box = job
    photo = load_photo(path)
    rect = face_rect(photo, box)
    five = align.points(dlibnets.landmarks("5-point")(photo.pixels, rect))
    many = align.points(dlibnets.landmarks("68-point")(photo.pixels, rect))
    chips = [align.warp(photo.pixels, align.five_of_68(many), sface.ARCFACE)]
    chips.append(align.warp(photo.pixels, five, align.FIVE_POINT_TEMPLATE))
    return five, align.five_of_68(many), chips


def template(fives: np.ndarray, arcface_points: np.ndarray) -> np.ndarray:
    """Where the 5-point model's points land, on average, in chips aligned by the 68."""
    out = []
    for five, points in zip(fives, arcface_points, strict=True):
        s, R, t = align.similarity(points, sface.ARCFACE)
        out.append(s * five @ R.T + t)
    return np.mean(out, axis=0)


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


class Scores:
    """Errors and rank-1 of a face matrix (one row per gallery face) on View 1."""

    def __init__(self, gallery: BuiltinGallery, lfw: Path) -> None:
        self.person = gallery.person
        rows = {gallery._photo(i): i for i in range(len(gallery.X))}
        pairs = view1(lfw)
        self.a = np.array([rows[p.a] for p in pairs])
        self.b = np.array([rows[p.b] for p in pairs])
        self.same = np.array([p.same for p in pairs])
        people = {x.split("/")[0] for p in pairs for x in (p.a, p.b)}
        owner = np.array(gallery.names)[gallery.person]
        self.keep = ~np.isin(owner, list(people))
        count = np.bincount(gallery.person)
        self.probes = np.flatnonzero(~self.keep & (count[gallery.person] >= 2))
        self.photos = np.unique(np.r_[self.a, self.b])

    def errors(self, d: np.ndarray) -> tuple[int, float]:
        t = best_threshold(d, self.same)
        return int(np.sum((d <= t) != self.same)), t

    def plain(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X[self.a] - X[self.b], axis=1)

    def calibrated(self, X: np.ndarray) -> np.ndarray:
        cohort = Cohort.of(X[self.keep], self.person[self.keep])
        near = dict(zip(self.photos, cohort.nearness(X[self.photos]), strict=True))
        a, b = (np.array([near[i] for i in side]) for side in (self.a, self.b))
        return cohort.calibrate(self.plain(X), a, b)

    def rank1(self, X: np.ndarray) -> float:
        X = np.asarray(X, np.float32)
        sq, hits = np.einsum("ij,ij->i", X, X), 0
        for rows in np.array_split(self.probes, max(1, len(self.probes) // 256)):
            d2 = sq[None, :] - 2 * X[rows] @ X.T + sq[rows, None]
            d2[np.arange(len(rows)), rows] = np.inf
            hits += int(np.sum(self.person[d2.argmin(axis=1)] == self.person[rows]))
        return hits / len(self.probes)


def alignments(gallery: BuiltinGallery, scores: Scores, lfw: Path, jobs: int) -> list[str]:
    """SFace alone on View 1's photos, each alignment and colour order; and the template."""
    rows = scores.photos
    work = [(lfw / "images" / gallery._photo(i), gallery.boxes[i].tolist()) for i in rows]
    with Pool(jobs) as pool:
        found = pool.map(landmarks, work, chunksize=32)
    placed = template(np.array([f[0] for f in found]), np.array([f[1] for f in found]))
    out = [f"dlib's five points in SFace's chips: {np.round(placed, 2).tolist()}", ""]
    out += ["| SFace alone | errors | line |", "|---|--:|--:|"]
    variants = {}
    for i, how in enumerate(("68-point", "5-point")):
        chips = [f[2][i] for f in found]
        variants[f"{how}, RGB"] = sface.embed(chips)
        variants[f"{how}, BGR"] = sface.embed([c[:, :, ::-1] for c in chips])
        flipped = sface.embed([np.ascontiguousarray(c[:, ::-1]) for c in chips])
        variants[f"{how}, RGB and mirrored"] = unit(variants[f"{how}, RGB"] + flipped)
    variants["both, RGB"] = unit(variants["68-point, RGB"] + variants["5-point, RGB"])
    for name, v in variants.items():
        M = np.zeros((len(gallery.X), 128), np.float32)
        M[rows] = v
        errors, t = scores.errors(scores.plain(M))
        out.append(f"| {name} | {errors} | {t:.3f} |")
    return out


def weights(gallery: BuiltinGallery, scores: Scores) -> list[str]:
    """The fused vectors at each relative weight of SFace's, against z-scored sums."""
    parts = parts_of(gallery.X, gallery.settings().networks)  # the gallery's own vectors
    D, S = parts["dlib"], parts["sface"]
    out = ["| vectors | errors, plain | errors, calibrated | rank-1 | plain line |"]
    out.append("|---|--:|--:|--:|--:|")
    for name, X in [("dlib", D), ("SFace", S)] + [
        (f"dlib + {w} x SFace", np.hstack([D, w * S])) for w in WEIGHTS
    ]:
        plain, t = scores.errors(scores.plain(X))
        calibrated, _ = scores.errors(scores.calibrated(X))
        rank1 = 100 * scores.rank1(X)
        out.append(f"| {name} | {plain} | {calibrated} | {rank1:.2f}% | {t:.3f} |")
    d, s = scores.plain(D), scores.plain(S)
    for k in (0.3, 0.4, 0.5):
        z = k * (d - d.mean()) / d.std() + (1 - k) * (s - s.mean()) / s.std()
        out.append(f"| z-scored sum, {k} on dlib | {scores.errors(z)[0]} | | | |")
    w = gallery.settings().weights
    fused = np.hstack([D, w["sface"] / w["dlib"] * S])
    line = scores.errors(scores.plain(fused))[1]
    out.append(
        f"\nthe gallery's weights {w}: SFace at {w['sface'] / w['dlib']:.2f} of dlib; "
        f"unscaled line {line:.3f}, so scale {TOLERANCE / line:.3f} (dlib's weight) puts it at 0.6"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    for quality in PACKAGED:
        gallery = BuiltinGallery(ROOT / "src" / "lookalike" / PACKAGED[quality])
        scores = Scores(gallery, args.lfw)
        print(f"\n## {quality}: {len(scores.same)} pairs of View 1, {len(scores.photos)} photos")
        if quality == "default":
            print("\n".join(alignments(gallery, scores, args.lfw, args.jobs)) + "\n")
        print("\n".join(weights(gallery, scores)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
