"""One layer on the RTL, judged: what ``red sim`` runs, as a library call.

:func:`simulate` takes a :class:`SimJob` (the layer, the tile, the data, the output stage
and how to run it), runs it on the generated tile in a simulator, and returns a
:class:`SimReport`: the RTL's output, the golden output, the hardware counters, the
model's estimate and the verdict (:func:`red.verdict.check`), plus the waveform when one
was asked for. :meth:`SimReport.to_json` is ``report.json``; :meth:`SimReport.save`
writes it with the arrays.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .config import TileConfig
from .counters import CYCLE_COUNTERS
from .mapping import Schedule, schedule
from .model import Estimate, estimate
from .verdict import Verdict, check

if TYPE_CHECKING:
    from red.sim.runner import Waves
    from red.sim.session import LayerRun

__all__ = ["SimJob", "SimReport", "simulate", "EXIT_MISMATCH", "GTKW_FILE", "SIM_OUTPUTS"]

#: ``red sim``'s exit status when the RTL differs from the golden output or the model.
EXIT_MISMATCH = 1

#: What ``red sim`` writes into its folder (a later run replaces red's own copies of
#: these and refuses to touch a user's; see :mod:`red.outdir`).
SIM_OUTPUTS = ("x.npy", "w.npy", "bias.npy", "y.npy", "y_golden.npy", "report.json", "sim",
               "waves.fst", "waves.vcd", "dump.fst", "dump.vcd", "waves.gtkw")

#: The GTKWave save file ``red sim --waves`` writes beside the waveform.
GTKW_FILE = "waves.gtkw"


@dataclass(frozen=True)
class SimJob:
    """One layer to simulate (a :class:`red.sim.session.LayerRun`: the layer, its mode,
    data, output stage and sparse channel order) on ``tile``, and how."""

    run: LayerRun
    tile: TileConfig
    sparsity_source: str | None = None
    """Where ``run.reorder`` came from (for ``report.json``), e.g. ``"red sim --sparse"``."""
    sim: str = "verilator"
    seed: int = 0
    stall: float = 0.0
    waves: "Waves | None" = None
    """What the run traces (:class:`red.sim.runner.Waves`); ``None``: no waveform."""

    @property
    def blocks(self) -> np.ndarray | None:
        """The block mask of a sparse mapping (``None`` when dense)."""
        reorder = self.run.reorder
        if reorder is None:
            return None
        from .sparsity import apply_permutation, block_mask
        return block_mask(apply_permutation(self.run.w, reorder.perm_in, reorder.perm_out),
                          self.tile)


@dataclass
class SimReport:
    """What :func:`simulate` found (module docstring)."""

    job: SimJob
    y: np.ndarray
    y_golden: np.ndarray
    counters: dict
    pass_counters: list[dict]
    plan: Schedule
    estimate: Estimate
    early: dict
    verdict: Verdict
    waveform: Path | None = None
    waveform_figures: dict | None = None
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return EXIT_MISMATCH if self.problems else 0

    def to_json(self) -> dict:
        """``report.json`` (its keys are part of ``red sim``'s interface)."""
        job, run, plan, counters = self.job, self.job.run, self.plan, self.counters
        passes = plan.describe()
        for entry, pass_counters in zip(passes["schedule"], self.pass_counters):
            entry["cycles"] = {"total": pass_counters["total_cycles"],
                               "compute": pass_counters["compute_cycles"],
                               "load": pass_counters["load_cycles"]}
        blocks = job.blocks
        report = {
            "match": self.verdict.golden_match,
            "mode": run.mode, "sim": job.sim,
            "layer": run.layer.describe(), "tile": job.tile.describe(),
            "seed": job.seed, "stall": job.stall,
            "passes": len(plan),
            "cin_tiles": plan.cin_tiles, "cout_tiles": plan.cout_tiles, "folds": plan.folds,
            "cycles": {"total": counters["total_cycles"],
                       "compute": counters["compute_cycles"],
                       "load": counters["load_cycles"]},
            # A dropped pass never reaches the tile, so the schedule counts it.
            "events": {k: v for k, v in counters.items() if k not in CYCLE_COUNTERS}
                      | {"skipped_passes": plan.skipped_passes},
            "sparsity": None if run.reorder is None else {
                "source": job.sparsity_source,
                "blocks_total": int(blocks.size), "empty_blocks": int((~blocks).sum()),
                "skipped_passes": plan.skipped_passes,
                "perm_in": run.reorder.perm_in.tolist(),
                "perm_out": run.reorder.perm_out.tolist()},
            "schedule": passes["schedule"],
            "output_stage": {"bias": run.stage.bias is not None, "relu": run.stage.relu},
            "early": self.early,
            "model": self.estimate.as_dict(),
            "files": self.files(),
        }
        if self.waveform_figures is not None:
            report["waveform"] = self.waveform_figures
        report["problems"] = self.problems
        return report

    def files(self) -> dict[str, str]:
        """The files :meth:`save` writes, by role."""
        files = {"x": "x.npy", "w": "w.npy", "y": "y.npy", "y_golden": "y_golden.npy"}
        if self.job.run.stage.bias is not None:
            files["bias"] = "bias.npy"
        if self.waveform is not None:
            files["waveform"] = self.waveform.name
        if self.waveform_figures is not None:
            files["gtkw"] = GTKW_FILE
        return files

    def save(self, folder: Path) -> Path:
        """Write the arrays and ``report.json`` into ``folder`` (the waveform is already
        there); return the report's path."""
        run = self.job.run
        arrays = {"x": run.x, "w": run.w, "y": self.y, "y_golden": self.y_golden,
                  "bias": run.stage.bias}
        for role, name in self.files().items():
            if role in arrays:
                np.save(folder / name, arrays[role])
        path = folder / "report.json"
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


def simulate(job: SimJob, folder: Path, simulate_layers: Callable | None = None,
             progress: Callable[[str], None] | None = None) -> SimReport:
    """Run ``job`` in ``folder`` (the simulator's files go to ``folder/sim``, a waveform
    to ``folder``) and judge it.

    ``simulate_layers`` runs layers on the RTL (default
    :func:`red.sim.session.simulate_layers`; tests pass one whose results they control).
    ``progress`` receives a line per pass while the simulation runs.

    Raises
    ------
    red.sim.runner.SimulationError
        The simulation itself failed (no results).
    """
    if simulate_layers is None:
        from red.sim.session import simulate_layers
    results, run = simulate_layers(
        job.tile, [job.run],
        sim=job.sim, work_dir=folder / "sim", seed=job.seed, stall=job.stall,
        waves=job.waves or False, progress=progress)
    result = results[0]
    blocks, layer, mode = job.blocks, job.run.layer, job.run.mode
    plan = schedule(layer, job.tile, blocks)
    early = early_section(job)
    model = early.pop("estimate")
    if blocks is not None:
        model = estimate(layer, job.tile, mode, blocks)
    # Events do not depend on stalls; cycles equal the model without them (with stalls
    # the model is a lower bound).
    verdict = check(result.y, result.y_golden, result.counters, result.passes, model,
                    cycles=job.stall == 0)
    report = SimReport(job, result.y, result.y_golden, result.counters,
                       result.pass_counters, plan, model, early, verdict,
                       problems=verdict.problems)
    if job.waves is not None:
        _keep_waveform(report, run.waves, folder)
    return report


def _keep_waveform(report: SimReport, waves: Path | None, folder: Path) -> None:
    """Move the waveform into ``folder``, measure it (:mod:`red.sim.waves`) and hold
    every pass's cycles to that pass's counters, and the layer's to the counters and,
    without stalls, to the model."""
    if waves is None:
        report.problems.append("the simulator wrote no waveform")
        return
    from red.sim.gtkw import save_file
    from red.sim.waves import (WAVE_CYCLES, WaveformError, measure_traces, read_traces,
                               window_reason)
    report.waveform = folder / waves.name
    waves.replace(report.waveform)
    try:
        traces = read_traces(report.waveform)
        figures = measure_traces(traces).as_dict()
    except WaveformError as exc:
        report.problems.append(f"waveform: {exc}")
        return
    (folder / GTKW_FILE).write_text(save_file(traces.path, traces.top, traces.widths))
    report.waveform_figures = figures
    asked = report.job.waves.passes
    numbers = [wave["pass"] for wave in figures["passes"]]
    expected = list(range(len(report.pass_counters)))
    if asked is not None:
        expected = expected[asked[0]:asked[1] + 1]
    if figures["partial"] and (asked is None
                               or figures["partial_reason"] != window_reason(asked)):
        # Partial other than by the window asked for: nothing in it is trusted.
        report.problems.append(f"the waveform is partial ({figures['partial_reason']}): "
                               "not compared")
        return
    if numbers != expected:
        report.problems.append(f"the waveform holds passes {numbers}, the run "
                               f"{expected}")
        return
    references = [(f"pass {n} ", wave, report.pass_counters[n], "hardware counter")
                  for n, wave in zip(numbers, figures["passes"])]
    if asked is None:
        # Only a whole run's sums are the layer's.
        references.append(("", figures, report.counters, "hardware counter"))
        if report.job.stall == 0:
            references.append(("", figures, report.estimate.as_dict(), "model"))
    for where, wave, reference, source in references:
        for key in WAVE_CYCLES:
            if wave[key] != reference[key]:
                report.problems.append(f"waveform {where}{key} {wave[key]} != {source} "
                                       f"{reference[key]}")


def early_section(job: SimJob) -> dict:
    """``report.json``'s ``early`` section and, under ``estimate``, the model of the run
    (:func:`red.model.early_estimate` where early termination applies)."""
    from .early import early_applies, not_applied_reason, output_error
    from .golden import early_deconv2d
    from .model import early_estimate
    run, tile = job.run, job.tile
    layer, stage = run.layer, run.stage
    section = stage.early.describe() | {"applied": early_applies(layer, tile, stage.early)}
    if not section["applied"]:
        if stage.early.on:
            section["reason"] = not_applied_reason(layer, tile)
        return section | {"estimate": estimate(layer, tile, run.mode)}
    outcome = early_deconv2d(run.x, run.w, layer.s, layer.p, layer.op, flow=run.mode,
                             early=stage.early, bias=stage.bias, relu=stage.relu,
                             **tile.crossbar_params)
    section["error_vs_exact"] = output_error(outcome.y, outcome.exact)
    return section | {"estimate": early_estimate(layer, tile, run.mode, stage.early, outcome)}
