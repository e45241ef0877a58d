"""dlib's face encoder run by onnxruntime: the same 128-d encodings (within L2 2e-6), about
13x less CPU a face than dlib-bin (docs/onnx-encoder.md).

The ONNX model is built (:mod:`.dlibdnn`) from the installed weight file on first use and
kept in the user cache folder, named after the weight file's sha256 (a changed file is built
again; nothing is downloaded); :mod:`.cnn` caches the detector's the same way.  One session a
process (:mod:`.runtime`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from . import runtime
from .weights import ENCODER_FILE, cache_dir, dlib_file

#: Bumped when :func:`.dlibdnn.to_onnx` builds a different graph, so that models cached by an
#: older version are built again.
GRAPH_VERSION = 1


def embed(chips: Sequence[np.ndarray]) -> np.ndarray:
    """The encodings (n x 128 float32) of aligned 150x150 RGB chips, in one batch."""
    batch = np.stack(chips).transpose(0, 3, 1, 2).astype(np.float32)
    return _session().run(None, {"chips": batch})[0]


def model_path(weights: Path, cache: Path) -> Path:
    """Where the ONNX model of ``weights`` is cached: named after its sha256."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    return cache / f"{weights.stem}-{digest[:16]}-g{GRAPH_VERSION}.onnx"


def load_model(
    weights: Path, cache: Path, rebuild: bool = False, topology: list | None = None
) -> Path | bytes:
    """The ONNX model of the dlib network in ``weights`` (the encoder, or a network of
    another ``topology``), cached in the folder ``cache`` (:func:`.runtime.cached`)."""
    return runtime.cached(model_path(weights, cache), builder(weights, topology), rebuild)


def builder(weights: Path, topology: list | None = None) -> Callable[[], bytes]:
    def build() -> bytes:
        from . import dlibdnn

        net = dlibdnn.read(weights, topology or dlibdnn.ENCODER)
        return dlibdnn.to_onnx(net).SerializeToString()

    return build


def provider() -> str:
    """The execution provider the encoder's session runs on in this process (built if it
    is not yet: about 0.25 s)."""
    return _session().get_providers()[0]


@cache
def _session():
    weights = dlib_file(ENCODER_FILE)
    return runtime.session_of(model_path(weights, cache_dir()), builder(weights))
