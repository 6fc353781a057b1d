"""Run deconvolution layers of any size on the generated tile in one simulation and
collect results.

This is what ``red sim``, ``red report`` and the tile regression share: write each
layer's data, hand the job to the testbench (which runs each layer as its schedule of
passes, :mod:`red.mapping`), and read back the RTL's outputs and counters.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from red.config import LayerSpec, TileConfig
from red.early import OutputStage
from red.sparsity import Reordering

from .job import LayerEntry, TileJob
from .pacing import Pacing
from .runner import RunResult, SimulationError, failure_messages, run_job

__all__ = ["LayerRun", "LayerResult", "PATHS", "simulate_layers", "random_layer_data"]

#: How the testbench drives the tile: top to generate and cocotb module.
#: ``harness``: the fast path (:mod:`red.sim.tb_harness`), no Python per clock cycle;
#: ``agents``: per-cycle cocotb agents on the bare tile (:mod:`red.sim.tb_tile`), with
#: separate idle and back-pressure generators, for the small randomized regression.
PATHS = {"harness": ("harness", "red.sim.tb_harness"), "agents": ("tile", "red.sim.tb_tile")}


@dataclass(frozen=True)
class LayerRun:
    """One layer to run: its shape, mode (``"red"`` or ``"zp"``), int64 data and output
    stage (bias, ReLU, early termination)."""

    layer: LayerSpec
    mode: str
    x: np.ndarray
    w: np.ndarray
    stage: OutputStage = OutputStage()
    reorder: Reordering | None = None
    """A sparse mapping (:mod:`red.sparsity`): channel order and gated empty blocks."""


@dataclass(frozen=True)
class LayerResult:
    """What the RTL did with one :class:`LayerRun`: its output, the golden output, the
    hardware counters summed over the layer's passes and per pass."""

    run: LayerRun
    y: np.ndarray
    y_golden: np.ndarray
    counters: dict
    pass_counters: list[dict]
    held: dict = dataclasses.field(default_factory=dict)
    """``agents`` path: cycles the agents held off (``idle_cycles``,
    ``backpressure_cycles``, :func:`red.sim.tb_tile.run_layer`); empty on the harness."""

    @property
    def passes(self) -> int:
        return len(self.pass_counters)

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


class _ProgressTail:
    """Calls ``progress`` with each line the testbench appends to ``path``, from a
    background thread, while the simulation runs (the simulator is a subprocess)."""

    def __init__(self, path: Path, progress: Callable[[str], None] | None):
        self.path, self.progress = path, progress
        self.path.write_text("")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        offset = 0
        while True:
            stopping = self.stop.wait(0.5)
            text = self.path.read_text()
            complete = text[offset:].rpartition("\n")[0]
            if complete:
                offset += len(complete) + 1
                for line in complete.splitlines():
                    self.progress(line)
            if stopping:
                return

    def __enter__(self):
        if self.progress is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.stop.set()
            self.thread.join()


def simulate_layers(tile: TileConfig, runs: list[LayerRun], *, sim: str, work_dir,
                    seed: int = 0, stall: float = 0.0, idle: Pacing | None = None,
                    backpressure: Pacing | None = None, waves: "bool | Waves" = False,
                    testcase: str = "run_layers", fail_on_mismatch: bool = False,
                    generated=None, path: str = "harness",
                    progress: Callable[[str], None] | None = None,
                    ) -> tuple[list[LayerResult], RunResult]:
    """Run ``runs`` back to back on one build of the tile, each layer as its schedule of
    passes (any size ``tile.check_layer`` accepts).

    ``path`` is a key of :data:`PATHS`. ``stall`` is the probability of input idles and
    of output back-pressure per cycle (the harness's hardware generators, or random
    :class:`~red.sim.pacing.Pacing` of the agents); on the ``agents`` path ``idle`` and
    ``backpressure`` set each generator instead. ``generated`` (a
    :class:`red.gen.verilog.Generated` of that path's top) skips generating the Verilog
    again. ``progress`` receives a line per pass while the simulation runs. Returns the
    per-layer results (RTL output, golden output, hardware counters) and the simulator
    run. Raises
    :class:`red.sim.runner.SimulationError` when the simulation itself fails (build
    error, timeout, protocol assertion).
    """
    for run in runs:
        tile.require_mode(run.mode)
    if path == "harness" and (idle is not None or backpressure is not None):
        raise ValueError("the harness paces its streams in hardware: give it stall, not "
                         "idle or backpressure")
    idle = Pacing.random_or_none(stall) if idle is None else idle
    backpressure = Pacing.random_or_none(stall) if backpressure is None else backpressure
    work_dir = Path(work_dir).resolve()
    data_dir = work_dir / "layers"
    shutil.rmtree(data_dir, ignore_errors=True)     # no stale golden output survives
    data_dir.mkdir(parents=True)
    entries = []
    saved: dict[tuple[int, int], dict] = {}   # runs that share their data share its files
    for n, run in enumerate(runs):
        tile.check_layer(run.layer)
        data = saved.get((id(run.x), id(run.w)))
        if data is None:
            data = {key: str(data_dir / f"{n}_{key}.npy") for key in ("x", "w", "y_golden")}
            np.save(data["x"], run.x)
            np.save(data["w"], run.w)
            saved[id(run.x), id(run.w)] = data
        files = {}
        if run.stage.bias is not None:
            files["bias"] = str(data_dir / f"{n}_bias.npy")
            np.save(files["bias"], run.stage.bias)
        if run.reorder is not None:
            for key in ("perm_in", "perm_out"):
                files[key] = str(data_dir / f"{n}_{key}.npy")
                np.save(files[key], getattr(run.reorder, key))
        if not run.stage.plain or run.reorder is not None:
            # The golden output depends on the stage (and, with early termination, on
            # the mode): this run's own.
            data = data | {"y_golden": str(data_dir / f"{n}_y_golden.npy")}
        entries.append(LayerEntry(run.layer, run.mode, **data, y=str(data_dir / f"{n}_y.npy"),
                                  relu=run.stage.relu, early=run.stage.early, **files))
    results_file = work_dir / "layer_results.json"
    progress_file = work_dir / "progress.log"
    job = TileJob(tile, tuple(entries), results=str(results_file),
                  progress=str(progress_file), work_dir=str(work_dir), seed=seed,
                  stall=stall, idle=idle, backpressure=backpressure,
                  fail_on_mismatch=fail_on_mismatch)
    top, module = PATHS[path]
    plusargs = []
    if path == "harness":
        from .tb_harness import HARNESS_FILES
        # Relative to the simulator's working folder, work_dir: a plusarg cannot hold
        # the spaces an absolute path may have.
        plusargs = [f"+{arg}={file}" for arg, file in HARNESS_FILES.items()]
    with _ProgressTail(progress_file, progress):
        result = run_job(top, tile, module, job.to_json(), sim=sim, work_dir=work_dir,
                         waves=waves, testcase=testcase, generated=generated,
                         plusargs=plusargs)
    if not result.passed:
        raise SimulationError("tile simulation failed: " + "; ".join(failure_messages(result)))
    if testcase != "run_layers":
        return [], result
    recorded = json.loads(results_file.read_text())
    layer_results = [LayerResult(run=run, y=np.load(entry.y),
                                 y_golden=np.load(entry.y_golden),
                                 counters=rec["counters"], pass_counters=rec["pass_counters"],
                                 held=rec.get("held", {}))
                     for run, entry, rec in zip(runs, entries, recorded)]
    return layer_results, result
