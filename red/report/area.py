"""The report's area section (``report.json`` key ``area``): the paper tile synthesised
for each data flow, what each one's own hardware costs, and RED against ZP at equal
area.

Three steps, each its own function:

* :func:`synthesise` (slow, cached: ``red area``'s flow, :mod:`red.gen.area`): the
  DCGAN tile (the paper tile) generated three ways, for RED and ZP, for RED alone and
  for ZP alone (each without PF's overlap-add buffer, ``pf_mode=0``);
* :func:`compute` -> :class:`AreaSection`: the figures, from the syntheses and the
  report's per-layer cycles and energy;
* :func:`render` -> markdown.

A data flow's *own* hardware is what the tile for both has over the tile for the other
alone: RED's per-slot merge sums, its output-bank rows and its share of the control
against ZP's single sum per channel. At equal area each data flow runs on its own tile:
per layer, ZP's cycles x area (energy x area) over RED's says whether RED's overhead is
repaid. PF's area comes with the synthesis of its overlap-add buffer (not yet part of
this section); the report gives its buffer bits and adders instead (section 2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from red.area import FIGURES
from red.config import TileConfig

from .markdown import md_table, percent, ratio, span
from .section import json_fields

__all__ = ["NETWORK", "FLOWS", "TILES", "Synthesis", "AreaSection", "synthesise",
           "synthesise_or_reason", "compute", "section_json", "render"]

#: The network whose tile (the paper tile) the section synthesises.
NETWORK = "dcgan"

#: The data flows compared at equal area (PF's buffer is not synthesised yet).
FLOWS = ("red", "zp")

#: The tiles synthesised: key -> the fields that make it from the network's tile.
TILES = {"red+zp": {"pf_mode": 0}, "red": {"zp_mode": 0, "pf_mode": 0},
         "zp": {"red_mode": 0, "pf_mode": 0}}


@dataclass(frozen=True)
class Synthesis:
    """What :func:`synthesise` measured: ``area.json`` of each tile of :data:`TILES`."""

    tile: TileConfig
    areas: dict


def synthesise(tile: TileConfig, progress: Callable[[str], None]) -> Synthesis:
    """Synthesise ``tile`` for each entry of :data:`TILES` (the crossbar macro a black
    box), cached like ``red area``. Raises :class:`red.gen.area.SynthesisError` without
    Yosys."""
    from red.gen.area import tile_area
    areas = {}
    for key, fields in TILES.items():
        progress(f"area: synthesising the {NETWORK} tile for {key.upper()} (cached after "
                 "the first run)")
        areas[key] = tile_area(dataclasses.replace(tile, **fields), "macro",
                               progress=lambda line: progress(f"area: {line}"))
    return Synthesis(tile, areas)


def synthesise_or_reason(tile: TileConfig, progress: Callable[[str], None]) -> Synthesis | str:
    """:func:`synthesise`, or why it cannot run here (no Yosys or liberty file)."""
    from red.gen.area import SynthesisError
    try:
        return synthesise(tile, progress)
    except SynthesisError as exc:
        progress(f"area: not measured: {exc}")
        return str(exc)


@dataclass(frozen=True)
class AreaSection:
    """The figures of the section (``report.json`` ``area``: :meth:`to_json`)."""

    network: str
    tile: dict
    liberty: dict
    tiles: dict              # red+zp / red / zp -> totals and components of that tile
    periphery_share: float   # logic and memories over the whole tile (macros included)
    own_um2: dict            # data flow -> the tile for both minus the tile for the other
    layers: list             # per layer: cycles, energy and their products with area
    repaid: dict             # over the layers: RED/ZP advantage at equal area

    to_json = json_fields


def _layer(entry: dict, area_um2: dict) -> dict:
    """One layer's cycles and energy per data flow, their products with the area of the
    data flow's own tile, and RED's advantage at equal area (ZP's figure over RED's)."""
    modes = entry["modes"]
    cycles = {flow: modes[flow]["total_cycles"] for flow in FLOWS}
    energy = {flow: modes[flow]["energy_pj"]["total"] for flow in FLOWS}
    cxa = {flow: cycles[flow] * area_um2[flow] / 1e6 for flow in FLOWS}
    exa = {flow: energy[flow] * area_um2[flow] / 1e6 for flow in FLOWS}
    return {"name": entry["name"], "source": {flow: modes[flow]["source"] for flow in FLOWS},
            "cycles": cycles, "energy_pj": energy, "cycles_x_mm2": cxa,
            "energy_pj_x_mm2": exa, "cycles_advantage": cxa["zp"] / cxa["red"],
            "energy_advantage": exa["zp"] / exa["red"]}


def compute(synthesis: Synthesis, model: dict) -> AreaSection:
    """The section from :func:`synthesise`'s result and the report's ``model`` part
    (:func:`red.report.sweep.compute`: per-layer cycles and energy, RTL where run)."""
    areas = synthesis.areas
    both = areas["red+zp"]
    area_um2 = {flow: areas[flow]["total_um2"] for flow in FLOWS}
    own = {flow: both["total_um2"] - areas[other]["total_um2"]
           for flow, other in zip(FLOWS, reversed(FLOWS))}
    layers = [_layer(entry, area_um2) for entry in model["layers"]
              if entry["network"] == NETWORK]
    repaid = {key: [min(layer[key] for layer in layers), max(layer[key] for layer in layers)]
              for key in ("cycles_advantage", "energy_advantage")}
    repaid["cycles"] = repaid["cycles_advantage"][0] > 1
    repaid["energy"] = repaid["energy_advantage"][0] > 1
    return AreaSection(
        network=NETWORK, tile=synthesis.tile.describe(), liberty=both["liberty"],
        tiles={key: {**{k: a[k] for k in FIGURES}, "components": a["components"]}
               for key, a in areas.items()},
        periphery_share=(both["logic_um2"] + both["memory_um2"]) / both["total_um2"],
        own_um2=own, layers=layers, repaid=repaid)


def section_json(synthesis: Synthesis | str, model: dict) -> dict:
    """``report.json``'s ``area``: :func:`compute`'s figures, or ``{"skipped": reason}``."""
    if isinstance(synthesis, str):
        return {"skipped": synthesis}
    return compute(synthesis, model).to_json()


def _mm2(um2: float) -> str:
    return f"{um2 / 1e6:.2f}"


def _verdict(repaid: dict) -> str:
    if repaid["cycles"] and repaid["energy"]:
        return "RED's overhead is repaid on every layer, in cycles and in energy."
    lost = [kind for kind in ("cycles", "energy") if not repaid[kind]]
    return f"RED's overhead is not repaid in {' and '.join(lost)} on every layer."


def render(section: dict) -> list[str]:
    """The section's lines of ``report.md``, from ``report.json``'s ``area``."""
    if "skipped" in section:
        return ["## 7. Area", "", f"Not measured: {section['skipped']}", ""]
    tiles, own, repaid, lib = (section["tiles"], section["own_um2"], section["repaid"],
                               section["liberty"])
    both = tiles["red+zp"]
    names = sorted({name for t in tiles.values() for name in t["components"]})
    out = ["## 7. Area: what RED's mapping and zero-skipping cost in silicon", "",
           f"The {section['network']} tile (the paper tile) generated for RED and ZP (the "
           "tile of every other section), for RED alone and for ZP alone, each synthesised "
           f"with `red area`'s flow: Yosys onto {lib['library']} ({lib['node_nm']} nm), "
           "memories priced as SRAM bits, the crossbar macros from ISAAC's per-component "
           "areas (`red.area` cites the sources). The digital periphery (logic and "
           f"memories) is {percent(section['periphery_share'])} of the tile for both; "
           f"the macros are {_mm2(both['macro_um2'])} mm2.", "",
           md_table(["component (mm2)", *(key.upper() for key in tiles)],
                    [[name, *(_mm2(t["components"].get(name, {}).get("total_um2", 0))
                              for t in tiles.values())] for name in names]
                    + [["total", *(_mm2(t["total_um2"]) for t in tiles.values())]]), "",
           f"RED's own hardware (the tile for both over the tile for ZP alone: its per-slot "
           f"merge sums, output-bank rows and control) is {_mm2(own['red'])} mm2, "
           f"{percent(own['red'] / both['total_um2'])} of the tile; ZP's own is "
           f"{_mm2(own['zp'])} mm2.", ""]
    out += ["**At equal area**, per layer: ZP's cycles x area (energy x area) over RED's, "
            "each data flow on its own tile. PF's area comes with the synthesis of its "
            "overlap-add buffer; section 5b gives its bits and adders.", "",
            md_table(["layer", "source", "RED cycles", "ZP cycles", "cycles x area",
                      "energy x area"],
                     [[layer["name"], "/".join(sorted(set(layer["source"].values()))),
                       f"{layer['cycles']['red']:,}", f"{layer['cycles']['zp']:,}",
                       ratio(layer["cycles_advantage"]), ratio(layer["energy_advantage"])]
                      for layer in section["layers"]]), "",
            f"At equal area RED's advantage over ZP is {span(repaid['cycles_advantage'], ratio)} "
            f"in cycles and {span(repaid['energy_advantage'], ratio)} in energy. "
            f"{_verdict(repaid)}", ""]
    return out
