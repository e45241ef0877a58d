"""dlib's networks outside dlib: a reader of its DNN ``.dat`` files and ONNX graphs of them.

Two networks: the face encoder (``dlib_face_recognition_resnet_model_v1.dat``, dlib's
``anet_type``) and the CNN face detector (``mmod_human_face_detector.dat``).  A file is a
network as serialized by ``dlib/dnn/core.h``: the loss layer's details, then one version
number per layer from the outermost inwards (each layer holds the network below it), then
the input layer, then each layer's details from the innermost outwards.  The network's shape
(which layers, where its residual branches join) is not in the file, only in the C++ type
that wrote it, so :data:`ENCODER` and :data:`DETECTOR` write those types down once,
outermost layer first; the sizes of each layer (filters, kernels, strides, padding) are read
from the file, which must read to its last byte as that network.

Integers are dlib's variable-length integers, floats its ``float_details`` (mantissa and
exponent, each a variable-length integer), tensors' values 4-byte little-endian floats.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The layers that compute something (as opposed to tags and skips, which only name a
#: point of the network and jump back to it), by the prefix of their version string.
COMPUTING = ("con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc")


def _block() -> list[tuple[str, int]]:
    """dlib's ``block``: ``affine<con<relu<affine<con<SUBNET>>>>>``."""
    return [("affine", 0), ("con", 0), ("relu", 0), ("affine", 0), ("con", 0)]


def _ares() -> list[tuple[str, int]]:
    """``relu<add_prev1<block<tag1<SUBNET>>>>``: a residual block."""
    return [("relu", 0), ("add_prev", 1), *_block(), ("tag", 1)]


def _ares_down() -> list[tuple[str, int]]:
    """``relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<tag1<SUBNET>>>>>>>>``: a residual
    block that halves the size; its input, average-pooled, is added to the block's output."""
    joined = [("relu", 0), ("add_prev", 2), ("avg_pool", 0), ("skip", 1), ("tag", 2)]
    return [*joined, *_block(), ("tag", 1)]


#: ``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``, outermost layer first (below the
#: loss layer, above the input layer): each entry a layer's kind and, for tags, skips and
#: add_prev, its tag number.
ENCODER: list[tuple[str, int]] = [
    ("fc", 0),
    ("avg_pool", 0),
    *_ares_down(),  # alevel0: 256
    *_ares(),  # alevel1: 256
    *_ares(),
    *_ares_down(),
    *_ares(),  # alevel2: 128
    *_ares(),
    *_ares_down(),
    *_ares(),  # alevel3: 64
    *_ares(),
    *_ares(),
    *_ares_down(),
    *_ares(),  # alevel4: 32
    *_ares(),
    *_ares(),
    ("max_pool", 0),
    ("relu", 0),
    ("affine", 0),
    ("con", 0),
]


def _rcon() -> list[tuple[str, int]]:
    """``relu<affine<con<SUBNET>>>``: the repeated unit of dlib's CNN face detector."""
    return [("relu", 0), ("affine", 0), ("con", 0)]


#: ``net_type`` of dlib's ``dnn_mmod_face_detection_ex.cpp`` (``mmod_human_face_detector.dat``)
#: below its loss layer: ``con<1,9,9,1,1, rcon5<45> x3 <downsampler>>``, the downsampler
#: three ``rcon`` of 5x5 stride-2 convolutions (16, 32, 32 filters).
DETECTOR: list[tuple[str, int]] = [("con", 0), *(_rcon() * 6)]


class FormatError(ValueError):
    """The file is not the dlib network described (:data:`ENCODER`, :data:`DETECTOR`)."""


@dataclass
class Layer:
    """One layer: its kind, tag number, sizes (``attrs``) and weights."""

    kind: str
    tag: int = 0
    attrs: dict[str, int] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Network:
    """A dlib network read from its file: ``layers`` outermost first."""

    means: tuple[float, float, float]  # the input layer's per-channel (R, G, B) means
    size: int  # the input chips' side; 0: any size (an image pyramid)
    layers: list[Layer]
    #: an image pyramid input's padding between levels and around them (dlib's
    #: ``input_rgb_image_pyramid``); None for fixed-size chips
    pyramid: tuple[int, int] | None = None
    #: the loss layer's settings that matter at inference (``loss_mmod``: ``windows``, the
    #: detector windows' (width, height); ``nms``, the (IoU, covered share) of non-max
    #: suppression)
    loss: dict = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(layer.kind == kind for layer in self.layers)


class _Reader:
    """dlib's serialization primitives over a byte buffer."""

    def __init__(self, data: bytes) -> None:
        self.buf = io.BytesIO(data)

    def _take(self, n: int) -> bytes:
        data = self.buf.read(n)
        if len(data) != n:
            raise FormatError("unexpected end of file")
        return data

    def integer(self) -> int:
        """A variable-length integer: a control byte (0x80 the sign, the low 4 bits the
        number of bytes), then that many little-endian bytes."""
        control = self._take(1)[0]
        size = control & 0x0F
        if not 1 <= size <= 8:
            raise FormatError(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        """``float_details``: mantissa * 2**exponent (special exponents: inf, -inf, nan)."""
        mantissa, exponent = self.integer(), self.integer()
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        return special[exponent] if exponent in special else math.ldexp(mantissa, exponent)

    def boolean(self) -> bool:
        char = self._take(1)
        if char not in (b"0", b"1"):
            raise FormatError(f"bad bool {char!r}")
        return char == b"1"

    def string(self) -> str:
        return self._take(self.integer()).decode("latin-1")

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor``: version 2, four dimensions, then float32 values."""
        self.version("tensor", 2)
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), "<f4").reshape(shape).astype(np.float32)

    def alias(self) -> tuple[int, ...]:
        """An ``alias_tensor``: version 1 and its four dimensions (a view of the params)."""
        self.version("alias_tensor", 1)
        return tuple(self.integer() for _ in range(4))

    def version(self, what: str, *allowed: int) -> int:
        version = self.integer()
        if version not in allowed:
            raise FormatError(f"{what}: unexpected version {version}")
        return version

    def at_end(self) -> bool:
        return self.buf.read(1) == b""


def read(path: str | Path, topology: list[tuple[str, int]] = ENCODER) -> Network:
    """The network in dlib's ``.dat`` file at ``path``, shaped as ``topology`` says."""
    r = _Reader(Path(path).read_bytes())
    loss = _read_loss(r)
    wrappers = [r.version(kind, *_wrapper_versions(kind)) for kind, _ in topology]
    layers = [Layer(kind, tag) for kind, tag in topology]
    inner = len(layers) - 1
    means, size, pyramid = _read_input(r)
    for i in range(inner, -1, -1):  # details from the innermost layer outwards
        if layers[i].kind in COMPUTING:
            _read_details(r, layers[i])
            _read_state(r, wrappers[i], on_input=i == inner)
    if not r.at_end():
        raise FormatError("data left after the last layer")
    return Network(means=means, size=size, layers=layers, pyramid=pyramid, loss=loss)


def _wrapper_versions(kind: str) -> tuple[int, ...]:
    """The versions of dlib's ``add_layer`` (1-3: on another layer or on the input layer),
    ``add_tag_layer`` and ``add_skip_layer`` (1)."""
    return (1, 2, 3) if kind in COMPUTING else (1,)


def _read_loss(r: _Reader) -> dict:
    r.version("add_loss_layer", 1)
    name = r.string()
    if name == "loss_metric_2":
        for _ in range(2):
            r.real()  # margin, distance threshold: training only
    elif name == "loss_mmod_":
        return _read_mmod_options(r)
    elif name != "loss_metric_":
        raise FormatError(f"unknown loss layer {name!r}")
    return {}


def _read_mmod_options(r: _Reader) -> dict:
    """dlib's ``mmod_options``: the detector windows and the non-max suppression test."""
    version = r.version("mmod_options", 1, 2, 3, 4)
    if version == 1:
        windows = [(r.integer(), r.integer())]
    else:
        windows = [_read_window(r) for _ in range(r.integer())]
    for _ in range(3):
        r.real()  # loss per false alarm, per missed target, truth match IoU: training only
    nms = (r.real(), r.real())  # IoU, share of either box covered
    for _ in range(2):
        r.real()  # overlaps_ignore: training only
    if version >= 3:
        r.integer()  # assume_image_pyramid
    if version >= 4 and r.boolean():
        raise FormatError("bounding box regression is not supported")
    if version >= 4:
        r.real()  # bbr_lambda
    return {"windows": windows, "nms": nms}


def _read_window(r: _Reader) -> tuple[int, int]:
    version = r.version("detector_window_details", 1, 2)
    size = (r.integer(), r.integer())
    if version == 2:
        r.string()  # label
    return size


def _read_input(r: _Reader) -> tuple[tuple[float, float, float], int, tuple[int, int] | None]:
    """The input layer: its means and chip size, or (an image pyramid) its paddings."""
    name = r.string()
    if name not in ("input_rgb_image_sized", "input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise FormatError(f"unexpected input layer {name!r}")
    means = (r.real(), r.real(), r.real())
    if name == "input_rgb_image_pyramid":
        return means, 0, (10, 11)  # dlib's defaults before they were stored
    if name == "input_rgb_image_pyramid2":
        return means, 0, (r.integer(), r.integer())
    rows, cols = r.integer(), r.integer()
    if rows != cols:
        raise FormatError(f"input {rows}x{cols} is not square")
    return means, rows, None


def _read_state(r: _Reader, version: int, on_input: bool) -> None:
    """What ``add_layer`` keeps after a layer's details: training state, skipped."""
    for _ in range(3):
        r.boolean()  # setup called, gradient stale, gradient disabled
    for _ in range(2):
        r.tensor()  # x_grad, cached_output
    if on_input:
        r.tensor()  # grad_final
        if version >= 3:
            r.integer()  # sample expansion factor
    elif version == 2:
        r.tensor()  # params_grad


def _read_details(r: _Reader, layer: Layer) -> None:
    name = r.string()
    if layer.kind == "affine" and name == "bn_con2":
        _batch_norm(r, layer)  # dlib reads a trained net's batch norm as an affine layer
    elif not name.startswith(layer.kind + "_"):
        raise FormatError(f"expected a {layer.kind} layer, found {name!r}")
    else:
        _DETAILS[layer.kind](r, name, layer)


def _con(r: _Reader, name: str, layer: Layer) -> None:
    if name not in ("con_4", "con_5", "con_6"):
        raise FormatError(f"unknown version {name!r}")
    params = r.tensor().ravel()
    keys = ("filters", "rows", "cols", "stride_y", "stride_x", "pad_y", "pad_x")
    layer.attrs = {key: r.integer() for key in keys}
    shape, bias_shape = r.alias(), r.alias()
    for _ in range(4):
        r.real()  # learning rate and weight decay multipliers
    use_bias = r.boolean() if name in ("con_5", "con_6") else True
    if name == "con_6" and r.boolean():
        raise FormatError("con with a fused relu is not supported")
    n = int(np.prod(shape))
    layer.weights["w"] = params[:n].reshape(shape)
    if use_bias:
        layer.weights["b"] = params[n : n + int(np.prod(bias_shape))]


def _affine(r: _Reader, name: str, layer: Layer) -> None:
    if name not in ("affine_", "affine_2"):
        raise FormatError(f"unknown version {name!r}")
    params = r.tensor().ravel()
    gamma, beta = r.alias(), r.alias()
    if r.integer() != 0:  # dlib's layer_mode: CONV_MODE is 0 (one gamma and beta a channel)
        raise FormatError("affine layer not in conv mode")
    if name == "affine_2" and r.boolean():
        raise FormatError("disabled affine layer")
    k = int(np.prod(gamma))
    layer.weights["gamma"] = params[:k]
    layer.weights["beta"] = params[k : k + int(np.prod(beta))]


def _batch_norm(r: _Reader, layer: Layer) -> None:
    """``bn_con2`` as dlib's ``affine_(const bn_&)`` makes it: gamma / sqrt(var + eps), and
    beta - that * mean, from the running statistics."""
    params = r.tensor().ravel()
    gamma, _ = r.alias(), r.alias()
    for _ in range(2):
        r.tensor()  # this batch's means and inverse deviations: training only
    means, variances = r.tensor().ravel(), r.tensor().ravel()
    for _ in range(2):
        r.integer()  # updates, window size
    for _ in range(4):
        r.real()  # learning rate and weight decay multipliers
    eps = r.real()
    k = int(np.prod(gamma))
    scale = (params[:k] / np.sqrt(variances + np.float32(eps))).astype(np.float32)
    layer.weights["gamma"] = scale
    layer.weights["beta"] = (params[k : 2 * k] - scale * means).astype(np.float32)


def _relu(r: _Reader, name: str, layer: Layer) -> None:
    if name == "relu_2" and r.boolean():
        raise FormatError("disabled relu layer")


def _pool(r: _Reader, name: str, layer: Layer) -> None:
    keys = ("rows", "cols", "stride_y", "stride_x", "pad_y", "pad_x")
    layer.attrs = {key: r.integer() for key in keys}


def _add_prev(r: _Reader, name: str, layer: Layer) -> None:
    pass  # no parameters


def _fc(r: _Reader, name: str, layer: Layer) -> None:
    if name not in ("fc_2", "fc_3"):
        raise FormatError(f"unknown version {name!r}")
    outputs, inputs = r.integer(), r.integer()
    params = r.tensor().ravel()
    shape = r.alias()
    r.alias()  # the biases'
    has_bias = r.integer() == 0  # dlib's fc_bias_mode: FC_HAS_BIAS is 0
    for _ in range(4):
        r.real()  # learning rate and weight decay multipliers
    use_bias = r.boolean() if name == "fc_3" else True
    if has_bias and use_bias:
        raise FormatError("fc with a bias is not supported")
    layer.attrs = {"outputs": outputs, "inputs": inputs}
    layer.weights["w"] = params[: int(np.prod(shape))].reshape(inputs, outputs)


_DETAILS = {
    "con": _con,
    "affine": _affine,
    "relu": _relu,
    "max_pool": _pool,
    "avg_pool": _pool,
    "add_prev": _add_prev,
    "fc": _fc,
}


# ----------------------------------------------------------------------------------------
# The ONNX graph


@dataclass
class _Graph:
    """An ONNX graph being built from the input outwards, with each tensor's (C, H, W)."""

    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], shape: tuple[int, int, int], **attrs) -> str:
        from onnx import helper

        out = f"t{len(self.nodes)}"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"{op}{len(self.nodes)}", **attrs)
        )
        self.shapes[out] = shape
        return out


def to_onnx(net: Network, opset: int = 17):
    """An ONNX model of ``net``.

    The face encoder (fixed-size chips): input ``chips``, N x 3 x size x size float32 RGB
    values 0-255 (dlib's input normalisation is done in the graph), output ``embeddings``,
    N x 128.  The detector (an image pyramid): input ``tensor``, N x 3 x H x W, what dlib's
    input layer makes of an image (normalised, tiled: see :mod:`.cnn`), output
    ``scores``, one map a detector window.

    Each ``affine`` layer (batch norm folded into a scale and shift by dlib) is folded into
    the convolution before it."""
    from onnx import TensorProto, helper

    g = _Graph()
    if net.size:
        names, dims = ("chips", "embeddings"), ["n", 3, net.size, net.size]
        means = np.array(net.means, np.float32).reshape(1, 3, 1, 1)
        x = g.node("Sub", ["chips", g.const("means", means)], (3, net.size, net.size))
        x = g.node("Mul", [x, g.const("scale", np.float32(1 / 256))], g.shapes[x])
    else:
        names, dims = ("tensor", "scores"), ["n", 3, "h", "w"]
        x = names[0]
        g.shapes[x] = (3, None, None)
    tags: dict[int, str] = {}
    layers = net.layers[::-1]  # innermost first
    for i, layer in enumerate(layers):
        if layer.kind == "affine":
            if i == 0 or layers[i - 1].kind != "con":
                raise FormatError("an affine layer not after a convolution")
            continue  # folded into the con below it
        following = layers[i + 1] if i + 1 < len(layers) else None
        x = _add_layer(g, layer, x, tags, following)
    g.nodes[-1].output[0] = names[1]
    out_dims = ["n", g.shapes[x][0]] + (["h_out", "w_out"] if not net.size else [])
    graph = helper.make_graph(
        g.nodes,
        "dlib_net",
        [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, out_dims)],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    return model


def _add_layer(
    g: _Graph, layer: Layer, x: str, tags: dict[int, str], following: Layer | None
) -> str:
    """The nodes of one layer on ``x``; its output (``x`` itself for tags and skips)."""
    if layer.kind == "tag":
        tags[layer.tag] = x
        return x
    if layer.kind == "skip":
        return tags[layer.tag]
    if layer.kind == "con":
        return _con_node(
            g, layer, x, following if following and following.kind == "affine" else None
        )
    if layer.kind == "relu":
        return g.node("Relu", [x], g.shapes[x])
    if layer.kind in ("max_pool", "avg_pool"):
        return _pool_node(g, layer, x)
    if layer.kind == "add_prev":
        return _add_prev_node(g, x, tags[layer.tag])
    return _fc_node(g, layer, x)


def _con_node(g: _Graph, layer: Layer, x: str, affine: Layer | None) -> str:
    w = layer.weights["w"]
    b = layer.weights.get("b", np.zeros(w.shape[0], np.float32))
    if affine is not None:
        gamma, beta = affine.weights["gamma"], affine.weights["beta"]
        w = w * gamma.reshape(-1, 1, 1, 1)
        b = b * gamma + beta
    a = layer.attrs
    shape = (w.shape[0], *_out_size(g.shapes[x], a))
    name = f"con{len(g.nodes)}"
    return g.node(
        "Conv",
        [x, g.const(f"{name}.w", w.astype(np.float32)), g.const(f"{name}.b", b.astype(np.float32))],
        shape,
        kernel_shape=[a["rows"], a["cols"]],
        strides=[a["stride_y"], a["stride_x"]],
        pads=[a["pad_y"], a["pad_x"], a["pad_y"], a["pad_x"]],
    )


def _pool_node(g: _Graph, layer: Layer, x: str) -> str:
    a = layer.attrs
    channels = g.shapes[x][0]
    if a["rows"] == 0:  # dlib's avg_pool_everything
        return g.node("GlobalAveragePool", [x], (channels, 1, 1))
    op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
    return g.node(
        op,
        [x],
        (channels, *_out_size(g.shapes[x], a)),
        kernel_shape=[a["rows"], a["cols"]],
        strides=[a["stride_y"], a["stride_x"]],
        pads=[a["pad_y"], a["pad_x"], a["pad_y"], a["pad_x"]],
    )


def _out_size(shape: tuple, a: dict[str, int]) -> tuple:
    """A convolution's or pooling's output rows and columns (None: known at run time)."""
    _, h, w = shape
    if h is None:
        return None, None
    return (
        (h + 2 * a["pad_y"] - a["rows"]) // a["stride_y"] + 1,
        (w + 2 * a["pad_x"] - a["cols"]) // a["stride_x"] + 1,
    )


def _add_prev_node(g: _Graph, x: str, prev: str) -> str:
    """dlib's ``add_prev``: the sum over the larger of the two shapes, each tensor
    zero-padded at its end (more channels, bottom rows, right columns) where it is smaller."""
    shape = tuple(max(a, b) for a, b in zip(g.shapes[x], g.shapes[prev], strict=True))
    return g.node("Add", [_pad_to(g, x, shape), _pad_to(g, prev, shape)], shape)


def _pad_to(g: _Graph, x: str, shape: tuple[int, ...]) -> str:
    extra = [want - have for want, have in zip(shape, g.shapes[x], strict=True)]
    if not any(extra):
        return x
    pads = np.array([0, 0, 0, 0, 0, *extra], np.int64)  # N, C, H, W at the start; then at the end
    return g.node("Pad", [x, g.const(f"pads{len(g.nodes)}", pads)], shape)


def _fc_node(g: _Graph, layer: Layer, x: str) -> str:
    flat = g.node("Flatten", [x], (int(np.prod(g.shapes[x])), 1, 1))
    w = layer.weights["w"]
    return g.node("MatMul", [flat, g.const("fc.w", w)], (w.shape[1], 1, 1))
