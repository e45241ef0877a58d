"""dlib's face encoder run by onnxruntime: the same 128-d encodings (within L2 2e-6), about
13x less CPU a face than dlib-bin (docs/onnx-encoder.md).

The ONNX model is built (:mod:`lookalike.dlibdnn`) from the installed weight file on first use
and kept in the user cache folder, named after the weight file's sha256 (a changed file is
built again; nothing is downloaded); :mod:`lookalike.cnn` caches the detector's the same
way.  One session a process, single-threaded unless ``LOOKALIKE_ONNX_THREADS`` says
otherwise: an indexing worker is one process a core.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

#: Bumped when :func:`lookalike.dlibdnn.to_onnx` builds a different graph, so that models
#: cached by an older version are built again.
GRAPH_VERSION = 1


@cache
def available() -> bool:
    """Whether onnxruntime (and onnx, to build the model) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def embed(chips: Sequence[np.ndarray]) -> np.ndarray:
    """The encodings (n x 128 float32) of aligned 150x150 RGB chips, in one batch."""
    batch = np.stack(chips).transpose(0, 3, 1, 2).astype(np.float32)
    return _session().run(None, {"chips": batch})[0]


def model_path(weights: Path, cache_dir: Path) -> Path:
    """Where the ONNX model of ``weights`` is cached: named after its sha256."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    return cache_dir / f"{weights.stem}-{digest[:16]}-g{GRAPH_VERSION}.onnx"


def load_model(
    weights: Path, cache_dir: Path, rebuild: bool = False, topology: list | None = None
) -> Path | bytes:
    """The ONNX model of the dlib network in ``weights`` (the encoder, or a network of
    another ``topology``): the cached file (built first if missing, or if ``rebuild``), or
    the model itself where the cache folder cannot be written.  A path, not bytes, where it
    can: onnxruntime then holds one copy of the weights, not two."""
    path = model_path(weights, cache_dir)
    if path.is_file() and not rebuild:
        return path
    from . import dlibdnn

    net = dlibdnn.read(weights, topology or dlibdnn.ENCODER)
    model = dlibdnn.to_onnx(net).SerializeToString()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(model)
        os.replace(tmp, path)
        return path
    except OSError:
        with contextlib.suppress(OSError):  # no folder to write in, nothing to remove
            tmp.unlink(missing_ok=True)
        return model


def threads() -> int:
    """onnxruntime's intra-op threads: ``LOOKALIKE_ONNX_THREADS``, else 1."""
    value = os.environ.get("LOOKALIKE_ONNX_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"LOOKALIKE_ONNX_THREADS must be a number, not {value!r}") from None


@cache
def _session():
    import onnxruntime as ort
    import platformdirs

    from .faces import ENCODER_FILE, ModelError, model_dir

    weights = model_dir() / ENCODER_FILE
    if not weights.is_file():
        raise ModelError(f"model file missing: {weights}")
    cache_dir = Path(platformdirs.user_cache_dir("lookalike"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads()
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    model = load_model(weights, cache_dir)
    try:
        return ort.InferenceSession(_source(model), options, providers=providers)
    except Exception:  # onnxruntime's own errors are plain Exceptions: a damaged cached file
        if isinstance(model, bytes):
            raise
    model = load_model(weights, cache_dir, rebuild=True)
    return ort.InferenceSession(_source(model), options, providers=providers)


def _source(model: Path | bytes) -> str | bytes:
    return model if isinstance(model, bytes) else str(model)
