"""``red sweep``: a design-space sweep on Dask (:mod:`red.sweep`)."""

from __future__ import annotations

import argparse
import sys

from ..cache import cache_root
from ..config import ConfigError
from ..simulate import EXIT_MISMATCH


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="sweep tiles x layers x modes on Dask, RTL-verifying chosen points",
        description="Model every point (tile, layer, mode) of SPEC.toml (red.sweep_spec "
                    "describes it) as a task on a Dask cluster, verify the chosen points on "
                    "the RTL, and write sweep.json, sweep.csv, pareto.png and sweep.md into "
                    "--out. Each finished point is kept in --out at once: a rerun computes "
                    "only what is missing. Exit 0: every RTL point equals the golden model "
                    "and the model; 1: not; 2: bad input.")
    parser.add_argument("spec", metavar="SPEC.toml")
    parser.add_argument("--out", metavar="DIR", required=True)
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes of a local cluster (default: the cores)")
    engine.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster at ADDRESS (tcp://host:port)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Sweep, write the results; 0 when every RTL point holds, else 1."""
    from ..sweep import ClusterError, prepare_folder, run_sweep
    from ..sweep_render import FILES, write_results
    from ..sweep_spec import load_spec
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise ConfigError(f"--workers {args.workers} is invalid: must be in [1, 1024]")
    spec = load_spec(args.spec)
    out = prepare_folder(args.out)
    cache_root()
    try:
        points, computed = run_sweep(spec, out, workers=args.workers,
                                     scheduler=args.scheduler)
    except ClusterError as exc:
        print(f"red: error: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    write_results(out, args.spec, points, computed)
    rtl = [p for p in points if p["source"] == "rtl"]
    bad = [p for p in rtl if not (p["match"] and p["equals_model"])]
    print(f"red sweep: {len(points)} points ({sum(not p['valid'] for p in points)} invalid), "
          f"{len(rtl)} verified on the RTL, {len(bad)} of them NOT equal to golden and "
          f"model; computed {computed['points']} model point(s) and {computed['rtl']} RTL "
          f"run(s); results in {out / FILES['json']}")
    return EXIT_MISMATCH if bad else 0
