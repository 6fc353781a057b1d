"""``red report``: RED against zero insertion (ZP) and padding-free (PF) on the full-size
DCGAN and FCN deconvolution layers, with the RTL as witness.

Every layer runs at full size on its network's tile (the paper's crossbar, sized per
network; larger layers run in passes). By default the RTL simulates every RED and ZP run
of DCGAN and FCN-8s within a cycle budget and must equal the golden contract model and
the analytical model exactly; the rest comes from the model, and every figure says which
(``source``). ``--full`` simulates everything; ``--quick`` simulates small scaled copies.

One module per job:

* :mod:`~red.report.plan`: the tiles, and which runs the RTL simulates;
* :mod:`~red.report.rtl`: the simulations and their comparison with golden and model;
* :mod:`~red.report.sweep`: the figures of every layer and network, the cost of the pass
  schedule (reprogramming, resident weights), our ranges beside the papers';
* :mod:`~red.report.comprrae`: CompRRAE early termination on DCGAN's hidden layers, on
  documented data (RTL where the tile decides, a counterfactual from the model elsewhere);
* :mod:`~red.report.sparse`: crossbar-aware sparsity (empty blocks, reordering, block
  pruning, crossbar sizes) on DCGAN and FCN-8s, with RTL witnesses;
* :mod:`~red.report.area`: the paper tile synthesised, each data flow's own hardware,
  and RED against ZP at equal area;
* :mod:`~red.report.waveform`: one pass of a DCGAN layer in RED and ZP, traced, measured
  and drawn (``timing.png``);
* :mod:`~red.report.network`: whole networks through ``red net``: a DCGAN-shaped
  generator and FCN's bilinear upscore of a photograph (``generator.png``,
  ``upscore.png``);
* :mod:`~red.report.plots` and :mod:`~red.report.prose`: ``speedup.png``,
  ``energy.png`` and ``report.md``.

Outputs in the chosen folder: ``report.md``, ``report.json``, ``speedup.png``,
``energy.png``, ``timing.png``, ``generator.png``, ``upscore.png``; the simulations' work
files go to ``sim/<tile>/`` (the CompRRAE section's to ``sim/comprrae/``, the timing
picture's to ``sim/timing/``, the networks' to ``sim/networks/``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from red.config import ConfigError
from red.energy import DEFAULT_ENERGY, EnergyTable
from red.outdir import OutputFolder
from red.signals import abandoned_on_interrupt
from red.workloads import get_workload

from . import area, comprrae, network, plots, prose, rtl, sparse, sweep, waveform
from .plan import DEFAULT, FULL, QUICK, REPORT_WORKLOADS, RTL_CYCLE_BUDGET, RTL_NETWORKS, \
    make_plan

__all__ = ["REPORT_WORKLOADS", "EXIT_OK", "EXIT_FAILED", "build_report"]

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
                 network_section: bool = True, scheduler: str | None = None, progress: Callable[[str], None] = _stderr,
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


def _build(out: Path, *, quick: bool, full: bool, sim: str, table: EnergyTable,
           workloads: tuple[str, ...], early: bool, area_section: bool,
           timing_section: bool, network_section: bool, scheduler: str | None, progress: Callable[[str], None], started: float,
           simulate_layers: Callable) -> int:
    """:func:`build_report` into the folder ``out``."""
    model = sweep.ModelCache()
    variant = QUICK if quick else FULL if full else DEFAULT
    plan = make_plan(variant, tuple(workloads), model)
    early_setup = comprrae.setup(variant) if early and comprrae.NETWORK in workloads \
        else None

    # The model runs in worker processes while one thread drives the report's
    # simulations (another process), another the CompRRAE section (its data and
    # golden decisions here, its simulation in another process), a third the area
    # section's synthesis (Yosys processes, cached after the first run) and a fourth the
    # timing picture's two short traced simulations: their work fills the cores that the
    # model leaves idle during the long simulations. The workers are forked first,
    # before the threads exist.
    area_tile = plan.tiles.get(area.NETWORK) if area_section else None
    # --quick (the test suite's report) leaves the networks to their own test: they run
    # on the paper crossbar.
    network_tiles = {key: plan.tiles[key] for key in network.NETWORKS if key in plan.tiles}
    if not network_section or variant == QUICK or len(network_tiles) != len(network.NETWORKS):
        network_tiles = None
    with model.computing(sweep.model_keys(plan.workloads, plan.tiles), progress) as collect, \
            abandoned_on_interrupt(ThreadPoolExecutor(max_workers=5)) as threads:
        simulating = threads.submit(rtl.simulate, plan, sim, out / "sim", progress,
                                    simulate_layers, scheduler)
        measuring = None if early_setup is None else threads.submit(
            comprrae.measure, early_setup, sim, out / "sim" / comprrae.WORK_DIR, progress,
            simulate_layers)
        synthesising = None if area_tile is None else threads.submit(
            area.synthesise_or_reason, area_tile, progress)
        tracing = threads.submit(waveform.compute, out / "sim" / "timing", progress) \
            if timing_section else None
        networking = None if network_tiles is None else threads.submit(
            network.compute, out / "sim" / "networks", sim, progress, network_tiles)
        collect()
        outcome = simulating.result()
        measured = None if measuring is None else measuring.result()
        synthesis = None if synthesising is None else synthesising.result()
        timing, timelines, timing_problems = tracing.result() if tracing else (None, {}, [])
        networks, pictures, network_problems = networking.result() if networking \
            else (None, {}, [])
    rtl_data, rtl_figures, problems = rtl.rtl_part(plan, outcome, model, table, sim)
    problems += timing_problems + network_problems
    early_data = None
    if early_setup is not None:
        early_data, early_problems = comprrae.section(early_setup, measured)
        problems += early_problems
    model_data = sweep.model_part(plan.workloads, plan.tiles, model, table, rtl_figures)
    area_data = None if synthesis is None else area.section_json(synthesis, model_data)
    # Forks its own model workers: run once no other thread is left.
    sparse_data = None
    if set(sparse.NETWORKS) <= set(workloads):
        sparse_data = sparse.sparsity_part(variant, sim, out / "sim" / "sparse", progress,
                                           table, simulate_layers)
        problems += sparse_data["problems"]

    progress("plots")
    plots.plot_speedups(model_data, out / FILES["speedup_plot"])
    plots.plot_energy(model_data, out / FILES["energy_plot"])
    if timelines:
        waveform.draw(timelines, out / FILES["timing_plot"])
    network.draw(pictures, out)
    report = {
        "command": "red report" + {QUICK: " --quick", FULL: " --full"}.get(variant, ""),
        "variant": variant, "workloads": list(plan.workloads),
        "plan": {"tiles": {key: tile.describe() for key, tile in plan.tiles.items()},
                 "rtl_networks": list(RTL_NETWORKS), "rtl_cycle_budget": RTL_CYCLE_BUDGET},
        "energy_table": table.describe(),
        "pass_cost": {"array_read_ns": sweep.ARRAY_READ_NS,
                      "set_pulse_ns": sweep.RERAM_SET_PULSE_NS,
                      "reset_pulse_ns": sweep.RERAM_RESET_PULSE_NS,
                      "cell_write_pj": sweep.RERAM_CELL_WRITE_PJ,
                      "source": sweep.RERAM_WRITE_SOURCE},
        "rtl": rtl_data,
        "model": model_data,
        "summary": sweep.summary(model_data),
        "comprrae": early_data,
        "sparsity": sparse_data,
        "area": area_data,
        "timing": timing and timing.to_json(),
        "networks": networks and networks.to_json(),
        "rtl_equals_model": not problems,
        "problems": problems,
        "files": FILES,
    }
    report["seconds"] = round(time.monotonic() - started, 1)
    (out / FILES["json"]).write_text(json.dumps(report, indent=1) + "\n")
    (out / FILES["markdown"]).write_text(prose.render_markdown(report) + "\n")
    if problems:
        progress(f"{len(problems)} problem(s)")
    for problem in problems:
        progress(f"problem: {problem}")
    return EXIT_FAILED if problems else EXIT_OK
