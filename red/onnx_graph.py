"""An ONNX graph split into tile stages and host sub-graphs (``red net``).

Every ``ConvTranspose`` node runs on the tile, together with the nodes that fold into
it, in this order:

* ``BatchNormalization`` (inference form), ``Mul`` by a per-channel constant and ``Add``
  of a per-channel constant, any number of each: each is an affine map per output
  channel, ``z -> scale * z + shift``, folded into the weights (``scale``) and the bias
  (``shift``);
* then at most one ``Relu``, onto the tile's ReLU.

A node folds only when it is the sole reader of the tensor before it and that tensor is
not a graph output. Every other node runs on the host in ``onnxruntime``, in sub-graphs
cut with :class:`onnx.utils.Extractor`; nothing here interprets ONNX. A ``ConvTranspose``
the tile cannot take (not 2-D, ``group > 1``, ``dilation > 1``, ``auto_pad`` or
``output_shape``, unequal kernel, stride, padding or output padding across the two
dimensions, a kernel over ``max_k``, weights that are not a constant) is refused with
:class:`~red.config.ConfigError` naming the node: it never falls back to the host. So is
a node of an operator ONNX does not define.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError, TileConfig

__all__ = ["TileStage", "NetGraph", "load_graph"]

#: Nodes folded into a preceding ConvTranspose as a per-channel affine map.
_AFFINE_OPS = ("BatchNormalization", "Mul", "Add")


@dataclass(frozen=True)
class TileStage:
    """One ``ConvTranspose`` with the nodes folded into it, in float: weights
    ``[Cin][Cout][K][K]`` and bias ``[Cout]`` with the affine maps folded in."""

    name: str
    nodes: tuple[str, ...]
    input: str
    output: str
    weight: np.ndarray
    bias: np.ndarray
    relu: bool
    stride: int
    pad: int
    out_pad: int

    @property
    def k(self) -> int:
        return self.weight.shape[2]


@dataclass
class NetGraph:
    """A model's graph: its tile stages in order, the names of its host nodes, its one
    input and its outputs."""

    model: object
    stages: list[TileStage]
    host_nodes: list[str]
    input: str
    input_shape: tuple
    outputs: list[str]


def _node_name(node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _refuse(name: str, op: str, reason: str) -> ConfigError:
    return ConfigError(f"node {name} ({op}): {reason}")


def _constants(graph) -> dict[str, np.ndarray]:
    """Initializers and ``Constant`` nodes' values, by tensor name."""
    from onnx import numpy_helper
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def _attributes(node) -> dict:
    from onnx import helper
    return {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}


def _conv_transpose(node, name: str, consts: dict, tile: TileConfig) -> dict:
    """The geometry and float weights of a ConvTranspose the tile can take."""
    a = _attributes(node)
    refuse = lambda reason: _refuse(name, "ConvTranspose", reason)   # noqa: E731
    w = consts.get(node.input[1])
    if w is None:
        raise refuse("its weights are not a constant")
    if w.ndim != 4:
        raise refuse(f"a {w.ndim - 2}-D transposed convolution: the tile takes 2-D only")
    if a.get("group", 1) != 1:
        raise refuse(f"group={a['group']}: the tile takes group 1 only")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise refuse(f"dilations={list(a['dilations'])}: the tile takes dilation 1 only")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise refuse("auto_pad is set: export with explicit pads")
    if "output_shape" in a:
        raise refuse("output_shape is set: export with pads and output_padding")
    k = w.shape[2]
    strides = list(a.get("strides", [1, 1]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    out_pads = list(a.get("output_padding", [0, 0]))
    if w.shape[3] != k or len(set(strides)) != 1 or len(set(pads)) != 1 \
            or len(set(out_pads)) != 1:
        raise refuse(f"kernel {list(w.shape[2:])}, strides {strides}, pads {pads}, "
                     f"output_padding {out_pads}: the tile takes the same value in both "
                     "dimensions (and both sides)")
    if k > tile.max_k:
        raise refuse(f"kernel {k} is over the tile's max_k={tile.max_k}")
    bias = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if len(node.input) > 2 and node.input[2] and bias is None:
        raise refuse("its bias is not a constant")
    cout = w.shape[1]
    return {"weight": w.astype(np.float64), "stride": strides[0], "pad": pads[0],
            "out_pad": out_pads[0],
            "bias": np.zeros(cout) if bias is None else bias.astype(np.float64).reshape(cout)}


def _per_channel(value: np.ndarray | None, cout: int) -> np.ndarray | None:
    """``value`` as one number per channel of an NCHW tensor, or ``None`` when it does
    not broadcast that way (a ``[C]`` constant broadcasts along W, not C)."""
    if value is None:
        return None
    if value.size == 1:
        return np.full(cout, float(value.reshape(())))
    shape = tuple(value.shape)
    if shape in ((cout, 1, 1), (1, cout, 1, 1)):
        return value.astype(np.float64).reshape(cout)
    return None


def _affine(node, tensor: str, consts: dict, cout: int):
    """``(scale, shift)`` per channel of a foldable affine node reading ``tensor``, or
    ``None``."""
    if node.op_type == "BatchNormalization":
        if node.input[0] != tensor or len(node.output) != 1:
            return None
        params = [consts.get(name) for name in node.input[1:5]]
        if any(p is None for p in params) or _attributes(node).get("training_mode", 0):
            return None
        gamma, beta, mean, var = (p.astype(np.float64).reshape(cout) for p in params)
        g = gamma / np.sqrt(var + _attributes(node).get("epsilon", 1e-5))
        return g, beta - g * mean
    other = [name for name in node.input if name != tensor]
    if len(other) != 1 or len(node.input) != 2:
        return None
    value = _per_channel(consts.get(other[0]), cout)
    if value is None:
        return None
    return (value, np.zeros(cout)) if node.op_type == "Mul" else (np.ones(cout), value)


def _readers(graph) -> dict[str, list]:
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def _stage(graph, start: int, names: dict, consts: dict, readers: dict,
           outputs: set, tile: TileConfig) -> TileStage:
    """The tile stage of the ConvTranspose ``graph.node[start]``, folding what follows."""
    node = graph.node[start]
    geometry = _conv_transpose(node, names[id(node)], consts, tile)
    cout = geometry["weight"].shape[1]
    scale, shift = np.ones(cout), geometry.pop("bias")
    folded, tensor, relu = [names[id(node)]], node.output[0], False
    while tensor not in outputs and len(readers.get(tensor, [])) == 1 and not relu:
        nxt = readers[tensor][0]
        if nxt.op_type == "Relu":
            relu = True
        elif nxt.op_type in _AFFINE_OPS:
            affine = _affine(nxt, tensor, consts, cout)
            if affine is None:
                break
            scale, shift = scale * affine[0], shift * affine[0] + affine[1]
        else:
            break
        folded.append(names[id(nxt)])
        tensor = nxt.output[0]
    weight = geometry.pop("weight") * scale[None, :, None, None]
    return TileStage(folded[0], tuple(folded), node.input[0], tensor, weight, shift, relu,
                     **geometry)


def _graph_input(graph, consts: dict) -> tuple[str, tuple]:
    inputs = [value for value in graph.input if value.name not in consts]
    if len(inputs) != 1:
        raise ConfigError(f"the model has {len(inputs)} inputs "
                          f"({', '.join(v.name for v in inputs)}): red net takes one")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return inputs[0].name, shape


def load_graph(path: str | Path, tile: TileConfig) -> NetGraph:
    """Read the ONNX model at ``path`` and split it for ``tile`` (module docstring)."""
    import onnx
    from onnx import defs
    path = Path(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
        if model.functions:
            # Model-local functions (as torch.onnx's dynamo exporter may write) are
            # expanded into plain nodes, so a ConvTranspose inside one is found.
            from onnx import inliner
            model = inliner.inline_local_functions(model)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except Exception as exc:      # onnx raises several kinds for a foreign file
        raise ConfigError(f"{path}: not a valid ONNX model "
                          f"({' '.join(str(exc).split())[:200]})") from None
    graph = model.graph
    consts = _constants(graph)
    readers = _readers(graph)
    outputs = {value.name for value in graph.output}
    names = {id(node): _node_name(node, n) for n, node in enumerate(graph.node)}
    stages, host, taken = [], [], set()
    for n, node in enumerate(graph.node):
        name = names[id(node)]
        if name in taken:
            continue
        if node.op_type == "ConvTranspose" and node.domain in ("", "ai.onnx"):
            stage = _stage(graph, n, names, consts, readers, outputs, tile)
            stages.append(stage)
            taken.update(stage.nodes)
        elif not defs.has(node.op_type, node.domain or ""):
            raise _refuse(name, node.op_type, f"operator {node.domain or 'ai.onnx'}."
                          f"{node.op_type} is neither a tile operation nor one "
                          "onnxruntime runs")
        elif node.op_type != "Constant":
            host.append(name)
    if not stages:
        raise ConfigError(f"{path}: no ConvTranspose node: nothing for the tile to run")
    name, shape = _graph_input(graph, consts)
    return NetGraph(model, stages, host, name, shape, [value.name for value in graph.output])
