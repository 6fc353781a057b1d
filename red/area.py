"""Area of a tile: the sourced tables and the assembly of ``area.json``.

This is the hardware-free half of ``red area`` (:mod:`red.gen.area` runs the synthesis).
It holds what synthesis cannot tell:

* :data:`LIBERTIES` -- the process node of each liberty file we know;
* :data:`SRAM_BIT_UM2` -- the area of one SRAM bit at a node, with its source: memories
  (line buffer, output banks, FIFOs) are priced as SRAM, not as the flip-flops a
  synthesis without a memory compiler would make of them;
* :data:`ISAAC_IMA` -- ISAAC's per-component areas of the crossbar macro (arrays, DACs,
  sample-and-hold, ADCs), scaled to the tile's macro and to the liberty's node;
* :data:`COMPONENTS` -- which named part of the tile a synthesised module belongs to;

and turns per-module synthesis figures into ``area.json``: totals, ``liberty`` and
``components``, each component with the same figures, components summing to the totals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import TileConfig

__all__ = ["LIBERTIES", "SRAM_BIT_UM2", "ISAAC_IMA", "COMPONENTS", "OTHER", "MACRO_COMPONENT",
           "FIGURES", "LibertyCell", "parse_liberty", "component_of", "macro_area",
           "sram_um2_per_bit", "ModuleFigures", "assemble", "format_table"]

#: Liberty file name -> (library, process node in nm). The node prices the memories and
#: scales the macro; a liberty file not listed here is refused (no node, no price).
LIBERTIES = {
    # Oklahoma State University's standard cells for TSMC 0.18 um (MOSIS SCMOS_SUBM
    # rules), as shipped by Debian's qflow-tech-osu018. Areas in the file are um^2.
    "osu018_stdcells.lib": ("OSU 0.18 um standard cells (osu018_stdcells)", 180),
}

#: Area of one SRAM bit in um^2 by node (nm), with its source. A bit costs its 6T cell
#: plus the array's share of decoders, sense amplifiers and write drivers: the cell area
#: divided by the array efficiency.
SRAM_BIT_UM2 = {
    180: {
        "cell_um2": 5.59,
        "array_efficiency": 0.7,
        "source": "6T SRAM cell of 5.59 um^2 in Intel's 180 nm logic process (S. Yang et "
                  "al., 'A high performance 180 nm generation logic technology', IEDM "
                  "1998); array efficiency 0.7 (cells / macro area, typical of CACTI's "
                  "SRAM arrays) -- an assumption, not a measured macro",
    },
}

#: ISAAC's in-situ multiply-accumulate unit (ISAAC, Shafiee et al., ISCA 2016, Table I;
#: shared/RED_TILE.md): 8 arrays of 128x128 2-bit cells at 32 nm. Each entry: total mm^2
#: over the IMA and how many units that total is for.
ISAAC_IMA = {
    "node_nm": 32,
    "source": "ISAAC (Shafiee et al., ISCA 2016) Table I, per IMA of 8 arrays of 128x128 "
              "2-bit cells at 32 nm: ADCs 8 x 8-bit, 0.0096 mm^2; DACs 1024 x 1-bit, "
              "0.00017 mm^2; sample-and-hold 1024, 0.00004 mm^2; arrays 8, 0.0002 mm^2",
    "adc": {"mm2": 0.0096, "units": 8, "bits": 8, "columns_per_adc": 128},
    "dac": {"mm2": 0.00017, "units": 1024},
    "sample_hold": {"mm2": 0.00004, "units": 1024},
    "array": {"mm2": 0.0002, "units": 8, "cells": 128 * 128},
}

#: Named parts of the tile: (component, pattern searched in the synthesised module's
#: name). The first match wins, so the more specific patterns come first; a module no
#: pattern matches goes to :data:`OTHER`, so a renamed module still counts in the sums.
#: Attribution is by module: logic that the RTL builds inside another module's body
#: counts there (today the MVM unit's early-termination bounds are in ``red_mvm``'s body,
#: so "group control"; only the decision unit ``red_tile.early`` is "early
#: termination" -- a ``bounds`` submodule would be picked up by its pattern).
COMPONENTS = (
    ("shift-add", r"shift_add"),
    ("offset correction", r"channel_sum|offset"),
    ("early termination", r"early|bound|decision"),
    ("counters", r"counter"),
    ("input buffer", r"buffer$|window|line"),
    ("merge", r"merge|bank|psum|overlap|pf_"),
    ("group control", r"^red_mvm(\.crossbar)?$"),
    ("control", r"^red_tile$|sequencer|geometry|fifo|control|layer"),
)
#: The component of modules that no pattern of :data:`COMPONENTS` names.
OTHER = "other"
#: The component holding the crossbar macros (arrays, DACs, S&H, ADCs).
MACRO_COMPONENT = "crossbar macro"

#: The figures of every component and of the totals.
FIGURES = ("total_um2", "logic_um2", "memory_bits", "memory_um2", "macro_um2",
           "transistors", "flip_flops")


@dataclass(frozen=True)
class LibertyCell:
    """One cell of a liberty file: its area (um^2) and whether it is a flip-flop."""

    area: float
    flip_flop: bool


def parse_liberty(text: str) -> dict[str, LibertyCell]:
    """The cells of a liberty file: name -> :class:`LibertyCell`.

    Only what the area needs is read: each ``cell (NAME) { ... }`` group's ``area`` and
    whether it holds an ``ff`` group. Braces are counted to find a cell's end, since
    its pins and timing tables nest groups.
    """
    cells = {}
    for match in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{", text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = text[match.end():end]
        area = re.search(r"\barea\s*:\s*([0-9.eE+-]+)", body)
        if area is None:
            continue
        cells[match.group(1)] = LibertyCell(float(area.group(1)),
                                            re.search(r"\bff\s*\(", body) is not None)
    return cells


def component_of(module: str) -> str:
    """The named part of the tile that the synthesised ``module`` belongs to."""
    name = module.lstrip("\\")
    for component, pattern in COMPONENTS:
        if re.search(pattern, name):
            return component
    return OTHER


def sram_um2_per_bit(node_nm: int) -> float:
    """Area of one SRAM bit at ``node_nm`` (:data:`SRAM_BIT_UM2`)."""
    entry = SRAM_BIT_UM2[node_nm]
    return entry["cell_um2"] / entry["array_efficiency"]


def macro_area(config: TileConfig, node_nm: int) -> dict:
    """Area of one crossbar macro of ``config`` at ``node_nm`` from ISAAC's table.

    First-order scaling, each stated in the result: cells and DACs per unit; the ADC
    area per converted column at ISAAC's rate (one 8-bit ADC serves 128 columns in one
    array read), times ``2^(adc_bits - 8)`` (a SAR ADC's capacitor array doubles per
    bit); sample-and-hold per column; all times ``(node_nm / 32)^2`` for the node.
    """
    isaac = ISAAC_IMA
    scale = (node_nm / isaac["node_nm"]) ** 2
    adc = isaac["adc"]
    parts_mm2 = {
        "array": isaac["array"]["mm2"] / (isaac["array"]["units"] * isaac["array"]["cells"])
        * config.rows * config.cols,
        "dac": isaac["dac"]["mm2"] / isaac["dac"]["units"] * config.rows,
        "sample_hold": isaac["sample_hold"]["mm2"] / isaac["sample_hold"]["units"]
        * config.cols,
        "adc": adc["mm2"] / adc["units"] * config.cols / adc["columns_per_adc"]
        * 2.0 ** (config.adc_bits - adc["bits"]),
    }
    parts = {name: mm2 * 1e6 * scale for name, mm2 in parts_mm2.items()}
    return {"um2": sum(parts.values()), "parts_um2": parts, "node_scale": scale,
            "scaling": "per unit from ISAAC; ADC per column x 2^(adc_bits-8); "
                       f"x ({node_nm}/{isaac['node_nm']})^2 for the node",
            "source": isaac["source"]}


@dataclass(frozen=True)
class ModuleFigures:
    """What synthesis found in one module, its submodules not included.

    ``cells`` maps cell type to count: liberty cells, ``$mem_v2`` memories, and
    instances of other modules or of the macro. ``memories`` lists each memory as
    ``{"name", "width", "depth", "bits"}``.
    """

    cells: dict
    transistors: int
    memories: tuple = ()


def _multiplicities(modules: dict, top: str) -> dict[str, int]:
    """How many times each module reachable from ``top`` occurs: instance counts
    multiplied down the hierarchy, summed over every path."""
    order = [top]
    for name in order:
        order += [child for child in modules[name].cells
                  if child in modules and child not in order]
    parents: dict[str, list] = {name: [] for name in order}
    for name in order:
        for child, n in modules[name].cells.items():
            if child in parents:
                parents[child].append((name, n))
    counts: dict[str, int] = {}

    def count(name: str) -> int:
        if name not in counts:
            counts[name] = 1 if name == top else sum(count(p) * n for p, n in parents[name])
        return counts[name]

    return {name: count(name) for name in order}


def _own_figures(figures: ModuleFigures, library: dict, macro: str, um2_per_bit: float,
                 macro_um2: float, submodules) -> dict:
    """One instance's figures of a module, its submodules left out; ValueError when it
    holds a cell that is neither a liberty cell, a memory, a submodule nor the macro."""
    def is_macro(cell_type: str) -> bool:      # also a parameterised copy of it
        return cell_type == macro or (cell_type.startswith("$paramod") and macro in cell_type)

    known = {"$mem_v2", *submodules}
    logic = sum(library[t].area * n for t, n in figures.cells.items() if t in library)
    unknown = sorted(t for t in figures.cells
                     if t not in library and t not in known and not is_macro(t))
    if unknown:
        raise ValueError(f"a module kept cells no liberty cell prices: {', '.join(unknown)}")
    bits = sum(m["bits"] for m in figures.memories)
    macros = sum(n for t, n in figures.cells.items() if is_macro(t))
    return {
        "logic_um2": logic, "memory_bits": bits, "memory_um2": bits * um2_per_bit,
        "macro_um2": macros * macro_um2, "transistors": figures.transistors,
        "flip_flops": sum(n for t, n in figures.cells.items()
                          if t in library and library[t].flip_flop),
        "macros": macros,
    }


def assemble(modules: dict, top: str, config: TileConfig, library: dict, liberty: dict,
             macro: str) -> dict:
    """``area.json``'s content from per-module synthesis figures.

    Parameters
    ----------
    modules : dict
        Synthesised module name -> :class:`ModuleFigures`; cells that name another
        module of ``modules`` are its instances.
    top : str
        The top module.
    config : TileConfig
        The tile (sizes the macro).
    library : dict
        :func:`parse_liberty` of the liberty file.
    liberty : dict
        ``{"file", "library", "node_nm", ...}`` describing the liberty file.
    macro : str
        The macro's module name (a black box: its instances are priced from
        :func:`macro_area`, never synthesised).

    Returns
    -------
    dict
        Totals (:data:`FIGURES`), ``liberty``, ``memory``, ``macro``, ``components`` and
        ``modules``; every figure of the totals is the sum over the components.
    """
    node = liberty["node_nm"]
    per_bit = sram_um2_per_bit(node)
    one_macro = macro_area(config, node)
    counts = _multiplicities(modules, top)
    components: dict[str, dict] = {}
    rows, memories = {}, []
    for name in sorted(counts):
        own = _own_figures(modules[name], library, macro, per_bit, one_macro["um2"],
                           modules)
        n = counts[name]
        component = component_of(name)
        rows[name] = {"instances": n, "component": component,
                      **{k: own[k] for k in ("logic_um2", "memory_bits", "transistors",
                                             "flip_flops")}}
        memories += [{**m, "module": name, "instances": n, "component": component}
                     for m in modules[name].memories]
        _add(components, component, own, n)
        if own["macros"]:
            _add(components, MACRO_COMPONENT, own, n, macro_only=True)
    totals = {figure: sum(c[figure] for c in components.values()) for figure in FIGURES}
    macros = sum(c.get("macros", 0) for c in components.values())
    for c in components.values():
        c.pop("macros", None)
    return {
        **totals,
        "liberty": liberty,
        "memory": {"um2_per_bit": per_bit, **SRAM_BIT_UM2[node], "memories": memories},
        "macro": {"module": macro, "instances": macros, "um2_each": one_macro["um2"],
                  **{k: v for k, v in one_macro.items() if k != "um2"}},
        "components": dict(sorted(components.items())),
        "modules": rows,
    }


def _add(components: dict, component: str, own: dict, n: int, macro_only=False) -> None:
    """Add ``n`` instances of a module's own figures to ``component``: its logic and
    memories, or (``macro_only``) only its macros, which are a component of their own."""
    entry = components.setdefault(component, {f: 0 for f in FIGURES} | {"macros": 0})
    if macro_only:
        entry["macro_um2"] += own["macro_um2"] * n
        entry["total_um2"] += own["macro_um2"] * n
        entry["macros"] += own["macros"] * n
        return
    for figure in ("logic_um2", "memory_bits", "memory_um2", "transistors", "flip_flops"):
        entry[figure] += own[figure] * n
    entry["total_um2"] += (own["logic_um2"] + own["memory_um2"]) * n


def format_table(area: dict) -> str:
    """``area.json`` as a table: one row per component, then the totals."""
    header = ["component", "total um2", "logic um2", "memory bits", "memory um2",
              "macro um2", "transistors", "flip-flops"]
    rows = [[name] + _cells(figures) for name, figures in area["components"].items()]
    rows.append(["total"] + _cells(area))
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                       for i, (v, w) in enumerate(zip(r, widths))) for r in [header] + rows]
    lib = area["liberty"]
    lines.append(f"logic: {lib['library']} ({lib['file']}, {lib['node_nm']} nm); memories "
                 f"at {area['memory']['um2_per_bit']:.2f} um2/bit; macro: "
                 f"{area['macro']['instances']} x {area['macro']['um2_each']:.0f} um2 "
                 f"(ISAAC, scaled to {lib['node_nm']} nm)")
    return "\n".join(lines)


def _cells(figures: dict) -> list[str]:
    return [f"{figures[f]:.0f}" if isinstance(figures[f], float) else str(figures[f])
            for f in FIGURES]

