"""Do our faces agree with face_recognition's CLI?  Face counts and encoding distances.

A CLI face and one of ours are the same face when they are in the same photo and their boxes
overlap (intersection over union at least ``MIN_IOU``, best pairs first, one to one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Boxes of one face from two HOG runs at different scales overlap at least this much.
MIN_IOU = 0.4
#: The issue's criteria: faces this tall (original pixels) must be found...
MIN_HEIGHT = 80
#: ...and every face found by both must be this close (L2) to the CLI's encoding.
MAX_DISTANCE = 0.1


@dataclass
class Agreement:
    cli_faces: int
    our_faces: int
    cli_tall: int  # CLI faces at least MIN_HEIGHT tall
    found_tall: int  # of those, found by us
    distances: list[float]  # L2 between the two encodings of each face found by both
    missed: list[tuple[str, int]]  # (photo, height) of tall CLI faces we did not find

    @property
    def common(self) -> int:
        return len(self.distances)

    @property
    def max_distance(self) -> float:
        return max(self.distances, default=0.0)

    @property
    def median_distance(self) -> float:
        return float(np.median(self.distances)) if self.distances else 0.0

    @property
    def found_share(self) -> float:
        return self.found_tall / self.cli_tall if self.cli_tall else 1.0


def iou(a: list[int], b: list[int]) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)

    def area(r: list[int]) -> int:
        return (r[2] - r[0]) * (r[1] - r[3])

    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def pair_faces(theirs: list[dict], ours: list[dict]) -> list[tuple[int, int]]:
    """``(their index, our index)`` of the faces that are the same, best overlaps first."""
    scored = sorted(
        ((iou(t["box"], o["box"]), i, j) for i, t in enumerate(theirs) for j, o in enumerate(ours)),
        reverse=True,
    )
    used_t, used_o, pairs = set(), set(), []
    for score, i, j in scored:
        if score < MIN_IOU:
            break
        if i not in used_t and j not in used_o:
            used_t.add(i)
            used_o.add(j)
            pairs.append((i, j))
    return pairs


def compare(reference: dict[str, list[dict]], ours: dict[str, list[dict]]) -> Agreement:
    """Both arguments map a photo's file name to its faces (``box``, ``encoding``)."""
    cli_faces = our_faces = cli_tall = found_tall = 0
    distances, missed = [], []
    for photo, theirs in reference.items():
        mine = ours.get(photo, [])
        cli_faces += len(theirs)
        our_faces += len(mine)
        pairs = dict(pair_faces(theirs, mine))
        for i, t in enumerate(theirs):
            height = t["box"][2] - t["box"][0]
            if i in pairs:
                theirs_i, ours_i = np.asarray(t["encoding"]), np.asarray(mine[pairs[i]]["encoding"])
                distances.append(float(np.linalg.norm(theirs_i - ours_i)))
            if height >= MIN_HEIGHT:
                cli_tall += 1
                found_tall += i in pairs
                if i not in pairs:
                    missed.append((photo, height))
    return Agreement(cli_faces, our_faces, cli_tall, found_tall, distances, missed)
