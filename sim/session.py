"""Run deconvolution layers on the generated tile in one simulation and collect results.

This is what ``red sim`` and the tile regression share: write each layer's data, hand
the job to :mod:`red.sim.tb_tile`, and read back the RTL's outputs and counters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from red.config import LayerSpec, TileConfig
from red.golden import crossbar_deconv2d

from .runner import RunResult, SimulationError, failure_messages, run_job

__all__ = ["LayerRun", "LayerResult", "PATHS", "simulate_layers", "random_layer_data"]

#: How the testbench drives the tile: top to generate and cocotb module.
#: ``harness``: the fast path (:mod:`red.sim.tb_harness`), no Python per clock cycle;
#: ``agents``: per-cycle cocotb agents on the bare tile (:mod:`red.sim.tb_tile`), with
#: Python's random stalls, for the small randomized regression.
PATHS = {"harness": ("harness", "red.sim.tb_harness"), "agents": ("tile", "red.sim.tb_tile")}


@dataclass(frozen=True)
class LayerRun:
    """One layer to run: its shape, mode (``"red"`` or ``"zp"``) and int64 data."""

    layer: LayerSpec
    mode: str
    x: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class LayerResult:
    """What the RTL did with one :class:`LayerRun`."""

    run: LayerRun
    y: np.ndarray
    y_golden: np.ndarray
    counters: dict

    @property
    def match(self) -> bool:
        return bool(np.array_equal(self.y, self.y_golden))


def random_layer_data(layer: LayerSpec, tile: TileConfig, rng: np.random.Generator):
    """Signed random ``x`` and ``w`` in the tile's ranges, extremes over-represented."""
    def draw(lo, hi, shape):
        values = rng.integers(lo, hi + 1, shape)
        pick = rng.random(shape)
        values[pick < 0.1] = lo
        values[(pick >= 0.1) & (pick < 0.2)] = hi
        return values.astype(np.int64)
    return (draw(tile.x_min, tile.x_max, (layer.cin, layer.h, layer.w)),
            draw(tile.w_min, tile.w_max, (layer.cin, layer.cout, layer.k, layer.k)))


def golden(tile: TileConfig, run: LayerRun) -> np.ndarray:
    L = run.layer
    return crossbar_deconv2d(run.x, run.w, L.s, L.p, L.op, rows=tile.rows,
                             cell_bits=tile.cell_bits, w_bits=tile.w_bits,
                             in_bits=tile.in_bits, adc_bits=tile.adc_bits)


def simulate_layers(tile: TileConfig, runs: list[LayerRun], *, sim: str, work_dir,
                    seed: int = 0, stall: float = 0.0, waves: bool = False,
                    testcase: str = "run_layers", fail_on_mismatch: bool = False,
                    generated=None, path: str = "harness") -> tuple[list[LayerResult], RunResult]:
    """Run ``runs`` back to back on one build of the tile.

    ``path`` is a key of :data:`PATHS`. ``generated`` (a :class:`red.gen.verilog.Generated`
    of that path's top) skips generating the Verilog again. Returns the per-layer results
    (RTL output, golden output, hardware counters) and the
    simulator run. Raises :class:`red.sim.runner.SimulationError` when the simulation
    itself fails (build error, timeout, protocol assertion).
    """
    work_dir = Path(work_dir).resolve()
    data_dir = work_dir / "layers"
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for n, run in enumerate(runs):
        tile.check_layer(run.layer)
        paths = {key: data_dir / f"{n}_{key}.npy" for key in ("x", "w", "y")}
        np.save(paths["x"], run.x)
        np.save(paths["w"], run.w)
        entries.append({"layer": run.layer.describe() | {"name": run.layer.name},
                        "mode": run.mode, **{k: str(v) for k, v in paths.items()}})
    results_file = work_dir / "layer_results.json"
    job = {"seed": seed, "stall": stall, "layers": entries, "results": str(results_file),
           "fail_on_mismatch": fail_on_mismatch, "harness_dir": str(work_dir)}
    top, module = PATHS[path]
    plusargs = []
    if path == "harness":
        from .tb_harness import HARNESS_FILES
        plusargs = [f"+{arg}={work_dir / file}" for arg, file in HARNESS_FILES.items()]
    result = run_job(top, tile, module, job, sim=sim, work_dir=work_dir, waves=waves,
                     testcase=testcase, generated=generated, plusargs=plusargs)
    if not result.passed:
        raise SimulationError("tile simulation failed: " + "; ".join(failure_messages(result)))
    if testcase != "run_layers":
        return [], result
    recorded = json.loads(results_file.read_text())
    layer_results = [LayerResult(run=run, y=np.load(entry["y"]), y_golden=golden(tile, run),
                                 counters=rec["counters"])
                     for run, entry, rec in zip(runs, entries, recorded)]
    return layer_results, result
