"""dlib's CNN face detector with its network on onnxruntime: the reader of its .dat, the
tiled pyramid, and the same boxes as dlib's ``cnn_face_detection_model_v1`` on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, EXAMPLES, LFW, needs_data

from lookalike import faces
from lookalike.images import load_photo, shrink
from lookalike.models import cnn, dlibdnn, dlibnets, runtime, weights

pytest.importorskip("onnxruntime")

WEIGHTS = weights.model_dir() / weights.CNN_FILE


def test_reader_on_the_real_file():
    net = dlibdnn.read(WEIGHTS, dlibdnn.DETECTOR)
    counts = {kind: net.count(kind) for kind in ("con", "affine", "relu")}
    assert counts == {"con": 7, "affine": 6, "relu": 6}  # bn_con layers read as affine
    assert net.size == 0 and net.pyramid == (10, 11)
    assert net.loss["windows"] == [(80, 80)]
    assert net.loss["nms"] == pytest.approx((0.338, 1.0), abs=1e-3)
    assert net.layers[0].weights["w"].shape == (1, 45, 9, 9)
    assert net.layers[-1].weights["w"].shape == (16, 3, 5, 5)
    with pytest.raises(dlibdnn.FormatError):
        dlibdnn.read(WEIGHTS)  # not the encoder


@pytest.mark.parametrize("shape", [(320, 240), (180, 320), (250, 250), (40, 30)])
def test_tiled_layout(shape):
    rects, (rows, cols) = cnn.tiled_layout(*shape, padding=10, outer=11)
    assert rects[0] == (11, 11, 11 + shape[1] - 1, 11 + shape[0] - 1)
    for (l1, t1, r1, b1), (l2, t2, r2, b2) in zip(rects, rects[1:], strict=False):
        assert (b2 - t2 + 1, r2 - l2 + 1) == (
            int((b1 - t1 + 1) * 5 / 6),
            int((r1 - l1 + 1) * 5 / 6),
        )
    for i, a in enumerate(rects):
        assert 0 <= a[0] <= a[2] < cols and 0 <= a[1] <= a[3] < rows
        assert all(cnn._area(cnn._intersect(a, b)) == 0 for b in rects[i + 1 :])


def test_resize_bilinear_keeps_corners_and_constants():
    image = np.random.default_rng(0).random((3, 12, 17), np.float32)
    small = cnn.resize_bilinear(image, 10, 14)
    assert small.shape == (3, 10, 14) and small.dtype == np.float32
    assert np.allclose(
        small[:, [0, 0, -1, -1], [0, -1, 0, -1]], image[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    )
    assert np.allclose(cnn.resize_bilinear(np.ones((1, 9, 9), np.float32), 7, 7), 1)


def photos(count: int) -> list[Path]:
    """The example photos and one photo each of ``count`` LFW people."""
    people = sorted((LFW / "images").iterdir())
    lfw = [sorted(p.glob("*.jpg"))[0] for p in people[:: len(people) // count][:count]]
    return sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".jpg", ".png")) + lfw


def web_photos() -> list[Path]:
    """Three of the athletes' web photos (JPEG, 650x941 to 3708x2781: a wedding among them)."""
    return sorted((DATA / "photos" / "serena_williams").iterdir())[:3]


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(
    "pick, side, least",
    [(lambda: photos(20), faces.FALLBACK_SIDE, 25), (web_photos, faces.HARDER_CNN_SIDE, 2)],
    ids=["fallback-lfw", "harder-look-web"],
)
def test_same_boxes_as_dlib(pick, side, least):
    """On the copies the CNN looks at (at most 320 px as the fallback, 800 px as a harder look
    at a query), every box is dlib's and every confidence within 1e-4 of it."""
    dlib_cnn = dlibnets.cnn_detector()
    found = 0
    for path in pick():
        small, _ = shrink(load_photo(path).pixels, side)
        theirs = dlib_cnn(small, 0)
        ours = cnn.detect(small)
        rects = [(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()) for d in theirs]
        assert [d.rect for d in ours] == rects, path
        confidences = np.array([d.confidence for d in theirs])
        assert np.abs(np.array([d.confidence for d in ours]) - confidences).max(initial=0) < 1e-4
        found += len(ours)
    assert found >= least


@needs_data
def test_faces_uses_it_with_the_onnx_engine(monkeypatch):
    photo = load_photo(EXAMPLES / "obama_small.jpg")
    settings = faces.Settings(detector="cnn", shrink=240)
    by = {}
    for name in runtime.ENGINES:
        monkeypatch.setenv("LOOKALIKE_ENGINE", name)
        by[name] = faces.detect(photo, settings)
    assert [f.box for f in by["onnx"]] == [f.box for f in by["dlib"]] and len(by["dlib"]) == 1

    def refuse(pixels):
        raise AssertionError("upsampled pixels sent to onnxruntime")

    monkeypatch.setattr(cnn, "detect", refuse)
    upsampled = faces.Settings(detector="cnn", shrink=240, upsample=1)
    assert len(faces.detect(photo, upsampled)) == 1
