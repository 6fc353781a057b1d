"""``red sweep``'s specification (a TOML file) and the points it names.

::

    modes = ["red", "zp"]              # data flows (default: every RTL mode)

    [tile]                             # each key one value or a list: their product
    rows = [32, 128]
    cols = 128
    adc_bits = 8
    [[tile.only]]                      # whole configurations, besides the product
    rows = 64
    cols = 64

    [layers]
    workloads = ["dcgan"]              # names of red.workloads
    shapes = ["cin=8,cout=4,h=4,w=4,k=3,s=2,p=1,op=1"]   # as --layer takes them
    onnx = ["generator.onnx"]          # the ConvTranspose layers of a model (red net)

    [rtl]
    verify = "none"                    # "none" | "pareto" | "all" | N (a seeded sample)
    sim = "verilator"
    seed = 0

    [area]
    synthesise = false                 # each tile's area from synthesis (red area)

A point is one (tile, layer, mode). An ONNX model's layers are its ``ConvTranspose``
nodes as ``red net`` runs them (:func:`red.net.network_layers`), its workload the file's
name; a relative path is relative to the specification. A tile the configuration refuses, or a layer it
cannot run, is an *invalid* point with its reason, not an error. ``[[tile.only]]``
configurations are whole (unset keys take :class:`~red.config.TileConfig`'s defaults)
and join the product's; a ``[tile]`` with neither gives the default tile.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, LayerSpec, TileConfig
from .inputs import read_toml
from .modes import MODES, RTL_MODES
from .workloads import get_workload

__all__ = ["SweepSpec", "Point", "load_spec", "VERIFY_CHOICES", "SHAPES"]

#: The ``[rtl] verify`` words (an integer is a sample size).
VERIFY_CHOICES = ("none", "pareto", "all")

#: The workload name of ``[layers] shapes``.
SHAPES = "shapes"

_TILE_FIELDS = {field.name for field in dataclasses.fields(TileConfig)}


@dataclass(frozen=True)
class Point:
    """One point: the tile (a :class:`TileConfig` or, when the configuration refuses
    it, the raw values and the reason), the workload it belongs to, the layer, the mode."""

    tile: dict
    workload: str
    layer: LayerSpec
    mode: str
    invalid: str | None = None

    def describe(self) -> dict:
        return {"tile": self.tile, "workload": self.workload,
                "layer": self.layer.describe(), "mode": self.mode}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed specification: its points and how to verify them."""

    points: tuple[Point, ...]
    verify: str | int
    sim: str
    seed: int
    text: dict
    area: bool = False


def _tile_configs(table: dict, where: str) -> list[dict]:
    """The tile configurations (raw keyword dicts) of ``[tile]``."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tile] must be a table")
    only = table.get("only", [])
    if not isinstance(only, list) or not all(isinstance(entry, dict) for entry in only):
        raise ConfigError(f"{where}: [[tile.only]] must be a list of tables")
    axes = {key: value for key, value in table.items() if key != "only"}
    for key in [*axes, *(k for entry in only for k in entry)]:
        if key not in _TILE_FIELDS:
            raise ConfigError(f"{where}: unknown tile key {key!r}; known: "
                              f"{', '.join(sorted(_TILE_FIELDS))}")
    lists = {key: value if isinstance(value, list) else [value] for key, value in axes.items()}
    for key, values in lists.items():
        if not values:
            raise ConfigError(f"{where}: tile key {key!r} holds an empty list")
    configs = [dict(zip(lists, combo)) for combo in itertools.product(*lists.values())] \
        if lists or not only else []
    return configs + [dict(entry) for entry in only]


def _check_table(table, name: str, keys: tuple[str, ...], where: str) -> None:
    """Refuse a ``[name]`` that is not a table or holds a key not in ``keys``."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = set(table) - set(keys)
    if unknown:
        raise ConfigError(f"{where}: unknown [{name}] key(s) {sorted(unknown)}; known: "
                          f"{', '.join(keys)}")


def _layers(table: dict, where: str) -> list[tuple[str, LayerSpec]]:
    _check_table(table, "layers", ("workloads", "shapes", "onnx"), where)
    layers = []
    for name in table.get("workloads", []):
        layers += [(name, layer) for layer in get_workload(str(name))]
    for text in table.get("shapes", []):
        try:
            layers.append((SHAPES, LayerSpec.parse(str(text))))
        except ConfigError as exc:
            raise ConfigError(f"{where}: [layers] shapes {text!r}: {exc}") from None
    for name in table.get("onnx", []):
        from .net import network_layers
        model = Path(where).parent / str(name)
        try:
            layers += [(model.name, layer) for layer in network_layers(model)]
        except ConfigError as exc:
            raise ConfigError(f"{where}: [layers] onnx {name!r}: {exc}") from None
    if not layers:
        raise ConfigError(f"{where}: [layers] names no layer (workloads, shapes or onnx)")
    return layers


def _verify(table: dict, where: str) -> tuple[str | int, str, int]:
    from .sim import SIMULATORS
    _check_table(table, "rtl", ("verify", "sim", "seed"), where)
    verify = table.get("verify", "none")
    if not (verify in VERIFY_CHOICES or (isinstance(verify, int) and not isinstance(
            verify, bool) and verify >= 0)):
        raise ConfigError(f"{where}: [rtl] verify = {verify!r}: choose "
                          f"{', '.join(map(repr, VERIFY_CHOICES))} or a sample size >= 0")
    sim = table.get("sim", "verilator")
    if sim not in SIMULATORS:
        raise ConfigError(f"{where}: [rtl] sim = {sim!r}: choose {' or '.join(SIMULATORS)}")
    seed = table.get("seed", 0)
    if not isinstance(seed, int) or not 0 <= seed < 1 << 32:
        raise ConfigError(f"{where}: [rtl] seed = {seed!r}: an integer in [0, 2^32)")
    return verify, sim, seed


def _point(raw: dict, workload: str, layer: LayerSpec, mode: str) -> Point:
    """The point, checked: an invalid tile or a layer the tile cannot run is kept with
    its reason."""
    try:
        tile = TileConfig(**raw)
    except (ConfigError, TypeError) as exc:
        return Point(dict(raw), workload, layer, mode, f"tile: {exc}")
    described = dataclasses.asdict(tile)
    try:
        tile.check_layer(layer)
    except ConfigError as exc:
        return Point(described, workload, layer, mode, f"layer: {exc}")
    return Point(described, workload, layer, mode)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check the specification at ``path`` (module docstring)."""
    where = str(path)
    data = read_toml(path)
    unknown = set(data) - {"tile", "layers", "modes", "rtl", "area"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected [tile], "
                          "[layers], modes, [rtl], [area]")
    modes = data.get("modes", list(RTL_MODES))
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        raise ConfigError(f"{where}: modes = {modes!r}: a non-empty list of "
                          f"{', '.join(MODES)}")
    tiles = _tile_configs(data.get("tile", {}), where)
    layers = _layers(data.get("layers", {}), where)
    verify, sim, seed = _verify(data.get("rtl", {}), where)
    area = data.get("area", {})
    _check_table(area, "area", ("synthesise",), where)
    if not isinstance(area.get("synthesise", False), bool):
        raise ConfigError(f"{where}: [area] synthesise = true or false")
    points = tuple(_point(raw, workload, layer, mode) for raw in tiles
                   for workload, layer in layers for mode in modes)
    return SweepSpec(points, verify, sim, seed, data, area.get("synthesise", False))
