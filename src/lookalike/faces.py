"""Faces: detection, alignment, and the vector each face gets.

The pipeline is face_recognition's: HOG (or CNN) detection, 5-point landmarks, the aligned
150x150 chip, and dlib's 128-d ResNet encoding.  The networks themselves are one layer
below, in :mod:`lookalike.models`; this module decides where to look for faces, cuts the
chips each network wants and asks them for vectors.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from PIL import Image

from . import align
from .images import Photo, shrink
from .models import dlibnets, hog
from .models.runtime import engine

#: Encodings of one face under this L2 distance are taken to be the same person
#: (face_recognition's default tolerance).
TOLERANCE = 0.6
CHIP_SIZE = 150
CHIP_PADDING = 0.25
#: Faces narrower than this (in detection pixels) are not found by HOG anyway.
MIN_DETECT_SIDE = 16
#: With ``fallback="cnn"``, a photo in which the detector finds no face is searched again by
#: dlib's CNN detector on a copy at most this large (about 0.4 s at 250x250 on one core):
#: it finds the turned and tilted faces HOG misses, at a bounded cost per photo.  On LFW
#: View 1, HOG (upsample 1) finds no face in 29 of 4,992 photos: CNN finds all 29, HOG at
#: upsample 0 (``fallback="hog"`` of an upsampling index) 11.
FALLBACK_SIDE = 320
#: With ``fallback="hog"`` and no upsampling, a photo without a face is searched again by HOG
#: upsampled once on a copy of at most this size: faces down to 40 px in small photos.
FALLBACK_HOG_SIDE = 640
#: HOG's smallest boxes are 72 to 80 px (its 80 px window); the crowd's look's copy is as big
#: as face_recognition's CLI looks at (1600 px), upsampled once as it does.
SMALLEST_FOUND = 80
CROWD_SIDE = 1600
#: A query photo in which no face is found otherwise is searched by the CNN detector on a
#: copy of at most this size (:func:`harder_looks`): faces down to about 50 px in it.
HARDER_CNN_SIDE = 800
#: The looks again a fallback is made of (``Settings.fallback``: one, or several joined by "+",
#: tried in that order), besides "none".
FALLBACKS = ("hog", "cnn")

#: What the fields added after the first release meant before they existed.
LEGACY = {
    "fallback": "none",
    "mirror": False,
    "padding": str(CHIP_PADDING),
    "resample": "bilinear",
    "min_face": 0,
    "encode_from": "photo",
    "fallback_share": 0.0,
    "small_faces": 0,
    "networks": "dlib",
}

#: The networks a face's vector can be made of (``Settings.networks``): dlib's encoder,
#: whose vectors every index holds, and SFace (:mod:`lookalike.models.sface`).
NETWORKS = ("dlib", "sface")
#: The weights of ``default`` and ``best`` (docs/accuracy.md, "A second network"): chosen on
#: LFW View 1 (``python bench/sface.py``), SFace's weight relative to dlib's (0.8 and 0.7),
#: then both scaled so that 0.6 stays the most accurate same-person line of the plain distance.
FUSED_DEFAULT = "dlib*0.54+sface*0.43"
FUSED_BEST = "dlib*0.6+sface*0.42"


@dataclass(frozen=True)
class Settings:
    """Everything that shapes an embedding; an index records them and queries must agree."""

    #: No upsampling on a copy of at most 1280 px: faces down to 80 px (1/16 of the longest
    #: side in bigger photos), the same scale as face_recognition's upsample 1 on a 640 px copy
    #: at a quarter of the HOG cost on small photos (LFW: 103 ms a photo, not 122); the
    #: fallback finds the smaller faces of photos that have no bigger one (README, Performance).
    detector: str = "hog"
    upsample: int = 0
    jitters: int = 1
    shrink: int = 1280  # longest side of the copy faces are detected on (see images.shrink)
    #: One landmark model, or several joined by "+": a chip aligned by each, their
    #: encodings averaged (the two models place the eyes and mouth a little apart).
    landmarks: str = "5-point"
    encoder: str = "dlib_face_recognition_resnet_model_v1"
    fallback: str = "hog+cnn"  # none | hog | cnn | hog+cnn: where no face is found, _look_again
    mirror: bool = False  # average the embedding with that of the mirrored chip (2x encoding)
    #: The margin around the aligned chip, as a share of the face; several joined by "+":
    #: each landmark model's chip cut with each margin, their encodings averaged.
    padding: str = str(CHIP_PADDING)
    resample: str = "bilinear"  # bilinear | lanczos: how the detection copy is shrunk
    #: With HOG, look only for faces at least this tall (original pixels; 0: all): the
    #: pyramid levels that only hold smaller faces are not scanned (see models.hog.levels).
    min_face: int = 0
    encode_from: str = "photo"  # photo | copy: the pixels the chips are cut from
    #: With ``min_face`` and the HOG fallback: in a photo without a face that tall, the
    #: smallest face looked for then, as a share of the photo's longest side (0: all).
    fallback_share: float = 0.0
    #: A crowd's look (0: none; an index older than it has 0): where the copy was shrunk
    #: and a face was found at the smallest size the detector sees (SMALLEST_FOUND px),
    #: smaller faces are likely there too (a group photo): HOG looks again, upsampled once on
    #: a copy of at most CROWD_SIDE px, for every face this tall and up (original pixels),
    #: see _look_at_crowd.
    small_faces: int = 80
    #: The networks a face's vector is made of, each times its weight: ``dlib`` alone (128-d:
    #: every index made before SFace, and ``--quality cli``), or dlib's vector then SFace's
    #: unit vector (256-d), so that squared L2 is the weighted sum of the two networks'
    #: squared distances and search, the ANN graph, clustering and calibration work on one
    #: matrix as before.  SFace's chips are aligned by each ``landmarks`` model (their unit
    #: vectors averaged); ``mirror`` and ``padding`` shape dlib's chips only.
    networks: str = FUSED_DEFAULT

    def __post_init__(self) -> None:
        # checked here, not where used: a bad value would otherwise pass on small photos
        # (no copy made) and fail on big ones
        if self.resample not in ("bilinear", "lanczos"):
            raise ValueError(f"unknown resampling {self.resample!r} (bilinear or lanczos)")
        if self.encode_from not in ("photo", "copy"):
            raise ValueError(f"unknown encode_from {self.encode_from!r} (photo or copy)")
        # kept as canonical text, so equal margins compare equal: "0.250" and 0.25 (a number,
        # as recorded until 2026-12-03 or passed from Python) are both "0.25"
        canonical = "+".join(str(p) for p in _paddings(str(self.padding)))
        object.__setattr__(self, "padding", canonical)
        object.__setattr__(self, "networks", _canonical_networks(self.networks))

    @property
    def paddings(self) -> list[float]:
        return _paddings(self.padding)

    @property
    def weights(self) -> dict[str, float]:
        """Each network's weight, dlib's first: ``{"dlib": 0.54, "sface": 0.43}``."""
        return _weights(self.networks)

    @property
    def dim(self) -> int:
        return vector_length(self.networks)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Settings:
        """Settings as recorded; a field added since takes the value it had before it existed."""
        return cls(**{**LEGACY, **values})


def _weights(networks: str) -> dict[str, float]:
    """``"dlib*0.54+sface*0.43"`` as ``{"dlib": 0.54, "sface": 0.43}`` (a weight left out is
    1); dlib first (every index holds its vectors), each network once, weights above 0."""
    weights: dict[str, float] = {}
    for term in networks.split("+"):
        name, _, weight = term.partition("*")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            value = math.nan
        if name not in NETWORKS or name in weights or not (math.isfinite(value) and value > 0):
            weights = {}
            break
        weights[name] = value
    if not weights or next(iter(weights)) != "dlib":
        raise ValueError(
            f"bad networks {networks!r} (dlib, or dlib*W+sface*W: each network's weight above 0)"
        )
    return weights


def vector_length(networks: str) -> int:
    """The length of a face's vector on ``networks``: 128 a network."""
    return 128 * len(_weights(networks))


def _canonical_networks(networks: str) -> str:
    """As :func:`_weights` reads it, written one way: ``dlib`` alone, ``dlib*0.5+sface*0.4``."""
    weights = _weights(str(networks))
    if weights == {"dlib": 1.0}:
        return "dlib"
    return "+".join(f"{name}*{w:g}" for name, w in weights.items())


def fuse(parts: dict[str, np.ndarray], networks: str) -> np.ndarray:
    """A face's vector (or, for ``n x 128`` parts, a matrix of them) from each network's
    own: each times its weight, one after the other."""
    weights = _weights(networks)
    missing = [name for name in weights if parts.get(name) is None]
    if missing:
        raise ValueError(f"no {' or '.join(missing)} vector to fuse")
    return np.concatenate(
        [np.asarray(parts[name], np.float32) * np.float32(w) for name, w in weights.items()],
        axis=-1,
    )


def parts_of(X: np.ndarray, networks: str) -> dict[str, np.ndarray]:
    """Each network's own vectors back from fused ones (:func:`fuse` undone)."""
    weights = _weights(networks)
    X = np.asarray(X, np.float32)
    width = X.shape[-1] // len(weights)
    return {
        name: X[..., i * width : (i + 1) * width] / np.float32(w)
        for i, (name, w) in enumerate(weights.items())
    }


def _paddings(padding: str) -> list[float]:
    """``"0.25+0.2"`` as ``[0.25, 0.2]``; each a finite margin of at least 0 (dlib's chip
    cutter refuses the rest, but only when a face is encoded)."""
    try:
        paddings = [float(p) for p in padding.split("+")]
    except ValueError:
        paddings = []
    if not paddings or not all(math.isfinite(p) and p >= 0 for p in paddings):
        raise ValueError(f"bad padding {padding!r} (numbers of at least 0 joined by +)")
    return paddings


#: ``--quality``, chosen on LFW View 1 (README, Accuracy).  Both fuse dlib's vectors with
#: SFace's (``networks``), and where HOG finds no face look again with HOG upsampled, then
#: with the CNN (on onnxruntime, about 0.05 s a photo that needs it: since 2026-12-06 in
#: "default" too, where 18 of View 1's photos had no face, an error in every pair they are
#: in).  "best" costs about three times "default"'s encoding (dlib's: two alignments, each cut
#: with two margins and also mirrored; SFace's: both alignments) and 0.7 s to load the
#: 68-point model.  They set only these fields: detector, upsample and jitters are options of
#: their own.
QUALITY = {
    "default": {
        "fallback": "hog+cnn",
        "small_faces": 80,
        "mirror": False,
        "landmarks": "5-point",
        "padding": str(CHIP_PADDING),
        "networks": FUSED_DEFAULT,
    },
    "best": {
        "fallback": "hog+cnn",
        "small_faces": 80,
        "mirror": True,
        "landmarks": "5-point+68-point",
        "padding": "0.25+0.2",
        "networks": FUSED_BEST,
    },
    #: face_recognition's CLI's own boxes and encodings (its 1600 px LANCZOS copy, HOG
    #: upsampled once, chips cut from that copy) for every face of 80 px and up, without
    #: scanning the pyramid levels that only hold smaller ones; in a photo without such a
    #: face, down to 1/16 of its longest side, as "default" (README, Performance).
    "cli": {
        "fallback": "hog",
        "mirror": False,
        "landmarks": "5-point",
        "padding": str(CHIP_PADDING),
        "shrink": 1600,
        "resample": "lanczos",
        "upsample": 1,
        "min_face": 80,
        "encode_from": "copy",
        "fallback_share": 1 / 16,
        "small_faces": 0,  # it upsamples already
        "networks": "dlib",  # face_recognition's own pipeline: dlib's network alone
    },
}

#: What a preset's settings were before, by the fields that changed since: an index made with
#: them is still that preset (``best``'s fallback was the CNN alone until 2026-12-03; neither
#: looked again at crowds until 2026-12-04; ``default``'s fallback was HOG alone until
#: 2026-12-06).  The networks are not among them: an index made before SFace joined stays on
#: dlib's alone (:func:`as_now`) until ``lookalike upgrade``.
FORMERLY = {
    "best": [{"fallback": "cnn", "small_faces": 0}, {"small_faces": 0}],
    "default": [{"fallback": "hog", "small_faces": 0}, {"fallback": "hog"}],
}


def as_now(settings: Settings) -> Settings:
    """The preset's settings today where ``settings`` are what it was (:data:`FORMERLY`), on
    the networks ``settings`` name: an index made before SFace joined is today's preset on
    dlib's network alone (:func:`dlib_only`), whose vectors it has, not today's preset."""
    for preset, changes in FORMERLY.items():
        now = replace(Settings(**QUALITY[preset]), networks=settings.networks)
        if any(replace(now, **old) == settings for old in changes):
            return now
    return settings


def dlib_only(settings: Settings) -> Settings:
    """``settings`` on dlib's network alone: what a preset was before SFace joined it."""
    return replace(settings, networks="dlib")


def former_preset(settings: Settings) -> str | None:
    """The preset whose settings these were before SFace joined it (dlib's network alone;
    its other fields as they are today or were: :func:`as_now`)."""
    fused = [q for q in QUALITY if "sface" in Settings(**QUALITY[q]).weights]
    now = as_now(settings)
    return next((q for q in fused if dlib_only(Settings(**QUALITY[q])) == now), None)


@dataclass
class Face:
    """One face in a photo.

    ``box`` is ``(top, right, bottom, left)`` in the original photo's pixels (the order
    face_recognition uses); ``embedding`` is the vector search compares (float32, 128 a
    network: :func:`fuse` of ``parts``); ``chip`` is the aligned 150x150 RGB crop dlib's
    encoder saw; ``parts`` each network's own vector, by name (``dlib``: as dlib makes it,
    ``sface``: a unit vector), which is what an index stores.
    """

    box: tuple[int, int, int, int]
    embedding: np.ndarray
    chip: np.ndarray
    parts: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def area(self) -> int:
        top, right, bottom, left = self.box
        return (bottom - top) * (right - left)

    def chip_jpeg(self, quality: int = 88) -> bytes:
        return chip_jpeg(self.chip, quality)


def detect(photo: Photo, settings: Settings) -> list[Face]:
    """Every face in ``photo``: detected on a shrunk copy, encoded from working pixels (or
    from the copy, with ``encode_from="copy"``)."""
    small, factor = _copy(photo, settings.shrink, settings.resample)
    if min(small.shape[:2]) < MIN_DETECT_SIDE:
        return []
    rects = _detect_rects(small, settings, photo.scale * factor)
    if not rects and settings.fallback != "none":
        small, factor, rects = _look_again(photo, small, factor, settings)
    elif _a_crowd(rects, photo.scale * factor, settings):
        small, factor, rects = _look_at_crowd(photo, small, factor, rects, settings)
    if settings.encode_from == "copy":  # the detector's own boxes, as face_recognition uses them
        copy = Photo(small, photo.scale * factor, photo.width, photo.height)
        return [_encode(copy, rect, settings) for rect in rects]
    faces = []
    for rect in rects:
        rect = _scale_rect(rect, factor, photo.pixels.shape)
        if rect is None:
            continue
        faces.append(_encode(photo, rect, settings))
    return faces


def _a_crowd(rects: list, scale: float, settings: Settings) -> bool:
    """Whether HOG, on a copy ``scale`` (> 1) times smaller than the photo, found a face at
    the smallest size it sees: a sign of smaller faces beside it that the copy made too small
    (on the 93 web photos of the benchmark: 2 photos, 7 faces of 80 px and up)."""
    return (
        bool(rects)
        and settings.small_faces > 0
        and settings.detector == "hog"
        and settings.upsample == 0
        and scale > 1
        and min(r.bottom() - r.top() for r in rects) < SMALLEST_FOUND
    )


def _look_at_crowd(photo: Photo, small: np.ndarray, factor: float, rects: list, settings: Settings):
    """HOG again on a copy of at most CROWD_SIDE px, upsampled once, for the faces of at
    least ``small_faces`` px (the levels that hold only smaller ones not scanned); its boxes
    where it finds more faces than the first look, else the first look's."""
    big, big_factor = _copy(photo, CROWD_SIDE, "bilinear")
    more = hog.levels(big, 1, settings.small_faces / (photo.scale * big_factor))
    return (big, big_factor, more) if len(more) > len(rects) else (small, factor, rects)


def _look_again(photo: Photo, small: np.ndarray, factor: float, settings: Settings):
    """Where the detector found no face, each look of ``settings.fallback`` in turn (``hog``,
    ``cnn``, or ``hog+cnn``: the CNN only where HOG's second look finds none either, so that
    ``hog+cnn`` finds every face ``hog`` finds) until one finds a face.  Returns the copy
    looked at, its factor and the boxes (the detector's copy and none if no look finds one)."""
    for look in settings.fallback.split("+"):
        if look not in FALLBACKS:
            raise ValueError(f"unknown fallback {settings.fallback!r} (none, hog, cnn or hog+cnn)")
        again, again_factor, rects = _look(look, photo, small, factor, settings)
        if rects:
            return again, again_factor, rects
    return small, factor, []


def _look(look: str, photo: Photo, small: np.ndarray, factor: float, settings: Settings):
    """One look again: ``hog`` runs HOG once more, upsampled once on a copy of at most
    FALLBACK_HOG_SIDE px when the detector did not upsample (faces down to 40 px in small
    photos), else without upsampling on the same copy (its image pyramid samples other scales
    and finds some turned faces); ``cnn`` runs dlib's CNN detector on a copy of at most
    FALLBACK_SIDE px (finds nearly all of them, about 0.05 s a photo on onnxruntime, 0.4 s
    with dlib's own).  With ``min_face``, ``hog`` scans the levels skipped that hold faces of
    ``fallback_share`` of the photo's longest side (the detector as it is, on the same
    copy), if any were."""
    if look == "hog" and settings.min_face > 0 and settings.detector == "hog":
        scale = photo.scale * factor
        side = max(photo.width, photo.height) * settings.fallback_share / scale
        if hog.first_level(settings.upsample, side) >= hog.first_level(
            settings.upsample, settings.min_face / scale
        ):
            return small, factor, []  # those levels were scanned already
        return small, factor, hog.levels(small, settings.upsample, side)
    if look == "hog" and settings.upsample > 0:
        return small, factor, list(dlibnets.hog_detector()(small, 0))
    if look == "hog":
        small, factor = _copy(photo, FALLBACK_HOG_SIDE, "bilinear")
        return small, factor, list(dlibnets.hog_detector()(small, 1))
    small, factor = shrink(photo.pixels, FALLBACK_SIDE)
    return small, factor, _cnn_rects(small, 0)


def harder_looks(settings: Settings) -> list[tuple[str, Settings]]:
    """Where ``settings`` find no face in a query photo, ways to look harder, cheapest first,
    each named as the user is told: they change only where faces are looked for (detector,
    scales), never how a face is encoded, so what they find compares with an index made
    with ``settings`` (``bench/look_harder.py`` measures how closely)."""
    base = replace(settings, min_face=0, fallback="none", fallback_share=0.0)
    cnn_side = settings.shrink if settings.encode_from == "copy" else HARDER_CNN_SIDE
    return [
        ("upsampled", replace(base, detector="hog", upsample=settings.upsample + 1)),
        ("by the CNN detector", replace(base, detector="cnn", upsample=0, shrink=cnn_side)),
    ]


def _copy(photo: Photo, side: int, resample: str) -> tuple[np.ndarray, float]:
    """The detection copy: the one made while decoding, if it was."""
    return photo.shrunk.get((side, resample)) or shrink(photo.pixels, side, resample)


def largest(faces: list[Face]) -> Face:
    return max(faces, key=lambda f: f.area)


def _detect_rects(pixels: np.ndarray, settings: Settings, scale: float) -> list:
    """The detector's boxes in ``pixels``, a copy ``scale`` times smaller than the photo."""
    if settings.detector == "cnn":
        return _cnn_rects(pixels, settings.upsample)
    if settings.detector == "hog" and settings.min_face > 0:
        return hog.levels(pixels, settings.upsample, settings.min_face / scale)
    if settings.detector == "hog":
        return list(dlibnets.hog_detector()(pixels, settings.upsample))
    raise ValueError(f"unknown detector {settings.detector!r} (hog or cnn)")


def _scale_rect(rect, factor: float, shape: tuple[int, ...]):
    """The detection rectangle in working pixels, clipped to the photo (None if empty)."""
    import dlib

    h, w = shape[:2]
    left = max(0, round(rect.left() * factor))
    top = max(0, round(rect.top() * factor))
    right = min(w - 1, round(rect.right() * factor))
    bottom = min(h - 1, round(rect.bottom() * factor))
    if right <= left or bottom <= top:
        return None
    return dlib.rectangle(left, top, right, bottom)


def _encode(photo: Photo, rect, settings: Settings) -> Face:
    """The face in ``rect``: dlib's mean encoding of one aligned chip per landmark model and
    padding (the chip kept is the first model's with the first padding), and SFace's of one
    chip per landmark model where ``settings`` fuse it."""
    shapes = _shapes(photo.pixels, rect, settings.landmarks)
    chips = _dlib_chips(photo.pixels, shapes, settings.paddings)
    parts = {"dlib": embed(chips, settings)}
    if "sface" in settings.weights:
        parts["sface"] = sface_vector(photo.pixels, shapes)
    s = photo.scale
    box = (
        max(0, round(rect.top() * s)),
        min(photo.width, round(rect.right() * s)),
        min(photo.height, round(rect.bottom() * s)),
        max(0, round(rect.left() * s)),
    )
    return Face(box, fuse(parts, settings.networks), chips[0], parts)


def face_rect(photo: Photo, box: Sequence[int]):
    """A face's box (``Face.box``: top, right, bottom, left in the original photo's pixels)
    as dlib's rectangle in the working pixels."""
    import dlib

    top, right, bottom, left = (round(v / photo.scale) for v in box)
    return dlib.rectangle(left, top, right, bottom)


def cut_chip(photo: Photo, box: Sequence[int], settings: Settings) -> np.ndarray:
    """The aligned chip of the face at ``box``, the one :func:`detect` keeps: the first
    landmark model's, cut with the first padding, cut from the working pixels as
    ``encode_from="photo"`` does.  In a photo worked on at full size (every LFW photo) it is
    that chip to the bit."""
    shapes = _shapes(photo.pixels, face_rect(photo, box), settings.landmarks.split("+")[0])
    return _dlib_chips(photo.pixels, shapes, settings.paddings[:1])[0]


def sface_of(photo: Photo, box: Sequence[int], settings: Settings) -> np.ndarray:
    """SFace's vector of the face at ``box`` as :func:`detect` makes it with ``settings``
    (from the working pixels): how ``lookalike upgrade`` gives SFace's vectors to an index
    made before SFace joined, dlib's untouched."""
    shapes = _shapes(photo.pixels, face_rect(photo, box), settings.landmarks)
    return sface_vector(photo.pixels, shapes)


def _shapes(pixels: np.ndarray, rect, landmarks: str) -> list:
    """The face's landmarks by each landmark model of ``landmarks`` (``Settings.landmarks``)."""
    return [dlibnets.landmarks(name)(pixels, rect) for name in landmarks.split("+")]


def _dlib_chips(pixels: np.ndarray, shapes: list, paddings: list[float]) -> list:
    """One chip for dlib's encoder per landmark shape and padding, shape by shape."""
    import dlib

    return [dlib.get_face_chip(pixels, s, CHIP_SIZE, pad) for s in shapes for pad in paddings]


def sface_vector(pixels: np.ndarray, shapes: list) -> np.ndarray:
    """SFace's unit vector of a face: of its chip aligned by each landmark shape, averaged."""
    from .models import sface

    vectors = sface.embed([align.sface_chip(pixels, shape) for shape in shapes])
    mean = vectors.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def chip_jpeg(chip: np.ndarray, quality: int = 88) -> bytes:
    """An aligned chip as JPEG bytes, as an index stores it."""
    buf = io.BytesIO()
    Image.fromarray(chip).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def embed(chips: list[np.ndarray], settings: Settings) -> np.ndarray:
    """The mean 128-d encoding of aligned chips (and of their mirror images if asked), all in
    one call.  Jittered encodings (``jitters`` > 1, dlib's random crops) are always dlib's."""
    if settings.mirror:
        chips = chips + [np.ascontiguousarray(chip[:, ::-1]) for chip in chips]
    if settings.jitters <= 1 and engine() == "onnx":
        from .models import encoder as onnx_encoder

        return np.mean(onnx_encoder.embed(chips), axis=0, dtype=np.float32)
    encoder = dlibnets.encoder()
    if len(chips) == 1:
        return np.asarray(encoder.compute_face_descriptor(chips[0], settings.jitters), np.float32)
    encodings = encoder.compute_face_descriptor(chips, settings.jitters)
    return np.mean(encodings, axis=0, dtype=np.float32)


def _cnn_rects(pixels: np.ndarray, upsample: int) -> list:
    """The CNN detector's boxes: its network on onnxruntime with the onnx engine (the same
    boxes, ~10x faster), dlib's own where asked or where upsampling (dlib's ``pyramid_up``
    has no Python binding to copy it with)."""
    import dlib

    if upsample == 0 and engine() == "onnx":
        from .models import cnn

        return [dlib.rectangle(*d.rect) for d in cnn.detect(pixels)]
    return [d.rect for d in dlibnets.cnn_detector()(pixels, upsample)]
