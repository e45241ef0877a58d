"""What a match's distance means, in words, and when the nearest person is the same person.

Pure functions, numpy only.  A distance here is the verdict distance of a match: calibrated
against the LFW cohort where the gallery's settings have one (:mod:`lookalike.cohort`), else
plain L2.  Each kind of vector has its own :class:`Rule`, fitted to how its distances spread:
dlib's alone (:data:`DLIB`, every index made before SFace joined) and dlib's fused with SFace's
(:data:`FUSED`, ``default`` and ``best`` since): :func:`rule_for` picks it from the settings'
networks.

The same-person verdict must hold in an open set: the person in a user's photo is usually
not in the gallery at all, and among many people someone always looks alike.  The nearest
of N strangers comes nearer as N grows, so the line a top-1 match must be within to be
called the same person is stricter the more people the gallery holds, and the more photos
each of them has (the nearest of a stranger's 20 photos is nearer than the nearest of 2)::

    line = at_one - per_decade * log10(people) - per_photo_decade * log10(photos a person)

where photos a person is the gallery's faces credited to someone over its people (LFW's
5,749 people: 2.3). The constants were fitted on LFW View 1's people only (those named in
``pairsDevTrain.txt`` and ``pairsDevTest.txt``) by ``python bench/openset.py --choose``:
each of their photos matched against the built-in gallery less the person's own photos,
against random subsets of 1,000, 100, 10 and 5 people, and against galleries of 5 and 10
people with 1, 2, 5 or 10 photos each (drawn among LFW's people with 20 photos or more); at
each, the line that lets 1% of those top-1 strangers through; a plane in log10(people) and
log10(photos a person) through them, lowered until it holds at every gallery. ``make
bench-openset`` reports the rule on the other people and on galleries of web photos
(docs/open-set.md). The gap to the second-nearest person was tried too and told the same
person from a stranger no better than the first distance alone. A person's mean face
(``match NAME``) is never called anyone's same person: it is not a photo, and its own faces
are left out, so whoever is nearest is someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Below this L2 distance two faces are the same photo.  An LFW photo encoded again is at
#: most 0.0004 from its float16 embedding in the built-in gallery (10 photos of each, bench/
#: openset.py; float16 rounding alone: about 0.0003), while no two different photos of LFW
#: are nearer than 0.05 (best; 0.08 default; 1% of photos have another within 0.17).  0.02
#: is 50 times the first and well below the second.
SAME_PHOTO = 0.02
FARTHEST = "little resemblance"


@dataclass(frozen=True)
class Rule:
    """The open-set line of one kind of distance (module docstring) and its words."""

    at_one: float  # the calibrated line for one person with one photo
    per_decade: float  # how much stricter for each tenfold more people
    per_photo_decade: float  # ... and for each tenfold more photos a person
    l2_at_one: float  # the same for plain L2 distances (settings without a cohort)
    l2_per_decade: float
    l2_per_photo_decade: float
    #: Words for a distance: the first band whose bound it is below (the shares of View 1's
    #: people that have a stranger that near among LFW's people, bench/openset.py).
    bands: tuple[tuple[float, str], ...]

    def line(
        self,
        people: int | np.ndarray,
        photos: float | np.ndarray = 1.0,
        calibrated: bool = True,
    ) -> float | np.ndarray:
        """The verdict distance (calibrated, or plain L2) within which the top-1 of a gallery
        of ``people`` people with ``photos`` photos a person is called the same person."""
        at_one, per_decade, per_photo = (
            (self.at_one, self.per_decade, self.per_photo_decade)
            if calibrated
            else (self.l2_at_one, self.l2_per_decade, self.l2_per_photo_decade)
        )
        many = np.log10(np.maximum(people, 1))
        return at_one - per_decade * many - per_photo * np.log10(np.maximum(photos, 1))

    def same_person(
        self, first: float, people: int, photos: float = 1.0, calibrated: bool = True
    ) -> bool:
        """Whether the nearest person of a match (verdict distance ``first``) is the same
        person, in a gallery of ``people`` people with ``photos`` photos a person."""
        return bool(max(first, 0.0) <= self.line(people, photos, calibrated))

    def resemblance(self, d: float) -> str:
        """Words for a match at verdict distance ``d`` (negative distances count as 0)."""
        d = max(d, 0.0)
        return next((words for bound, words in self.bands if d < bound), FARTHEST)


#: dlib's vectors alone (fitted on people alone, with a 2% goal, by bench/openset.py of
#: 2026-12-04).  Shares of View 1's people (default gallery): 2% have a stranger nearer than
#: 0.45 among LFW's 5,749 people, 96% one nearer than 0.55; among 10 random strangers, 30%
#: have one nearer than 0.65.
DLIB = Rule(
    at_one=0.596,
    per_decade=0.044,
    per_photo_decade=0.0,
    l2_at_one=0.595,
    l2_per_decade=0.060,
    l2_per_photo_decade=0.0,
    bands=((0.45, "very close lookalike"), (0.55, "lookalike"), (0.65, "some resemblance")),
)
#: dlib's and SFace's vectors fused (``default`` and ``best``): the line that lets 1% of
#: View 1's people's top-1 strangers through, which held for the people it was not fitted on
#: (0.87% in the median held-out fold, at its worst gallery).  The bands at the same shares as
#: dlib's: 2% of View 1's people have a stranger nearer than 0.51 among LFW's people, 96% one
#: nearer than 0.58; among 10 random strangers, 30% have one nearer than 0.65.  Strangers lie
#: farther apart in the fused space than in dlib's (one's own other photos as near: 92% of
#: them within 0.45), so the same words mean larger distances.
FUSED = Rule(
    at_one=0.615,
    per_decade=0.034,
    per_photo_decade=0.026,
    l2_at_one=0.609,
    l2_per_decade=0.037,
    l2_per_photo_decade=0.028,
    bands=((0.51, "very close lookalike"), (0.58, "lookalike"), (0.65, "some resemblance")),
)


def rule_for(networks: str) -> Rule:
    """The rule of the vectors the networks ``networks`` (``Settings.networks``) make."""
    return FUSED if "sface" in networks else DLIB
