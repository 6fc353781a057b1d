"""A whole network on the tile (``red net``): ONNX in, layer after layer on the RTL, the
network's output and its error against the float model out.

The graph is split by :mod:`red.onnx_graph`: every ``ConvTranspose`` (with the
batch normalisation, per-channel bias and ReLU folded into it) runs on the tile, every
other node on the host in ``onnxruntime``. The same runtime runs the float model whole:
the reference, and the calibration of the scales.

**Quantisation rule.** Symmetric, with ``Q(b) = 2^(b-1) - 1``:

* weights per output channel: ``s_w[co] = max|W[:, co]| / Q(w_bits)`` of the folded
  float weights, ``w = round(W / s_w)``;
* activations per layer input: ``s_x = max|X| / Q(in_bits)``, ``X`` the float tensor
  entering the layer when the float model runs on the calibration input (the run's own
  input, or ``--calibrate``), ``x = clip(round(X / s_x), -Q, Q)``;
* bias: ``b[co] = round(B[co] / (s_x * s_w[co]))``, which must fit the tile's bias
  register;
* the tile computes ``y = relu(crossbar(x, w) + b)`` in integers (the arithmetic
  contract, ADC included) and the host dequantises ``Y = y * s_x * s_w[co]``, runs the
  host nodes on it in float and requantises at the next layer's input.

A scale of 0 (an all-zero tensor) is taken as 1. Per layer the RTL's integer output must
equal the golden model on the same integers, and its cycles the model
(:func:`red.simulate.simulate`); the network's output is then compared with the float
reference: relative L2 error, largest absolute error and, for an image, PSNR over the
reference's range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .config import ConfigError, LayerSpec, TileConfig
from .net_picture import is_image
from .onnx_graph import NetGraph, TileStage, load_graph

__all__ = ["NetJob", "NetResult", "run_network", "network_layers", "network_input",
           "quantise_weights", "quantise_input", "symmetric_limit", "output_error",
           "NET_FILES"]

#: What :meth:`NetResult.save` writes (``red net``'s outputs), by role; the picture only
#: for an image output.
NET_FILES = {"y": "y.npy", "y_float": "y_float.npy", "report": "net.json",
             "picture": "picture.png"}


def symmetric_limit(bits: int) -> int:
    """``Q(bits)``: the largest magnitude of a symmetric signed ``bits``-bit value."""
    return (1 << (bits - 1)) - 1


def _scale(largest: float, bits: int) -> float:
    return float(largest) / symmetric_limit(bits) if largest > 0 else 1.0


def quantise_weights(weight: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(w, s_w)``: integer weights and one scale per output channel (axis 1)."""
    scales = np.array([_scale(np.abs(weight[:, co]).max(), bits)
                       for co in range(weight.shape[1])])
    limit = symmetric_limit(bits)
    w = np.clip(np.rint(weight / scales[None, :, None, None]), -limit, limit)
    return w.astype(np.int64), scales


def quantise_input(x: np.ndarray, scale: float, bits: int) -> np.ndarray:
    """Integer activations of ``x`` at ``scale``."""
    limit = symmetric_limit(bits)
    return np.clip(np.rint(x / scale), -limit, limit).astype(np.int64)


def output_error(y: np.ndarray, reference: np.ndarray, image: bool) -> dict:
    """The error of ``y`` against ``reference``: ``relative_l2``, ``max_abs`` and, for an
    image, ``psnr`` (dB, over the reference's range)."""
    diff = y.astype(np.float64) - reference.astype(np.float64)
    norm = float(np.linalg.norm(reference))
    error = {"relative_l2": float(np.linalg.norm(diff)) / norm if norm else
             float(np.linalg.norm(diff)),
             "max_abs": float(np.abs(diff).max())}
    if image:
        mse = float(np.mean(diff ** 2))
        peak = float(reference.max() - reference.min())
        error["psnr"] = float("inf") if mse == 0 else 10 * np.log10(peak ** 2 / mse)
    return error


@dataclass(frozen=True)
class NetJob:
    """A network run: the model, the tile, the input and how to run it."""

    model: Path
    tile: TileConfig
    x: np.ndarray
    input_source: str
    calibration: np.ndarray | None = None
    mode: str = "red"
    sim: str = "verilator"
    seed: int = 0


@dataclass
class NetResult:
    """What :func:`run_network` found: the outputs (hardware path and float reference)
    and one entry per tile layer (``net.json``'s ``layers``)."""

    job: NetJob
    y: np.ndarray
    y_float: np.ndarray
    layers: list
    host_nodes: list
    image: bool
    problems: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    """The tile layers as run: :class:`red.sim.session.LayerRun` (integers in)."""

    @property
    def match(self) -> bool:
        return all(entry["match"] for entry in self.layers)

    @property
    def exit_status(self) -> int:
        from .simulate import EXIT_MISMATCH
        return 0 if self.match and not self.problems else EXIT_MISMATCH

    def to_json(self) -> dict:
        """``net.json`` (its keys are part of ``red net``'s interface)."""
        job = self.job
        return {
            "model": job.model.name, "mode": job.mode, "sim": job.sim, "seed": job.seed,
            "tile": job.tile.describe(),
            "input": {"source": job.input_source, "shape": list(job.x.shape)},
            "quantisation": {"w_bits": job.tile.w_bits, "in_bits": job.tile.in_bits,
                             "rule": "symmetric; weights per output channel, activations "
                                     "per layer input (red.net)",
                             "calibration": "--calibrate" if job.calibration is not None
                                            else "the run's own input"},
            "match": self.match,
            "layers": self.layers,
            "host_nodes": self.host_nodes,
            "totals": {"cycles": sum(e["cycles"]["total"] for e in self.layers),
                       "model_cycles": sum(e["model"]["total_cycles"] for e in self.layers),
                       "energy_pj": sum(e["energy_pj"] for e in self.layers)},
            "error_vs_float": output_error(self.y, self.y_float, self.image),
            "problems": self.problems,
        }

    def save(self, folder: Path, title: str) -> Path:
        """Write the outputs, the picture (an image output only, titled ``title``) and
        ``net.json`` into ``folder``; return the JSON file's path."""
        from .net_picture import draw
        np.save(folder / NET_FILES["y"], self.y)
        np.save(folder / NET_FILES["y_float"], self.y_float)
        files = {role: NET_FILES[role] for role in ("y", "y_float")}
        if self.image:
            draw(folder / NET_FILES["picture"], self.y, self.y_float, self.job.x, title)
            files["picture"] = NET_FILES["picture"]
        path = folder / NET_FILES["report"]
        path.write_text(json.dumps({**self.to_json(), "files": files}, indent=2) + "\n")
        return path


def network_input(graph: NetGraph, path: str | None, seed: int) -> tuple[np.ndarray, str]:
    """The network's input and where it came from: the float array at ``path`` in the
    model's input shape (a batch axis of 1 may be left out), else a standard-normal one
    drawn with ``seed``; :class:`~red.config.ConfigError` for a bad file, or for no file
    when the input has free axes."""
    from .inputs import load_float_array
    shape = input_shape(graph)
    if path is not None:
        return load_float_array(path, f"--input {path}", shape), path
    if None in shape:
        raise ConfigError(f"the model's input has free axes {list(graph.input_shape)}: "
                          "give --input")
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32), \
        f"seed {seed}"


def input_shape(graph: NetGraph) -> tuple:
    """The model's input shape, a free batch axis taken as 1 (other free axes ``None``)."""
    return tuple(1 if n == 0 and d is None else d for n, d in enumerate(graph.input_shape))


def _float_run(graph: NetGraph, x: np.ndarray, tensors: list[str]) -> dict[str, np.ndarray]:
    """The float model on ``x``: its outputs and ``tensors``, by name."""
    import onnx
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    known = {value.name for value in model.graph.output}
    for name in tensors:
        if name not in known:
            model.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
            known.add(name)
    session = _session(model)
    names = [value.name for value in model.graph.output]
    return dict(zip(names, session.run(names, {graph.input: x.astype(np.float32)})))


def _session(model):
    import onnxruntime
    try:
        return onnxruntime.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
    except Exception as exc:       # onnxruntime's own exception classes
        raise ConfigError("onnxruntime cannot run the model: "
                          f"{' '.join(str(exc).split())[:300]}") from None


def _extractor(graph: NetGraph, shapes: dict[str, tuple]):
    """An :class:`onnx.utils.Extractor` of the model that knows the float tensors
    ``shapes`` (the cut points: it takes their types from the model's value infos)."""
    import onnx
    from onnx.utils import Extractor
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    known = {v.name for v in [*model.graph.value_info, *model.graph.input,
                              *model.graph.output]}
    model.graph.value_info.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(shape))
        for name, shape in shapes.items() if name not in known)
    return Extractor(model)


def _host(extractor, values: dict, outputs: list[str]) -> None:
    """Compute ``outputs`` on the host from the tensors in ``values`` (a sub-graph cut
    with ``extractor``), into ``values``."""
    missing = [name for name in outputs if name not in values]
    if not missing:
        return
    sub = extractor.extract_model(list(values), missing)
    session = _session(sub)
    feeds = {value.name: values[value.name].astype(np.float32) for value in sub.graph.input}
    values.update(zip(missing, session.run(missing, feeds)))


def _layer(stage: TileStage, shape: tuple) -> LayerSpec:
    _, cin, h, w = shape
    try:
        return LayerSpec(cin=cin, cout=stage.weight.shape[1], h=h, w=w, k=stage.k,
                         s=stage.stride, p=stage.pad, op=stage.out_pad, name=stage.name)
    except ConfigError as exc:
        raise ConfigError(f"node {stage.name} (ConvTranspose): {exc}") from None


def _check(graph: NetGraph, job: NetJob, reference: dict) -> list[LayerSpec]:
    """Every stage's layer, checked against the tile before any simulation."""
    layers = []
    for stage in graph.stages:
        shape = reference[stage.input].shape
        if len(shape) != 4 or shape[0] != 1:
            raise ConfigError(f"node {stage.name} (ConvTranspose): input shape "
                              f"{list(shape)}: red net runs one NCHW sample (batch 1)")
        layer = _layer(stage, shape)
        try:
            job.tile.check_layer(layer)
        except ConfigError as exc:
            raise ConfigError(f"node {stage.name} (ConvTranspose): {exc}") from None
        layers.append(layer)
    job.tile.require_mode(job.mode)
    return layers


def _run_stage(stage: TileStage, layer: LayerSpec, x_float: np.ndarray, x_scale: float,
               job: NetJob, folder: Path, progress) -> tuple[np.ndarray, dict, object]:
    """One tile layer on the RTL: the dequantised output, its ``layers`` entry and the
    :class:`~red.sim.session.LayerRun` it ran."""
    from .counters import CYCLE_COUNTERS
    from .early import OutputStage
    from .energy import energy_from_counters
    from .simulate import SimJob, simulate
    from red.sim.session import LayerRun
    tile = job.tile
    w, w_scales = quantise_weights(stage.weight, tile.w_bits)
    x = quantise_input(x_float[0], x_scale, tile.in_bits)
    lo, hi = tile.bias_range
    bias = np.rint(stage.bias / (x_scale * w_scales)).astype(np.int64)
    if bias.min() < lo or bias.max() > hi:
        raise ConfigError(f"node {stage.name} (ConvTranspose): a quantised bias "
                          f"{int(np.abs(bias).max())} is over the tile's "
                          f"{tile.bias_width}-bit bias register")
    run = LayerRun(layer, job.mode, x, w, OutputStage(bias, stage.relu))
    report = simulate(SimJob(run, tile, sim=job.sim, seed=job.seed), folder, progress=progress)
    y = report.y.astype(np.float64) * x_scale * w_scales[:, None, None]
    counters = report.counters
    entry = {
        "name": stage.name, "nodes": list(stage.nodes), "layer": layer.describe(),
        "match": report.verdict.golden_match,
        "cycles": {"total": counters["total_cycles"], "compute": counters["compute_cycles"],
                   "load": counters["load_cycles"]},
        "events": {k: v for k, v in counters.items() if k not in CYCLE_COUNTERS},
        "energy_pj": energy_from_counters(counters, layer, tile).total,
        "model": report.estimate.as_dict(), "source": "rtl", "passes": len(report.plan),
        "bias": True, "relu": stage.relu,
        "scales": {"x": x_scale, "w": w_scales.tolist()},
        "problems": report.problems,
    }
    return y[None].astype(np.float32), entry, run


def network_layers(path: str | Path) -> list[LayerSpec]:
    """The tile layers of the ONNX model at ``path``, shaped by a float run on a zero input
    (free axes of length 1), for any tile: ``red sweep``'s ``[layers] onnx``."""
    from .config import KERNEL_MAX
    graph = load_graph(path, TileConfig(max_k=KERNEL_MAX))
    x = np.zeros(tuple(1 if d is None else d for d in graph.input_shape), dtype=np.float32)
    reference = _float_run(graph, x, [stage.input for stage in graph.stages])
    return [_layer(stage, reference[stage.input].shape) for stage in graph.stages]


def run_network(job: NetJob, folder: Path,
                progress: Callable[[str], None] = lambda line: None,
                graph: NetGraph | None = None) -> NetResult:
    """Run ``job``'s network with its tile layers on the RTL, in ``folder`` (``graph``:
    the model already read, :func:`red.onnx_graph.load_graph`)."""
    graph = graph or load_graph(job.model, job.tile)
    tensors = [t for stage in graph.stages for t in (stage.input, stage.output)]
    reference = _float_run(graph, job.x, tensors)
    layers = _check(graph, job, reference)
    calibration = reference if job.calibration is None else \
        _float_run(graph, job.calibration, tensors)
    values = {graph.input: job.x.astype(np.float32)}
    extractor = _extractor(graph, {name: a.shape for name, a in reference.items()})
    entries, runs = [], []
    for n, (stage, layer) in enumerate(zip(graph.stages, layers)):
        _host(extractor, values, [stage.input])
        x_scale = _scale(np.abs(calibration[stage.input]).max(), job.tile.in_bits)
        progress(f"layer {n + 1}/{len(layers)} {stage.name}: {layer} on {job.sim}")
        values[stage.output], entry, run = _run_stage(
            stage, layer, values[stage.input], x_scale, job, folder / f"layer{n}",
            lambda line, name=stage.name: progress(f"{name} {line.partition(': ')[2]}"))
        entries.append(entry)
        runs.append(run)
    _host(extractor, values, graph.outputs)
    output = graph.outputs[0]
    y, y_float = values[output], reference[output]
    image = is_image(np.asarray(y_float))
    problems = [f"layer {e['name']}: {p}" for e in entries for p in e["problems"]]
    return NetResult(job, np.asarray(y), np.asarray(y_float), entries, graph.host_nodes,
                     image, problems, runs)
