"""The RTL's part of ``red report``: simulate the plan's runs and hold them to the golden
and the analytical model.

One simulation per tile (one build, every run of that tile back to back; a layer larger
than the tile runs its whole pass schedule, :mod:`red.sim.session`), no stalls. For each
run the RTL's output must equal the golden contract model (checked by the session), its
total, compute and load cycles must equal the model's, and so must every event counter
the model mirrors. Any difference, or a failed simulation, is a problem: the report
lists it and exits 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from red.counters import CYCLE_COUNTERS
from red.energy import EnergyTable, energy_from_counters, energy_from_estimate
from red.model import MIRRORED_COUNTERS
from red.verdict import check

from .markdown import layer_shape, md_table
from .plan import Plan, PlannedRun
from .section import NOT_IN_JSON, json_fields
from .sweep import ModelCache

__all__ = ["SEED", "PROGRESS_SECONDS", "EVENTS", "RtlOutcome", "simulate",
           "RtlSection", "compute", "render"]

#: Seed of the random weights and inputs of the simulated layers.
SEED = 2019

#: The event counters compared with the model (its cycles are compared on their own).
EVENTS = tuple(name for name in MIRRORED_COUNTERS if name not in CYCLE_COUNTERS)

#: Least seconds between two progress lines of one simulation (passes of small layers
#: finish many per second).
PROGRESS_SECONDS = 10.0


@dataclass
class RtlOutcome:
    """What the simulations returned, per tile key: the results in the order of
    ``Plan.simulated()[key]`` (``red.sim.session.LayerResult``), or an error."""

    results: dict[str, list]
    errors: dict[str, str]
    seconds: dict[str, float]


def _throttled(progress: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    """``progress`` with ``prefix``, at most one line per :data:`PROGRESS_SECONDS`."""
    last = -PROGRESS_SECONDS

    def forward(line: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS:
            last = now
            progress(prefix + line)
    return forward


def _layer_runs(plan: Plan) -> dict[str, list]:
    """Per tile, the :class:`~red.sim.session.LayerRun` of each of its simulated runs,
    with data seeded by :data:`SEED` (RED and ZP of a layer share it)."""
    from red.sim.session import LayerRun, random_layer_data
    rng = np.random.default_rng(SEED)
    layer_runs = {}
    for key, runs in plan.simulated().items():
        tile = plan.tiles[key]
        data = {}
        for run in runs:
            if run.simulated.name not in data:
                data[run.simulated.name] = random_layer_data(run.simulated, tile, rng)
        layer_runs[key] = [LayerRun(run.simulated, run.mode, *data[run.simulated.name])
                           for run in runs]
    return layer_runs


def simulate(plan: Plan, sim: str, work_dir: Path, progress: Callable[[str], None],
             simulate_layers: Callable, scheduler: str | None = None) -> RtlOutcome:
    """Simulate every run of ``plan`` that the RTL runs with ``simulate_layers`` (the
    signature of :func:`red.sim.session.simulate_layers`); one simulation per tile, in
    ``work_dir/<tile key>``, or with ``scheduler`` one task per run on that Dask cluster
    (:func:`simulate_on_cluster`)."""
    from red.sim.runner import SimulationError
    if scheduler is not None:
        return simulate_on_cluster(plan, sim, scheduler, progress)
    outcome = RtlOutcome(results={}, errors={}, seconds={})
    for key, layer_runs in _layer_runs(plan).items():
        tile, runs = plan.tiles[key], plan.simulated()[key]
        passes = sum(plan.passes(run) for run in runs)
        progress(f"RTL {key}: {len(runs)} runs, {passes} passes in one {sim} simulation "
                 "(one build, cached) ...")
        started = time.monotonic()
        try:
            outcome.results[key], _ = simulate_layers(
                tile, layer_runs, sim=sim, work_dir=work_dir / key, seed=SEED, stall=0.0,
                progress=_throttled(progress, f"RTL {key}: "))
        except SimulationError as exc:
            outcome.errors[key] = str(exc).splitlines()[0]
            progress(f"RTL {key}: simulation failed: {outcome.errors[key]}")
        outcome.seconds[key] = round(time.monotonic() - started, 1)
        progress(f"RTL {key}: done in {outcome.seconds[key]} s")
    return outcome


def _run_on_worker(tile, layer_run, sim: str):
    """One run on a Dask worker, in a temporary folder of its own: its LayerResult."""
    import tempfile
    from red.sim.session import simulate_layers
    with tempfile.TemporaryDirectory(prefix="red-report-") as folder:
        results, _ = simulate_layers(tile, [layer_run], sim=sim, work_dir=folder, seed=SEED,
                                     stall=0.0)
    return results[0]


def simulate_on_cluster(plan: Plan, sim: str, scheduler: str,
                        progress: Callable[[str], None]) -> RtlOutcome:
    """:func:`simulate` with each run one task on the Dask cluster at ``scheduler`` (the
    executor of ``red sweep``, :func:`red.sweep.make_client`; a task whose worker dies
    runs again). Without stalls a run's counters do not depend on which simulation runs
    it, so the figures equal one simulation per tile."""
    from distributed import as_completed
    from red.sim.runner import SimulationError
    from red.sweep import RETRIES, make_client
    outcome = RtlOutcome(results={}, errors={}, seconds={})
    started = time.monotonic()
    client = make_client(None, scheduler)
    try:
        futures, results = {}, {}
        for key, layer_runs in _layer_runs(plan).items():
            results[key] = [None] * len(layer_runs)
            for n, layer_run in enumerate(layer_runs):
                future = client.submit(_run_on_worker, plan.tiles[key], layer_run, sim,
                                       pure=False, retries=RETRIES)
                futures[future] = (key, n)
        progress(f"RTL: {len(futures)} runs as tasks on the cluster at {scheduler}")
        for done, future in enumerate(as_completed(futures), start=1):
            key, n = futures[future]
            try:
                results[key][n] = future.result()
            except SimulationError as exc:
                outcome.errors[key] = str(exc).splitlines()[0]
            progress(f"RTL: {done}/{len(futures)} runs done ({key})")
    finally:
        client.close()
    for key, layer_results in results.items():
        if key not in outcome.errors:
            outcome.results[key] = layer_results
        outcome.seconds[key] = round(time.monotonic() - started, 1)
    return outcome


def _entry(run: PlannedRun) -> dict:
    """The fields every ``rtl.runs`` entry has."""
    return {"name": run.layer.name, "network": run.network, "mode": run.mode,
            "source": run.source, "reason": run.reason, "tile": run.tile,
            "full_size": run.layer.describe(),
            "scaled": run.simulated.describe() if run.scaled else None}


def _checked(plan: Plan, run: PlannedRun, result, model: ModelCache,
             table: EnergyTable) -> dict:
    """An RTL run held to the golden and to the model (:func:`red.verdict.check`)."""
    layer, tile, counters = run.simulated, plan.tiles[run.tile], result.counters
    est = model(layer, tile, run.mode)
    where = f"{run.layer.name}{' (scaled)' if run.scaled else ''} {run.mode.upper()}"
    verdict = check(result.y, result.y_golden, counters, result.passes, est, where=where)
    return {
        "passes": {"rtl": result.passes, "model": est.passes},
        "rtl": {name: counters[name] for name in CYCLE_COUNTERS},
        "model": {name: getattr(est, name) for name in CYCLE_COUNTERS},
        "golden_match": verdict.golden_match,
        "cycles_equal": not any(name in verdict.model for name in CYCLE_COUNTERS),
        "events_equal": not any(name in verdict.model for name in EVENTS),
        "differing_events": {name: {"rtl": rtl, "model": modelled}
                             for name, (rtl, modelled) in verdict.model.items()
                             if name in EVENTS},
        "energy_pj": {"rtl_counters": energy_from_counters(counters, layer, tile, table).total,
                      "model": energy_from_estimate(est, layer, tile, table).total},
        "counters": dict(counters),
        "ok": verdict.ok,
        "problems": verdict.problems,
    }


@dataclass
class RtlSection:
    """``report.json``'s ``rtl`` (section 2): every run of the plan, simulated and held to
    the golden and the model, or left to the model with its reason."""

    sim: str
    seed: int
    stall: float
    seconds: dict
    errors: dict
    mirrored_events: list
    runs: list
    figures: dict = field(default_factory=dict, repr=False, metadata=NOT_IN_JSON)
    """The RTL's figures of full-size layers for the model part: ``(layer name, mode) ->
    (counters, passes)``; not in ``report.json``."""
    problems: list = field(default_factory=list, metadata=NOT_IN_JSON)
    """RTL != golden or model, failed simulations; ``report.json`` lists them at its top."""

    to_json = json_fields


def compute(plan: Plan, outcome: RtlOutcome, model: ModelCache, table: EnergyTable,
            sim: str) -> RtlSection:
    """The section from the plan's simulations (:func:`simulate`)."""
    entries, figures, problems = [], {}, []
    results = {id(run): result for key, runs in plan.simulated().items()
               for run, result in zip(runs, outcome.results.get(key, ()))}
    for run in plan.runs:
        entry = _entry(run)
        if run.simulated is None:
            est = model(run.layer, plan.tiles[run.tile], run.mode)
            entry.update(passes={"model": est.passes},
                         model={name: getattr(est, name) for name in CYCLE_COUNTERS},
                         ok=None)
        elif run.tile in outcome.errors:
            entry.update(error=outcome.errors[run.tile], ok=False)
        else:
            result = results[id(run)]
            entry.update(_checked(plan, run, result, model, table))
            if not run.scaled:
                figures[run.layer.name, run.mode] = (result.counters, result.passes)
            problems += entry.pop("problems")
        entries.append(entry)
    problems += [f"RTL simulation of tile {key} failed: {error}"
                 for key, error in outcome.errors.items()]
    return RtlSection(sim, SEED, 0.0, outcome.seconds, outcome.errors, list(EVENTS), entries,
                      figures, problems)


# -- section 2 of report.md --------------------------------------------------------------

def _cycle_figures(figures: dict) -> str:
    return " / ".join(f"{figures[name]:,}" for name in CYCLE_COUNTERS)


def render(rtl: dict) -> list[str]:
    """Section 2 of ``report.md`` from ``report.json``'s ``rtl``."""
    runs = [entry for entry in rtl["runs"] if entry["source"] == "rtl"]
    out = ["## 2. RTL == golden == model", ""]
    if not runs:
        return out + ["No run is simulated in this variant.", ""]
    out += [f"{rtl['sim']}, no stalls, seed {rtl['seed']}; one simulation per tile. Each run "
            "executes the layer's whole pass schedule; its output must equal the golden "
            "contract model, its cycles (" + ", ".join(CYCLE_COUNTERS) + ") and passes "
            "the model's, and so must every event counter the model mirrors ("
            + ", ".join(rtl["mirrored_events"]) + "). The energy column prices the RTL's "
            "counters and the model's fields with the same table.", ""]
    for key, error in rtl["errors"].items():
        out += [f"**Simulation of tile {key} failed:** {error}", ""]
    rows = []
    for entry in runs:
        simulated = layer_shape(entry["scaled"]) if entry["scaled"] else "full size"
        if "error" in entry:
            rows.append([entry["name"], layer_shape(entry["full_size"]), simulated,
                         entry["mode"].upper(), entry["tile"], "", "", "", "**FAILED**",
                         "", "", ""])
            continue
        rows.append([
            entry["name"], layer_shape(entry["full_size"]), simulated, entry["mode"].upper(),
            entry["tile"], f"{entry['passes']['rtl']} / {entry['passes']['model']}",
            _cycle_figures(entry["rtl"]), _cycle_figures(entry["model"]),
            "yes" if entry["golden_match"] else "**NO**",
            "equal" if entry["cycles_equal"] else "**DIFFER**",
            "equal" if entry["events_equal"] else "**DIFFER**",
            f"{entry['energy_pj']['rtl_counters']:.4g} / {entry['energy_pj']['model']:.4g}"])
    out += [md_table(["layer", "full size", "simulated", "mode", "tile",
                       "passes RTL / model", "RTL total / compute / load",
                       "model total / compute / load", "RTL == golden", "cycles", "events",
                       "energy pJ RTL / model"], rows), ""]
    rates = []
    for key, seconds in rtl["seconds"].items():
        cycles = sum(e["rtl"]["total_cycles"] + e["rtl"]["load_cycles"] for e in runs
                     if e["tile"] == key and "rtl" in e)
        if cycles and seconds:
            rates.append(f"{key}: {cycles:,} cycles in {seconds:.0f} s "
                         f"({cycles / seconds:,.0f} cycles/s, build and golden included)")
    if rates:
        out += ["Simulated: " + "; ".join(rates) + ".", ""]
    return out
