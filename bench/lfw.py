"""Accuracy on LFW through lookalike's own indexer: verification and identification.

Verification, the standard protocol: View 2 (``pairs.txt``) is 10 folds of 300 same-person
and 300 different-person pairs; each fold is scored at the threshold that is best on the
other 9, and the result is the mean ± standard deviation over the folds.  ``--view dev``
scores View 1 instead: the threshold is chosen on ``pairsDevTrain.txt`` and checked on
``pairsDevTest.txt``; options and tolerances are chosen there, never on View 2.

Identification: the first photo of each of LFW's 5,749 people is the gallery; up to 3 other
photos of each person who has them are the probes.  Rank-1 (rank-5): the probe's own person
is the nearest (among the 5 nearest) in the gallery.  ``--view dev`` identifies within View
1's photos instead, to tune on: each person's lowest-numbered photo there is the gallery.

Calibrated verification (``l2+cohort``): each pair's L2 distance calibrated as ``distance``
and ``match`` calibrate their verdicts (:mod:`lookalike.cohort`), against the built-in LFW
gallery made with the same settings less every person of the fold scored (View 1: of the
pairs file scored), so that no pair meets its own people, or those of the pairs it is
scored with, in the cohort: the other folds are the training data the protocol allows.
``l2+whole`` calibrates against the whole gallery, the fold's people and the very photos
compared included, as the command line does for a user who is in LFW.

Each photo's face is the one nearest the photo's centre (LFW centres the person named;
``--choose largest`` takes the largest instead).  A photo in which no face is found is an
error in every pair and probe it is in, never skipped.

Photos are encoded by ``lookalike index`` (:func:`lookalike.api.index`) into one index per
settings in ``--cache``, so a rerun encodes nothing.  Each view indexes only the photos it
uses (10,172 of LFW's 13,233 for View 2 and identification), through a folder of links; a
photo already indexed under another path is reused by its content hash, not encoded again.

    python bench/lfw.py --lfw ../shared/data/lfw                  # View 2 + identification
    python bench/lfw.py --lfw ../shared/data/lfw --view dev --mirror
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lookalike import api, search
from lookalike.cohort import best_threshold
from lookalike.faces import QUALITY, TOLERANCE, Settings, as_now
from lookalike.gallery import BuiltinGallery, packaged
from lookalike.index import Index
from lookalike.lfw import (
    DEFAULT_CACHE,
    Pair,
    PhotoFaces,
    cached_index,
    nearest_centre,
    photo,
    photo_faces,
    read_pairs,
)
from lookalike.models.dlibnets import dlib_info

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("l2", "l1", "cosine")
PROBES_PER_PERSON = 3


def lfw_photos(lfw: Path) -> set[str]:
    """Every photo of LFW, as ``lfw-names.txt`` counts them."""
    photos = set()
    for line in (lfw / "lfw-names.txt").read_text().split("\n"):
        if line.strip():
            name, count = line.split()
            photos |= {photo(name, str(n)) for n in range(1, int(count) + 1)}
    return photos


def identification_sets(photos: set[str]) -> tuple[list[str], list[str]]:
    """Gallery (each person's lowest-numbered photo) and probes (up to 3 others of theirs).

    Over all of LFW: 5,749 people, 3,191 probes.  Over View 1's photos, to tune on: 3,095
    people, 1,749 probes."""
    by_person: dict[str, list[str]] = {}
    for rel in sorted(photos):
        by_person.setdefault(rel.split("/")[0], []).append(rel)
    gallery = [shots[0] for shots in by_person.values()]
    probes = [rel for shots in by_person.values() for rel in shots[1 : 1 + PROBES_PER_PERSON]]
    return gallery, probes


# -- encoding -------------------------------------------------------------------------------
def link_folder(lfw: Path, photos: set[str], cache: Path, label: str) -> Path:
    """A folder of links to just these photos, laid out as LFW's images/ is."""
    root = cache / f"links-{label}"
    for rel in photos:
        link = root / rel
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((lfw / "images" / rel).resolve())
    return root


def seed(db: Path, settings: Settings, sources: list[Path]) -> Path | None:
    """Start a missing index from another one made with the same settings, or with no
    fallback: the fallback changes nothing where the detector found a face, so the copy's
    photos without a face are dropped and only they are encoded again.  Returns the source."""
    without_fallback = dataclasses.replace(settings, fallback="none")
    for source in sources:
        if source == db or not source.exists():
            continue
        with Index.open(source) as src:
            made = src.settings()
            if made not in (settings, without_fallback):
                continue
            with sqlite3.connect(db) as copy:
                src.db.backup(copy)
        with Index.open(db) as idx:
            idx.set_settings(settings, dlib_info())
            idx.remove(path for path, status, _ in idx.problems() if status == "noface")
        return source
    return None


def encode(
    root: Path,
    settings: Settings,
    cache: Path,
    jobs: int | None,
    choose: Callable = nearest_centre,
    seeds: tuple[Path, ...] = (),
) -> dict:
    """Index ``root`` with ``settings`` (incrementally); faces per photo and encoding time."""
    db = cached_index(cache, settings)
    log = db.with_suffix(".runs.json")
    runs = json.loads(log.read_text()) if log.exists() else []
    if not db.exists() and (source := seed(db, settings, [*seeds, *cache.glob("lfw-*.db")])):
        runs.append({"seeded_from": str(source)})
    summary = api.index(root, db, settings, jobs, progress=True)
    if summary.encoded:
        runs.append(
            {
                "root": str(root),
                "encoded": summary.encoded,
                "seconds": round(summary.seconds, 1),
                "jobs": jobs or os.cpu_count(),
            }
        )
    log.write_text(json.dumps(runs, indent=1))
    with Index.open(db) as idx:
        found = photo_faces(idx, root, choose)
    encoded = sum(r.get("encoded", 0) for r in runs)
    seconds = sum(r.get("seconds", 0) for r in runs)
    return {
        "db": str(db),
        "faces": found,
        "encoded": encoded,
        "seconds": seconds,
        "now_encoded": summary.encoded,
        "seeded_from": next((r["seeded_from"] for r in runs if "seeded_from" in r), None),
    }


def cpu_cost(photos: list[Path], settings: Settings) -> float:
    """CPU seconds a photo for :func:`lookalike.api.encode` in this process (models loaded
    first): a cost that other work on the machine does not inflate the way it does wall time."""
    api.encode(photos[0], settings)
    started = time.process_time()
    for path in photos:
        api.encode(path, settings)
    return (time.process_time() - started) / len(photos)


def largest(boxes: list[list[int]], width: int, height: int) -> int:
    """Index of the largest box (face_recognition's habit), for comparison with the centred."""

    def area(box: list[int]) -> int:
        top, right, bottom, left = box
        return (bottom - top) * (right - left)

    return max(range(len(boxes)), key=lambda i: area(boxes[i]))


# -- scoring --------------------------------------------------------------------------------
def pair_distances(
    pairs: list[Pair], faces: dict[str, PhotoFaces], metric: str, dtype: type = np.float32
) -> np.ndarray:
    """Distance of each pair; NaN where a photo has no face (always an error)."""
    d = np.full(len(pairs), np.nan)
    for i, p in enumerate(pairs):
        fa, fb = faces[p.a], faces[p.b]
        if fa.embedding is not None and fb.embedding is not None:
            a, b = (np.asarray(f.embedding, dtype).astype(np.float32) for f in (fa, fb))
            d[i] = search.distance(a, b, metric)
    return d


def calibrated_distances(
    pairs: list[Pair], faces: dict[str, PhotoFaces], gallery: BuiltinGallery, whole: bool = False
) -> np.ndarray:
    """L2 of each pair calibrated against a cohort (:mod:`lookalike.cohort`): the LFW
    gallery less every person of the pair's fold (View 1: of its file), so that no pair is
    calibrated against its own people or any other of the pairs scored with it; with
    ``whole``, the whole gallery, as ``distance`` and ``match`` calibrate.  NaN as
    :func:`pair_distances`."""
    d = pair_distances(pairs, faces, "l2")
    out = np.full(len(pairs), np.nan)
    for fold in sorted({p.fold for p in pairs}):
        rows = [i for i, p in enumerate(pairs) if p.fold == fold and not np.isnan(d[i])]
        people = () if whole else {x.split("/")[0] for i in rows for x in (pairs[i].a, pairs[i].b)}
        cohort = gallery.cohort(without=people)
        photos = sorted({x for i in rows for x in (pairs[i].a, pairs[i].b)})
        found = cohort.nearness(np.stack([faces[x].embedding for x in photos]))
        near = dict(zip(photos, found, strict=True))
        a, b = ([near[getattr(pairs[i], side)] for i in rows] for side in "ab")
        out[rows] = cohort.calibrate(d[rows], np.array(a), np.array(b))
    return out


def accuracy(d: np.ndarray, same: np.ndarray, t: float) -> float:
    with np.errstate(invalid="ignore"):
        called_same = d <= t
    return float(np.mean(~np.isnan(d) & (called_same == same)))


def ten_fold(d: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[float, float, list]:
    """Mean and std of each fold's accuracy at the threshold best on the other folds."""
    accs, thresholds = [], []
    for f in np.unique(folds):
        train = folds != f
        t = best_threshold(d[train], same[train])
        thresholds.append(t)
        accs.append(accuracy(d[~train], same[~train], t))
    return float(np.mean(accs)), float(np.std(accs)), thresholds


def identify(
    gallery: list[str], probes: list[str], faces: dict[str, PhotoFaces], dtype: type = np.float32
) -> dict:
    """Rank-1 and rank-5 over the probes; a probe or gallery photo without a face misses."""
    person = [rel.split("/")[0] for rel in gallery]
    kept = [i for i, rel in enumerate(gallery) if faces[rel].embedding is not None]
    X = np.stack([faces[gallery[i]].embedding for i in kept]).astype(dtype).astype(np.float32)
    code = {person[i]: n for n, i in enumerate(kept)}
    ranks = []
    for rel in probes:
        own = code.get(rel.split("/")[0])
        f = faces[rel]
        if own is None or f.embedding is None:
            ranks.append(np.inf)
            continue
        d = search.distances(X, np.asarray(f.embedding, dtype).astype(np.float32))
        ranks.append(int(np.sum(d < d[own])) + 1)
    ranks = np.array(ranks)
    return {
        "gallery": len(gallery),
        "probes": len(probes),
        "rank1": float(np.mean(ranks <= 1)),
        "rank5": float(np.mean(ranks <= 5)),
    }


# -- the run --------------------------------------------------------------------------------
def photo_counts(faces: dict[str, PhotoFaces], photos: set[str]) -> dict:
    return {
        "photos": len(photos),
        "no_face": sorted(p for p in photos if faces[p].count == 0),
        "several_faces": sum(faces[p].count > 1 for p in photos),
    }


def verification(
    pairs: list[Pair],
    faces: dict[str, PhotoFaces],
    view: str,
    dtype: type = np.float32,
    cohort: BuiltinGallery | None = None,
) -> dict:
    """Accuracy with each metric; with a ``cohort``, also calibrated L2 (``l2+cohort``,
    and ``l2+whole`` against the whole gallery: see :func:`calibrated_distances`)."""
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    scores = {metric: pair_distances(pairs, faces, metric, dtype) for metric in METRICS}
    if cohort is not None:
        scores["l2+cohort"] = calibrated_distances(pairs, faces, cohort)
        scores["l2+whole"] = calibrated_distances(pairs, faces, cohort, whole=True)
    out = {}
    for metric, d in scores.items():
        if view == "dev":
            train = folds == 0
            t = best_threshold(d[train], same[train])
            out[metric] = {
                "threshold": t,
                "train": accuracy(d[train], same[train], t),
                "test": accuracy(d[~train], same[~train], t),
            }
        else:
            mean, std, ts = ten_fold(d, same, folds)
            out[metric] = {"mean": mean, "std": std, "threshold": float(np.median(ts))}
        if metric.startswith("l2"):  # as the command line judges: at its fixed line
            out[metric]["at_tolerance"] = accuracy(d, same, TOLERANCE)
    return out


def settings_from(args: argparse.Namespace) -> Settings:
    chosen = {
        k: getattr(args, k)
        for k in (
            "detector",
            "upsample",
            "jitters",
            "fallback",
            "mirror",
            "padding",
            "landmarks",
            "networks",
        )
        if getattr(args, k) is not None
    }
    return Settings(**{**QUALITY[args.quality], **chosen})


def cohort_gallery(path: Path | None, settings: Settings) -> BuiltinGallery | None:
    """The gallery to calibrate against: ``path``, else the packaged one made with
    ``settings``; None (no calibrated figures) where neither was made with them (or with what
    their preset was: a gallery made before the preset changed)."""
    path = path or packaged(settings)
    if path is None:
        return None
    gallery = BuiltinGallery(path, settings.networks)
    return gallery if as_now(gallery.settings()) == as_now(settings) else None


def run(args: argparse.Namespace) -> dict:
    lfw, cache = args.lfw, args.cache
    cache.mkdir(parents=True, exist_ok=True)
    settings = settings_from(args)
    if args.view == "dev":
        pairs = read_pairs(lfw / "pairsDevTrain.txt") + [
            dataclasses.replace(p, fold=1) for p in read_pairs(lfw / "pairsDevTest.txt")
        ]
        photos = {x for p in pairs for x in (p.a, p.b)}
        gallery, probes = identification_sets(photos)
    else:
        pairs = read_pairs(lfw / "pairs.txt")
        gallery, probes = identification_sets(lfw_photos(lfw))
        photos = {x for p in pairs for x in (p.a, p.b)} | set(gallery) | set(probes)
    root = link_folder(lfw, photos, cache, "view1" if args.view == "dev" else "view2")
    started = time.monotonic()
    choose = largest if args.choose == "largest" else nearest_centre
    enc = encode(root, settings, cache, args.jobs, choose, tuple(args.seed))
    faces = enc["faces"]
    missing = photos - faces.keys()
    if missing:
        sys.exit(f"{len(missing)} photos of the protocol are not in {root}: {sorted(missing)[:3]}")
    pair_photos = {x for p in pairs for x in (p.a, p.b)}
    cohort = cohort_gallery(args.cohort, settings)
    result = {
        "view": args.view,
        "choose": args.choose,
        "settings": settings.as_dict(),
        "index": enc["db"],
        "encode_seconds": enc["seconds"],
        "encoded": enc["encoded"],
        "seeded_from": enc["seeded_from"],
        "pairs": len(pairs),
        "folds": len({p.fold for p in pairs}),
        **photo_counts(faces, pair_photos),
        "cohort": str(cohort.path) if cohort else None,
        "verification": verification(pairs, faces, args.view, cohort=cohort),
        "verification_float16": verification(pairs, faces, args.view, np.float16),
    }
    result["identification"] = identify(gallery, probes, faces)
    result["identification_float16"] = identify(gallery, probes, faces, np.float16)
    result["identification_photos"] = photo_counts(faces, set(gallery) | set(probes))
    sample = sorted(pair_photos)[: args.cost_photos]
    result["cpu_seconds_a_photo"] = cpu_cost([root / rel for rel in sample], settings)
    result["cost_photos"] = len(sample)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def report(r: dict) -> str:
    s = r["settings"]
    view = (
        "View 1 (threshold on DevTrain, checked on DevTest)"
        if r["view"] == "dev"
        else f"View 2, {r['folds']} folds"
    )
    lines = [
        f"LFW {view}, face: {r['choose']}",
        "settings: "
        + ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("encoder", "shrink")),
        f"photos:   {r['photos']} in {r['pairs']} pairs; no face found in {len(r['no_face'])}, "
        f"several faces in {r['several_faces']}",
        f"encoding: {r['encoded']} photos in {r['encode_seconds']:.0f} s "
        f"({1000 * r['encode_seconds'] / max(r['encoded'], 1):.0f} ms a photo, wall, all jobs)"
        + (f"; the rest copied from {r['seeded_from']}" if r["seeded_from"] else ""),
        f"cost:     {1000 * r['cpu_seconds_a_photo']:.0f} ms CPU a photo "
        f"({r['cost_photos']} photos encoded again in one process)",
    ]
    if r["cohort"]:
        lines.append(f"cohort:   {r['cohort']} (l2+cohort, l2+whole: lookalike.cohort)")
    for name, key in (("float32", "verification"), ("float16", "verification_float16")):
        for metric, v in r[key].items():
            if metric != "l2" and name == "float16":
                continue
            if r["view"] == "dev":
                line = (
                    f"{name} {metric:9s}  threshold {v['threshold']:.4f}: "
                    f"DevTrain {100 * v['train']:.2f}%, DevTest {100 * v['test']:.2f}%"
                )
            else:
                line = (
                    f"{name} {metric:9s}  accuracy {100 * v['mean']:.2f}% "
                    f"± {100 * v['std']:.2f}, {round((1 - v['mean']) * r['pairs'])} errors "
                    f"(median threshold {v['threshold']:.4f})"
                )
            if "at_tolerance" in v:
                line += f"; at {TOLERANCE}: {100 * v['at_tolerance']:.2f}% of all pairs"
            lines.append(line)
    if "identification" in r:
        ip = r["identification_photos"]
        for name, key in (("float32", "identification"), ("float16", "identification_float16")):
            i = r[key]
            lines.append(
                f"{name} identification: {i['probes']} probes, {i['gallery']:,}-person gallery: "
                f"rank-1 {100 * i['rank1']:.2f}%, rank-5 {100 * i['rank5']:.2f}%"
            )
        lines.append(
            f"          identification photos: {ip['photos']}, no face in "
            f"{len(ip['no_face'])}, several faces in {ip['several_faces']}"
        )
    if r["no_face"]:
        lines.append("no face: " + " ".join(r["no_face"][:20]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument("--view", choices=("2", "dev"), default="2")
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="folder for the indexes, one per settings [%(default)s]",
    )
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--choose", choices=("centre", "largest"), default="centre")
    parser.add_argument("--quality", choices=tuple(QUALITY), default="default")
    parser.add_argument("--detector", choices=("hog", "cnn"))
    parser.add_argument("--upsample", type=int)
    parser.add_argument("--jitters", type=int)
    parser.add_argument("--fallback", choices=("none", "hog", "cnn", "hog+cnn"))
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction)
    parser.add_argument("--padding", help="0.25, or several joined by +: 0.25+0.2")
    parser.add_argument("--landmarks", help="5-point, 68-point or 5-point+68-point")
    parser.add_argument("--networks", help="dlib (its network alone), or dlib*W+sface*W")
    parser.add_argument(
        "--seed",
        type=Path,
        action="append",
        default=[],
        help="an index of LFW to start from (copied, never changed) when the "
        "cache has none for these settings; see seed()",
    )
    parser.add_argument(
        "--cost-photos",
        type=int,
        default=100,
        help="photos (the first of the pairs) timed in one process [%(default)s]",
    )
    parser.add_argument(
        "--cohort",
        type=Path,
        help="gallery file to calibrate against [the packaged one made with the settings]",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
