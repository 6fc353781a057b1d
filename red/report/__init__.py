"""``red report``: RED against zero insertion (ZP) and padding-free (PF) on the full-size
DCGAN and FCN deconvolution layers, with the RTL as witness.

Every layer runs at full size on its network's tile (the paper's crossbar, sized per
network; larger layers run in passes). By default the RTL simulates every RED and ZP run
of DCGAN and FCN-8s within a cycle budget and must equal the golden contract model and
the analytical model exactly; the rest comes from the model, and every figure says which
(``source``). ``--full`` simulates everything; ``--quick`` simulates small scaled copies.

Each section is computed by its own module into a dataclass whose ``to_json()`` is its
part of ``report.json`` (:func:`red.report.section.json_fields`), and rendered into
``report.md`` from that part alone:

* :mod:`~red.report.plan`: the tiles, and which runs the RTL simulates;
* :mod:`~red.report.rtl`: section 2, the simulations and their comparison with golden and
  model (:class:`~red.report.rtl.RtlSection`);
* :mod:`~red.report.sweep`: the figures of every layer and network, the cost of the pass
  schedule (reprogramming, resident weights), our ranges beside the papers'
  (:class:`~red.report.sweep.ModelSection`; sections 3 to 5 rendered by
  :mod:`~red.report.model_render`);
* :mod:`~red.report.pf`: section 5b, RED against the padding-free baseline per layer
  (cycles, events, energy by component) and PF's overlap-add buffer beside RED's banks;
* :mod:`~red.report.comprrae`: section 6, CompRRAE early termination on DCGAN's four
  layers, on documented data, on the RTL, with and without shared ADCs (rendered by
  :mod:`~red.report.comprrae_render`);
* :mod:`~red.report.sparse`: section 7, crossbar-aware sparsity (empty blocks,
  reordering, block pruning, crossbar sizes) on DCGAN and FCN-8s, with RTL witnesses
  (rendered by :mod:`~red.report.sparse_render`);
* :mod:`~red.report.area`: the paper tile synthesised, each data flow's own hardware,
  and RED against ZP at equal area;
* :mod:`~red.report.waveform`: one pass of a DCGAN layer in RED and ZP, traced, measured
  and drawn (``timing.png``);
* :mod:`~red.report.network`: whole networks through ``red net``: a DCGAN-shaped
  generator and FCN's bilinear upscore of a photograph (``generator.png``,
  ``upscore.png``);
* :mod:`~red.report.claims`: the papers' claims, one table;
* :mod:`~red.report.plots` and :mod:`~red.report.prose`: ``speedup.png``,
  ``energy.png`` and the frame of ``report.md`` (section 1, the energy table, the
  problems).

:func:`_build` is the one place that orders the work: processes, threads, simulations.

Outputs in the chosen folder: ``report.md``, ``report.json``, ``speedup.png``,
``energy.png``, ``timing.png``, ``generator.png``, ``upscore.png``; the simulations' work
files go to ``sim/<tile>/`` (the CompRRAE section's to ``sim/comprrae/``, the timing
picture's to ``sim/timing/``, the networks' to ``sim/networks/``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from red.config import ConfigError
from red.energy import DEFAULT_ENERGY, EnergyTable
from red.outdir import OutputFolder
from red.signals import abandoned_on_interrupt, quiet_worker
from red.workloads import get_workload

from . import area, comprrae, network, pf, plots, prose, rtl, sparse, sweep, waveform
from .plan import DEFAULT, FULL, QUICK, REPORT_WORKLOADS, RTL_CYCLE_BUDGET, RTL_NETWORKS, \
    Plan, make_plan

__all__ = ["REPORT_WORKLOADS", "EXIT_OK", "EXIT_FAILED", "build_report", "forked_pool",
           "sparsity_section"]

EXIT_OK, EXIT_FAILED = 0, 1

#: Output files, by role.
FILES = {"markdown": "report.md", "json": "report.json", "speedup_plot": "speedup.png",
         "energy_plot": "energy.png", "timing_plot": "timing.png",
         **{f"{name}_picture": file for name, file in network.FILES.items()}}


#: Serializes progress lines: the simulation thread reports too.
_PRINTING = threading.Lock()


def _stderr(line: str) -> None:
    with _PRINTING:
        print(f"red report: {line}", file=sys.stderr, flush=True)


def build_report(out: str | Path, *, quick: bool, sim: str, full: bool = False,
                 table: EnergyTable = DEFAULT_ENERGY,
                 workloads: tuple[str, ...] = REPORT_WORKLOADS, early: bool = True,
                 area_section: bool = True, timing_section: bool = True,
                 network_section: bool = True, scheduler: str | None = None,
                 progress: Callable[[str], None] = _stderr,
                 simulate_layers: Callable | None = None) -> int:
    """Write the report into ``out``; return :data:`EXIT_OK` or :data:`EXIT_FAILED`.

    Parameters
    ----------
    out : path
        Output folder (created; filled only when the report is complete, and refused
        while another run uses it, see :class:`red.outdir.OutputFolder`).
    quick, full : bool
        The variant (:mod:`red.report.plan`): ``quick`` simulates small scaled copies of
        two layers, ``full`` every full-size run, neither the default budgeted set. The
        model part is always complete.
    sim : str
        Simulator of the RTL part, one of :data:`red.sim.SIMULATORS`.
    table : EnergyTable
        Energy per event.
    workloads : tuple of str
        Networks of the report (names of ``red.workloads``).
    early : bool
        Measure CompRRAE early termination (:mod:`red.report.comprrae`, ``report.json``
        key ``comprrae``) when its network is among ``workloads``.
    area_section, timing_section : bool
        Synthesise the area section (:mod:`red.report.area`, key ``area``; when its
        network is among ``workloads``) and trace the timing picture
        (:mod:`red.report.waveform`, key ``timing``); off, the key is ``None``.
    network_section : bool
        Run the networks through ``red net`` (:mod:`red.report.network`, key
        ``networks``; it uses DCGAN's and FCN-8s's tiles, so both among ``workloads``,
        and not with ``quick``); off, the key is ``None``.
    scheduler : str, optional
        Run the report's RTL runs as tasks on the Dask cluster at this address
        (:func:`red.report.rtl.simulate_on_cluster`), one task per run.
    progress : callable
        Receives one line per step (default: standard error, prefixed ``red report:``).
    simulate_layers : callable, optional
        Runs layers on the RTL, with the signature and results of
        :func:`red.sim.session.simulate_layers` (the default); tests pass in a
        simulator whose results they control.

    Raises
    ------
    ConfigError
        ``quick`` and ``full`` together, or an unknown workload (nothing written).
    """
    if quick and full:
        raise ConfigError("--quick and --full exclude each other")
    for network in workloads:
        get_workload(network)
    started = time.monotonic()
    # Written into a private scratch folder and moved into ``out`` only when complete:
    # a failed or interrupted report leaves ``out`` as it was (red.outdir).
    with OutputFolder(out, "report", owned=(*FILES.values(), "sim")) as folder:
        if simulate_layers is None:
            from red.sim.session import simulate_layers
        status = _build(folder.scratch, quick=quick, full=full, sim=sim, table=table,
                        workloads=workloads, early=early, area_section=area_section,
                        timing_section=timing_section, network_section=network_section,
                        scheduler=scheduler, progress=progress,
                        started=started, simulate_layers=simulate_layers)
        folder.commit()
    progress(f"wrote {folder.path / FILES['markdown']} and {folder.path / FILES['json']} "
             f"in {time.monotonic() - started:.1f} s")
    return status


@contextlib.contextmanager
def forked_pool():
    """:data:`~red.report.sweep.MODEL_WORKERS` forked worker processes for the model's
    pure-Python work. Fork only while no thread runs: a forked thread's locks stay held."""
    with abandoned_on_interrupt(ProcessPoolExecutor(
            sweep.MODEL_WORKERS, mp_context=get_context("fork"),
            initializer=quiet_worker)) as pool:
        yield pool


@dataclass(frozen=True)
class _Context:
    """What every part of one report run shares."""

    out: Path
    sim: str
    progress: Callable[[str], None]
    simulate_layers: Callable
    scheduler: str | None
    plan: Plan
    model: sweep.ModelCache


def _build(out: Path, *, quick: bool, full: bool, sim: str, table: EnergyTable,
           workloads: tuple[str, ...], early: bool, area_section: bool,
           timing_section: bool, network_section: bool, scheduler: str | None,
           progress: Callable[[str], None], started: float,
           simulate_layers: Callable) -> int:
    """:func:`build_report` into the folder ``out``. The one place that orders the work:

    1. the model's workers fork (:func:`forked_pool`), before any thread exists, and
       model every layer while
    2. threads drive the report's simulations (other processes), the CompRRAE section
       (its data and golden decisions here, its simulation in another process), the area
       section's synthesis (Yosys processes, cached after the first run), the timing
       picture's two traced simulations and the networks: their work fills the cores
       the model leaves idle during the long simulations;
    3. with every thread done, the sparsity section forks its model workers and drives
       its own simulations meanwhile;
    4. the sections are computed from the results, drawn and written.
    """
    model = sweep.ModelCache()
    variant = QUICK if quick else FULL if full else DEFAULT
    ctx = _Context(out, sim, progress, simulate_layers, scheduler,
                   make_plan(variant, tuple(workloads), model), model)
    early_setup = comprrae.setup(variant) if early and comprrae.NETWORK in workloads \
        else None
    area_tile = ctx.plan.tiles.get(area.NETWORK) if area_section else None
    # --quick (the test suite's report) leaves the networks to their own test: they run
    # on the paper crossbar.
    network_tiles = {key: ctx.plan.tiles[key] for key in network.NETWORKS
                     if key in ctx.plan.tiles}
    if not network_section or variant == QUICK or len(network_tiles) != len(network.NETWORKS):
        network_tiles = None
    done = _run_concurrently(ctx, early_setup, area_tile, timing_section, network_tiles)
    rtl_section = rtl.compute(ctx.plan, done["rtl"], model, table, sim)
    model_section = sweep.compute(ctx.plan.workloads, ctx.plan.tiles, model, table,
                                  rtl_section.figures)
    pf_section = pf.compute(model_section.to_json()["layers"],
                            {name: ctx.plan.tiles[name] for name in ctx.plan.workloads})
    early_section = None if early_setup is None else comprrae.compute(early_setup,
                                                                       done["comprrae"])
    sparse_section = None if not set(sparse.NETWORKS) <= set(workloads) else \
        sparsity_section(variant, sim, out / "sim" / "sparse", progress, table,
                         simulate_layers)
    timing, timelines, timing_problems = done["timing"] or (None, {}, [])
    networks, pictures, network_problems = done["networks"] or (None, {}, [])
    problems = (rtl_section.problems + timing_problems + network_problems
                + (early_section.problems if early_section else [])
                + (sparse_section.problems if sparse_section else []))
    progress("plots")
    plots.plot_speedups(model_section.to_json(), out / FILES["speedup_plot"])
    plots.plot_energy(model_section.to_json(), out / FILES["energy_plot"])
    if timelines:
        waveform.draw(timelines, out / FILES["timing_plot"])
    network.draw(pictures, out)
    report = {
        "command": "red report" + {QUICK: " --quick", FULL: " --full"}.get(variant, ""),
        "variant": variant, "workloads": list(ctx.plan.workloads),
        "plan": {"tiles": {key: tile.describe() for key, tile in ctx.plan.tiles.items()},
                 "rtl_networks": list(RTL_NETWORKS), "rtl_cycle_budget": RTL_CYCLE_BUDGET},
        "energy_table": table.describe(),
        "pass_cost": {"array_read_ns": sweep.ARRAY_READ_NS,
                      "set_pulse_ns": sweep.RERAM_SET_PULSE_NS,
                      "reset_pulse_ns": sweep.RERAM_RESET_PULSE_NS,
                      "cell_write_pj": sweep.RERAM_CELL_WRITE_PJ,
                      "source": sweep.RERAM_WRITE_SOURCE},
        "rtl": rtl_section.to_json(),
        "model": model_section.to_json(),
        "summary": model_section.summary(),
        "pf": pf_section.to_json(),
        "comprrae": early_section and early_section.to_json(),
        "sparsity": sparse_section and sparse_section.to_json(),
        "area": None if done["area"] is None
        else area.section_json(done["area"], model_section.to_json()),
        "timing": timing and timing.to_json(),
        "networks": networks and networks.to_json(),
        "rtl_equals_model": not problems,
        "problems": problems,
        "files": FILES,
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    return _write(out, report, progress)


def _run_concurrently(ctx: _Context, early_setup, area_tile, timing_section: bool,
                      network_tiles) -> dict:
    """Steps 1 and 2 of :func:`_build`: the model in forked workers beside one thread per
    job; each job's result by name (``None`` for a job not run)."""
    out, sim, progress, layers = ctx.out, ctx.sim, ctx.progress, ctx.simulate_layers
    with forked_pool() as pool, \
            abandoned_on_interrupt(ThreadPoolExecutor(max_workers=5)) as threads:
        collect = ctx.model.submit(pool, sweep.model_keys(ctx.plan.workloads, ctx.plan.tiles),
                                   progress)
        jobs = {
            "rtl": threads.submit(rtl.simulate, ctx.plan, sim, out / "sim", progress,
                                  layers, ctx.scheduler),
            "comprrae": early_setup and threads.submit(
                comprrae.measure, early_setup, sim, out / "sim" / comprrae.WORK_DIR,
                progress, layers),
            "area": area_tile and threads.submit(area.synthesise_or_reason, area_tile,
                                                 progress),
            "timing": timing_section and threads.submit(
                waveform.compute, out / "sim" / "timing", progress),
            "networks": network_tiles and threads.submit(
                network.compute, out / "sim" / "networks", sim, progress, network_tiles),
        }
        collect()
        return {name: job.result() if job else None for name, job in jobs.items()}


def sparsity_section(variant: str, sim: str, work_dir: Path, progress: Callable[[str], None],
                     table: EnergyTable, simulate_layers: Callable) -> sparse.SparsitySection:
    """Step 3 of :func:`_build`: the sparsity section (:mod:`red.report.sparse`), its
    model sweep in forked workers while this process drives its RTL witnesses with
    ``simulate_layers`` in ``work_dir``. Call it while no other thread runs."""
    started = time.monotonic()
    config = sparse.setup(variant)
    with forked_pool() as pool:
        futures = sparse.submit_models(pool, config, table, progress)
        witnessed, problems = sparse.witness(config, sim, work_dir, progress, table,
                                             simulate_layers)
        levels = {job: future.result()[0] for job, future in futures.items()}
    return sparse.compute(config, variant, levels, witnessed, problems,
                          time.monotonic() - started)


def _write(out: Path, report: dict, progress: Callable[[str], None]) -> int:
    """Write ``report.json`` and ``report.md``, list the problems; the exit status."""
    (out / FILES["json"]).write_text(json.dumps(report, indent=1) + "\n")
    (out / FILES["markdown"]).write_text(prose.render_markdown(report) + "\n")
    problems = report["problems"]
    if problems:
        progress(f"{len(problems)} problem(s)")
    for problem in problems:
        progress(f"problem: {problem}")
    return EXIT_FAILED if problems else EXIT_OK
