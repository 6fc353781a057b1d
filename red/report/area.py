"""The report's area section (``report.json`` key ``area``): the paper tile synthesised,
what each data flow's own hardware costs, and RED against ZP at equal area.

Three steps, each its own function:

* :func:`synthesise` (slow, cached: ``red area``'s flow, :mod:`red.gen.area`): the
  DCGAN tile (the paper tile) whole, and one channel of the merge's adder trees
  (:class:`red.rtl.channel_sums.ChannelSums`) with the sums of each data flow: ZP adds
  every active group into one sum, RED adds each output slot's groups into its own
  (``slot_banks^2`` sums), and the tile, which runs both, has both;
* :func:`compute` -> :class:`AreaSection`: the figures, from the synthesis and the
  report's per-layer cycles and energy;
* :func:`render` -> markdown.

**Per data flow.** The tile runs RED and ZP. What only one data flow uses is measured:
the other's merge sums (the channel syntheses, times ``logical_cols``) and, for RED, the
output-bank rows that ZP never writes (ZP writes bank row 0 only). A tile built for one
data flow would drop them, so its area is at most the tile's minus the other's own
hardware (``area_um2``). The window, the fold geometry and the sequencer keep small
parts of both data flows' control that this does not split; ``area_low_um2`` removes
all of their logic too, an area no single-data-flow tile can go below. The iso-area
comparison divides ZP's cycles x area by RED's at both: RED's overhead is repaid at a
layer only when it wins even against ZP's lower bound. PF has no RTL, so no area.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable

from red.area import FIGURES
from red.config import TileConfig

from .markdown import md_table, percent, ratio, span

__all__ = ["NETWORK", "FLOWS", "Synthesis", "AreaSection", "synthesise",
           "synthesise_or_reason", "compute", "section_json", "render"]

#: The network whose tile (the paper tile) the section synthesises.
NETWORK = "dcgan"

#: The data flows compared at equal area (PF has no RTL).
FLOWS = ("red", "zp")

#: Modules whose logic serves both data flows' control in parts this section cannot
#: split: removed whole for :attr:`FlowArea.area_low_um2`.
SHARED_CONTROL = ("window", "geometry", "sequencer")


@dataclass(frozen=True)
class Synthesis:
    """What :func:`synthesise` measured: ``area.json`` of the tile, and of one merge
    channel with the sums of ``red``, ``zp`` and both (``red+zp``)."""

    tile: TileConfig
    area: dict
    channel: dict


def synthesise(tile: TileConfig, progress: Callable[[str], None],
               jobs: int | None = None) -> Synthesis:
    """Synthesise ``tile`` (crossbar macro a black box) and the merge channels; cached
    like ``red area``. Raises :class:`red.gen.area.SynthesisError` without Yosys."""
    from red.gen.area import component_area, tile_area
    from red.rtl.channel_sums import ChannelSums
    progress(f"area: synthesising the {NETWORK} tile (cached after the first run)")
    area = tile_area(tile, "macro", progress=lambda line: progress(f"area: {line}"),
                     jobs=jobs)
    sums = {"zp": 1, "red": tile.slot_banks ** 2, "red+zp": 1 + tile.slot_banks ** 2}
    channel = {flow: component_area(ChannelSums(tile, n), f"red_merge_channel_{n}", tile)
               for flow, n in sums.items()}
    return Synthesis(tile, area, channel)


def synthesise_or_reason(tile: TileConfig, progress: Callable[[str], None]) -> Synthesis | str:
    """:func:`synthesise`, or why it cannot run here (no Yosys or liberty file)."""
    from red.gen.area import SynthesisError
    try:
        return synthesise(tile, progress)
    except SynthesisError as exc:
        progress(f"area: not measured: {exc}")
        return str(exc)


@dataclass(frozen=True)
class FlowArea:
    """A tile for one data flow: the tile minus the other data flow's own hardware."""

    own_um2: float           # hardware only this data flow uses
    other_um2: float         # hardware only the other data flow uses (removed)
    area_um2: float          # at most this: the tile minus ``other_um2``
    area_low_um2: float      # at least this: also without :data:`SHARED_CONTROL`'s logic


@dataclass(frozen=True)
class AreaSection:
    """The figures of the section (``report.json`` ``area``: :meth:`to_json`)."""

    network: str
    tile: dict
    totals: dict             # area.json's totals of the tile
    liberty: dict
    components: dict
    periphery_share: float   # logic and memories over the whole tile (macros included)
    channel_um2: dict        # one merge channel's logic per sums set (red, zp, red+zp)
    red_bank_bits: int       # output-bank bits ZP never writes
    flows: dict              # data flow -> FlowArea
    layers: list             # per layer: cycles, energy and their products with area
    repaid: dict             # over the layers: RED/ZP advantage at equal area

    def to_json(self) -> dict:
        return asdict(self)


def _flow_areas(s: Synthesis) -> tuple[dict, int]:
    """Each data flow's tile (:class:`FlowArea`) and the bank bits only RED writes."""
    tile, area = s.tile, s.area
    both = s.channel["red+zp"]["logic_um2"]
    # ZP writes bank (0, ow mod slot_banks) only (red.rtl.merge): rows 1.. are RED's.
    red_bank_bits = sum(m["bits"] * m["instances"] for m in area["memory"]["memories"]
                        if m["component"] == "merge"
                        and re.fullmatch(r"bank_([1-9]\d*)_\d+", m["name"]))
    own = {"red": (both - s.channel["zp"]["logic_um2"]) * tile.logical_cols
           + red_bank_bits * area["memory"]["um2_per_bit"],
           "zp": (both - s.channel["red"]["logic_um2"]) * tile.logical_cols}
    shared = sum(row["logic_um2"] * row["instances"] for name, row in area["modules"].items()
                 if name.rsplit(".", 1)[-1] in SHARED_CONTROL)
    flows = {}
    for flow, other in zip(FLOWS, reversed(FLOWS)):
        upper = area["total_um2"] - own[other]
        flows[flow] = FlowArea(own[flow], own[other], upper, upper - shared)
    return flows, red_bank_bits


def _layer(entry: dict, flows: dict) -> dict:
    """One layer's cycles and energy per data flow, their products with the area, and
    RED's advantage at equal area (ZP's figure over RED's; ``_low``: ZP at its lower
    bound)."""
    modes = entry["modes"]
    cycles = {flow: modes[flow]["total_cycles"] for flow in FLOWS}
    energy = {flow: modes[flow]["energy_pj"]["total"] for flow in FLOWS}
    red_area = flows["red"].area_um2
    zp_area, zp_low = flows["zp"].area_um2, flows["zp"].area_low_um2
    return {
        "name": entry["name"], "source": {flow: modes[flow]["source"] for flow in FLOWS},
        "cycles": cycles, "energy_pj": energy,
        "cycles_x_mm2": {flow: cycles[flow] * flows[flow].area_um2 / 1e6 for flow in FLOWS},
        "energy_pj_x_mm2": {flow: energy[flow] * flows[flow].area_um2 / 1e6
                            for flow in FLOWS},
        "cycles_advantage": cycles["zp"] * zp_area / (cycles["red"] * red_area),
        "cycles_advantage_low": cycles["zp"] * zp_low / (cycles["red"] * red_area),
        "energy_advantage": energy["zp"] * zp_area / (energy["red"] * red_area),
        "energy_advantage_low": energy["zp"] * zp_low / (energy["red"] * red_area),
    }


def compute(synthesis: Synthesis, model: dict) -> AreaSection:
    """The section from :func:`synthesise`'s result and the report's ``model`` part
    (:func:`red.report.sweep.model_part`: per-layer cycles and energy, RTL where run)."""
    area = synthesis.area
    flows, red_bank_bits = _flow_areas(synthesis)
    layers = [_layer(entry, flows) for entry in model["layers"]
              if entry["network"] == NETWORK]
    keys = ("cycles_advantage", "cycles_advantage_low", "energy_advantage",
            "energy_advantage_low")
    repaid = {key: [min(layer[key] for layer in layers), max(layer[key] for layer in layers)]
              for key in keys}
    repaid["cycles"] = repaid["cycles_advantage_low"][0] > 1
    repaid["energy"] = repaid["energy_advantage_low"][0] > 1
    return AreaSection(
        network=NETWORK, tile=synthesis.tile.describe(),
        totals={key: area[key] for key in FIGURES}, liberty=area["liberty"],
        components=area["components"],
        periphery_share=(area["logic_um2"] + area["memory_um2"]) / area["total_um2"],
        channel_um2={flow: c["logic_um2"] for flow, c in synthesis.channel.items()},
        red_bank_bits=red_bank_bits, flows=flows, layers=layers, repaid=repaid)


def section_json(synthesis: Synthesis | str, model: dict) -> dict:
    """``report.json``'s ``area``: :func:`compute`'s figures, or ``{"skipped": reason}``."""
    if isinstance(synthesis, str):
        return {"skipped": synthesis}
    return compute(synthesis, model).to_json()


def _mm2(um2: float) -> str:
    return f"{um2 / 1e6:.2f}"


def render(section: dict) -> list[str]:
    """The section's lines of ``report.md``, from ``report.json``'s ``area``."""
    if "skipped" in section:
        return ["## 7. Area", "", f"Not measured: {section['skipped']}", ""]
    t, flows, repaid = section["totals"], section["flows"], section["repaid"]
    lib = section["liberty"]
    out = ["## 7. Area: what RED's mapping and zero-skipping cost in silicon", "",
           f"The {section['network']} tile (the paper tile) synthesised with `red area`'s "
           f"flow: Yosys onto {lib['library']} ({lib['node_nm']} nm), memories priced as "
           "SRAM bits, the crossbar macros from ISAAC's per-component areas (`red.area` "
           f"cites the sources). Whole tile {_mm2(t['total_um2'])} mm2; the digital "
           f"periphery (logic and memories) is {percent(section['periphery_share'])} of it, "
           f"the macros {_mm2(t['macro_um2'])} mm2.", "",
           md_table(["component", "mm2", "logic mm2", "memory bits", "flip-flops"],
                    [[name, _mm2(c["total_um2"]), _mm2(c["logic_um2"]), f"{c['memory_bits']:,}",
                      f"{c['flip_flops']:,}"] for name, c in section["components"].items()]),
           ""]
    ch = section["channel_um2"]
    out += ["**Per data flow.** The tile runs RED and ZP. Measured: one channel of the "
            f"merge's adder trees takes {_mm2(ch['zp'])} mm2 with ZP's one sum, "
            f"{_mm2(ch['red'])} mm2 with RED's per-slot sums and {_mm2(ch['red+zp'])} mm2 "
            f"with both; RED also writes {section['red_bank_bits']:,} output-bank bits "
            "that ZP never writes. A tile for one data flow drops the other's; the window, "
            "the fold geometry and the sequencer keep both data flows' control in parts "
            "not split here, so the lower bound drops their logic too.", "",
            md_table(["data flow", "own hardware mm2", "tile mm2 (at most)",
                      "tile mm2 (at least)"],
                     [[flow.upper(), _mm2(f["own_um2"]), _mm2(f["area_um2"]),
                       _mm2(f["area_low_um2"])] for flow, f in flows.items()]), ""]
    out += ["**At equal area**, per layer: ZP's cycles x area (energy x area) over RED's, "
            "each on its own data flow's tile; `low` puts ZP at its lower bound. PF has "
            "no RTL and no area (its overlap-add buffer is not built).", "",
            md_table(["layer", "source", "RED cycles", "ZP cycles", "cycles x area",
                      "low", "energy x area", "low"],
                     [[layer["name"], "/".join(sorted(set(layer["source"].values()))),
                       f"{layer['cycles']['red']:,}", f"{layer['cycles']['zp']:,}",
                       ratio(layer["cycles_advantage"]), ratio(layer["cycles_advantage_low"]),
                       ratio(layer["energy_advantage"]), ratio(layer["energy_advantage_low"])]
                      for layer in section["layers"]]), ""]
    if repaid["cycles"] and repaid["energy"]:
        verdict = ("RED's overhead is repaid on every layer, in cycles and in energy, even "
                   "against ZP's lower bound.")
    else:
        lost = [kind for kind in ("cycles", "energy") if not repaid[kind]]
        verdict = (f"RED's overhead is not repaid in {' and '.join(lost)} on every layer "
                   "against ZP's lower bound.")
    out += [f"RED's own hardware is {_mm2(flows['red']['own_um2'])} mm2, "
            f"{percent(flows['red']['own_um2'] / t['total_um2'])} of the tile. At equal "
            f"area RED's advantage over ZP is {span(repaid['cycles_advantage'], ratio)} in "
            f"cycles ({span(repaid['cycles_advantage_low'], ratio)} against ZP's lower "
            f"bound) and {span(repaid['energy_advantage'], ratio)} in energy "
            f"({span(repaid['energy_advantage_low'], ratio)}). {verdict}", ""]
    return out
