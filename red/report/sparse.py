"""Crossbar-aware sparsity (:mod:`red.sparsity`) in ``red report``: how many crossbar
blocks of DCGAN's and FCN-8s's deconvolution layers pruning empties, and what skipping
them saves, from the model for every crossbar size and on the RTL as witness.

Data
----
No trained model is at hand, so the weights are synthetic and documented
(:func:`weights`): :func:`red.sparsity.synthetic_weights` with :data:`WEIGHTS` (every
output channel a log-uniform scale in ``[1/4, 1]`` times iid unit-variance Laplace
samples, quantised symmetrically to the tile's ``w_bits``), seed ``SEED + n`` for the
``n``-th layer of the section. Each layer is pruned by magnitude
(:func:`red.sparsity.unstructured_prune`) to every level of :data:`LEVELS`. The input
that the output errors and the RTL runs use (:func:`layer_input`) is activation-like:
``ReLU(N(0, (x_max/4)^2))`` rounded and clipped to ``x_max``, at least half zeros; the
errors take its top-left :data:`ERROR_PIXELS` x :data:`ERROR_PIXELS` corner.

Stages (:func:`sparse_mapping`)
-------------------------------
Per layer, level and crossbar size:

* ``dense``: the pruned layer in its own channel order, every block mapped (the empty
  fraction counts the blocks that happen to be all zero);
* ``reordered``: :func:`red.sparsity.reorder_channels`, empty blocks gated and empty
  passes dropped (lossless: the same weights);
* ``pruned``: then crossbar-grained pruning, :func:`red.sparsity.prune_blocks`, to the
  same level as the unstructured pruning: at 90% pruning, 90% of the blocks empty. No
  retraining; its relative output error against the unpruned layer is measured on the
  input above with the golden deconvolution (:func:`red.sparsity.relative_output_error`),
  as is the unstructured pruning's.

Crossbar sizes
--------------
Size ``N`` is the network's report tile (:data:`~red.report.plan.REPORT_TILES`) with
``rows = cols = N``: with the paper's 2-bit cells and 16-bit weights a crossbar holds
``N`` input channels and ``N/8`` output channels (:data:`SIZES`). ``--quick`` scales
everything down: the quick layers and tile of :mod:`red.report.plan`, sizes
:data:`QUICK_SIZES` (4-bit weights in 2-bit cells: ``N/2`` output channels).

Figures
-------
``model`` (every layer, level and size): :func:`red.model.estimate` in RED mode, with
the stage's block mask for ``reordered`` and ``pruned``; cycles, ADC conversions and
energy (:mod:`red.energy`), and against ``dense`` the speed-up (total cycles) and energy
efficiency (energy ratio). ``rtl`` (the witness, :func:`witness`): at
:data:`RTL_LEVEL`, layers run on their report tile in RED mode dense and with the
``pruned`` mapping (:class:`red.sim.session.LayerRun` with ``reorder``); each run must
equal the golden output and the model (:func:`red.verdict.check`), else it is a
problem. Which layers the RTL runs: :data:`RTL_LAYERS` by default (chosen for time),
every layer with ``--full``, the quick layers with ``--quick``.

The model sweep runs in :data:`~red.report.sweep.MODEL_WORKERS` forked processes while
the main process drives the simulator.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from red.config import LayerSpec, TileConfig
from red.energy import Energy, EnergyTable, energy_from_counters, energy_from_estimate
from red.mapping import schedule
from red.model import estimate
from red.sparsity import (ALGORITHM, Reordering, apply_permutation, block_mask,
                          prune_blocks, relative_output_error, reorder_channels,
                          synthetic_weights, undo_permutation, unstructured_prune)
from red.verdict import check
from red.workloads import get_workload

from .claims import CLAIMS, SPARSITY
from .plan import FULL, QUICK, QUICK_SHAPES, QUICK_TILE, REPORT_TILES
from .rtl import SEED
from .section import json_fields
from .sweep import MODEL_WORKERS

__all__ = ["NETWORKS", "LEVELS", "SIZES", "QUICK_SIZES", "WEIGHTS", "INPUT_SIGMA",
           "ERROR_PIXELS",
           "RTL_LEVEL", "RTL_LAYERS", "STAGES", "Setup", "Mapping", "setup",
           "crossbar_tile", "weights", "layer_input", "sparse_mapping", "witness",
           "submit_models", "SparsitySection", "compute"]

#: Networks of the section.
NETWORKS = ("dcgan", "fcn8s")

#: Unstructured pruning levels (fraction of weights zeroed), and the crossbar-grained
#: pruning's target fraction of empty blocks at each.
LEVELS = (0.5, 0.7, 0.9)

#: Crossbar sizes ``rows = cols`` of the sweep, and of ``--quick``'s.
SIZES = (32, 64, 128)
QUICK_SIZES = (2, 4)

#: Keywords of :func:`red.sparsity.synthetic_weights`.
WEIGHTS = {"distribution": "laplace", "channel_spread": 4.0}

#: Standard deviation of the input's Gaussian before the ReLU, in units of ``x_max``.
INPUT_SIGMA = 0.25

#: The output errors take the top-left corner of the input, at most this many pixels on a
#: side: FCN-8s's upscore8 on all of its 70x70 input (a 568x568 output) would spend
#: seconds per golden deconvolution, and a corner has thousands of input values.
ERROR_PIXELS = 16

#: Pruning level of the RTL runs.
RTL_LEVEL = 0.9

#: The default variant's RTL runs: DCGAN's deconv3, the smallest DCGAN layer in several
#: passes per cout slice (2 cin slices: whole passes can drop), and FCN-8s's upscore2,
#: one pass per cout slice (gating saves conversions, no cycle). Measured on two cores
#: with a warm Verilator build: 65 s beside the model sweep's two processes, 75 s for the
#: whole section. deconv4 would add another one-pass case; deconv1 and deconv2 (256 and
#: 64 passes) take minutes, upscore8 millions of cycles.
RTL_LAYERS = ("dcgan.deconv3", "fcn8s.upscore2")

#: The mappings compared, baseline first (module docstring).
STAGES = ("dense", "reordered", "pruned")


#: Figures of the RTL and model runs (beside passes and energy).
_COUNTS = ("total_cycles", "compute_cycles", "adc_conversions", "row_drives",
           "skipped_blocks")


@dataclass(frozen=True)
class Setup:
    """What the section measures in one variant.

    Attributes
    ----------
    tiles : dict
        Tile key -> the report tile of its layers (the crossbar sizes replace its rows
        and columns).
    layers : tuple of (str, LayerSpec)
        Tile key and layer, in order (the position gives the seed, :meth:`seeded`).
    sizes : tuple of int
    simulated : tuple of str
        Names of the layers the RTL runs.
    """

    tiles: dict[str, TileConfig]
    layers: tuple[tuple[str, LayerSpec], ...]
    sizes: tuple[int, ...]
    simulated: tuple[str, ...]

    def seeded(self):
        """``(seed, tile key, layer)`` of every layer: seed ``SEED + n`` for the
        ``n``-th."""
        for n, (key, layer) in enumerate(self.layers):
            yield SEED + n, key, layer


def setup(variant: str) -> Setup:
    """The section's layers, tiles and RTL runs in report ``variant``."""
    if variant == QUICK:
        layers = tuple((QUICK, dataclasses.replace(layer, **QUICK_SHAPES[layer.name]))
                       for network in NETWORKS for layer in get_workload(network)
                       if layer.name in QUICK_SHAPES)
        return Setup({QUICK: QUICK_TILE}, layers, QUICK_SIZES,
                     tuple(layer.name for _, layer in layers))
    layers = tuple((network, layer) for network in NETWORKS
                   for layer in get_workload(network))
    simulated = tuple(layer.name for _, layer in layers) if variant == FULL else RTL_LAYERS
    return Setup({network: REPORT_TILES[network] for network in NETWORKS}, layers, SIZES,
                 simulated)


def crossbar_tile(tile: TileConfig, size: int) -> TileConfig:
    """``tile`` with ``size x size`` crossbars."""
    return dataclasses.replace(tile, rows=size, cols=size)


def weights(layer: LayerSpec, tile: TileConfig, seed: int) -> np.ndarray:
    """The layer's synthetic dense weights (module docstring, "Data")."""
    return synthetic_weights(layer.cin, layer.cout, layer.k, tile, seed=seed, **WEIGHTS)


def layer_input(layer: LayerSpec, tile: TileConfig, seed: int) -> np.ndarray:
    """The layer's activation-like input ``x[cin][h][w]`` (module docstring, "Data"),
    from its own random stream (``[seed, 1]``), apart from the weights'."""
    rng = np.random.default_rng([seed, 1])
    x = rng.normal(0.0, INPUT_SIGMA * tile.x_max, (layer.cin, layer.h, layer.w))
    return np.clip(np.rint(x), 0, tile.x_max).astype(np.int64)


@dataclass(frozen=True)
class Mapping:
    """A pruned layer's sparse mapping on one tile: the channel order, the reordered
    weights and the block-pruned ones (both in the permuted order)."""

    reorder: Reordering
    reordered: np.ndarray
    pruned: np.ndarray

    def pruned_original(self) -> np.ndarray:
        """The block-pruned weights in the layer's own channel order."""
        return undo_permutation(self.pruned, self.reorder.perm_in, self.reorder.perm_out)


def sparse_mapping(w: np.ndarray, tile: TileConfig, level: float) -> Mapping:
    """Reorder the channels of ``w`` for ``tile``, then prune blocks until ``level`` of
    them are empty."""
    order = reorder_channels(w, tile)
    reordered = apply_permutation(w, order.perm_in, order.perm_out)
    return Mapping(order, reordered, prune_blocks(reordered, tile, level))


def _figure(source: str, passes: int, counts, energy: Energy) -> dict:
    """One run's figures from model fields or hardware counters (``counts``)."""
    return {"source": source, "passes": passes,
            **{name: int(counts[name]) for name in _COUNTS}, "energy_pj": energy.as_dict()}


def _with_ratios(figures: dict[str, dict], baseline: str) -> dict[str, dict]:
    """``figures`` with each one's speed-up (total cycles), energy efficiency and saved
    ADC conversions against ``figures[baseline]``."""
    base = figures[baseline]
    for figure in figures.values():
        figure["speedup"] = base["total_cycles"] / figure["total_cycles"]
        figure["energy_efficiency"] = base["energy_pj"]["total"] / figure["energy_pj"]["total"]
        figure["adc_saved"] = 1 - figure["adc_conversions"] / base["adc_conversions"]
    return figures


def _empty(mask: np.ndarray) -> int:
    return int(mask.size - np.count_nonzero(mask))


def _size_entry(layer: LayerSpec, tile: TileConfig, w: np.ndarray, pruned: np.ndarray,
                x: np.ndarray, level: float, table: EnergyTable) -> dict:
    """One layer at one level on one crossbar size: blocks, error, model figures."""
    mapping = sparse_mapping(pruned, tile, level)
    masks = {"dense": block_mask(pruned, tile), "reordered": block_mask(mapping.reordered, tile),
             "pruned": block_mask(mapping.pruned, tile)}
    plan = schedule(layer, tile)
    figures = {}
    for stage in STAGES:
        est = estimate(layer, tile, "red", None if stage == "dense" else masks[stage])
        figures[stage] = _figure("model", est.passes, est.as_dict(),
                                 energy_from_estimate(est, layer, tile, table))
    return {
        "size": tile.rows, "logical_cols": tile.logical_cols,
        "schedule": {"cin_tiles": plan.cin_tiles, "cout_tiles": plan.cout_tiles,
                     "folds": plan.folds},
        "blocks": {"source": "weights", "total": int(masks["dense"].size),
                   "empty": {stage: _empty(mask) for stage, mask in masks.items()}},
        "reordering_start": mapping.reorder.start,
        "pruned_error": {"source": "golden",
                         "value": relative_output_error(x, w, mapping.pruned_original(),
                                                        layer)},
        "model": _with_ratios(figures, "dense"),
    }


def _layer_level(layer: LayerSpec, tile: TileConfig, seed: int, level: float,
                 sizes: tuple[int, ...], table: EnergyTable) -> tuple[dict, float]:
    """One layer at one pruning level on every crossbar size (one worker's job), and the
    seconds it took."""
    started = time.monotonic()
    w = weights(layer, tile, seed)
    pruned = unstructured_prune(w, level)
    # The error's statistics need no more than a corner of a large input map.
    x = layer_input(layer, tile, seed)[:, :ERROR_PIXELS, :ERROR_PIXELS]
    entry = {"level": level, "zero_weights": float(np.mean(pruned == 0)),
             "unstructured_error": {"source": "golden",
                                    "value": relative_output_error(x, w, pruned, layer)},
             "sizes": [_size_entry(layer, crossbar_tile(tile, size), w, pruned, x, level,
                                   table) for size in sizes]}
    return entry, time.monotonic() - started


# -- the RTL witness -------------------------------------------------------------------

def _runs(config: Setup, key: str):
    """``(layer, seed, x, dense weights, mapping)`` of the tile's simulated layers at
    :data:`RTL_LEVEL`."""
    tile = config.tiles[key]
    for seed, tile_key, layer in config.seeded():
        if tile_key == key and layer.name in config.simulated:
            pruned = unstructured_prune(weights(layer, tile, seed), RTL_LEVEL)
            yield (layer, seed, layer_input(layer, tile, seed), pruned,
                   sparse_mapping(pruned, tile, RTL_LEVEL))


def _checked(stage: str, layer: LayerSpec, tile: TileConfig, result, blocks,
             table: EnergyTable) -> tuple[dict, list[str]]:
    """An RTL run's figures, held to the golden (``result.match``) and the model."""
    est = estimate(layer, tile, "red", blocks)
    verdict = check(result.y, result.y_golden, result.counters, result.passes, est,
                    where=f"sparsity {layer.name} {stage} at {RTL_LEVEL:.0%}")
    figure = _figure("rtl", result.passes, result.counters,
                     energy_from_counters(result.counters, layer, tile, table))
    figure.update(golden_match=verdict.golden_match,
                  differing={name: {"rtl": rtl, "model": model}
                             for name, (rtl, model) in verdict.model.items()})
    problems = verdict.problems
    return figure, problems


def witness(config: Setup, sim: str, work_dir: Path, progress: Callable[[str], None],
            table: EnergyTable, simulate_layers: Callable) -> tuple[dict, list[str]]:
    """Run the simulated layers dense and sparse on the RTL with ``simulate_layers``
    (:func:`red.sim.session.simulate_layers`), one simulation per tile in
    ``work_dir/<tile key>``; the section's ``rtl`` part and its problems."""
    from red.sim.runner import SimulationError
    from red.sim.session import LayerRun

    entries, problems, seconds, errors = [], [], {}, {}
    for key, tile in config.tiles.items():
        cases = list(_runs(config, key))
        if not cases:
            continue
        runs = []
        for layer, _, x, pruned, mapping in cases:
            runs += [LayerRun(layer, "red", x, pruned),
                     LayerRun(layer, "red", x, mapping.pruned_original(),
                              reorder=mapping.reorder)]
        progress(f"sparsity: RTL {key}: {len(runs)} runs in one {sim} simulation ...")
        started = time.monotonic()
        try:
            results, _ = simulate_layers(tile, runs, sim=sim, work_dir=work_dir / key,
                                         seed=SEED, stall=0.0)
        except SimulationError as exc:
            errors[key] = str(exc).splitlines()[0]
        seconds[key] = round(time.monotonic() - started, 1)
        if key in errors:
            progress(f"sparsity: RTL {key}: simulation failed: {errors[key]}")
            problems.append(f"sparsity: RTL simulation of tile {key} failed: {errors[key]}")
            continue
        progress(f"sparsity: RTL {key}: done in {seconds[key]} s")
        for n, (layer, seed, _, _, mapping) in enumerate(cases):
            figures = {}
            for stage, result, blocks in (("dense", results[2 * n], None),
                                          ("sparse", results[2 * n + 1],
                                           block_mask(mapping.pruned, tile))):
                figures[stage], found = _checked(stage, layer, tile, result, blocks, table)
                problems += found
            entries.append({"name": layer.name, "tile": key, "seed": seed,
                            "layer": layer.describe(), "runs": _with_ratios(figures, "dense")})
    return {"sim": sim, "level": RTL_LEVEL, "stage": "pruned", "seconds": seconds,
            "errors": errors, "runs": entries}, problems


# -- the section -----------------------------------------------------------------------

def _summed(figures: list[dict]) -> dict:
    """Figures of several layers added up (ratios are recomputed by the caller)."""
    return {"source": figures[0]["source"],
            "passes": sum(f["passes"] for f in figures),
            **{name: sum(f[name] for f in figures) for name in _COUNTS},
            "energy_pj": {part: sum(f["energy_pj"][part] for f in figures)
                          for part in figures[0]["energy_pj"]}}


def _networks(layers: list[dict], sizes: tuple[int, ...]) -> list[dict]:
    """Per network, level and size: blocks and model figures summed over its layers."""
    out = []
    for network in dict.fromkeys(entry["network"] for entry in layers):
        mine = [entry for entry in layers if entry["network"] == network]
        for i, level in enumerate(LEVELS):
            for j, size in enumerate(sizes):
                cells = [entry["levels"][i]["sizes"][j] for entry in mine]
                out.append({
                    "network": network, "level": level, "size": size,
                    "blocks": {"source": "weights",
                               "total": sum(c["blocks"]["total"] for c in cells),
                               "empty": {stage: sum(c["blocks"]["empty"][stage] for c in cells)
                                         for stage in STAGES}},
                    "model": _with_ratios({stage: _summed([c["model"][stage] for c in cells])
                                           for stage in STAGES}, "dense")})
    return out


def _reporter(progress: Callable[[str], None], name: str, level: float):
    """A callback for a finished model job (a failure is raised when its result is
    read)."""
    def report(done) -> None:
        if done.exception() is None:
            progress(f"sparsity: model of {name} at {level:.0%} done "
                     f"({done.result()[1]:.1f} s)")
    return report


def _weight_count(layer: LayerSpec) -> int:
    return layer.cin * layer.cout * layer.k * layer.k


def submit_models(pool, config: Setup, table: EnergyTable,
                  progress: Callable[[str], None]) -> dict:
    """Submit every layer and level's model sweep (:func:`_layer_level`) to ``pool``,
    largest layers first so that the workers finish together; ``(seed, level) ->
    future``, each reported as it finishes."""
    jobs = [(seed, key, layer, level) for seed, key, layer in config.seeded()
            for level in LEVELS]
    jobs.sort(key=lambda job: -_weight_count(job[2]))
    progress(f"sparsity: {len(config.layers)} layers x {len(LEVELS)} levels x "
             f"{len(config.sizes)} crossbar sizes in {MODEL_WORKERS} processes ...")
    futures = {}
    for seed, key, layer, level in jobs:
        futures[seed, level] = pool.submit(_layer_level, layer, config.tiles[key], seed,
                                           level, config.sizes, table)
        futures[seed, level].add_done_callback(_reporter(progress, layer.name, level))
    return futures


@dataclass
class SparsitySection:
    """``report.json``'s ``sparsity`` (section 7, module docstring)."""

    variant: str
    levels: list
    sizes: list
    stages: list
    tiles: dict
    weights: dict
    input: dict
    reordering: str
    block_pruning: str
    layers: list
    networks: list
    rtl: dict
    paper: dict
    problems: list
    """RTL != golden, RTL != model, failed simulations (also in ``report.json``)."""
    seconds: float

    to_json = json_fields


def compute(config: Setup, variant: str, levels: dict, rtl: dict, problems: list[str],
            seconds: float) -> SparsitySection:
    """The section from the model sweep's results (``(seed, level) -> figures``, of
    :func:`submit_models`) and the RTL witness's part and problems (:func:`witness`)."""
    layers = [{"name": layer.name, "network": layer.name.split(".")[0], "tile": key,
               "seed": seed, "layer": layer.describe(),
               "levels": [levels[seed, level] for level in LEVELS]}
              for seed, key, layer in config.seeded()]
    return SparsitySection(
        variant, list(LEVELS), list(config.sizes), list(STAGES),
        {key: tile.describe() for key, tile in config.tiles.items()},
        {"function": "red.sparsity.synthetic_weights", **WEIGHTS,
         "seed": f"{SEED} + layer position"},
        {"relu_gaussian_sigma_of_x_max": INPUT_SIGMA,
         "seed": "numpy default_rng([layer seed, 1])", "error_corner_pixels": ERROR_PIXELS},
        ALGORITHM, "prune_blocks, lowest L2 norm first, to the unstructured level",
        layers, _networks(layers, config.sizes), rtl, CLAIMS[SPARSITY], problems,
        round(seconds, 1))
