"""``red waves``: cycle measurements of a tile waveform."""

from __future__ import annotations

import argparse
import json

from ..config import ConfigError
from ..inputs import index_span


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "waves", help="measure cycles in a tile waveform (FST or VCD)",
        description="Per pass and for the whole layer: total, compute, load, input-starved "
                    "and output-stalled cycles, busy cycles per crossbar group and "
                    "utilization of a tile waveform, as `red sim --waves` writes it (the "
                    "counting rule is in red.sim.waves). A dump that does not hold whole "
                    "passes only is measured over its whole passes and labelled partial; "
                    "one without a whole pass, or a file that is not an FST or VCD "
                    "waveform of the tile, is refused (exit 2).")
    parser.add_argument("file", metavar="FILE", help="waves.fst (Icarus) or dump.fst (Verilator)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--plot", metavar="PNG", help="also draw a timeline of one pass (or "
                        "--cycles) into this PNG file")
    parser.add_argument("--pass", dest="pass_index", type=int, metavar="N",
                        help="the pass --plot draws (default 0)")
    parser.add_argument("--cycles", metavar="FIRST:LAST",
                        help="draw these clock cycles (edges counted from the dump's start) "
                             "instead of a pass")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the measurements (and draw the timeline); 0."""
    from red.sim.wave_plot import plot_target, render, timeline
    from red.sim.waves import WaveformError, measure_traces, read_traces, render_table
    window = None if args.cycles is None else index_span(
        args.cycles, "--cycles", "FIRST:LAST, two cycle numbers")
    target = None if args.plot is None else plot_target(args.plot)
    try:
        traces = read_traces(args.file)
        result = measure_traces(traces).as_dict()
        if target is not None:
            render([("", timeline(traces, args.pass_index, window))], target)
    except WaveformError as exc:
        raise ConfigError(str(exc)) from None
    print(json.dumps(result, indent=2) if args.json else render_table(result))
    return 0
