"""``red model``'s output: the analytical model of layers on a tile, computed into one
dict (what ``--json`` prints) and rendered from it as a text table.

Two views: :data:`ALL_MODES` compares the total cycles of every data flow with RED's
speed-ups; one mode lists that mode's event counts.
"""

from __future__ import annotations

from .config import LayerSpec, TileConfig
from .model import compare, estimate, speedups, sum_estimates
from .modes import MODES

__all__ = ["ALL_MODES", "compute", "render"]

#: The view comparing every mode.
ALL_MODES = "all"

#: Columns of the single-mode table: (header, Estimate field); ``steps`` has no total.
EVENT_COLUMNS = (
    ("passes", "passes"), ("steps", "steps"), ("cycles", "total_cycles"),
    ("group act.", "group_activations"), ("gated", "gated_group_steps"),
    ("wasted", "wasted_group_steps"), ("ADC conv.", "adc_conversions"),
    ("row drives", "row_drives"), ("input reads", "input_buffer_reads"),
    ("merge adds", "merge_additions"), ("psum reads", "psum_buffer_reads"),
    ("psum writes", "psum_buffer_writes"), ("psum adds", "psum_buffer_accumulations"),
)


def compute(layers: tuple[LayerSpec, ...], tile: TileConfig, mode: str,
            with_total: bool) -> dict:
    """The model of ``layers`` on ``tile`` in ``mode`` (or :data:`ALL_MODES`): one entry
    per layer under ``layers``, and their sum under ``total`` when ``with_total``."""
    modes = MODES if mode == ALL_MODES else (mode,)
    ratios = ("red_vs_zp", "red_vs_pf") if mode == ALL_MODES else ()
    results = [compare(layer, tile) if mode == ALL_MODES else {mode: estimate(layer, tile, mode)}
               for layer in layers]
    data = {"layers": [{"name": layer.name or "layer", "layer": layer.describe(),
                        **{m: result[m].as_dict() for m in modes},
                        **{key: result[key] for key in ratios}}
                       for layer, result in zip(layers, results)]}
    if with_total:
        totals = {m: sum_estimates(result[m] for result in results) for m in modes}
        if ratios:
            totals |= speedups({m: totals[m]["total_cycles"] for m in MODES})
        data["total"] = totals
    return data


def render(data: dict, mode: str) -> str:
    """``data`` (from :func:`compute`) as an aligned text table."""
    if mode == ALL_MODES:
        header = ["layer", "shape", "passes", *(f"{m.upper()} cycles" for m in MODES),
                  "RED vs ZP", "RED vs PF"]

        def cells(figures: dict) -> list[str]:
            return [str(figures["red"]["passes"]),
                    *(str(figures[m]["total_cycles"]) for m in MODES),
                    _speedup(figures["red_vs_zp"]), _speedup(figures["red_vs_pf"])]
    else:
        header = ["layer", "shape", *(title for title, _ in EVENT_COLUMNS)]

        def cells(figures: dict) -> list[str]:
            return [str(figures[mode].get(field, "")) for _, field in EVENT_COLUMNS]
    rows = [[entry["name"], _shape(LayerSpec(**entry["layer"])), *cells(entry)]
            for entry in data["layers"]]
    if "total" in data:
        rows.append(["total", "", *cells(data["total"])])
    return _table(header, rows)


def _shape(layer: LayerSpec) -> str:
    return (f"{layer.cin}->{layer.cout} {layer.h}x{layer.w}->{layer.ho}x{layer.wo} "
            f"k{layer.k} s{layer.s} p{layer.p} op{layer.op}")


def _speedup(ratio: float) -> str:
    return f"{ratio:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Align columns: the first two (name, shape) left, the numbers right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(cell.ljust(width) if i < 2 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]),
                      *map(line, rows)])
