"""dlib's CNN face detector (``mmod_human_face_detector.dat``) with its network on onnxruntime.

dlib's ``cnn_face_detection_model_v1`` in three steps, each as dlib does it: its input layer
(``input_rgb_image_pyramid<pyramid_down<6>>``) tiles the normalised image and ever smaller
copies of it (5/6 the size each, bilinear) into one tensor; the network (:mod:`dlibdnn`,
:data:`dlibdnn.DETECTOR`) scores every position of that tensor; ``loss_mmod`` turns each
position scoring above 0 into a box of the detector window's size, maps it back from its
pyramid level to the image, and keeps the boxes, best first, that overlap no better one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

#: pyramid_down<6>: each level 5/6 the size of the one above it.
PYRAMID_N = 6
#: compute_tiled_image_pyramid_details: levels shorter than this are not made.
MIN_LEVEL_HEIGHT = 5

Rect = tuple[int, int, int, int]  # left, top, right, bottom (inclusive, as dlib's rectangle)


@dataclass(frozen=True)
class Detection:
    rect: Rect
    confidence: float


def detect(pixels: np.ndarray) -> list[Detection]:
    """Faces in an RGB image (``uint8[h, w, 3]``), best first: what dlib's
    ``cnn_face_detection_model_v1(pixels, 0)`` finds."""
    return _detector().detect(pixels)


class Detector:
    """The detector's settings read from its ``.dat`` file, and its network's session."""

    def __init__(self, net, session) -> None:
        self.means = np.array(net.means, np.float32)
        self.padding, self.outer_padding = net.pyramid
        (self.window,) = net.loss["windows"]  # one window: faces
        self.nms = net.loss["nms"]
        self.cons = [layer.attrs for layer in net.layers if layer.kind == "con"]
        self.session = session

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        h, w = pixels.shape[:2]
        rects, shape = tiled_layout(h, w, self.padding, self.outer_padding)
        if not rects:
            return []
        tensor = self.tiled_pyramid(pixels, rects, shape)
        scores = self.session.run(None, {"tensor": tensor})[0][0, 0]
        rows, cols = np.nonzero(scores > 0)
        found = [
            self.box(r, c, rects, float(scores[r, c])) for r, c in zip(rows, cols, strict=True)
        ]
        found.sort(key=lambda d: d.confidence, reverse=True)
        kept: list[Detection] = []
        for d in found:
            if not any(self.overlaps(k.rect, d.rect) for k in kept):
                kept.append(d)
        return kept

    def tiled_pyramid(self, pixels: np.ndarray, rects: list[Rect], shape) -> np.ndarray:
        """dlib's input tensor: the normalised image and its pyramid levels, each level
        resized (bilinear) from the one before, on a background of zeros."""
        tensor = np.zeros((1, 3, *shape), np.float32)
        left, top, right, bottom = rects[0]
        level = ((pixels.astype(np.float32) - self.means) / np.float32(256)).transpose(2, 0, 1)
        tensor[0, :, top : bottom + 1, left : right + 1] = level
        for left, top, right, bottom in rects[1:]:
            level = resize_bilinear(level, bottom - top + 1, right - left + 1)
            tensor[0, :, top : bottom + 1, left : right + 1] = level
        return tensor

    def box(self, r: int, c: int, rects: list[Rect], score: float) -> Detection:
        """The detector window at output position (r, c), in image pixels."""
        x, y = float(c), float(r)
        for a in self.cons:  # from the output back to the input, as dlib's map_output_to_input
            x = x * a["stride_x"] - a["pad_x"] + a["cols"] // 2
            y = y * a["stride_y"] - a["pad_y"] + a["rows"] // 2
        half_w, half_h = (self.window[0] - 1) / 2, (self.window[1] - 1) / 2
        level = nearest_rect(rects, (math.floor(x + 0.5), math.floor(y + 0.5)))
        ox, oy = rects[level][:2]
        left, top = _point_up(x - half_w - ox, y - half_h - oy, level)
        right, bottom = _point_up(x + half_w - ox, y + half_h - oy, level)
        return Detection((_lround(left), _lround(top), _lround(right), _lround(bottom)), score)

    def overlaps(self, a: Rect, b: Rect) -> bool:
        """dlib's ``test_box_overlap``: IoU (over the bounding box of both) or the share of
        either box covered above the thresholds."""
        inner = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
        if inner == 0:
            return False
        outer = _area((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
        iou, covered = self.nms
        return inner / outer > iou or inner / _area(a) > covered or inner / _area(b) > covered


def tiled_layout(h: int, w: int, padding: int, outer: int) -> tuple[list[Rect], tuple[int, int]]:
    """Where dlib's ``compute_tiled_image_pyramid_details`` puts each pyramid level of an
    h x w image, and the tiled image's (rows, columns)."""
    if h * w == 0:
        return [], (0, 0)
    sizes = [(h, w)]
    rate = (PYRAMID_N - 1.0) / PYRAMID_N
    while True:
        h2, w2 = math.floor(rate * sizes[-1][0]), math.floor(rate * sizes[-1][1])
        if h2 * w2 == 0 or h2 < MIN_LEVEL_HEIGHT:
            break
        sizes.append((h2, w2))
    total_height = sum(sh + padding for sh, _ in sizes) - padding * 2
    height, prev_width = 0, 0
    for sh, sw in sizes:  # the first column: until the rest fit beside the last ones
        if sw <= w - prev_width - padding and (height - h) * 2 >= total_height - h:
            break
        height += sh + padding
        prev_width = sw
    height -= padding
    rects: list[Rect] = []
    y = outer
    for sh, sw in sizes:  # down the left
        if y >= height + outer:
            break
        rects.append((outer, y, outer + sw - 1, y + sh - 1))
        y += sh + padding
    y -= padding
    for sh, sw in sizes[len(rects) :]:  # then up the right, bottom to top
        rect = (outer + w - sw, y - sh, outer + w - 1, y - 1)
        if _area(_intersect(rects[0], rect)):
            break
        rects.append(rect)
        y -= sh + padding
    return rects, (height + 2 * outer, w + 2 * outer)


def resize_bilinear(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """dlib's ``resize_image`` (bilinear, corners on corners) of a C x H x W float image."""
    _, h, w = image.shape
    ys = np.arange(rows) * ((h - 1) / max(rows - 1, 1))
    xs = np.arange(cols) * ((w - 1) / max(cols - 1, 1))
    top, left = np.floor(ys).astype(int), np.floor(xs).astype(int)
    bottom, right = np.minimum(top + 1, h - 1), np.minimum(left + 1, w - 1)
    ty = (ys - top).astype(np.float32)[:, None]
    tx = (xs - left).astype(np.float32)[None, :]
    upper = image[:, top][:, :, left] * (1 - tx) + image[:, top][:, :, right] * tx
    lower = image[:, bottom][:, :, left] * (1 - tx) + image[:, bottom][:, :, right] * tx
    return ((1 - ty) * upper + ty * lower).astype(np.float32)


def nearest_rect(rects: list[Rect], p: tuple[int, int]) -> int:
    """dlib's ``nearest_rect``: the first rectangle holding ``p``, else the nearest."""
    best, best_dist = 0, math.inf
    for i, (left, top, right, bottom) in enumerate(rects):
        if left <= p[0] <= right and top <= p[1] <= bottom:
            return i
        nx, ny = min(max(p[0], left), right), min(max(p[1], top), bottom)
        dist = math.hypot(nx - p[0], ny - p[1])
        if dist < best_dist:
            best, best_dist = i, dist
    return best


def _point_up(x: float, y: float, levels: int) -> tuple[float, float]:
    """pyramid_down<6>::point_up: a point of a level ``levels`` down in the level-0 image."""
    ratio = PYRAMID_N / (PYRAMID_N - 1.0)
    for _ in range(levels):
        x, y = x * ratio + 0.3, y * ratio + 0.3
    return x, y


def _lround(v: float) -> int:
    """std::lround: halves away from zero."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def _intersect(a: Rect, b: Rect) -> Rect:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])


def _area(r: Rect) -> int:
    return max(0, r[2] - r[0] + 1) * max(0, r[3] - r[1] + 1)


@cache
def _detector() -> Detector:
    from . import dlibdnn, encoder, runtime
    from .weights import CNN_FILE, cache_dir, dlib_file

    weights = dlib_file(CNN_FILE)
    net = dlibdnn.read(weights, dlibdnn.DETECTOR)
    path = encoder.model_path(weights, cache_dir())
    return Detector(net, runtime.session_of(path, encoder.builder(weights, dlibdnn.DETECTOR)))
