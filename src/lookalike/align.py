"""Aligned crops for the second network: five points of a face mapped onto SFace's template.

dlib's own chips (150x150, for its encoder) are cut by dlib (``get_face_chip``); SFace wants
112x112 crops with the eye centres, the nose tip and the mouth corners where ArcFace's
template has them (:data:`lookalike.models.sface.ARCFACE`).  Pure numpy and Pillow: a
similarity transform (rotation, one scale, shift) fitted to the five points by least squares
(Umeyama), then one bilinear resampling of the photo.

Five points come from either landmark model:

- ``68-point``: the eye centres (the means of points 36-41 and 42-47), the nose tip (30) and
  the mouth corners (48, 54), onto ArcFace's template;
- ``5-point``: dlib's small model marks each eye's corners and the base of the nose, not
  the mouth, so its points go onto where they lie in SFace's chips on average:
  :data:`FIVE_POINT_TEMPLATE`, measured on LFW View 1's photos aligned by the 68-point model
  (``python bench/sface_align.py``).  On View 1 SFace scores as well aligned this way as by
  the 68-point model (docs/accuracy.md), without loading that model's 95 MB.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .models.sface import ARCFACE, SIZE

#: Where dlib's five points (one eye's outer and inner corners, the other's, the base of the
#: nose) lie, on average, in SFace's 112x112 chips (bench/sface_align.py, LFW View 1).
FIVE_POINT_TEMPLATE = np.array(
    [
        [80.21, 52.77],
        [66.44, 53.20],
        [31.60, 53.02],
        [45.38, 53.31],
        [56.04, 79.65],
    ]
)


def points(shape) -> np.ndarray:
    """A dlib landmark shape's points as an ``n x 2`` array of (x, y)."""
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], float)


def five_of_68(landmarks: np.ndarray) -> np.ndarray:
    """ArcFace's five points (eye centres, nose tip, mouth corners) of 68 landmarks."""
    p = landmarks
    return np.stack([p[36:42].mean(axis=0), p[42:48].mean(axis=0), p[30], p[48], p[54]])


def sface_chip(pixels: np.ndarray, shape) -> np.ndarray:
    """The 112x112 RGB chip SFace wants of the face whose dlib landmarks are ``shape`` (the
    5-point or the 68-point model's), cut from ``pixels``."""
    found = points(shape)
    if len(found) == 68:
        return warp(pixels, five_of_68(found), ARCFACE)
    if len(found) == 5:
        return warp(pixels, found, FIVE_POINT_TEMPLATE)
    raise ValueError(f"no SFace alignment for {len(found)} landmarks (5 or 68)")


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` such that ``s R p + t`` maps ``source`` points nearest to ``target``
    (least squares, Umeyama 1991): a rotation, one scale and a shift, no reflection."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    U, S, Vt = np.linalg.svd(b.T @ a / len(source))
    d = np.array([1.0, np.sign(np.linalg.det(U) * np.linalg.det(Vt)) or 1.0])
    R = U @ np.diag(d) @ Vt
    s = float((S * d).sum() / ((a**2).sum() / len(source)))
    return s, R, mu_t - s * R @ mu_s


def warp(pixels: np.ndarray, found: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The ``SIZE`` x ``SIZE`` chip in which the points ``found`` in ``pixels`` (x, y, pixel
    centres) land on ``template``.  A face much bigger than the chip is first shrunk by a
    whole factor with a box filter, so that bilinear sampling does not alias."""
    s, R, t = similarity(found, template)
    factor = int(1 / s) if s < 0.5 else 1
    pixels, origin = _around(pixels, s, R, t, factor)
    t = t + s * R @ origin  # the same chip, from the crop
    image = Image.fromarray(pixels)
    if factor > 1:
        image = image.reduce(factor)  # pixel i covers [i k, (i + 1) k): its centre i k + (k-1)/2
        t = t + s * R @ np.full(2, (factor - 1) / 2)
        s *= factor
    B = R.T / s  # chip -> photo, in pixel centres: p = B q + c
    c = -B @ t
    c = c + 0.5 - B @ np.full(2, 0.5)  # Pillow's coordinates are pixel corners
    data = (B[0, 0], B[0, 1], c[0], B[1, 0], B[1, 1], c[1])
    chip = image.transform((SIZE, SIZE), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    return np.asarray(chip)


def _around(pixels: np.ndarray, s: float, R: np.ndarray, t: np.ndarray, factor: int):
    """The part of ``pixels`` the chip is sampled from, and its top-left corner (x, y): the
    chip's corners mapped into the photo, with a margin for the box filter and bilinear
    sampling, its corner on the filter's grid; so that a chip of a big photo copies and
    shrinks a few thousand pixels, not millions, and is the same to the bit."""
    corners = np.array([[0, 0], [SIZE, 0], [0, SIZE], [SIZE, SIZE]], float)
    photo = (corners - t) @ R / s  # p = R^T (q - t) / s, a row each
    margin = 2 * factor + 2
    h, w = pixels.shape[:2]
    x0, y0 = (max(0, int(v - margin) // factor * factor) for v in photo.min(axis=0))
    x1, y1 = (int(v + margin) + 1 for v in photo.max(axis=0))
    return pixels[y0 : min(h, y1), x0 : min(w, x1)], np.array([x0, y0], float)
