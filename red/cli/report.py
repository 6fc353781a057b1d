"""``red report``: RED vs ZP vs PF on the GAN and FCN workloads (:mod:`red.report`)."""

from __future__ import annotations

import argparse

from ..cache import cache_root
from ._common import add_sim_argument, simulator


def add_parser(subparsers) -> None:
    from ..report import REPORT_WORKLOADS
    parser = subparsers.add_parser(
        "report", help="RTL-checked report: RED vs ZP vs PF on DCGAN and FCN layers",
        description="Run the full-size layers of "
                    f"{', '.join(REPORT_WORKLOADS)} on one tile per network (the paper's "
                    "crossbar; larger layers in passes) in RED, ZP and PF mode: cycles, "
                    "speed-ups, energy, utilization and the cost of the passes, beside "
                    "the papers' ranges. By default the RTL simulates every RED and ZP "
                    "run of DCGAN and FCN-8s within a cycle budget (it must equal the "
                    "golden and the analytical model); every other figure comes from the "
                    "model, and report.json and report.md say which. Writes report.md, "
                    "report.json, speedup.png and energy.png into --out. Exit 0: every "
                    "RTL run equals the golden and the analytical model; 1: a mismatch "
                    "or a failed simulation (files still written); 2: bad input.")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    variant = parser.add_mutually_exclusive_group()
    variant.add_argument("--quick", action="store_true",
                         help="simulate small scaled-down copies of two layers instead "
                              "(the full-size figures then all come from the model)")
    variant.add_argument("--full", action="store_true",
                         help="simulate every full-size RED and ZP run, FCN-16s/32s and "
                              "large ZP runs included (many hours; shows its progress)")
    add_sim_argument(parser, "; the full-size RTL runs are much slower on icarus")
    parser.add_argument("--energy", metavar="FILE.toml",
                        help="per-event energies overriding the defaults ([energy] table, "
                             "pJ; keys as red.energy.EnergyTable)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the RTL runs as tasks on the Dask cluster at ADDRESS "
                             "(tcp://host:port; as red sweep --scheduler)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the report; its exit status."""
    from ..energy import DEFAULT_ENERGY, load_energy_table
    from ..report import build_report
    sim = simulator(args)
    table = load_energy_table(args.energy) if args.energy else DEFAULT_ENERGY
    cache_root()                          # an unusable cache fails before any work
    return build_report(args.out, quick=args.quick, full=args.full, sim=sim, table=table,
                        scheduler=args.scheduler)
