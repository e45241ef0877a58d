"""Open-set identification on LFW: is the nearest person of a match the same person?

``match`` ranks the people of a gallery by L2 and says of the first whether it is the same
person (:func:`lookalike.verdict.same_person`).  A user's photo is usually of someone who is
not in the gallery at all, so the verdict must hold in an open set: against 5,749 people
nearly every face has a stranger within the old line (calibrated distance 0.6).

Protocol.  Probes: every photo of every person with at least 2 photos (9,164 photos of 1,680
people), the people split into 10 folds at random (seed 0).  Each probe is matched twice
against the packaged gallery: less the probe photo itself (the person *present*: their other
photos remain) and less every photo of the probe's person (*absent*).  The two nearest people
by L2 are kept, with their distances calibrated (:mod:`lookalike.cohort`) against a cohort of
the gallery less every person of the probe's fold (``cohort``: no probe meets its own person
in the cohort, as ``l2+cohort`` in ``bench/lfw.py``; a stranger to LFW meets the command
line's cohort so), and against the whole gallery, the probe's own photos included, as the
command line calibrates a photo of someone in LFW (``whole``).  Smaller galleries, as a
user's own index is, are simulated by a random subset of N people for each probe: the
probe's person and N - 1 others (present) or N others (absent); the cohort stays LFW, as in
the command line.

Measures, for the top-1 person only (the only one a verdict can call the same person):

- FAR, false-alarm rate: share of absent probes whose top-1 is called the same person
  (the goal: at most 2%);
- DIR, detection-and-identification rate: share of present probes whose top-1 is their own
  person AND called the same person;
- wrong: share of present probes whose top-1 is another person yet called the same.

The rule's parameters are chosen on the probes of View 1's people (those named in
``pairsDevTrain.txt`` and ``pairsDevTest.txt``, ``--choose``) and reported on the others.

    python bench/openset.py --lfw ../shared/data/lfw             # the report (make bench-openset)
    python bench/openset.py --lfw ../shared/data/lfw --choose    # the grid the rule came from
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike import api, verdict
from lookalike import cohort as cohortlib
from lookalike.faces import TOLERANCE
from lookalike.gallery import PACKAGED, BuiltinGallery, read_pairs

ROOT = Path(__file__).resolve().parents[1]
FOLDS = 10
#: Gallery sizes simulated, in people; None is the whole gallery (5,749 people).
SIZES = (None, 1000, 100, 10, 5)
_CHUNK = 512


@dataclass
class PersonDistances:
    """For each face of a gallery, its L2 distance to the nearest face of each person (its
    own photo left out) and which face that is."""

    d: np.ndarray  # float32[faces, people]
    face: np.ndarray  # int32[faces, people]


def person_distances(X: np.ndarray, person: np.ndarray) -> PersonDistances:
    """:class:`PersonDistances` of the faces ``X`` (one person's faces in consecutive rows)."""
    n = len(X)
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    sq = np.einsum("ij,ij->i", X, X)
    d = np.empty((n, len(starts)), np.float32)
    face = np.empty((n, len(starts)), np.int32)
    cols = np.arange(n)
    for i in range(0, n, _CHUNK):
        rows = np.arange(i, min(i + _CHUNK, n))
        d2 = sq[None, :] - 2.0 * (X[rows] @ X.T) + sq[rows, None]
        d2[rows - i, rows] = np.inf  # not the photo itself
        best = np.minimum.reduceat(d2, starts, axis=1)
        hit = np.where(d2 <= best[:, person], cols, n)
        face[rows] = np.minimum.reduceat(hit, starts, axis=1)
        d[rows] = np.sqrt(np.maximum(best, 0))
    return PersonDistances(d, face)


def nearness(pd: PersonDistances, person: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Each face's :meth:`~lookalike.cohort.Cohort.nearness` against the gallery's people
    ``keep`` (a mask), each face itself included where its person is kept, as a cohort
    holding it would: the same figures, from :class:`PersonDistances` at a fraction of the
    cost (checked in :func:`calibrations`)."""
    near = pd.d[:, keep]
    own = np.cumsum(keep) - 1  # the column of each kept person
    kept = keep[person]
    near[np.flatnonzero(kept), own[person[kept]]] = 0.0
    last = min(cohortlib.SKIP + cohortlib.NEAREST, near.shape[1])
    nearest = np.sort(np.partition(near, last - 1, axis=1)[:, :last], axis=1)
    return nearest[:, cohortlib.SKIP :].mean(axis=1)


@dataclass
class Probes:
    """The probes of a gallery: their rows, persons, folds, and whether View 1 names them."""

    rows: np.ndarray
    person: np.ndarray
    fold: np.ndarray
    dev: np.ndarray


def probes_of(gallery: BuiltinGallery, dev_people: set[str]) -> Probes:
    """Every photo of every person with 2 photos or more, the people in :data:`FOLDS`
    random folds (seed 0)."""
    count = np.bincount(gallery.person, minlength=len(gallery.names))
    rows = np.flatnonzero(count[gallery.person] >= 2)
    fold_of = np.random.default_rng(0).permutation(len(gallery.names)) % FOLDS
    person = gallery.person[rows]
    dev = np.isin(np.array(gallery.names)[person], list(dev_people))
    return Probes(rows, person, fold_of[person], dev)


@dataclass
class Calibration:
    """Nearness of every gallery face against each fold's cohort and the whole gallery."""

    near: np.ndarray  # float[FOLDS, faces]
    shift: np.ndarray  # float[FOLDS]: the cohort's typical nearness + the gallery's offset
    whole_near: np.ndarray  # float[faces]
    whole_shift: float


def calibrations(gallery: BuiltinGallery, pd: PersonDistances, probes: Probes) -> Calibration:
    """:class:`Calibration` of every face; :func:`nearness` is checked against
    :meth:`~lookalike.cohort.Cohort.nearness` on a few faces of each cohort."""
    people = len(gallery.names)
    near, shift = np.empty((FOLDS, len(gallery.X))), np.empty(FOLDS)
    sample = probes.rows[:: len(probes.rows) // 16]
    for f in range(FOLDS):
        out = np.unique(probes.person[probes.fold == f])
        cohort = gallery.cohort(without=[gallery.names[p] for p in out])
        near[f] = nearness(pd, gallery.person, ~np.isin(np.arange(people), out))
        shift[f] = cohort.typical + cohort.offset
        if not np.allclose(near[f][sample], cohort.nearness(gallery.X[sample]), atol=1e-4):
            sys.exit(f"fold {f}: nearness differs from lookalike.cohort's")
    whole = gallery.cohort()
    return Calibration(
        near,
        shift,
        nearness(pd, gallery.person, np.ones(people, bool)),
        whole.typical + whole.offset,
    )


@dataclass
class Top:
    """The two nearest people of each probe in one gallery: the verdict distances of each
    (L2, calibrated against the fold's cohort and against the whole gallery), and whether
    the first is the probe's own person."""

    people: int
    right: np.ndarray  # bool[probes]
    l2: np.ndarray  # float[probes, 2]
    cohort: np.ndarray  # float[probes, 2]
    whole: np.ndarray  # float[probes, 2]


def candidates(
    pd: PersonDistances, probes: Probes, size: int | None, present: bool, seed: int
) -> tuple[np.ndarray, int]:
    """L2 of each probe to each person in its gallery (inf for those not in it) and the
    gallery's size in people: all people, or the probe's person and ``size`` - 1 random
    others (present), or ``size`` random others (absent)."""
    d = pd.d[probes.rows]  # a copy
    own = (np.arange(len(d)), probes.person)
    if size is not None:
        keys = np.random.default_rng(seed).random(d.shape, np.float32)
        keys[own] = -1.0 if present else 2.0
        d[keys > np.partition(keys, size - 1, axis=1)[:, size - 1 : size]] = np.inf
    if not present:
        d[own] = np.inf
    people = size if size is not None else d.shape[1] - (not present)
    return d, people


def top_two(
    pd: PersonDistances, probes: Probes, cal: Calibration, size: int | None, present: bool
) -> Top:
    """:class:`Top` of the probes in a gallery of ``size`` people (None: all)."""
    d, people = candidates(pd, probes, size, present, seed=(size or 0) * 2 + present)
    first2 = np.argpartition(d, 1, axis=1)[:, :2]
    l2 = np.take_along_axis(d, first2, axis=1)
    order = np.argsort(l2, axis=1)
    first2, l2 = np.take_along_axis(first2, order, axis=1), np.take_along_axis(l2, order, axis=1)
    face = pd.face[probes.rows[:, None], first2]
    f = probes.fold[:, None]
    q = probes.rows[:, None]
    fold = l2 - (cal.near[f, q] + cal.near[f, face]) / 2 + cal.shift[f]
    whole = l2 - (cal.whole_near[q] + cal.whole_near[face]) / 2 + cal.whole_shift
    return Top(people, first2[:, 0] == probes.person, l2, fold, whole)


# -- the rules and their figures ------------------------------------------------------------
def old_rule(first: np.ndarray, people: int) -> np.ndarray:
    """The verdict before: a top-1 within the pairwise line is the same person."""
    return first <= TOLERANCE


def new_rule(first: np.ndarray, people: int, calibrated: bool = True) -> np.ndarray:
    """:func:`lookalike.verdict.same_person`, over many probes."""
    return np.maximum(first, 0) <= verdict.same_person_line(people, calibrated)


def l2_rule(first: np.ndarray, people: int) -> np.ndarray:
    """:func:`lookalike.verdict.same_person` of plain L2 distances (no cohort)."""
    return new_rule(first, people, calibrated=False)


Rule = Callable[[np.ndarray, int], np.ndarray]


def rates(present: Top, absent: Top, kind: str, rule: Rule, mask: np.ndarray) -> dict:
    """FAR, DIR and wrong (see the module) of ``rule`` on the probes ``mask``, with the
    verdict distance ``kind`` (l2, cohort or whole)."""
    called_p = rule(getattr(present, kind)[mask, 0], present.people)
    called_a = rule(getattr(absent, kind)[mask, 0], absent.people)
    right = present.right[mask]
    return {
        "far": float(np.mean(called_a)),
        "dir": float(np.mean(right & called_p)),
        "wrong": float(np.mean(~right & called_p)),
        "rank1": float(np.mean(right)),
    }


def fit_line(
    tops: list[dict], mask: np.ndarray, target: float, kind: str = "cohort"
) -> tuple[float, float]:
    """(LINE_AT_ONE, LINE_PER_DECADE) for the probes ``mask`` and the verdict distance
    ``kind``: at each gallery size, the line that lets through ``target`` of the top-1
    strangers (the stricter of the galleries), a straight line in log10(people) through
    them, lowered until it holds at every size."""
    lines = np.array(
        [
            min(np.quantile(getattr(top[s, False], kind)[mask, 0], target) for top in tops)
            for s in SIZES
        ]
    )
    logn = np.log10([tops[0][s, False].people for s in SIZES])
    slope = np.polyfit(logn, lines, 1)[0]
    return float(np.min(lines - slope * logn)), float(-slope)


def held_out_far(tops: list[dict], probes: Probes, target: float) -> float:
    """The FAR of lines fitted on 9 folds of View 1's people and applied to the 10th, at the
    worst gallery and size of each fold: the median over the folds.  A group of people the
    line was not fitted on (a fold: about 136 people) meets it at more than ``target``."""
    worst = []
    for f in range(FOLDS):
        fit = probes.dev & (probes.fold != f)
        test = probes.dev & (probes.fold == f)
        at_one, per_decade = fit_line(tops, fit, target)
        worst.append(
            max(alarms(top[s, False], test, at_one, per_decade) for top in tops for s in SIZES)
        )
    return float(np.median(worst))


def alarms(absent: Top, mask: np.ndarray, at_one: float, per_decade: float) -> float:
    """Share of the absent probes ``mask`` whose top-1 stranger is within the line."""
    line = at_one - per_decade * np.log10(absent.people)
    return float(np.mean(absent.cohort[mask, 0] <= line))


def gap_gain(tops: list[dict], probes: Probes, target: float) -> dict[float, float]:
    """Mean DIR over galleries and sizes on View 1's people when the score is the first
    distance less ``k`` times the gap to the second, each size at its own line (``target``
    of the strangers through): does the second person tell anything?"""
    out = {}
    for k in (0.0, 0.25, 0.5, 1.0):
        dirs = []
        for top in tops:
            for size in SIZES:
                p, a = top[size, True], top[size, False]
                score_p, score_a = (
                    t.cohort[:, 0] - k * (t.cohort[:, 1] - t.cohort[:, 0]) for t in (p, a)
                )
                line = np.quantile(score_a[probes.dev], target)
                dirs.append(np.mean((p.right & (score_p <= line))[probes.dev]))
        out[k] = float(np.mean(dirs))
    return out


TARGETS = (0.02, 0.015, 0.01, 0.005)


def choose(tops: list[dict], probes: Probes) -> list[str]:
    """The rule's constants, from View 1's people only, for each target share of strangers
    let through; the one chosen is :func:`verdict_target`'s."""
    lines = []
    for target in TARGETS:
        at_one, per_decade = fit_line(tops, probes.dev, target)
        held = held_out_far(tops, probes, target)
        lines.append(
            f"target {100 * target:.1f}%: LINE_AT_ONE {at_one:.3f}, LINE_PER_DECADE "
            f"{per_decade:.3f}; held-out FAR (median fold, worst size) {100 * held:.2f}%"
        )
    chosen = verdict_target(tops, probes)
    gains = gap_gain(tops, probes, chosen)
    at_one, per_decade = fit_line(tops[:1], probes.dev, chosen, "l2")
    lines.append(
        f"chosen: target {100 * chosen:.1f}%; for plain L2 (no cohort), on the default gallery: "
        f"L2_LINE_AT_ONE {at_one:.3f}, L2_LINE_PER_DECADE {per_decade:.3f}"
    )
    lines.append(
        "first less k x gap to the second, mean DIR on View 1: "
        + ", ".join(f"k={k}: {100 * v:.2f}%" for k, v in gains.items())
    )
    return lines


def verdict_target(tops: list[dict], probes: Probes) -> float:
    """The chosen target: the largest whose held-out FAR (:func:`held_out_far`) is at most
    2%, the goal: the line must hold for people it was not fitted on, at every size."""
    return next((t for t in TARGETS if held_out_far(tops, probes, t) <= 0.02), TARGETS[-1])


# -- the run --------------------------------------------------------------------------------
def dev_people(lfw: Path) -> set[str]:
    """The people named in LFW View 1's pairs: the only ones the rule is chosen on."""
    pairs = read_pairs(lfw / "pairsDevTrain.txt") + read_pairs(lfw / "pairsDevTest.txt")
    return {x.split("/")[0] for p in pairs for x in (p.a, p.b)}


@dataclass
class Run:
    """One gallery's probes, their two nearest people in every gallery simulated, and the
    nearest other photo of each face."""

    quality: str
    gallery: BuiltinGallery
    probes: Probes
    tops: dict  # (size, present) -> Top
    nearest_other: np.ndarray  # float[faces]


def run(quality: str, dev: set[str]) -> Run:
    gallery = BuiltinGallery(ROOT / "src" / "lookalike" / PACKAGED[quality])
    pd = person_distances(gallery.X, gallery.person)
    probes = probes_of(gallery, dev)
    cal = calibrations(gallery, pd, probes)
    tops = {
        (size, present): top_two(pd, probes, cal, size, present)
        for size in SIZES
        for present in (True, False)
    }
    return Run(quality, gallery, probes, tops, pd.d.min(axis=1))


def table(runs: list[Run], dev: bool) -> list[str]:
    """The figures as a Markdown table, on View 1's people (``dev``) or the others."""
    lines = [
        "| gallery | people | distance | probes | rank-1 | old FAR | old DIR | FAR | DIR | wrong |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in runs:
        mask = r.probes.dev == dev
        for size in SIZES:
            present, absent = r.tops[size, True], r.tops[size, False]
            for kind in ("cohort", "whole", "l2"):
                old = rates(present, absent, kind, old_rule, mask)
                new = rates(present, absent, kind, l2_rule if kind == "l2" else new_rule, mask)
                lines.append(
                    f"| {r.quality} | {present.people:,} | {kind} | {mask.sum():,} "
                    f"| {pc(new['rank1'])} | {pc(old['far'])} | {pc(old['dir'])} "
                    f"| **{pc(new['far'])}** | **{pc(new['dir'])}** | {pc(new['wrong'])} |"
                )
    return lines


def pc(x: float) -> str:
    return f"{100 * x:.1f}%"


def bands(runs: list[Run]) -> list[str]:
    """Share of View 1's people's probes whose nearest stranger (top-1 when absent, cohort
    calibration) is within each band's bound, by gallery size; and of their own nearest
    other photo (top-1 when present and right)."""
    bounds = [b for b, _ in verdict.BANDS]
    lines = [
        "| gallery | nearest of | " + " | ".join(f"< {b}" for b in bounds) + " |",
        "|---|---|" + "--:|" * len(bounds),
    ]
    for r in runs:
        dev = r.probes.dev
        for size in SIZES[:-1]:
            d = r.tops[size, False].cohort[dev, 0]
            shares = " | ".join(pc(np.mean(d < b)) for b in bounds)
            lines.append(f"| {r.quality} | {r.tops[size, False].people:,} strangers | {shares} |")
        own = r.tops[None, True]
        d = own.cohort[dev & own.right, 0]
        shares = " | ".join(pc(np.mean(d < b)) for b in bounds)
        lines.append(f"| {r.quality} | own other photos | {shares} |")
    return lines


def false_alarms(r: Run) -> str:
    """Who the false alarms of the whole gallery are, on the other people."""
    absent = r.tops[None, False]
    mask = ~r.probes.dev & new_rule(absent.cohort[:, 0], absent.people)
    names, counts = np.unique(r.probes.person[mask], return_counts=True)
    if not len(names):
        return f"{r.quality}: no false alarms among {(~r.probes.dev).sum():,}"
    top = np.argsort(-counts)[:3]
    who = ", ".join(f"{r.gallery.names[names[i]]} {counts[i]}" for i in top)
    first = r.probes.person == names[top[0]]
    less = np.sum(mask & ~first) / np.sum(~r.probes.dev & ~first)
    return (
        f"{r.quality}: {mask.sum()} false alarms among {(~r.probes.dev).sum():,}: {who}; "
        f"FAR less {r.gallery.names[names[top[0]]]}'s probes: {pc(less)}"
    )


def same_photo(r: Run, lfw: Path, count: int) -> str:
    """L2 between the stored (float16) embeddings of ``count`` photos spread over the gallery
    and the same photos encoded again (float32) with the gallery's settings: what
    :data:`~lookalike.verdict.SAME_PHOTO` must stay above; and how near the nearest other
    photo of each face is, which it must stay below."""
    d = []
    for i in np.linspace(0, len(r.gallery.X) - 1, count).astype(int):
        name = r.gallery.names[r.gallery.person[i]]
        found = api.encode(lfw / "images" / name / str(r.gallery.files[i]), r.gallery.settings())
        d += [min(np.linalg.norm(f.embedding - r.gallery.X[i]) for f in found)] if found else []
    near = r.nearest_other
    again = f"encoded again: max L2 {max(d):.5f} over {len(d)} photos; " if d else ""
    return (
        f"{r.quality}: {again}nearest other photo of a face: min L2 {near.min():.4f}, "
        f"1st percentile {np.quantile(near, 0.01):.3f}, "
        f"{np.sum(near < verdict.SAME_PHOTO)} photos within SAME_PHOTO"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw")
    parser.add_argument(
        "--choose", action="store_true", help="print the grid the rule's constants come from"
    )
    parser.add_argument(
        "--same-photo",
        type=int,
        default=10,
        help="photos of each gallery encoded again to measure float16 rounding [%(default)s]",
    )
    args = parser.parse_args(argv)
    dev = dev_people(args.lfw)
    runs = [run(quality, dev) for quality in PACKAGED]
    r = runs[0].probes
    print(
        f"probes: {len(r.rows):,} photos of {len(np.unique(r.person)):,} people; View 1's "
        f"people: {r.dev.sum():,} photos of {len(np.unique(r.person[r.dev])):,}"
    )
    print(
        f"rule: same person when the top-1 is within {verdict.LINE_AT_ONE} - "
        f"{verdict.LINE_PER_DECADE} x log10(people); old rule: within {TOLERANCE}"
    )
    if args.choose:
        print("\n".join(choose([x.tops for x in runs], r)))
    for dev_only, title in ((False, "the other people (reported)"), (True, "View 1's people")):
        print(f"\nOpen set, probes of {title}:\n" + "\n".join(table(runs, dev_only)))
    print("\nWords (verdict.BANDS), View 1's people:\n" + "\n".join(bands(runs)))
    print("\nFalse alarms, whole gallery, by person:\n" + "\n".join(map(false_alarms, runs)))
    print("\nThe same photo:\n" + "\n".join(same_photo(x, args.lfw, args.same_photo) for x in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
