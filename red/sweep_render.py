"""``red sweep``'s results: ``sweep.json``, ``sweep.csv``, ``pareto.png`` and ``sweep.md``,
computed from the points (:func:`red.sweep.run_sweep`).

A *design* is one (tile, mode); per network (workload) its cycles and energy are the sums
over the network's layers, and the designs no other design beats in both are its Pareto
front. A design with an invalid point in the network has no total. Each of ``[layers]
shapes`` is a network of its own. ``pareto.png`` draws the first :data:`PLOTTED`, the
points coloured by the tile's area when the sweep synthesised it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .sweep import pareto_front, write_atomically
from .sweep_spec import SHAPES

__all__ = ["FILES", "CSV_COLUMNS", "network_designs", "write_results"]

#: The result files, by role.
FILES = {"json": "sweep.json", "csv": "sweep.csv", "plot": "pareto.png", "markdown": "sweep.md"}

#: Networks drawn in ``pareto.png``.
PLOTTED = 8

#: The columns of ``sweep.csv``.
CSV_COLUMNS = ("key", "workload", "layer", "mode", "tile", "valid", "total_cycles",
               "energy_pj", "area_mm2", "source", "match", "reason")


def _tile_text(tile: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in tile.items())


def _layer_text(layer: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in layer.items() if k != "name")


def network_designs(points: list[dict]) -> dict[str, list[dict]]:
    """Per workload, each design's totals and whether it is on the Pareto front."""
    designs: dict[str, dict[tuple, dict]] = {}
    for p in points:
        network = _layer_text(p["layer"]) if p["workload"] == SHAPES else p["workload"]
        design = designs.setdefault(network, {}).setdefault(
            (_tile_text(p["tile"]), p["mode"]),
            {"tile": p["tile"], "mode": p["mode"], "total_cycles": 0, "energy_pj": 0.0,
             "area_mm2": p.get("area_mm2"), "valid": True, "layers": 0})
        design["layers"] += 1
        if not p["valid"]:
            design["valid"] = False
            continue
        design["total_cycles"] += p["total_cycles"]
        design["energy_pj"] += p["energy_pj"]
    out = {}
    for workload, by_design in designs.items():
        valid = [d for d in by_design.values() if d["valid"]]
        front = pareto_front([(d["total_cycles"], d["energy_pj"]) for d in valid])
        for design, on in zip(valid, front):
            design["pareto"] = on
        out[workload] = list(by_design.values())
    return out


def _csv(points: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in points:
        writer.writerow([p["key"], p["workload"], _layer_text(p["layer"]), p["mode"],
                         _tile_text(p["tile"]), p["valid"], p.get("total_cycles", ""),
                         p.get("energy_pj", ""), p.get("area_mm2", ""), p["source"],
                         p.get("match", ""),
                         p.get("reason", p.get("rtl_skipped", ""))])
    return buffer.getvalue()


def _plot(designs: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = dict(list(designs.items())[:PLOTTED])
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(5 * max(1, len(shown)), 4.2),
                             squeeze=False)
    for ax, (workload, entries) in zip(axes[0], shown.items()):
        for mode, marker in (("red", "o"), ("zp", "s"), ("pf", "^")):
            chosen = [d for d in entries if d["valid"] and d["mode"] == mode]
            if not chosen:
                continue
            areas = [d["area_mm2"] for d in chosen]
            colour = ({"c": areas, "cmap": "viridis"} if None not in areas else {})
            ax.scatter([d["total_cycles"] for d in chosen], [d["energy_pj"] / 1e6 for d in chosen],
                       marker=marker, label=mode.upper(), alpha=0.7, **colour)
        front = sorted((d["total_cycles"], d["energy_pj"] / 1e6) for d in entries
                       if d["valid"] and d["pareto"])
        if front:
            ax.plot(*zip(*front), "k--", lw=1, label="Pareto front")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(workload, fontsize=9)
        ax.set_xlabel("cycles")
        ax.set_ylabel("energy (uJ)")
        if any(d["valid"] for d in entries):
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(points: list[dict], designs: dict[str, list[dict]], computed: dict) -> str:
    invalid = [p for p in points if not p["valid"]]
    rtl = [p for p in points if p["source"] == "rtl"]
    lines = ["# red sweep", "",
             f"{len(points)} points ({len(invalid)} invalid), {len(rtl)} verified on the RTL "
             f"({sum(bool(p['match']) and p['equals_model'] for p in rtl)} bit-exact and "
             f"equal to the model). This run computed {computed['points']} model point(s), "
             f"{computed['rtl']} RTL run(s) and {computed['area']} synthesis(es); the rest "
             "were in the folder.", ""]
    for workload, entries in designs.items():
        valid = [d for d in entries if d["valid"]]
        if not valid:
            lines += [f"**{workload}**: no design runs every layer.", ""]
            continue
        fastest = min(valid, key=lambda d: d["total_cycles"])
        leanest = min(valid, key=lambda d: d["energy_pj"])
        front = [d for d in valid if d["pareto"]]
        lines += [f"**{workload}** ({len(valid)} designs): fewest cycles "
                  f"{fastest['total_cycles']:,} ({fastest['mode'].upper()}, "
                  f"{_tile_text(fastest['tile'])}); least energy "
                  f"{leanest['energy_pj'] / 1e6:.3f} uJ ({leanest['mode'].upper()}, "
                  f"{_tile_text(leanest['tile'])}); {len(front)} design(s) on the Pareto "
                  f"front, {sum(d['mode'] == 'red' for d in front)} of them RED."]
        priced = [d for d in valid if d["area_mm2"] is not None]
        if priced:
            best = min(priced, key=lambda d: d["total_cycles"] * d["area_mm2"])
            lines[-1] += (f" Fewest cycles x area: {best['mode'].upper()} on "
                          f"{_tile_text(best['tile'])} ({best['area_mm2']:.2f} mm2).")
        lines.append("")
    if invalid:
        reasons = sorted({p["reason"] for p in invalid})
        lines += ["Invalid points, by reason:", ""] + [f"- {r}" for r in reasons[:20]] + [""]
    return "\n".join(lines)


def write_results(out: Path, spec_path: str, points: list[dict], computed: dict) -> None:
    """Write every result file into ``out``, each atomically."""
    designs = network_designs(points)
    write_atomically(out / FILES["json"], json.dumps(
        {"spec": str(spec_path), "points": points, "designs": designs,
         "computed": computed, "files": FILES}, indent=1) + "\n")
    write_atomically(out / FILES["csv"], _csv(points))
    write_atomically(out / FILES["markdown"], _markdown(points, designs, computed) + "\n")
    scratch = out / f".{FILES['plot']}.tmp.png"
    _plot(designs, scratch)
    scratch.replace(out / FILES["plot"])
