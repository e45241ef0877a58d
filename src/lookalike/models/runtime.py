"""Who runs the networks, and where: the engine (dlib, or onnxruntime on graphs of dlib's
weights), the device onnxruntime runs on, and its sessions.

The choices live in the environment (``LOOKALIKE_ENGINE``, ``LOOKALIKE_DEVICE``,
``LOOKALIKE_ONNX_THREADS``), so that the worker processes a run starts inherit them, whatever
the start method.  Graphs built from weight files are cached in the user cache folder under a
name that holds the weights' hash (a changed file is built again; nothing is downloaded).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .weights import ModelError

#: Who runs dlib's encoder and CNN detector: dlib, or onnxruntime on graphs of dlib's own
#: weights (:mod:`.encoder`, :mod:`.cnn`: the same encodings within L2 1e-5 and the same
#: boxes, about 10x faster).  The second network (:mod:`.sface`) runs on onnxruntime either way.
ENGINES = ("dlib", "onnx")
#: Where onnxruntime runs the networks (``LOOKALIKE_DEVICE``, ``--device``): ``auto`` on the
#: GPU where onnxruntime has a CUDA provider (``pip install onnxruntime-gpu``) that can use
#: one, else on the CPU.
DEVICES = ("auto", "cpu", "cuda")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@cache
def available() -> bool:
    """Whether onnxruntime (and onnx, to build the models) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def set_engine(name: str) -> None:
    """Run dlib's networks with ``name`` (one of :data:`ENGINES`) in this process and the
    worker processes it starts."""
    os.environ["LOOKALIKE_ENGINE"] = _checked_engine(name)


def engine() -> str:
    """dlib's networks' engine: ``LOOKALIKE_ENGINE``, else onnx where onnxruntime is installed."""
    name = os.environ.get("LOOKALIKE_ENGINE") or ("onnx" if available() else "dlib")
    return _checked_engine(name)


def _checked_engine(name: str) -> str:
    """``name``, refused if unknown or not installed."""
    if name not in ENGINES:
        raise ValueError(f"unknown encoder engine {name!r} ({', '.join(ENGINES)})")
    if name == "onnx" and not available():
        raise ModelError("the onnx engine needs onnxruntime and onnx: pip install onnxruntime onnx")
    return name


def threads() -> int:
    """onnxruntime's intra-op threads: ``LOOKALIKE_ONNX_THREADS``, else 1 (an indexing worker
    is one process a core)."""
    value = os.environ.get("LOOKALIKE_ONNX_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"LOOKALIKE_ONNX_THREADS must be a number, not {value!r}") from None


def set_device(name: str) -> None:
    """Run onnxruntime on ``name`` (one of :data:`DEVICES`) in this process and the worker
    processes it starts; ``cuda`` is checked now, before any photo is read."""
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


def new_session(model: Path | bytes):
    """An onnxruntime session of ``model`` on :func:`providers`, :func:`threads` wide.
    onnxruntime itself falls back to the CPU, with a warning, where the CUDA provider cannot
    start (no GPU, no CUDA libraries): that stands for ``auto``, and is refused for ``cuda``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads()
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, options, providers=providers())
    if device() == "cuda" and session.get_providers()[0] != CUDA:
        raise ModelError(
            "--device cuda: onnxruntime could not start its CUDA provider (no GPU, or no CUDA "
            "libraries: see its warning above); --device cpu or auto run on the CPU"
        )
    return session


def cached(path: Path, build: Callable[[], bytes], rebuild: bool = False) -> Path | bytes:
    """The graph cached at ``path`` (built first if missing, or if ``rebuild``), or the graph
    itself where the cache folder cannot be written.  A path, not bytes, where it can:
    onnxruntime then holds one copy of the weights, not two."""
    if path.is_file() and not rebuild:
        return path
    model = build()
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


def session_of(path: Path, build: Callable[[], bytes]):
    """A session of the graph cached at ``path``; a damaged cached file (onnxruntime refuses
    it) is built again once."""
    model = cached(path, build)
    try:
        return new_session(model)
    except ModelError:
        raise
    except Exception:  # onnxruntime's own errors are plain Exceptions: a damaged cached file
        if isinstance(model, bytes):
            raise
    return new_session(cached(path, build, rebuild=True))
