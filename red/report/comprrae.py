"""CompRRAE early termination (:mod:`red.early`) in ``red report``: DCGAN's four
layers with bias and ReLU, measured on the RTL, and held to the golden model and the
analytical model.

Data (:func:`chain_data`)
-------------------------
Not uniform random: a DCGAN-like forward pass in the tile's integer formats, seeded with
the report's :data:`~red.report.rtl.SEED`:

1. deconv1's input (the latent map after DCGAN's projection, batch norm and ReLU):
   ``ReLU(N(0, 1))``, requantised (step 4).
2. Per layer: weights ``N(0, 1)``, quantised so that the largest magnitude is the tile's
   ``w_max`` (a He scale ``sqrt(2 / fan_in)`` would cancel in this step). The pre-BN
   output ``y0`` is the golden contract output (:func:`red.golden.crossbar_deconv2d`)
   on the chained input.
3. Batch norm per output channel from ``y0`` (mean ``mu_c`` and standard deviation
   ``sigma_c`` over the output map of the one image, ``gamma = 1``, ``beta = 0``),
   folded into the integers: ``w[:, c] = round(w0[:, c] * a / sigma_c)`` and
   ``bias[c] = round(-mu_c * a / sigma_c)``, with one scale ``a`` per layer that makes
   the largest ``|w|`` equal ``w_max`` (the tile's range). The folded layer's output
   ``y = golden(x, w) + bias`` is ``a`` times the batch-normalised ``y0`` up to
   rounding: per channel mean about 0, about half of it negative.
4. The next layer's input: ``ReLU(y)`` requantised, i.e. scaled so that its
   :data:`PERCENTILE` th percentile maps to ``x_max = 2^(in_bits-1) - 1``, rounded and
   clipped to ``[0, x_max]``: non-negative, about half zeros.

Every layer of the chain is measured (DCGAN's deconv1..4, deconv1 on the requantised
latent map), each with its folded bias and ReLU. (DCGAN's deconv4 ends in tanh; here it
takes bias and ReLU like the others.) ``--quick`` runs the same pipeline on
:data:`QUICK_CHAIN` and the quick tile.

Shared ADCs
-----------
Each layer also runs, in RED and ZP with early termination off and ``negative``, on the
tile with shared ADCs (:attr:`Setup.shared_tile`, :mod:`red.rtl.adc_pacer`): the layers
of :attr:`Setup.shared_rtl` on the RTL (held to golden and model), the others from the
model, which the RTL equals wherever it runs. ``adc_cost`` is the ADC-bound total with
nothing skipped over that with one ADC per column.

Runs
----
Early termination decides an output in the last pass of its cout slice, on its whole
sum: the partial sums of the passes before come from the tile's partial-sum bank
(:func:`red.early.early_applies`: ``k <= kernel`` and, with cin slices,
``s <= kernel``). On the report's tiles every measured layer decides (deconv1..3 in cin
slices, deconv4 in every pass; :func:`measure` refuses a chain the tile cannot decide):
the RTL runs each layer in RED and ZP mode with each of :data:`SPECS` (source ``rtl``);
each run must equal the golden output and :func:`red.model.early_estimate` (else a
problem: the report exits 1).

Figures (:func:`section`)
-------------------------
Per run: cycles, ADC conversions, ``conversions_skipped = skipped / (skipped + made)``,
``cycles_saved = 1 - total / total_off`` (total cycles against the same mode with early
off), ``decided`` (outputs decided early over all outputs), and for early-on runs the
error of the outputs against the exact ones (early off): relative L2, largest absolute
error, outputs changed. Per layer, the speed-ups of RED+CompRRAE against RED alone, ZP
alone and ZP+CompRRAE, and of ZP+CompRRAE against ZP alone.

Block-synchronous steps and what would change them (:func:`group_loads`)
------------------------------------------------------------------------
A step ends when every output its driven groups feed is decided, and a step stopped
after ``n`` planes takes ``n + 1`` cycles (:mod:`red.timing`): in RED a step covers
``s^2`` output pixels, and one input plane drives all output-channel columns of a group,
so skipped conversions need not save cycles. Two first-order projections (source
``model``, from the golden decisions, which the RTL's output and counters equal), both
``total ~ (T_off - C_off) + C_off * G / G_off``, with ``T_off`` and ``C_off`` the total
and compute cycles with early off (fill, drain and output port as they are) and ``G`` the
busiest group's load, summed over the passes (``G_off`` the same with nothing decided):

* ``per_group``: each group starts its next step once the outputs it feeds (one pixel in
  RED, every output channel of the pass) are decided; load = sum over the steps that
  drive the group of ``n + 1`` for a step decided after ``n < in_bits`` planes, else
  ``in_bits``.
* ``per_group_adc``: as ``per_group``, with a group's time proportional to the
  conversions it makes (an ADC shared by the array's columns, as in ISAAC's 8-bit ADC
  per 128 columns, RED_TILE.md), so that a decided column frees time; load = the planes
  its output-channel columns convert. With balanced groups ``G / G_off`` would reach
  ``1 - conversions_skipped``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from red.config import ConfigError, LayerSpec, TileConfig, signed_width
from red.early import (BOUNDS, EARLY_FLOWS, EarlySpec, OutputStage, deciding_pass,
                       decides_condition, early_applies, not_applied_reason, output_error)
from red.golden import crossbar_deconv2d, deconv2d, early_deconv2d
from red.mapping import schedule
from red.model import Estimate, early_estimate
from red.verdict import check
from red.workloads import get_workload

from .claims import CLAIMS, COMPRRAE
from .section import NOT_IN_JSON, json_fields
from .plan import QUICK, QUICK_TILE, REPORT_TILES
from .rtl import SEED

__all__ = ["NETWORK", "EPS", "SPECS", "PERCENTILE", "QUICK_CHAIN", "Setup",
           "LayerData", "ModelRun", "Measured", "setup", "requantise", "fold_batch_norm",
           "chain_data", "group_loads", "measure", "ComprraeSection",
           "compute"]

#: The network measured: its tile is the report's (:data:`~red.report.plan.REPORT_TILES`).
NETWORK = "dcgan"

#: Threshold of the ``approx`` runs (CompRRAE's adaptive termination), quantised to
#: ``eps_q / 2^EPS_FRAC_BITS`` by :meth:`red.early.EarlySpec.parse`.
EPS = 0.05

#: Early-termination settings of every measured layer and mode; ``off`` is the baseline.
SPECS = (EarlySpec("off"), EarlySpec("negative"), EarlySpec.parse(f"approx:{EPS}"))

#: Folder of the section's simulation, under the report's ``sim`` folder.
WORK_DIR = "comprrae"

#: Early-termination settings measured on the shared-ADC tile (:attr:`Setup.shared_tile`).
SHARED_SPECS = SPECS[:2]

#: Percentile of a ReLU output that requantisation maps to the largest input code.
PERCENTILE = 99.9

#: ``--quick``'s chain on the quick tile: DCGAN's four layers scaled down, with PyTorch
#: DCGAN's K4 s2 p1 so that the kernel fits the quick tile's groups (K5 would fold, and
#: early termination needs one fold). deconv1..3 have more input channels than the
#: tile has rows (cin slices, like DCGAN's on the paper tile: their last pass decides),
#: deconv4 as many as it has rows (every pass decides, in two cout slices).
#: The quick tile takes inputs of at most 2x2, so each layer reads the top-left corner
#: of the previous output map.
QUICK_CHAIN = tuple(LayerSpec(cin=cin, cout=cout, h=h, w=h, k=4, s=2, p=1,
                              name=f"{NETWORK}.deconv{n}")
                    for n, (cin, cout, h) in enumerate(((3, 3, 1), (3, 3, 2), (3, 2, 2),
                                                        (2, 3, 2)), start=1))


@dataclass(frozen=True)
class Setup:
    """What the section measures: the tile (key of the report's plan and config) and the
    chain of layers, each fed by the one before."""

    tile_key: str
    tile: TileConfig
    chain: tuple[LayerSpec, ...]

    @property
    def shared_tile(self) -> TileConfig:
        """The tile with shared ADCs (``adcs_per_array``, :mod:`red.rtl.adc_pacer`): one
        weight's ``slices`` physical columns converted per cycle, so a plane takes one
        cycle per logical column its busiest driven group converts."""
        return dataclasses.replace(self.tile, adcs_per_array=self.tile.slices)

    @property
    def shared_rtl(self) -> tuple[str, ...]:
        """Layers run on the RTL with shared ADCs (the others from the model): the last,
        whose few output channels keep its ADC-bound planes short (one cycle per
        channel; a full pass of the hidden layers takes ``logical_cols`` per plane)."""
        return (self.chain[-1].name,)


def setup(variant: str) -> Setup:
    """The section's tile and chain in report ``variant``: the report's tile with its
    early-termination hardware (``early_termination=1``)."""
    if variant == QUICK:
        tile_key, tile, chain = QUICK, QUICK_TILE, QUICK_CHAIN
    else:
        tile_key, tile, chain = NETWORK, REPORT_TILES[NETWORK], tuple(get_workload(NETWORK))
    return Setup(tile_key, dataclasses.replace(tile, early_termination=1), chain)


# -- data ---------------------------------------------------------------------------

def requantise(values: np.ndarray, tile: TileConfig) -> np.ndarray:
    """Non-negative ``values`` as the tile's inputs: scaled so that the
    :data:`PERCENTILE` th percentile is ``x_max``, rounded, clipped to ``[0, x_max]``."""
    top = np.percentile(values, PERCENTILE)
    scale = tile.x_max / top if top > 0 else 0.0
    return np.clip(np.rint(values * scale), 0, tile.x_max).astype(np.int64)


def fold_batch_norm(w0: np.ndarray, y0: np.ndarray, tile: TileConfig):
    """Batch norm (``gamma = 1``, ``beta = 0``) from the pre-BN output ``y0[Cout][Ho][Wo]``
    folded into integer weights and bias: ``(w, bias, a)`` with ``w[:, c] = round(w0[:, c]
    * a / sigma_c)``, ``bias[c] = round(-mu_c * a / sigma_c)`` and ``a`` the scale that
    makes the largest ``|w|`` equal ``tile.w_max``. ``sigma_c`` is at least one output
    unit (a constant channel keeps its scale)."""
    mu = y0.mean(axis=(1, 2))
    gain = 1.0 / np.maximum(y0.std(axis=(1, 2)), 1.0)
    a = tile.w_max / (np.abs(w0).max(axis=(0, 2, 3)) * gain).max()
    w = np.rint(w0 * (a * gain)[None, :, None, None]).astype(np.int64)
    bias = np.rint(-mu * a * gain).astype(np.int64)
    return w, bias, float(a)


@dataclass(frozen=True)
class LayerData:
    """One layer of the chain: its input ``x``, folded weights ``w`` and ``bias`` (int64),
    and the properties that document them, ``stats``: of the input, its fraction of
    zeros, largest value and :data:`PERCENTILE` th percentile; the batch-norm scale
    ``a``, the largest ``|w|``, the bias range, its bits and the tile's bias width; of
    the folded layer's golden output before ReLU, the fraction below 0 and the largest
    ``|mean| / std`` over the channels, and whether it equals the exact deconvolution
    (no ADC clipping shows)."""

    layer: LayerSpec
    x: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    stats: dict


def _golden(layer: LayerSpec, tile: TileConfig, x, w, bias=None) -> np.ndarray:
    return crossbar_deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias,
                             **tile.crossbar_params)


def chain_data(chain: tuple[LayerSpec, ...], tile: TileConfig,
               rng: np.random.Generator) -> list[LayerData]:
    """The module's data distribution (module docstring, steps 1 to 4) for every layer
    of ``chain`` on ``tile``.

    Raises
    ------
    ConfigError
        A folded bias does not fit ``tile.bias_width`` (the tile could not add it).
    """
    first = chain[0]
    x = requantise(np.maximum(rng.standard_normal((first.cin, first.h, first.w)), 0), tile)
    out = []
    for layer in chain:
        x = x[:, :layer.h, :layer.w]          # --quick: the corner the tile takes
        draw = rng.standard_normal((layer.cin, layer.cout, layer.k, layer.k))
        w0 = np.rint(draw * (tile.w_max / np.abs(draw).max())).astype(np.int64)
        w, bias, scale = fold_batch_norm(w0, _golden(layer, tile, x, w0), tile)
        bits = signed_width(int(bias.min()), int(bias.max()))
        if bits > tile.bias_width:
            raise ConfigError(f"{layer.name}: the folded bias needs {bits} bits, the tile "
                              f"adds {tile.bias_width}")
        y = _golden(layer, tile, x, w, bias)
        mu, sigma = y.mean(axis=(1, 2)), y.std(axis=(1, 2))
        stats = {
            "input_zero_fraction": float(np.mean(x == 0)),
            "input_max": int(x.max()),
            "input_percentile": float(np.percentile(x, PERCENTILE)),
            "bn_scale": scale,
            "weight_max_abs": int(np.abs(w).max()),
            "bias_range": [int(bias.min()), int(bias.max())],
            "bias_bits": bits,
            "bias_width": tile.bias_width,
            "output_negative_fraction": float(np.mean(y < 0)),
            "output_mean_over_std_max": float(np.max(np.abs(mu) / np.maximum(sigma, 1))),
            "contract_equals_exact": bool(np.array_equal(
                y, deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias))),
        }
        out.append(LayerData(layer, x, w, bias, stats))
        x = requantise(np.maximum(y, 0), tile)
    return out


# -- model side ---------------------------------------------------------------------

def _early(layer: LayerSpec, tile: TileConfig, d: LayerData, mode: str, spec: EarlySpec,
           bound: str = BOUNDS[0]):
    return early_deconv2d(d.x, d.w, layer.s, layer.p, layer.op, flow=mode, early=spec,
                          bias=d.bias, relu=True, bound=bound, **tile.crossbar_params)


def group_loads(layer: LayerSpec, tile: TileConfig, mode: str, feeders: np.ndarray,
                planes: np.ndarray) -> dict[str, int]:
    """The busiest crossbar group's load, summed over the passes (module docstring,
    "Block-synchronous steps"), and the steps that end early as the tile runs them.

    ``feeders`` and ``planes`` are those of :class:`red.golden.EarlyOutcome` (planes
    converted per output, ``in_bits`` if undecided). Returns ``{"per_group",
    "per_group_adc", "steps", "steps_shortened"}``: ``steps_shortened`` counts the steps
    whose every fed output is decided early enough to save a cycle (``n < in_bits - 1``).
    """
    B = tile.in_bits
    fed = feeders > 0
    loads = {"per_group": 0, "per_group_adc": 0, "steps": 0, "steps_shortened": 0}
    s, p = layer.s, layer.p
    for run in schedule(layer, tile):
        # Only the deciding pass stops early; the passes before convert every plane.
        run_planes = planes[run.cout]
        if not deciding_pass(run):
            run_planes = np.full_like(run_planes, B)
        column_planes = np.where(fed, run_planes, 0)                # [c, Ho, Wo]
        need = column_planes.max(axis=0)                             # all channels decided
        cycles = np.where(need < B, need + 1, B)
        converted = column_planes.sum(axis=0)
        if mode == "zp":
            # Every group feeds the step's one pixel: equal loads, block = pixel.
            loads["per_group"] += int(cycles.sum())
            loads["per_group_adc"] += int(converted.sum())
            loads["steps"] += need.size
            loads["steps_shortened"] += int(np.sum(need < B - 1))
            continue
        # RED: group (kh, kw) of block (qh, qw) feeds pixel (qh*s + kh%s - p, ...) and
        # reads input (qh - kh//s, ...); driven where both lie inside their maps.
        qh, qw = np.arange(layer.nb_h) + p // s, np.arange(layer.nb_w) + p // s
        per_group, per_group_adc = [], []
        for kh in range(layer.k):
            oh, ih = qh * s + kh % s - p, qh - kh // s
            rows = oh[(oh >= 0) & (oh < layer.ho) & (ih >= 0) & (ih < layer.h)]
            for kw in range(layer.k):
                ow, iw = qw * s + kw % s - p, qw - kw // s
                cols = ow[(ow >= 0) & (ow < layer.wo) & (iw >= 0) & (iw < layer.w)]
                per_group.append(int(cycles[np.ix_(rows, cols)].sum()))
                per_group_adc.append(int(converted[np.ix_(rows, cols)].sum()))
        loads["per_group"] += max(per_group)
        loads["per_group_adc"] += max(per_group_adc)
        block = np.zeros((layer.nb_h, layer.nb_w), dtype=np.int64)
        oh_all, ow_all = np.arange(layer.ho), np.arange(layer.wo)
        np.maximum.at(block, ((oh_all[:, None] + p) // s - p // s,
                              (ow_all[None, :] + p) // s - p // s), need)
        loads["steps"] += block.size
        loads["steps_shortened"] += int(np.sum(block < B - 1))
    return loads


@dataclass(frozen=True)
class ModelRun:
    """One run's model side: the estimate and, with early termination on where it
    applies, what the golden decisions give."""

    mode: str
    spec: EarlySpec
    estimate: Estimate
    loads: dict | None = None
    loads_off: dict | None = None
    error: dict | None = None
    mean_decision_plane: float | None = None
    bounds: dict | None = None
    """Per bound of :data:`red.early.BOUNDS`, the share of conversions the golden
    decisions skip with it, on the same data (the tile computes the first)."""
    shared: Estimate | None = None
    """The run on the shared-ADC tile (:attr:`Setup.shared_tile`; specs of
    :data:`SHARED_SPECS`)."""


def _model_runs(layer: LayerSpec, tile: TileConfig, shared: TileConfig,
                d: LayerData) -> list[ModelRun]:
    """Every mode and spec of ``layer`` on ``tile`` (and on the ``shared``-ADC tile),
    where early termination applies."""
    runs = []
    for mode in EARLY_FLOWS:
        for spec in SPECS:
            if not spec.on:
                runs.append(ModelRun(mode, spec, early_estimate(layer, tile, mode, spec, None),
                                     shared=early_estimate(layer, shared, mode, spec, None)))
                continue
            outcome = _early(layer, tile, d, mode, spec)
            estimate = early_estimate(layer, tile, mode, spec, outcome)
            runs.append(ModelRun(
                mode, spec, estimate,
                loads=group_loads(layer, tile, mode, outcome.feeders, outcome.planes),
                loads_off=group_loads(layer, tile, mode, outcome.feeders,
                                      np.full_like(outcome.planes, tile.in_bits)),
                error=output_error(outcome.y, outcome.exact),
                mean_decision_plane=float(outcome.planes[outcome.decided].mean())
                if outcome.decided.any() else None,
                bounds=_bounds(layer, tile, d, mode, spec, estimate),
                shared=early_estimate(layer, shared, mode, spec, outcome)
                if spec in SHARED_SPECS else None))
    return runs


def _bounds(layer: LayerSpec, tile: TileConfig, d: LayerData, mode: str, spec: EarlySpec,
            estimate: Estimate) -> dict[str, float]:
    """Per bound of :data:`red.early.BOUNDS`, the share of conversions skipped (as the
    figures count it) with the golden decisions on the same data; ``estimate`` is the
    run's, with the tile's bound."""
    estimates = {bound: estimate if bound == BOUNDS[0] else early_estimate(
                     layer, tile, mode, spec, _early(layer, tile, d, mode, spec, bound))
                 for bound in BOUNDS}
    outputs = layer.cout * layer.ho * layer.wo
    return {bound: _figures(_counts(est), outputs, None)["conversions_skipped"]
            for bound, est in estimates.items()}


# -- measuring ----------------------------------------------------------------------

@dataclass
class Measured:
    """What :func:`measure` found.

    Attributes
    ----------
    chain_stats : dict
        Layer name -> :attr:`LayerData.stats`, every layer of the chain.
    data : list of LayerData
        The measured layers.
    model : dict
        Layer name -> its :class:`ModelRun` per mode and spec.
    rtl_runs, rtl_results : list
        ``red.sim.session.LayerRun`` and, in the same order, ``LayerResult`` (empty when
        the simulation failed).
    shared_runs, shared_results : list
        The same on the shared-ADC tile (:attr:`Setup.shared_tile`).
    error : str or None
        The simulation's failure.
    seconds : dict
        Wall time of the data, the RTL and the model.
    """

    chain_stats: dict[str, dict]
    data: list[LayerData]
    model: dict[str, list[ModelRun]]
    rtl_runs: list
    rtl_results: list
    shared_runs: list
    shared_results: list
    error: str | None
    seconds: dict[str, float]


def _stage(d: LayerData, spec: EarlySpec) -> OutputStage:
    return OutputStage(d.bias, True, spec)


def measure(config: Setup, sim: str, work_dir: Path, progress: Callable[[str], None],
            simulate_layers: Callable) -> Measured:
    """Generate the data, simulate the RTL runs in ``work_dir`` with ``simulate_layers``
    (:func:`red.sim.session.simulate_layers`) and compute the model side (module
    docstring)."""
    from red.sim.runner import SimulationError
    from red.sim.session import LayerRun

    tile, seconds = config.tile, {}
    started = time.monotonic()
    progress(f"CompRRAE: data of {len(config.chain)} chained layers (golden model) ...")
    chain = chain_data(config.chain, tile, np.random.default_rng(SEED))
    data = chain
    seconds["data"] = round(time.monotonic() - started, 1)
    for d in data:
        if not early_applies(d.layer, tile, SPECS[1]):
            raise ConfigError(f"CompRRAE: {d.layer.name}: {not_applied_reason(d.layer, tile)}")
    runs = [LayerRun(d.layer, mode, d.x, d.w, _stage(d, spec))
            for d in data for mode in EARLY_FLOWS for spec in SPECS]
    shared_runs = [LayerRun(d.layer, mode, d.x, d.w, _stage(d, spec))
                   for d in data if d.layer.name in config.shared_rtl
                   for mode in EARLY_FLOWS for spec in SHARED_SPECS]
    error, results, shared_results = None, [], []
    for key, on, these, found in (("rtl", tile, runs, results),
                                  ("shared_adcs", config.shared_tile, shared_runs,
                                   shared_results)):
        progress(f"CompRRAE: {len(these)} runs on the RTL ({key}) in one {sim} "
                 "simulation ...")
        started = time.monotonic()
        try:
            found += simulate_layers(on, these, sim=sim, work_dir=work_dir / key, seed=SEED,
                                     stall=0.0)[0]
        except SimulationError as exc:
            error = str(exc).splitlines()[0]
            progress(f"CompRRAE: simulation failed: {error}")
        seconds[key] = round(time.monotonic() - started, 1)
        if error:
            break
    started = time.monotonic()
    progress("CompRRAE: golden decisions and model ...")
    model = {d.layer.name: _model_runs(d.layer, tile, config.shared_tile, d) for d in data}
    seconds["model"] = round(time.monotonic() - started, 1)
    progress("CompRRAE: done (" + ", ".join(f"{key} {value} s"
                                            for key, value in seconds.items()) + ")")
    return Measured({d.layer.name: d.stats for d in chain}, data, model, runs, results,
                    shared_runs, shared_results, error, seconds)


# -- figures ------------------------------------------------------------------------

#: Counters (and :class:`~red.model.Estimate` fields) a run's figures come from.
FIGURE_COUNTERS = ("total_cycles", "compute_cycles", "adc_conversions",
                   "skipped_conversions", "decided_outputs", "skipped_cycles")


def _counts(source) -> dict[str, int]:
    """:data:`FIGURE_COUNTERS` of an RTL counter dict or an Estimate."""
    if isinstance(source, Estimate):
        return {name: getattr(source, name) for name in FIGURE_COUNTERS}
    return {name: source[name] for name in FIGURE_COUNTERS}


def _figures(counts: dict, outputs: int, off: dict | None) -> dict:
    """A run's figures from its counts and, when given, those of the same mode with
    early off."""
    made, skipped = counts["adc_conversions"], counts["skipped_conversions"]
    out = {**counts, "conversions_skipped": skipped / (made + skipped),
           "decided": counts["decided_outputs"] / outputs}
    if off is not None:
        out["cycles_saved"] = 1 - counts["total_cycles"] / off["total_cycles"]
        out["speedup_vs_off"] = off["total_cycles"] / counts["total_cycles"]
    return out


def _projection(run: ModelRun, off: dict) -> dict:
    """The per-group projections of an early-on run against the counts ``off`` of its
    mode with early off (module docstring)."""
    fill = off["total_cycles"] - off["compute_cycles"]
    out = {"source": "model", "steps": run.loads["steps"],
           "steps_shortened": run.loads["steps_shortened"],
           "mean_decision_plane": run.mean_decision_plane}
    for key in ("per_group", "per_group_adc"):
        total = fill + off["compute_cycles"] * run.loads[key] / run.loads_off[key]
        out[key] = {"load": run.loads[key], "load_off": run.loads_off[key],
                    "total_cycles": total, "cycles_saved": 1 - total / off["total_cycles"],
                    "speedup_vs_off": off["total_cycles"] / total}
    return out


def _runs(counts: dict, outputs: int, model: dict, source: str, errors: dict) -> list[dict]:
    """Figures of every mode and spec: ``counts[mode, spec]`` from ``source``, ``model``
    the :class:`ModelRun` of each, ``errors[mode, spec]`` the output error of each
    early-on run."""
    out = []
    for mode in EARLY_FLOWS:
        off = counts[mode, "off"]
        for spec in SPECS:
            entry = {"mode": mode, "early": spec.mode, "source": source,
                     **_figures(counts[mode, spec.mode], outputs, off)}
            if spec.on:
                entry["error"] = {"source": source, **errors[mode, spec.mode]}
                entry["projection"] = _projection(model[mode, spec.mode], off)
            out.append(entry)
    return out


def _speedups(runs: list[dict]) -> dict:
    """RED+CompRRAE against RED alone, ZP alone and ZP+CompRRAE, and ZP+CompRRAE
    against ZP alone, per early-on setting (ratios of total cycles)."""
    cycles = {(r["mode"], r["early"]): r["total_cycles"] for r in runs}
    return {spec.mode: {"red_vs_red_off": cycles["red", "off"] / cycles["red", spec.mode],
                        "red_vs_zp_off": cycles["zp", "off"] / cycles["red", spec.mode],
                        "red_vs_zp_same": cycles["zp", spec.mode] / cycles["red", spec.mode],
                        "zp_vs_zp_off": cycles["zp", "off"] / cycles["zp", spec.mode]}
            for spec in SPECS if spec.on}


def _tile_fields(tile: TileConfig) -> dict:
    return {key: getattr(tile, key) for key in ("rows", "cols", "cell_bits", "w_bits",
                                                "in_bits", "adc_bits", "kernel",
                                                "adcs_per_array")}


def _reason(layer: LayerSpec, tile: TileConfig) -> str:
    """Where the tile decides ``layer`` (one that it decides)."""
    condition = decides_condition(layer, tile)
    cin_tiles = schedule(layer, tile).cin_tiles
    if cin_tiles == 1:
        return f"{condition}: every pass computes whole sums, so the tile decides"
    return (f"{condition}: the last of {cin_tiles} cin slices decides, on the partial "
            "sums of the slices before it from the partial-sum bank")


def _checked(layer: LayerSpec, run, result, est: Estimate) -> tuple[dict, list[str]]:
    """An RTL run held to the golden output and to the model ``est``."""
    spec = run.stage.early
    verdict = check(result.y, result.y_golden, result.counters, result.passes, est,
                    where=f"CompRRAE {layer.name} {run.mode.upper()} early {spec}")
    differing, problems = verdict.model, verdict.problems
    return {"mode": run.mode, "early": spec.mode, "passes": result.passes,
            "golden_match": verdict.golden_match, "model_equal": verdict.model_equal,
            "differing": {name: list(pair) for name, pair in differing.items()},
            "counters": dict(result.counters)}, problems


def _held(layer: LayerSpec, runs: list, results: list,
          estimate_of: Callable) -> tuple[dict, list[dict], list[str]]:
    """The RTL runs of ``layer`` among ``runs`` (``results`` in the same order), by
    (mode, early), each held to the golden output and to ``estimate_of((mode, early))``
    (the model, which follows the golden decisions); with their checks and problems."""
    found = {(run.mode, run.stage.early.mode): (run, result)
             for run, result in zip(runs, results) if run.layer is layer}
    checks, problems = [], []
    for key, (run, result) in found.items():
        check, more = _checked(layer, run, result, estimate_of(key))
        checks.append(check)
        problems += more
    return found, checks, problems


def _layer_entry(config: Setup, measured: Measured, d: LayerData) -> tuple[dict, list[str]]:
    tile, layer = config.tile, d.layer
    outputs = layer.cout * layer.ho * layer.wo
    model = {(r.mode, r.spec.mode): r for r in measured.model[layer.name]}
    results, checks, problems = _held(layer, measured.rtl_runs, measured.rtl_results,
                                      lambda key: model[key].estimate)
    report = {"tile": config.tile_key, "config": _tile_fields(tile), "source": "rtl",
              "checks": checks}
    sets = {"report": report}
    if results:
        counts = {key: _counts(result.counters) for key, (_, result) in results.items()}
        errors = {(mode, spec.mode): output_error(results[mode, spec.mode][1].y,
                                                  results[mode, "off"][1].y)
                  for mode in EARLY_FLOWS for spec in SPECS if spec.on}
        report["runs"] = _runs(counts, outputs, model, "rtl", errors)
    for part in sets.values():
        if "runs" in part and len(part["runs"]) > 1:
            part["speedups"] = _speedups(part["runs"])
    bounds = {f"{r.mode} {r.spec}": r.bounds for r in measured.model[layer.name] if r.bounds}
    shared, found = _shared_entry(config, measured, d, model)
    return {"name": layer.name, "layer": layer.describe(), "outputs": outputs,
            "applies": early_applies(layer, tile, SPECS[1]), "reason": _reason(layer, tile),
            "sets": sets, "bounds": bounds, "shared_adcs": shared}, problems + found


def _shared_entry(config: Setup, measured: Measured, d: LayerData,
                  model: dict) -> tuple[dict, list[str]]:
    """The layer on the shared-ADC tile: its RTL runs (held to the golden output and the
    model) or, for a layer not simulated there, the model's; per run the figures of
    :func:`_figures` and, with early termination off, ``adc_cost``: its total cycles
    over those with one ADC per column (the model's, which the RTL equals)."""
    layer, outputs = d.layer, d.layer.cout * d.layer.ho * d.layer.wo
    results, checks, problems = _held(layer, measured.shared_runs, measured.shared_results,
                                      lambda key: model[key].shared)
    source = "rtl" if results else "model"
    counts = {(mode, spec.mode): _counts(results[mode, spec.mode][1].counters if results
                                          else model[mode, spec.mode].shared)
              for mode in EARLY_FLOWS for spec in SHARED_SPECS}
    runs = []
    for mode in EARLY_FLOWS:
        off = counts[mode, "off"]
        for spec in SHARED_SPECS:
            entry = {"mode": mode, "early": spec.mode, "source": source,
                     **_figures(counts[mode, spec.mode], outputs, off)}
            if not spec.on:
                entry["adc_cost"] = (off["total_cycles"]
                                     / model[mode, "off"].estimate.total_cycles)
            runs.append(entry)
    return {"config": _tile_fields(config.shared_tile), "source": source, "checks": checks,
            "runs": runs}, problems


@dataclass
class ComprraeSection:
    """``report.json``'s ``comprrae`` (section 6): the DCGAN chain's data, and per layer
    and early-termination rule the RTL's and the model's figures."""

    network: str
    tile: str
    seed: int
    percentile: float
    specs: list
    claims: dict
    seconds: float | None
    sim_error: str | None
    data: dict
    layers: list
    problems: list = field(default_factory=list, metadata=NOT_IN_JSON)
    """Its RTL runs' problems; ``report.json`` lists them at its top."""

    to_json = json_fields


def compute(config: Setup, measured: Measured) -> ComprraeSection:
    """The section from the data and the RTL runs of :func:`measure`."""
    problems = [f"CompRRAE: RTL simulation failed: {measured.error}"] if measured.error \
        else []
    layers = []
    for d in measured.data:
        entry, found = _layer_entry(config, measured, d)
        layers.append(entry)
        problems += found
    return ComprraeSection(
        NETWORK, config.tile_key, SEED, PERCENTILE, [spec.describe() for spec in SPECS],
        CLAIMS[COMPRRAE], measured.seconds, measured.error,
        {"chain": [layer.describe() for layer in config.chain],
         "layers": measured.chain_stats}, layers, problems)
