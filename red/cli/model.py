"""``red model``: the analytical cycle and event model."""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..config import LayerSpec, TileConfig
from ..inputs import config_arg
from ..model import ISAAC_TILE, check_model_size
from .. import model_table
from ..model_table import ALL_MODES
from ..modes import MODES
from ..workloads import WORKLOADS, get_workload
from ._common import CONFIG_METAVAR, format_tile


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "model", help="analytical cycle and event counts (RED vs ZP vs PF)",
        description="Estimate cycles and events of deconvolution layers on one RED tile. "
                    "Without --tile the tile is the ISAAC-style configuration: "
                    f"{format_tile(ISAAC_TILE)}. --tile gives the tile as every red "
                    "command reads it, key=value or a TOML [tile] table alike: the fields "
                    "not given take TileConfig's defaults, "
                    f"{format_tile(TileConfig())} (not the ISAAC tile's).")
    source = parser.add_mutually_exclusive_group(required=True)
    optional = ", ".join(f"{field.name}={field.default}"
                         for field in dataclasses.fields(LayerSpec)
                         if field.default is not dataclasses.MISSING and field.name != "name")
    source.add_argument("--layer", metavar=CONFIG_METAVAR,
                        help="one layer, e.g. cin=64,cout=32,h=8,w=8,k=4,s=2,p=1 "
                             f"(defaults: {optional}; name=... labels it)")
    source.add_argument("--workload", metavar="NAME",
                        help=f"a named workload: {', '.join(WORKLOADS)}")
    parser.add_argument("--tile", metavar=CONFIG_METAVAR,
                        help="the tile (default: the ISAAC-style tile); fields not given "
                             "take TileConfig's defaults, as in red sim, e.g. "
                             "rows=256,kernel=8")
    parser.add_argument("--mode", choices=(*MODES, ALL_MODES), default=ALL_MODES,
                        help="compare all modes (default) or list one mode's event counts")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON) and return 0."""
    tile = ISAAC_TILE if args.tile is None else config_arg(args.tile, TileConfig, "tile")
    if args.layer is not None:
        layers, with_total = (config_arg(args.layer, LayerSpec, "layer"),), False
    else:
        layers, with_total = get_workload(args.workload), True
    for layer in layers:
        check_model_size(layer, tile, MODES if args.mode == ALL_MODES else (args.mode,))
    data = model_table.compute(layers, tile, args.mode, with_total)
    if args.json:
        print(json.dumps({"tile": dataclasses.asdict(tile), "mode": args.mode, **data},
                         indent=2))
    else:
        title = f"mode {args.mode}" if args.mode != ALL_MODES else "RED vs ZP vs PF"
        print(f"{title}; tile {format_tile(tile)}")
        print(model_table.render(data, args.mode))
    return 0
