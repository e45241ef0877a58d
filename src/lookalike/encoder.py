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
#: Where onnxruntime runs the networks (``LOOKALIKE_DEVICE``, ``--device``): ``auto`` on the
#: GPU where onnxruntime has a CUDA provider (``pip install onnxruntime-gpu``) that can use
#: one, else on the CPU.
DEVICES = ("auto", "cpu", "cuda")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


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


def set_device(name: str) -> None:
    """Run onnxruntime on ``name`` (one of :data:`DEVICES`) in this process and the worker
    processes it starts (through the environment, as :func:`lookalike.faces.set_engine`);
    ``cuda`` is checked now, before any photo is read."""
    from .faces import ModelError, engine

    _checked(name)
    if name == "cuda" and engine() != "onnx":
        raise ModelError("--device cuda needs the onnx engine: dlib-bin runs on the CPU only")
    if name == "cuda":
        providers(name)
    os.environ["LOOKALIKE_DEVICE"] = name


def device() -> str:
    """The device asked for: ``LOOKALIKE_DEVICE``, else ``auto``."""
    return _checked(os.environ.get("LOOKALIKE_DEVICE") or "auto")


def _checked(name: str) -> str:
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r} ({', '.join(DEVICES)})")
    return name


def providers(asked: str | None = None) -> list[str]:
    """onnxruntime's execution providers for the device ``asked`` (:func:`device`), best
    first.  ``cuda`` where this onnxruntime has no CUDA provider is refused (a GPU asked
    for by name is not silently replaced by the CPU); ``auto`` then runs on the CPU."""
    import onnxruntime as ort

    from .faces import ModelError

    asked = asked or device()
    if asked == "cpu":
        return [CPU]
    if CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    if asked == "cuda":
        raise ModelError(
            "--device cuda: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu, "
            "on a machine with an NVIDIA GPU); --device auto runs on the CPU where there is none"
        )
    return [CPU]


def new_session(model: Path | bytes, options):
    """An onnxruntime session of ``model`` on :func:`providers`.  onnxruntime itself falls
    back to the CPU, with a warning, where the CUDA provider cannot start (no GPU, no CUDA
    libraries): that stands for ``auto``, and is refused for ``cuda``."""
    import onnxruntime as ort

    from .faces import ModelError

    session = ort.InferenceSession(_source(model), options, providers=providers())
    if device() == "cuda" and session.get_providers()[0] != CUDA:
        raise ModelError(
            "--device cuda: onnxruntime could not start its CUDA provider (no GPU, or no CUDA "
            "libraries: see its warning above); --device cpu or auto run on the CPU"
        )
    return session


def provider() -> str:
    """The execution provider the encoder's session runs on in this process (built if it
    is not yet: about 0.25 s)."""
    return _session().get_providers()[0]


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
    model = load_model(weights, cache_dir)
    try:
        return new_session(model, options)
    except ModelError:
        raise
    except Exception:  # onnxruntime's own errors are plain Exceptions: a damaged cached file
        if isinstance(model, bytes):
            raise
    model = load_model(weights, cache_dir, rebuild=True)
    return new_session(model, options)


def _source(model: Path | bytes) -> str | bytes:
    return model if isinstance(model, bytes) else str(model)
