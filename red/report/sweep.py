"""The report's figures: every full-size layer in RED, ZP and PF mode on its network's
tile, each figure from the RTL's counters where the RTL ran it, else from the analytical
model; what the pass schedule costs; and our ranges beside the papers'.

Cost of the pass schedule (all from the model):

* **Reprogramming.** A tile with one copy of the weights writes every pass's weights
  into its crossbars before the pass runs, once per inference. The digital port takes
  one crossbar row of every group per cycle (``load_cycles``), but a ReRAM write is
  slower and costs energy: :func:`reprogramming` prices it with a published cell write
  (:data:`RERAM_WRITE_SOURCE`), separately from the compute energy of ``red.energy``.
* **Resident weights.** A chip that keeps all weights resident needs one tile per pass
  (replicated tiles) and runs the passes at once: :func:`resident` gives its tiles and,
  first order, its cycles: the longest pass (the partial sums of the cin slices and folds
  then add across tiles; that reduction is not counted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from concurrent.futures import as_completed
from typing import Callable, Mapping

from red.config import LayerSpec, TileConfig
from red.counters import CYCLE_COUNTERS
from red.energy import COMPONENTS, EnergyTable, energy_from_counters, energy_from_estimate
from red.mapping import schedule
from red.model import Estimate, estimate, speedups, sum_estimates
from red.modes import MODES
from red.timing import pass_timing
from red.workloads import get_workload

from .claims import CLAIMS, RED_PAPERS
from .section import json_fields

__all__ = ["ARRAY_READ_NS", "RERAM_SET_PULSE_NS", "RERAM_RESET_PULSE_NS",
           "RERAM_CELL_WRITE_PJ", "RERAM_WRITE_SOURCE", "MODEL_WORKERS", "ModelCache", "model_events",
           "mode_figure", "reprogramming", "resident", "model_keys", "ModelSection",
           "compute"]

#: One tile cycle in nanoseconds: the tile applies one bit plane per cycle, and an
#: ISAAC-style 128x128 array reads one bit plane in 100 ns (RED_TILE.md, ISAAC-style
#: circuit defaults).
ARRAY_READ_NS = 100.0

#: A ReRAM cell write: SET and RESET pulses of 10 ns, 0.6 pJ each per cell.
RERAM_SET_PULSE_NS = 10.0
RERAM_RESET_PULSE_NS = 10.0
RERAM_CELL_WRITE_PJ = 0.6
RERAM_WRITE_SOURCE = (
    "NVSim (X. Dong, C. Xu, Y. Xie, N. P. Jouppi, 'NVSim: A Circuit-Level Performance, "
    "Energy, and Area Model for Emerging Nonvolatile Memory', IEEE TCAD 31(7), 2012), "
    "sample ReRAM cell sample_RRAM.cell (https://github.com/SEAL-UCSB/NVSim): SET and "
    "RESET pulses of 10 ns and 0.6 pJ per cell. A row is written with one RESET and one "
    "SET pulse (the cells of the row in parallel), and each written cell switches once. "
    "These are single-level cells: 2-bit cells need program-and-verify iterations, so "
    "the figures are lower bounds.")


#: Processes that model layers at once (:func:`red.report.forked_pool`): the machines this
#: runs on have two cores, and ZP's cycle-exact timing of a large-stride layer takes
#: seconds of pure Python.
MODEL_WORKERS = 2


def _modelled(layer: LayerSpec, tile: TileConfig, mode: str) -> tuple[Estimate, int, float]:
    """``layer``'s estimate on ``tile`` in ``mode``, its longest pass in cycles (RED and
    ZP passes timed by :func:`red.timing.pass_timing`, PF's all take its compute cycles
    per pass), and the seconds this took."""
    started = time.monotonic()
    est = estimate(layer, tile, mode)
    if mode == "pf":
        longest = est.compute_cycles // est.passes
    else:
        folds = {(p.kh0, p.kw0) for p in schedule(layer, tile)}
        longest = max(pass_timing(layer, tile, mode, kh0, kw0).total_cycles
                      for kh0, kw0 in folds)
    return est, longest, time.monotonic() - started


class ModelCache:
    """The analytical model (:func:`red.model.estimate`) and each layer's longest pass,
    computed once per (layer shape, tile, mode).

    Layers compare by shape (their names are not part of equality), so a layer that two
    networks share on equal tiles is modelled once.
    """

    def __init__(self):
        self._results: dict[tuple[LayerSpec, TileConfig, str], tuple[Estimate, int]] = {}

    def _get(self, layer: LayerSpec, tile: TileConfig, mode: str) -> tuple[Estimate, int]:
        key = (layer, tile, mode)
        if key not in self._results:
            self._results[key] = _modelled(*key)[:2]
        return self._results[key]

    def __call__(self, layer: LayerSpec, tile: TileConfig, mode: str) -> Estimate:
        return self._get(layer, tile, mode)[0]

    def longest_pass(self, layer: LayerSpec, tile: TileConfig, mode: str) -> int:
        """Cycles of ``layer``'s longest pass on ``tile`` in ``mode`` (first order)."""
        return self._get(layer, tile, mode)[1]

    def submit(self, pool, keys, progress: Callable[[str], None]) -> Callable[[], None]:
        """Submit every ``(layer, tile, mode)`` of ``keys`` not modelled yet to ``pool``
        (:func:`red.report.forked_pool`); return a function that waits for the results
        and stores them, one progress line each."""
        todo = list(dict.fromkeys(key for key in keys if key not in self._results))
        jobs = {pool.submit(_modelled, *key): key for key in todo}

        def collect() -> None:
            for job in as_completed(jobs):
                (layer, _, mode), (est, longest, seconds) = jobs[job], job.result()
                self._results[jobs[job]] = est, longest
                progress(f"model {layer.name} {mode}: {est.total_cycles:,} cycles in "
                         f"{est.passes} pass{'es' if est.passes > 1 else ''} "
                         f"({seconds:.1f} s)")
        return collect


def model_events(est: Estimate) -> dict[str, int]:
    """The model's event counts: its fields that add up over passes, cycles and the pass
    count left out (the hardware counters of the same names are summed over passes)."""
    return {name: value for name, value in sum_estimates([est]).items()
            if name != "passes" and not name.endswith("_cycles")}


def mode_figure(layer: LayerSpec, tile: TileConfig, table: EnergyTable, est: Estimate,
                rtl: tuple[Mapping[str, int], int] | None = None) -> dict:
    """One layer's figures in one mode: from the RTL's ``(counters, passes)`` when given,
    else from the model's ``est``.

    Returns ``{"source", "total_cycles", "compute_cycles", "load_cycles", "passes",
    "events", "energy_pj"}``; ``energy_pj`` has the components of ``red.energy`` and
    ``total``.
    """
    if rtl is None:
        return {"source": "model", "total_cycles": est.total_cycles,
                "compute_cycles": est.compute_cycles, "load_cycles": est.load_cycles,
                "passes": est.passes, "events": model_events(est),
                "energy_pj": energy_from_estimate(est, layer, tile, table).as_dict()}
    counters, passes = rtl
    return {"source": "rtl", "total_cycles": counters["total_cycles"],
            "compute_cycles": counters["compute_cycles"],
            "load_cycles": counters["load_cycles"], "passes": passes,
            "events": {name: value for name, value in counters.items()
                       if name not in CYCLE_COUNTERS},
            "energy_pj": energy_from_counters(counters, layer, tile, table).as_dict()}


def reprogramming(layer: LayerSpec, tile: TileConfig, model: ModelCache,
                  figures: dict[str, dict]) -> dict:
    """What writing the weights of every pass costs in ReRAM, once per inference, from
    the model.

    ``rows``: crossbar rows written over the passes, one row of every group at a time
    (the model's ``load_cycles``, the same in every mode); ``cells``: cells written, the
    active columns (``len(cout) * slices``) of the pass's ``cin`` rows in every group of
    the tile; ``time_ns`` and ``energy_pj`` price them with :data:`RERAM_WRITE_SOURCE`;
    ``time_vs_compute`` divides the write time by each mode's run time (``figures``'
    total cycles x :data:`ARRAY_READ_NS`) and ``energy_vs_compute`` the write energy by
    each mode's energy.
    """
    plan = schedule(layer, tile)
    rows = model(layer, tile, "red").load_cycles
    cells = sum(len(p.cin) * len(p.cout) for p in plan) * tile.slices * tile.groups
    time_ns = rows * (RERAM_RESET_PULSE_NS + RERAM_SET_PULSE_NS)
    energy_pj = cells * RERAM_CELL_WRITE_PJ
    return {"rows": rows, "cells": cells, "time_ns": time_ns, "energy_pj": energy_pj,
            "time_vs_compute": {mode: time_ns / (fig["total_cycles"] * ARRAY_READ_NS)
                                for mode, fig in figures.items()},
            "energy_vs_compute": {mode: energy_pj / fig["energy_pj"]["total"]
                                  for mode, fig in figures.items()}}


def resident(layer: LayerSpec, tile: TileConfig, model: ModelCache) -> dict:
    """A chip that keeps all of ``layer``'s weights resident: one tile per pass, all
    passes at once. ``cycles[mode]`` is the longest pass (first order,
    :meth:`ModelCache.longest_pass`), ``speedup[mode]`` the one-tile model's total cycles
    over it."""
    cycles = {mode: model.longest_pass(layer, tile, mode) for mode in MODES}
    return {"tiles": len(schedule(layer, tile)), "cycles": cycles,
            "speedup": {mode: model(layer, tile, mode).total_cycles / cycles[mode]
                        for mode in MODES},
            "red_speedup": speedups(cycles)}


def _reduction(energy: float, baseline: float) -> float:
    """Fraction of ``baseline`` saved: ``1 - energy / baseline``."""
    return 1.0 - energy / baseline


def _mode_summary(figures: Mapping[str, dict]) -> dict:
    """Speed-ups, energy reductions and utilization from per-mode figures."""
    cycles = {mode: figures[mode]["total_cycles"] for mode in MODES}
    compute = {mode: figures[mode]["compute_cycles"] for mode in MODES}
    energy = {mode: figures[mode]["energy_pj"]["total"] for mode in MODES}
    return {
        "cycles": cycles,
        "compute_cycles": compute,
        "utilization": {mode: compute[mode] / cycles[mode] for mode in MODES},
        "speedup": speedups(cycles),
        "compute_speedup": speedups(compute),
        "energy_pj": {mode: figures[mode]["energy_pj"] for mode in MODES},
        "energy_reduction": {f"red_vs_{base}": _reduction(energy["red"], energy[base])
                             for base in ("zp", "pf")},
        "energy_efficiency": {f"red_vs_{base}": energy[base] / energy["red"]
                              for base in ("zp", "pf")},
    }


def _network_figure(figures: list[dict]) -> dict:
    """One network's figures in one mode: the sums over its layers, and the sources."""
    return {"sources": sorted({fig["source"] for fig in figures}),
            **{key: sum(fig[key] for fig in figures)
               for key in ("total_cycles", "compute_cycles", "load_cycles", "passes")},
            "energy_pj": {part: sum(fig["energy_pj"][part] for fig in figures)
                          for part in (*COMPONENTS, "total")}}


def model_keys(workloads: tuple[str, ...],
               tiles: Mapping[str, TileConfig]) -> list[tuple[LayerSpec, TileConfig, str]]:
    """``(layer, tile, mode)`` of every layer of ``workloads`` on its network's tile in
    every mode: what :func:`compute` models."""
    return [(layer, tiles[network], mode) for network in workloads
            for layer in get_workload(network) for mode in MODES]


#: The ratios :meth:`ModelSection.summary` spans: (figure, baseline mode).
_SUMMARY_RATIOS = (("speedup", "zp"), ("speedup", "pf"), ("compute_speedup", "zp"),
                   ("compute_speedup", "pf"), ("energy_reduction", "zp"),
                   ("energy_reduction", "pf"), ("energy_efficiency", "zp"))


@dataclass(frozen=True)
class ModelSection:
    """``report.json``'s ``model`` (sections 3 and 4): per full-size layer and per network
    the three modes' figures, the schedule and what it costs; :meth:`summary` is its
    ``summary`` (section 5)."""

    layers: list
    networks: dict

    to_json = json_fields

    def summary(self) -> dict:
        """Our ranges over layers and over networks, beside the papers'."""
        ours = {}
        for scope, items in (("layers", self.layers), ("networks", self.networks.values())):
            items = list(items)
            ours[scope] = {f"{name}_vs_{base}": _span(i[name][f"red_vs_{base}"] for i in items)
                           for name, base in _SUMMARY_RATIOS}
        return {"ours": ours, "papers": {name: {key: list(value) if isinstance(value, tuple)
                                                else value for key, value in claim.items()}
                                         for name, claim in _red_claims()}}


def compute(workloads: tuple[str, ...], tiles: Mapping[str, TileConfig],
            model: ModelCache, table: EnergyTable,
            rtl: Mapping[tuple[str, str], tuple[Mapping[str, int], int]]) -> ModelSection:
    """Every full-size layer of ``workloads`` on its network's tile, all three modes.

    ``rtl`` maps ``(layer name, mode)`` to the RTL's ``(counters, passes)`` of that
    full-size layer; those figures come from the RTL, all others from the model.
    """
    layers_out, networks = [], {}
    for network in workloads:
        tile = tiles[network]
        mine = []
        for layer in get_workload(network):
            figures = {mode: mode_figure(layer, tile, table, model(layer, tile, mode),
                                         rtl.get((layer.name, mode)))
                       for mode in MODES}
            plan = schedule(layer, tile)
            mine.append({
                "name": layer.name, "network": network, "layer": layer.describe(),
                "ho": layer.ho, "wo": layer.wo,
                "schedule": {"passes": len(plan), "cin_tiles": plan.cin_tiles,
                             "cout_tiles": plan.cout_tiles, "folds": plan.folds},
                "modes": figures,
                **_mode_summary(figures),
                "reprogramming": reprogramming(layer, tile, model, figures),
                "resident": resident(layer, tile, model),
            })
        layers_out += mine
        figures = {mode: _network_figure([entry["modes"][mode] for entry in mine])
                   for mode in MODES}
        networks[network] = {
            "layers": [entry["name"] for entry in mine],
            "modes": figures,
            **_mode_summary(figures),
            "reprogramming": {key: sum(entry["reprogramming"][key] for entry in mine)
                              for key in ("rows", "cells", "time_ns", "energy_pj")},
            # All layers resident at once, run one after the other.
            "resident": {"tiles": sum(entry["resident"]["tiles"] for entry in mine),
                         "cycles": {mode: sum(entry["resident"]["cycles"][mode]
                                              for entry in mine) for mode in MODES}},
        }
    return ModelSection(layers_out, networks)


def _span(values) -> list[float]:
    values = list(values)
    return [min(values), max(values)]


def _red_claims():
    return ((name, CLAIMS[name]) for name in RED_PAPERS)
