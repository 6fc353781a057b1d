"""``report.md``: the report's data as tables and sentences.

This module is the frame: the title and verdict, section 1 (the tiles, and where each
figure comes from), the energy table and the problems. Every other section is rendered by
its own module from its own part of ``report.json``, so ``report.md`` is a function of
``report.json`` alone. Every number and every comparison in the text is computed from
that data; nothing is written in by hand.
"""

from __future__ import annotations

from red.modes import MODES

from .area import render as render_area
from .comprrae_render import early_checks, render_comprrae
from .markdown import md_table
from .model_render import render_figures, render_papers, render_schedule
from .network import render as render_networks
from .pf import render as render_pf
from .plan import QUICK
from .rtl import render as render_rtl
from .sparse_render import render_sparsity
from .waveform import render as render_timing

__all__ = ["render_markdown"]

#: Tile fields shown in the tile table (the generation parameters).
_TILE_FIELDS = ("rows", "cols", "cell_bits", "w_bits", "in_bits", "adc_bits", "kernel",
                "max_stride", "max_in", "max_cin", "max_k", "out_pixels", "red_mode",
                "zp_mode", "pf_mode")


def _verdict(report: dict) -> str:
    checked = [e for e in report["rtl"]["runs"] if e["source"] == "rtl"]
    if report["problems"]:
        return f"**{len(report['problems'])} problem(s)**, listed at the end."
    early = early_checks(report["comprrae"]) if report["comprrae"] else []
    return (f"**all {len(checked)} RTL runs"
            + (f" and the {len(early)} CompRRAE runs (section 6)" if early else "")
            + " equal the golden model and the analytical model** (output, cycles, "
            "events).")


def render_markdown(report: dict) -> str:
    """``report.md`` from the report's data."""
    out = ["# RED vs zero insertion (ZP) and padding-free (PF): GAN and FCN layers", "",
           f"`{report['command']} --sim {report['rtl']['sim']}`; {report['seconds']:.0f} s. "
           f"Verdict: {_verdict(report)}", ""]
    out += _tiles_and_sources(report)
    out += render_rtl(report["rtl"])
    out += render_schedule(report["model"], report["pass_cost"])
    out += render_figures(report["model"])
    out += render_papers(report["summary"], report["model"], report["plan"]["tiles"])
    out += render_pf(report["pf"])
    if report["comprrae"]:
        out += render_comprrae(report["comprrae"])
    if report["sparsity"]:
        out += render_sparsity(report["sparsity"])
    if report["area"]:
        out += render_area(report["area"])
    if report["timing"]:
        out += render_timing(report["timing"])
    if report.get("networks"):
        out += render_networks(report["networks"])
    out += ["## Energy per event", "",
            md_table(["event", "pJ", "source"],
                      [[name, f"{entry['pJ']:g}", entry["source"]]
                       for name, entry in report["energy_table"].items()]), "",
            "Rules: `red.energy` (ADC conversions, DAC row drives, crossbar steps = one bit "
            "plane on one array, buffered values = pixels x channels of the pass, "
            "merge and partial-sum additions).", ""]
    if report["problems"]:
        out += ["## Problems", ""] + [f"- {problem}" for problem in report["problems"]]
        out += [""]
    return "\n".join(out)


def _tiles_and_sources(report: dict) -> list[str]:
    plan, model = report["plan"], report["model"]
    out = ["## 1. Tiles, and where each figure comes from", "",
           "One tile per network, all with the paper's crossbar parameters; layers larger "
           "than their tile run in passes (section 3)"
           + (f", and `{QUICK}` is the small tile of `--quick`" if QUICK in plan["tiles"]
              else "") + ":", "",
           md_table(["tile", *_TILE_FIELDS],
                     [[key, *(tile[field] for field in _TILE_FIELDS)]
                      for key, tile in plan["tiles"].items()]), ""]
    out += ["Source of each full-size figure (sections 3 to 5), per layer and mode: `rtl` = "
            "the RTL's hardware counters (summed over the passes), `model` = the analytical "
            "model.", "",
            md_table(["layer", "tile", *(mode.upper() for mode in MODES)],
                      [[entry["name"], entry["network"],
                        *(entry["modes"][mode]["source"] for mode in MODES)]
                       for entry in model["layers"]]), ""]
    left = [entry for entry in report["rtl"]["runs"] if entry["source"] == "model"]
    if left:
        out += ["Runs left to the model:", ""]
        out += [f"- {entry['name']} {entry['mode'].upper()}: {entry['reason']}"
                for entry in left]
        out += [""]
    return out
