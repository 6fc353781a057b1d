"""``red sim``: one layer on the generated tile in a simulator, judged."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..cache import cache_root
from ..model import estimate
from ..modes import RTL_MODES
from ..outdir import OutputFolder
from ..sim import expected_seconds, human_duration
from ..sim_request import SimRequest
from ..simulate import EXIT_MISMATCH, SIM_OUTPUTS
from ._common import CONFIG_METAVAR, add_sim_argument, add_tile_argument, format_tile, \
    simulator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sim", help="run a layer on the generated tile (cocotb on Verilator or Icarus)",
        description="Generate the tile, drive it through cocotb with the layer's weights "
                    "and inputs, and compare its output with the golden model. Writes "
                    "x.npy, w.npy, y.npy (RTL), y_golden.npy and report.json into --out. "
                    "Exit 0: RTL == golden; 1: mismatch or failed simulation; 2: bad input.")
    parser.add_argument("--layer", metavar=CONFIG_METAVAR, required=True,
                        help="cin=..,cout=..,h=..,w=..,k=..,s=..,p=..,op=..")
    add_tile_argument(parser)
    parser.add_argument("--mode", choices=RTL_MODES, default="red")
    add_sim_argument(parser)
    parser.add_argument("--x", metavar="X.npy", help="input [Cin][H][W], signed in_bits")
    parser.add_argument("--w", metavar="W.npy", help="weights [Cin][Cout][K][K], signed w_bits")
    parser.add_argument("--bias", metavar="BIAS.npy",
                        help="per-output-channel bias [Cout], signed, added once per output")
    parser.add_argument("--relu", action="store_true", help="apply ReLU to the outputs")
    parser.add_argument("--early", metavar="off|negative|approx:EPS", default="off",
                        help="CompRRAE early termination from runtime output bounds: "
                             "negative (exact, needs --relu) stops outputs that must end "
                             "negative; approx:EPS (0 < EPS < 1) also stops an output when "
                             "its bound's width <= EPS * |partial sum| and outputs the "
                             "bound's midpoint. Applied when each pass computes its outputs' "
                             "whole sum (cin <= rows, k <= kernel); other than off, the tile "
                             "is generated with its hardware (early_termination=1)")
    sparse = parser.add_mutually_exclusive_group()
    sparse.add_argument("--sparse", action="store_true",
                        help="crossbar-aware sparse mapping: reorder the channels "
                             "(red.sparsity), gate empty weight blocks, drop empty passes; "
                             "results stay in the layer's channel order")
    sparse.add_argument("--sparsity", metavar="DIR",
                        help="the sparse mapping and (pruned) weights written by "
                             "'red sparsify' (instead of --w)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of random x and w (without --x/--w) and of --stall")
    parser.add_argument("--stall", type=float, default=0.0, metavar="P",
                        help="probability of an input gap / output back-pressure per cycle")
    parser.add_argument("--waves", action="store_true",
                        help="keep the waveform in --out (FST: waves.fst from Icarus, dump.fst "
                             "from Verilator) with a GTKWave save file, waves.gtkw; its cycles "
                             "per pass (red waves) must equal the counters and the model")
    parser.add_argument("--trace-passes", metavar="FIRST:LAST",
                        help="with --waves: record only these passes of the layer (from 0, "
                             "both included; N alone is N:N). The dump says it is partial; "
                             "each pass in it must equal that pass's counters")
    parser.add_argument("--vcd", action="store_true",
                        help="with --waves: write VCD (waves.vcd, dump.vcd) instead of FST")
    parser.add_argument("--out", metavar="DIR", required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check every input, simulate, write ``report.json``; the verdict's exit status."""
    from red.sim.runner import SimulationError
    from ..simulate import simulate
    given = {field.name: getattr(args, field.name)
             for field in dataclasses.fields(SimRequest) if field.name != "sim"}
    job = SimRequest(**given, sim=simulator(args)).job()
    cache_root()                          # an unusable cache fails before any work
    with OutputFolder(args.out, "sim", owned=SIM_OUTPUTS) as folder:
        layer, tile, mode = job.run.layer, job.tile, job.run.mode
        print(f"red sim: {layer} mode={mode} on {job.sim}; seed {job.seed}, stall "
              f"{job.stall} (hardware generators); tile {format_tile(tile)}", flush=True)
        cycles = estimate(layer, tile, mode).total_cycles
        wall = expected_seconds(job.sim, tile.rows, tile.cols, cycles)
        print(f"red sim: generating, building (cached) and simulating {cycles:,} cycles "
              f"(the model's count), about {human_duration(wall)} on {job.sim} ...",
              flush=True)
        try:
            report = simulate(job, folder.scratch)
        except SimulationError as exc:
            print(f"red: error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return EXIT_MISMATCH
        report.save(folder.scratch)
        folder.commit()
    said = "RTL == golden" if report.verdict.golden_match else "MISMATCH: RTL != golden"
    print(f"red sim: {said}; {len(report.plan)} pass(es); cycles total "
          f"{report.counters['total_cycles']}, compute {report.counters['compute_cycles']} "
          f"(model {report.estimate.total_cycles}, {report.estimate.compute_cycles})")
    for problem in report.problems:
        print(f"red sim: {problem}", file=sys.stderr)
    print(f"red sim: report {folder.path / 'report.json'}")
    return report.exit_status
