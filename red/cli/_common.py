"""What several ``red`` commands share: how the tile is given, the simulator, the seed."""

from __future__ import annotations

import argparse
import dataclasses

from ..cache import cache_root
from ..config import ConfigError, TileConfig
from ..inputs import config_arg
from ..sim import DEFAULT_SIMULATOR, SIMULATORS

__all__ = ["CONFIG_METAVAR", "add_tile_argument", "add_sim_argument",
           "format_tile", "simulator", "generable_tile"]

#: How ``--tile`` and ``--layer`` are written: key=value pairs or a TOML file.
CONFIG_METAVAR = "KEY=VALUE,...|FILE.toml"


def format_tile(tile: TileConfig) -> str:
    """The tile's fields as ``key=value, ...``."""
    return ", ".join(f"{key}={value}" for key, value in dataclasses.asdict(tile).items())


def add_tile_argument(parser: argparse.ArgumentParser) -> None:
    """``--tile`` with the default tile in its help."""
    parser.add_argument("--tile", metavar=CONFIG_METAVAR, default="",
                        help=f"tile parameters (defaults: {format_tile(TileConfig())})")


def add_sim_argument(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--sim``: the simulator (its default is resolved by :func:`simulator`)."""
    parser.add_argument("--sim", choices=SIMULATORS, default=None,
                        help=f"simulator (default: $SIM, else {DEFAULT_SIMULATOR}{note})")


def simulator(args: argparse.Namespace) -> str:
    """``--sim``, else ``$SIM``, else the default simulator, checked."""
    from red.sim.runner import default_simulator
    sim = args.sim or default_simulator()
    if sim not in SIMULATORS:
        raise ConfigError(f"SIM={sim!r} is invalid: choose {' or '.join(SIMULATORS)}")
    return sim


def generable_tile(text: str) -> TileConfig:
    """``--tile`` of a command that generates the tile, refused (one line) before any
    work when it cannot be generated or the cache folder is unusable."""
    tile = config_arg(text, TileConfig, "tile")
    tile.check_generable()
    cache_root()
    return tile
