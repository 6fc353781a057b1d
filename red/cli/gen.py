"""``red gen``: Verilog and metadata of a generated top."""

from __future__ import annotations

import argparse

from ..config import TileConfig
from ..outdir import OutputFolder
from ._common import CONFIG_METAVAR, format_tile, generable_tile

#: Top generated when ``--top`` is not given.
DEFAULT_TOP = "tile"


def add_parser(subparsers) -> None:
    from red.gen.verilog import TOPS
    from red.rtl.crossbar import CROSSBAR_MODELS, DEFAULT_CROSSBAR
    parser = subparsers.add_parser(
        "gen", help="generate Verilog (and a JSON description) of a tile component",
        description="Write DIR/<name>.v, the Verilog files it instantiates (the MVM module "
                    "and the crossbar macro's behavioural model red_crossbar.v) and "
                    "DIR/<name>.json, which lists them. The Verilog is byte-identical on "
                    "every run for the same top, tile and crossbar.")
    parser.add_argument("--top", choices=sorted(TOPS), default=DEFAULT_TOP,
                        help=f"component to generate (default {DEFAULT_TOP}; harness: the "
                             "tile inside the simulation harness of the fast path)")
    parser.add_argument("--crossbar", choices=sorted(CROSSBAR_MODELS), default=DEFAULT_CROSSBAR,
                        help="crossbar: the analog macro as a black box with its behavioural "
                             "model in red_crossbar.v (default), or ff, a synthesizable "
                             "flip-flop stand-in (small arrays only, e.g. FPGA emulation)")
    parser.add_argument("--tile", metavar=CONFIG_METAVAR, default="",
                        help="tile parameters, e.g. rows=8,cols=16,cell_bits=2,w_bits=4,"
                             "in_bits=4,kernel=3 (defaults: "
                             f"{format_tile(TileConfig())})")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the files and print their paths."""
    from red.gen.verilog import generate, write
    tile = generable_tile(args.tile)
    generated = generate(args.top, tile, args.crossbar)
    owned = (*generated.sources, f"{generated.name}.json")
    with OutputFolder(args.out, "gen", owned=owned) as folder:
        names = [path.name for path in write(generated, folder.scratch)]
        folder.commit()
    for name in names:
        print(folder.path / name)
    return 0
