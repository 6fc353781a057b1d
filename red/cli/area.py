"""``red area``: the tile's area from logic synthesis and sourced tables (:mod:`red.area`)."""

from __future__ import annotations

import argparse
import json
import sys

from ..outdir import OutputFolder
from ._common import add_tile_argument, generable_tile

#: What ``red area`` writes into ``--out``.
AREA_FILE = "area.json"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "area", help="area of a tile: its digital periphery synthesised with Yosys, "
                     "memories as SRAM, the crossbar macro from ISAAC's table",
        description="Synthesise the tile's digital periphery module by module with Yosys "
                    "(the crossbar macro a black box) onto the OSU 0.18 um standard cells, "
                    "price its memories as SRAM bits and the crossbar macros from ISAAC's "
                    "per-component areas scaled to 0.18 um (red.area cites the sources). "
                    "Writes DIR/area.json (totals, liberty, components, modules) and "
                    "prints a table. Each module's result is cached by its Verilog, the "
                    "Yosys version and the liberty file. Needs yosys and the liberty file "
                    "('make setup' installs both). Exit 0, 1 when synthesis fails, 2 for "
                    "bad input.")
    add_tile_argument(parser)
    parser.add_argument("--crossbar", choices=("macro",), default="macro",
                        help="crossbar model: macro, the analog macro as a black box "
                             "(the only one with an area)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Synthesise, write ``area.json``, print the table; 1 when synthesis fails."""
    from red.area import format_table
    from red.gen.area import SynthesisError, find_toolchain, tile_area
    tile = generable_tile(args.tile)
    with OutputFolder(args.out, "area", owned=(AREA_FILE,)) as folder:
        try:
            find_toolchain()              # a missing tool fails before generation
            area = tile_area(tile, args.crossbar, progress=lambda line: print(
                f"red area: {line}", file=sys.stderr, flush=True))
        except SynthesisError as exc:
            print(f"red: error: {exc}", file=sys.stderr)
            return 1
        area = {"tile": tile.describe(), **area}
        (folder.scratch / AREA_FILE).write_text(json.dumps(area, indent=2) + "\n")
        folder.commit()
    print(format_table(area))
    print(folder.path / AREA_FILE)
    return 0
