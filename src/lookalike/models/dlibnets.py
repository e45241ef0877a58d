"""dlib's own models, each loaded once a process and only when first needed (the 68-point
landmark model, 95 MB and 0.7 s to load, only by settings that align with it)."""

from __future__ import annotations

import os
from functools import cache

from . import runtime
from .weights import CNN_FILE, ENCODER_FILE, LANDMARK_FILES, cache_dir, dlib_file


def dlib_info() -> dict:
    """Which dlib is running: its version, whether it was built with BLAS, and the engine
    that runs its networks."""
    import dlib

    blas = bool(getattr(dlib, "DLIB_USE_BLAS", False))
    return {"version": dlib.__version__, "blas": blas, "engine": runtime.engine()}


@cache
def hog_detector():
    """dlib's HOG face detector, loaded from a copy cached on disk.

    Building it (``get_frontal_face_detector``) decompresses the model dlib carries in its
    source: 1.6 s a process on this project's machine, more than detecting the faces of a
    photo.  The built detector is saved once per dlib version in the user's cache folder and
    loads in milliseconds; a missing, unreadable or unexpected file is rebuilt.
    """
    import dlib

    path = cache_dir() / f"frontal_face_detector-dlib-{dlib.__version__}.svm"
    try:
        detector = dlib.fhog_object_detector(str(path))
        if detector.num_detectors == 5 and detector.detection_window_width == 80:
            return detector
    except RuntimeError:
        pass  # missing or corrupt: rebuilt below
    detector = dlib.get_frontal_face_detector()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        detector.save(str(tmp))
        os.replace(tmp, path)
    except (OSError, RuntimeError):
        tmp.unlink(missing_ok=True)  # a read-only cache folder only costs the rebuild
    return detector


@cache
def cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(dlib_file(CNN_FILE)))


@cache
def landmarks(name: str):
    """The shape predictor ``name`` (a key of :data:`LANDMARK_FILES`)."""
    import dlib

    if name not in LANDMARK_FILES:
        known = ", ".join(LANDMARK_FILES)
        raise ValueError(f"unknown landmark model {name!r} ({known}, or several joined by +)")
    return dlib.shape_predictor(str(dlib_file(LANDMARK_FILES[name])))


@cache
def encoder():
    """dlib's face encoder, run by dlib itself."""
    import dlib

    return dlib.face_recognition_model_v1(str(dlib_file(ENCODER_FILE)))
