"""The report's PF section (``report.json`` key ``pf``): RED against the padding-free
baseline, layer by layer, in cycles, events and energy, with PF's overlap-add buffer.

PF runs on the same arrays as RED (:class:`red.rtl.overlap_add.OverlapAddBuffer`): a
step per input pixel drives every group of the kernel, and the results overlap-add into
a buffer of output rows that drains cropped. The figures are the model section's (RTL
counters where the plan simulated the run, :mod:`red.report.sweep`); this section only
compares them and sizes the buffers. Every sentence of the rendered text is computed
from ``report.json``.

* :func:`compute` -> :class:`PfSection`;
* :func:`render` -> markdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from red.config import LayerSpec, TileConfig
from red.energy import COMPONENTS
from red.mapping import fold_extent
from red.model import steps_per_pass

from .markdown import md_table, percent, ratio, span
from .section import json_fields

__all__ = ["EVENTS", "PfSection", "compute", "render", "buffer_figures"]

#: Events compared, by what they sum (hardware counter names, red.counters).
EVENTS = {
    "adc_conversions": ("adc_conversions",),
    "group_activations": ("group_activations",),
    "wasted_group_steps": ("wasted_group_steps",),
    "output_buffer_accesses": ("out_buffer_writes", "out_buffer_reads"),
    "psum_buffer_values": ("psum_buffer_reads", "psum_buffer_writes"),
    "additions": ("merge_additions", "psum_additions", "psum_buffer_accumulations"),
}

#: The data flows the section compares.
COMPARED = ("red", "pf")


def buffer_figures(tile: TileConfig) -> dict:
    """What each data flow's output side holds and adds on ``tile``: PF's overlap-add
    buffer (``kernel x pf_bank_cols`` banks of
    :attr:`~red.config.TileConfig.pf_bank_depth` words) and RED's output banks
    (``slot_banks^2`` ping-pong banks), in bits of ``logical_cols`` channels of
    ``step_width`` bits; their adders of ``step_width`` bits: PF's read-modify-write
    adder per bank and channel, RED's merge trees (per channel, one sum of the
    ``groups`` results per slot, ``groups - 1`` adders each)."""
    word = tile.logical_cols * tile.step_width
    banks = tile.kernel * tile.pf_bank_cols
    return {
        "pf_buffer_bits": banks * tile.pf_bank_depth * word,
        "pf_buffer_rows": tile.pf_rows,
        "pf_adders": banks * tile.logical_cols,
        "red_bank_bits": tile.slot_banks ** 2 * tile.out_bank_depth * word,
        "red_adders": tile.slot_banks ** 2 * (tile.groups - 1) * tile.logical_cols,
        "adder_bits": tile.step_width,
    }


@dataclass
class PfSection:
    """``report.json``'s ``pf``."""

    layers: list
    """Per full-size layer: sources, cycles, events and energy of RED and PF, and the
    buffer the layer fills."""
    tiles: dict
    """Per network tile, :func:`buffer_figures`."""

    to_json = json_fields


def compute(model_layers: list[dict], tiles: dict[str, TileConfig]) -> PfSection:
    """The section from the model section's layers (``report.json`` ``model.layers``)
    and the report's tiles by network."""
    layers = []
    for entry in model_layers:
        tile, figures = tiles[entry["network"]], entry["modes"]
        layer = LayerSpec(**entry["layer"])
        held_rows = fold_extent(layer.k, tile.kernel, 0) + layer.s
        channels = min(layer.cout, tile.logical_cols)
        events = {name: {mode: sum(figures[mode]["events"].get(part, 0) for part in parts)
                         for mode in COMPARED} for name, parts in EVENTS.items()}
        layers.append({
            "name": entry["name"], "network": entry["network"],
            "sources": {mode: figures[mode]["source"] for mode in COMPARED},
            "steps": {mode: steps_per_pass(layer, mode) for mode in COMPARED},
            "cycles": {mode: figures[mode]["total_cycles"] for mode in COMPARED},
            "compute_cycles": {mode: figures[mode]["compute_cycles"] for mode in COMPARED},
            "events": events,
            "energy_pj": {mode: figures[mode]["energy_pj"] for mode in COMPARED},
            "red_vs_pf": {"cycles": entry["speedup"]["red_vs_pf"],
                          "energy": entry["energy_efficiency"]["red_vs_pf"]},
            # The rows PF holds for this layer: the rows an input row adds into and the
            # s rows finished before it, each Wo pixels of the pass's channels.
            "pf_buffer": {"rows": held_rows, "bits": held_rows * entry["wo"] * channels
                          * tile.step_width},
        })
    return PfSection(layers, {network: buffer_figures(tile) for network, tile in tiles.items()})


# -- markdown ------------------------------------------------------------------------------

def render(section: dict) -> list[str]:
    """The PF section of ``report.md`` from ``report.json``'s ``pf``."""
    layers = section["layers"]
    out = ["## 5b. RED against padding-free (PF) on the same arrays", "",
           "PF drives every group of the kernel once per input pixel and overlap-adds the "
           "results in a buffer of output rows that drains cropped "
           "(`red.rtl.overlap_add`): no zero is converted, but results for the cropped "
           "border are computed and dropped, and every kept result is a read-modify-write "
           "of the buffer. Figures: RTL counters where simulated, else the model (the "
           "source columns).", ""]
    rows = []
    for e in layers:
        cyc, ev, en = e["cycles"], e["events"], e["energy_pj"]
        rows.append([
            e["name"], f"{e['sources']['red']} / {e['sources']['pf']}",
            f"{cyc['red']:,} / {cyc['pf']:,}", ratio(e["red_vs_pf"]["cycles"]),
            f"{ev['adc_conversions']['red']:,} / {ev['adc_conversions']['pf']:,}",
            f"{ev['wasted_group_steps']['pf']:,}",
            f"{ev['output_buffer_accesses']['red']:,} / {ev['psum_buffer_values']['pf']:,}",
            f"{ev['additions']['red']:,} / {ev['additions']['pf']:,}",
            f"{en['red']['total'] / 1e6:.3g} / {en['pf']['total'] / 1e6:.3g}",
            ratio(e["red_vs_pf"]["energy"]), f"{e['pf_buffer']['bits']:,}"])
    out += [md_table(["layer", "source RED / PF", "cycles RED / PF", "PF/RED cycles",
                      "ADC conv. RED / PF", "PF cropped results",
                      "RED bank pixels / PF buffer values", "adds RED / PF",
                      "energy uJ RED / PF", "PF/RED energy", "PF buffer bits"], rows), ""]
    out += _components(layers) + _findings(layers) + _tiles(section["tiles"])
    return out


def _beyond(entry: dict, mode: str) -> int:
    """Cycles beyond compute: fill, waits for input, buffer and port, drain."""
    return entry["cycles"][mode] - entry["compute_cycles"][mode]


def _components(layers: list[dict]) -> list[str]:
    rows = [[e["name"], *(f"{e['energy_pj'][mode][part] / 1e6:.3g}"
                          for part in COMPONENTS for mode in COMPARED)] for e in layers]
    return ["Energy per component, uJ (RED, PF):", "",
            md_table(["layer", *(f"{part} {mode.upper()}" for part in COMPONENTS
                                 for mode in COMPARED)], rows), ""]


def _findings(layers: list[dict]) -> list[str]:
    """Where RED wins against PF and where it does not, in cycles and in energy."""
    out = []
    for verdict, group in (("ahead", [e for e in layers if e["red_vs_pf"]["cycles"] > 1]),
                           ("not ahead", [e for e in layers
                                          if e["red_vs_pf"]["cycles"] <= 1])):
        if group:
            out.append(
                f"- *Cycles, RED {verdict}* of PF on {len(group)} of {len(layers)} layers "
                f"(PF/RED {span((e['red_vs_pf']['cycles'] for e in group), ratio)}); "
                "compute cycles RED / PF, then the cycles beyond them: "
                + "; ".join(f"{e['name']} {e['compute_cycles']['red']:,} / "
                            f"{e['compute_cycles']['pf']:,}, {_beyond(e, 'red'):,} / "
                            f"{_beyond(e, 'pf'):,}" for e in group) + ".")
    fewer = [e["name"] for e in layers if e["steps"]["pf"] < e["steps"]["red"]]
    if fewer:
        out.append(f"- PF takes fewer steps on {', '.join(fewer)}: a RED step is an output "
                   "block and a PF step an input pixel, and with padding and output padding "
                   "the blocks outnumber the input pixels.")
    slower = [e["name"] for e in layers if _beyond(e, "pf") > _beyond(e, "red")]
    if slower:
        out.append(f"- PF spends more cycles beyond compute on {', '.join(slower)}: an output "
                   "row drains only once the input rows adding into it are in, and a step "
                   "waits while a row it adds into still holds a row the emitter has not "
                   "left (the buffer holds kernel + max_stride rows).")
    for verdict, group in (("saves", [e for e in layers if e["red_vs_pf"]["energy"] > 1]),
                           ("does not save", [e for e in layers
                                              if e["red_vs_pf"]["energy"] <= 1])):
        if not group:
            continue
        parts = []
        for e in group:
            diff = {part: e["energy_pj"]["pf"][part] - e["energy_pj"]["red"][part]
                    for part in COMPONENTS}
            part = max(diff, key=lambda name: abs(diff[name]))
            parts.append(f"{e['name']} ({part}: PF {'+' if diff[part] >= 0 else '-'}"
                         f"{abs(diff[part]) / 1e6:.3g} uJ)")
        out.append(f"- *Energy, RED {verdict}* against PF on {len(group)} of {len(layers)} "
                   f"layers (PF/RED {span((e['red_vs_pf']['energy'] for e in group), ratio)}); "
                   "the component that differs most: " + "; ".join(parts) + ".")
    wasted = [e["events"]["wasted_group_steps"]["pf"] / e["events"]["group_activations"]["pf"]
              for e in layers if e["events"]["group_activations"]["pf"]]
    if wasted:
        out.append("- *Cropped work:* PF's results for the cropped border are "
                   + span(wasted, percent) + " of its driven group steps, each converted "
                   "by every active column and then dropped.")
    return out + [""]


def _tiles(tiles: dict) -> list[str]:
    rows = [[network, f"{t['pf_buffer_rows']}", f"{t['pf_buffer_bits']:,}",
             f"{t['red_bank_bits']:,}", f"{t['pf_adders']:,}", f"{t['red_adders']:,}",
             f"{t['adder_bits']}"] for network, t in tiles.items()]
    return ["Output side per tile, as generated (area follows with the synthesis of the "
            "buffer): PF's overlap-add buffer against RED's output banks, and their "
            "adders.", "",
            md_table(["tile", "PF rows held", "PF buffer bits", "RED bank bits",
                      "PF adders", "RED merge adders", "adder bits"], rows), ""]
