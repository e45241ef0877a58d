"""Where the networks' weight files are: installed packages, read in place, never downloaded.

dlib's models come from the ``face_recognition_models`` package, found without importing it
(its ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ship).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The landmark models a chip can be aligned with, by the name ``Settings.landmarks`` uses.
LANDMARK_FILES = {
    "5-point": "shape_predictor_5_face_landmarks.dat",
    "68-point": "shape_predictor_68_face_landmarks.dat",
}
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CNN_FILE = "mmod_human_face_detector.dat"


class ModelError(Exception):
    """The face model files cannot be found or loaded."""


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (None if missing)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_dir() -> Path:
    """Where face_recognition_models keeps its weight files."""
    found = package_dir("face_recognition_models")
    if found is None:
        raise ModelError("the face_recognition_models package is not installed")
    return found / "models"


def dlib_file(name: str) -> Path:
    """One of dlib's weight files, which must exist."""
    path = model_dir() / name
    if not path.is_file():
        raise ModelError(f"model file missing: {path}")
    return path


def cache_dir() -> Path:
    """The user cache folder, where graphs built from the weights are kept."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("lookalike"))
