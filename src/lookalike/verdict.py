"""What a match's distance means, in words, and when the nearest person is the same person.

Pure functions, numpy only.  A distance here is the verdict distance of a match: calibrated
against the LFW cohort where the gallery's settings have one (:mod:`lookalike.cohort`), else
plain L2.

The same-person verdict must hold in an open set: the person in a user's photo is usually
not in the gallery at all, and among many people someone always looks alike.  The nearest
of N strangers comes nearer as N grows (about 0.04 a tenfold, ``bench/openset.py``), so the
line a top-1 match must be within to be called the same person is stricter the more people
the gallery holds::

    line(people) = LINE_AT_ONE - LINE_PER_DECADE * log10(people)

0.565 for 5 people, 0.508 for 100, 0.431 for LFW's 5,749 (0.596 for one: about the pairwise
line, 0.6, as a gallery of one person is a pair).  Plain L2 distances (settings without a
cohort) spread differently and have their own line, ``L2_LINE_*``.

The constants were fitted on LFW View 1's people only (those named in ``pairsDevTrain.txt``
and ``pairsDevTest.txt``) by ``python bench/openset.py --choose``: each of their photos
matched against the default and the best built-in gallery less the person's own photos, and
against random subsets of 1,000, 100, 10 and 5 people; at each size, the line that lets 1% of
those top-1 strangers through; a straight line in log10(people) through them, lowered until
it holds at every size.  1% is the largest share (of 2, 1.5, 1, 0.5%) whose line, fitted on 9
folds of View 1's people, let at most 2% (the goal) of the 10th fold's strangers through at
its worst gallery size, in the median fold.  ``make bench-openset`` reports the rule on the
other people (docs/open-set.md).  The gap to the second-nearest person was tried too and
told the same person from a stranger no better than the first distance alone.
"""

from __future__ import annotations

import numpy as np

#: The same-person line for a gallery of one person, and how much stricter it gets for each
#: tenfold more people (see the module docstring; bench/openset.py --choose).
LINE_AT_ONE = 0.596
LINE_PER_DECADE = 0.044
#: The same for plain L2 distances, fitted on the default gallery's (bench/openset.py
#: --choose): used where the settings have no cohort to calibrate against.
L2_LINE_AT_ONE = 0.595
L2_LINE_PER_DECADE = 0.060

#: Below this L2 distance two faces are the same photo.  An LFW photo encoded again is at
#: most 0.0004 from its float16 embedding in the built-in gallery (10 photos of each, bench/
#: openset.py; float16 rounding alone: about 0.0003), while no two different photos of LFW
#: are nearer than 0.05 (best; 0.08 default; 1% of photos have another within 0.17).  0.02
#: is 50 times the first and well below the second.
SAME_PHOTO = 0.02

#: Words for a distance: the first band whose bound it is below.  Shares of View 1's people
#: (default gallery, bench/openset.py): 2% have a stranger nearer than 0.45 among LFW's 5,749
#: people, 96% one nearer than 0.55; among 10 random strangers, 30% have one nearer than 0.65.
BANDS = (
    (0.45, "very close lookalike"),
    (0.55, "lookalike"),
    (0.65, "some resemblance"),
)
FARTHEST = "little resemblance"


def same_person_line(people: int | np.ndarray, calibrated: bool = True) -> float | np.ndarray:
    """The verdict distance (calibrated, or plain L2) within which the top-1 of a gallery of
    ``people`` people is called the same person."""
    at_one, per_decade = (
        (LINE_AT_ONE, LINE_PER_DECADE) if calibrated else (L2_LINE_AT_ONE, L2_LINE_PER_DECADE)
    )
    return at_one - per_decade * np.log10(np.maximum(people, 1))


def same_person(first: float, people: int, calibrated: bool = True) -> bool:
    """Whether the nearest person of a match (verdict distance ``first``: ``calibrated``, or
    plain L2 where there is no cohort) is the same person, in a gallery of ``people``
    people.  (The gap to the second-nearest person was tried: on View 1 it added nothing to
    ``first``, bench/openset.py --choose.)"""
    return bool(max(first, 0.0) <= same_person_line(people, calibrated))


def resemblance(d: float) -> str:
    """Words for a match at verdict distance ``d`` (negative distances count as 0)."""
    d = max(d, 0.0)
    return next((words for bound, words in BANDS if d < bound), FARTHEST)
