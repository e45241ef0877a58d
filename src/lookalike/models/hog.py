"""dlib's HOG face detector, scanned from a given level of its image pyramid.

HOG scans an image pyramid, each level 5/6 the size of the one before, upsampled first if
asked; the first levels, the biggest, find the smallest faces and cost the most.  Where only
faces of some size are wanted (``Settings.min_face``, the crowd's look), :func:`levels` skips
the levels that hold only smaller ones and gives the full scan's boxes to the pixel.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from .dlibnets import hog_detector

#: dlib's HOG face boxes are this wide (right - left) in the pyramid level they are found in;
#: each level down the pyramid (5/6 the size) finds faces 1.2x bigger.
HOG_BOX = 72
HOG_LEVEL_RATIO = 6 / 5.0


def levels(pixels: np.ndarray, upsample: int, min_side: float) -> list:
    """``detector(pixels, upsample)``'s boxes of the faces at least ``min_side`` px tall, the
    same to the pixel, without scanning the pyramid levels that only hold smaller faces.

    HOG scans an image pyramid, each level 5/6 the size of the one before, upsampled first
    if asked; the first levels, the biggest, find the smallest faces and cost the most.
    This builds the pyramid as dlib does (bilinear 2x steps up, pyramid_down(6) steps down)
    down to the ``first`` level that holds ``min_side`` faces, runs the detector from there
    and maps its boxes back the way dlib maps them.  Non-maximum suppression keeps one box
    of overlapping ones, and only neighbouring levels overlap enough (a box 1.44x bigger
    overlaps less than half): where a face is found on the ``first`` level, the level before
    could have taken its place, so the scan starts again there and drops that level's boxes.
    On the 93 web photos of the benchmark this gives the full scan's boxes.
    """
    detector = hog_detector()
    first = first_level(upsample, min_side)
    if first == 0:
        return list(detector(pixels, upsample))
    level = pixels
    for _ in range(upsample):
        level = _pyramid_up(level)
    down = _pyramid_down()
    for _ in range(first):
        before, level = level, down(level)
    rects = list(detector(level, 0))
    if all(_level_of(rect) > 0 for rect in rects):
        return [_from_level(rect, first, upsample) for rect in rects]
    if first == 1:
        return list(detector(pixels, upsample))
    return [
        _from_level(rect, first - 1, upsample)
        for rect in detector(before, 0)
        if _level_of(rect) > 0
    ]


def first_level(upsample: int, min_side: float) -> int:
    """The first pyramid level whose boxes are ``min_side`` px tall (in the detector input's
    pixels)."""
    side = HOG_BOX / 2**upsample  # the boxes of level 0
    first = 0
    while side * HOG_LEVEL_RATIO**first < min_side - 2:  # 2 px: the boxes' rounding
        first += 1
    return first


def _level_of(rect) -> int:
    """How many pyramid levels below the scanned image ``rect`` was found (by its width)."""
    return round(math.log((rect.right() - rect.left()) / HOG_BOX, HOG_LEVEL_RATIO))


def _from_level(rect, start: int, upsample: int):
    """A box found ``start`` levels down the pyramid, in the detector input's pixels, as the
    full scan reports it: dlib maps a level's integer box up in one go, rounded once, so the
    box is first taken back to its own level (the rounding there is undone exactly)."""
    import dlib

    found = _level_of(rect)
    coords = []
    for v in (rect.left(), rect.top(), rect.right(), rect.bottom()):
        own = float(v)
        for _ in range(found):
            own = (own - 0.3) / HOG_LEVEL_RATIO  # pyramid_down<6>::point_down
        up = float(_round(own))
        for _ in range(found + start):
            up = up * HOG_LEVEL_RATIO + 0.3  # pyramid_down<6>::point_up
        coords.append(up)
    offsets = (1.25, 0.75, 1.25, 0.75)  # pyramid_down<2>'s, for x and y
    left, top, right, bottom = (
        _round(_down2(v, offset, upsample)) for v, offset in zip(coords, offsets, strict=True)
    )
    return dlib.rectangle(left, top, right, bottom)


def _down2(v: float, offset: float, times: int) -> float:
    """pyramid_down<2>::point_down, ``times`` times: from the upsampled image back."""
    for _ in range(times):
        v = v / 2.0 - offset
    return v


def _round(v: float) -> int:
    return math.floor(v + 0.5)


def _pyramid_up(pixels: np.ndarray) -> np.ndarray:
    """dlib's pyramid_up (bilinear, pyramid_down<2>'s size), which Python's dlib lacks."""
    import dlib

    h, w = pixels.shape[:2]
    return dlib.resize_image(pixels, _round((h - 1 + 0.75) * 2) + 1, _round((w - 1 + 1.25) * 2) + 1)


@cache
def _pyramid_down():
    import dlib

    return dlib.pyramid_down(6)
