"""Sections 3 to 5 of ``report.md``, the model part (:mod:`red.report.sweep`): the pass
schedule and its cost, the full-size figures per layer and network, and our ranges
beside the papers', each rendered from its part of ``report.json``."""

from __future__ import annotations

from red.energy import COMPONENTS
from red.modes import MODES

from .claims import CLAIMS
from .markdown import md_table, percent, ratio, span

__all__ = ["render_schedule", "render_figures", "render_papers"]

#: Energy components that scale with driven group steps.
_PER_STEP = ("adc", "dac", "array")


def _uj(picojoules: float) -> str:
    return f"{picojoules / 1e6:.3g}"


def _us(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e3:.3g}"


def render_schedule(model: dict, cost: dict) -> list[str]:
    """Section 3 from ``report.json``'s ``model`` and ``pass_cost``."""
    layers = model["layers"]
    out = ["## 3. The pass and fold schedule, and what it costs", "",
           "A layer larger than its tile runs in passes (`red.mapping`): cout slices of at "
           "most the tile's logical columns, within each cin slices of at most `rows` input "
           "channels, within each kernel folds (a `kernel x kernel` window of a larger "
           "kernel on the tile's groups). Every pass streams its cin slice of the whole "
           "input; all passes of a cout slice but the first add the previous pass's output "
           "in the tile. Passes = cin slices x cout slices x folds; load cycles program one "
           "crossbar row of every group per cycle at the digital port.", "",
           f"Reprogramming is not free in ReRAM: the weights of every pass are written into "
           f"the crossbars once per inference. Priced from the model with "
           f"{cost['reset_pulse_ns']:g} ns + {cost['set_pulse_ns']:g} ns per row (a RESET "
           f"and a SET pulse) and {cost['cell_write_pj']:g} pJ per written cell; source: "
           f"{cost['source']} Run time for comparison: total cycles x "
           f"{cost['array_read_ns']:g} ns (one bit plane per array read). A chip that keeps "
           "all weights resident needs one tile per pass and runs the passes at once: its "
           "cycles are the longest pass (first order; adding the partial sums across tiles "
           "is not counted).", ""]
    rows = []
    for e in layers:
        sched, rep, res = e["schedule"], e["reprogramming"], e["resident"]
        rows.append([
            e["name"], e["network"],
            f"{sched['passes']} = {sched['cin_tiles']} x {sched['cout_tiles']} x "
            f"{sched['folds']}",
            f"{e['modes']['red']['load_cycles']:,}", _us(rep["time_ns"]),
            percent(rep["time_vs_compute"]["red"]), percent(rep["time_vs_compute"]["zp"]),
            _uj(rep["energy_pj"]), percent(rep["energy_vs_compute"]["red"]),
            f"{res['tiles']:,}", f"{res['cycles']['red']:,}", f"{res['cycles']['zp']:,}",
            ratio(res["red_speedup"]["red_vs_zp"])])
    out += [md_table(["layer", "tile", "passes = cin x cout x folds", "load cycles",
                       "reprogram us", "vs RED run", "vs ZP run", "reprogram uJ",
                       "vs RED energy", "resident tiles", "resident RED cycles",
                       "resident ZP cycles", "resident RED/ZP"], rows), ""]
    out += ["Per network (resident: every layer's weights at once, the layers one after "
            "the other):", "",
            md_table(["network", "reprogram us", "reprogram uJ", "resident tiles",
                       "resident RED cycles", "one-tile RED cycles", "resident ZP cycles",
                       "one-tile ZP cycles"],
                      [[name, _us(net["reprogramming"]["time_ns"]),
                        _uj(net["reprogramming"]["energy_pj"]),
                        f"{net['resident']['tiles']:,}",
                        f"{net['resident']['cycles']['red']:,}", f"{net['cycles']['red']:,}",
                        f"{net['resident']['cycles']['zp']:,}", f"{net['cycles']['zp']:,}"]
                       for name, net in model["networks"].items()]), ""]
    multi = [e for e in layers if e["schedule"]["passes"] > 1]
    if multi:
        worst = max(multi, key=lambda e: e["reprogramming"]["time_vs_compute"]["red"])
        out += [
            f"{len(multi)} of {len(layers)} layers run in more than one pass. Reprogramming "
            "adds " + span((e["reprogramming"]["time_vs_compute"]["red"] for e in multi),
                            percent)
            + " to RED's run time and "
            + span((e["reprogramming"]["energy_vs_compute"]["red"] for e in multi), percent)
            + f" to its energy (most on {worst['name']}); against ZP's longer runs it adds "
            + span((e["reprogramming"]["time_vs_compute"]["zp"] for e in multi), percent)
            + ". With resident weights these layers need "
            + span((e["resident"]["tiles"] for e in multi), lambda v: f"{v:,}")
            + " tiles and run "
            + span((e["resident"]["speedup"]["red"] for e in multi), ratio)
            + " faster in RED mode than on one tile; RED's speed-up over ZP there is "
            + span((e["resident"]["red_speedup"]["red_vs_zp"] for e in multi), ratio)
            + ", against " + span((e["speedup"]["red_vs_zp"] for e in multi), ratio)
            + " on one tile.", ""]
    return out


def _model_rows(items: list[tuple[str, dict]]) -> list[list[str]]:
    return [[name,
             ", ".join(f"{mode.upper()} {'+'.join(_sources(entry, mode))}"
                       for mode in MODES),
             *(f"{entry['cycles'][mode]:,}" for mode in MODES),
             ratio(entry["speedup"]["red_vs_zp"]), ratio(entry["speedup"]["red_vs_pf"]),
             ratio(entry["compute_speedup"]["red_vs_zp"]),
             ratio(entry["compute_speedup"]["red_vs_pf"]),
             *(_uj(entry["energy_pj"][mode]["total"]) for mode in MODES),
             percent(entry["energy_reduction"]["red_vs_zp"]),
             percent(entry["energy_reduction"]["red_vs_pf"]),
             *(percent(entry["utilization"][mode]) for mode in MODES)]
            for name, entry in items]


def _sources(entry: dict, mode: str) -> list[str]:
    figure = entry["modes"][mode]
    return figure["sources"] if "sources" in figure else [figure["source"]]


_MODEL_HEADER = ["", "sources", "RED cycles", "ZP cycles", "PF cycles", "RED/ZP", "RED/PF",
                 "RED/ZP compute", "RED/PF compute", "RED uJ", "ZP uJ", "PF uJ",
                 "E saved vs ZP", "E saved vs PF", "RED util.", "ZP util.", "PF util."]


def render_figures(model: dict) -> list[str]:
    """Section 4 from ``report.json``'s ``model``."""
    out = ["## 4. Full-size layers", "",
           "Cycles are total cycles: compute plus fill, waits for input, output banks and "
           "port, and drain, counted by the RTL or given by the cycle-exact control model "
           "(`red.timing`), summed over the passes, in every mode. Speed-ups are ratios of total "
           "cycles ('compute': of compute cycles only). Energy in uJ; 'E saved' is "
           "`1 - E_RED / E_base`. Utilization is compute / total cycles.", "",
           "### Per layer", "",
           md_table(_MODEL_HEADER, _model_rows([(e["name"], e) for e in model["layers"]])),
           "", "### Per network", "",
           md_table(_MODEL_HEADER, _model_rows(list(model["networks"].items()))), "",
           "### Energy breakdown (uJ)", "",
           md_table(["network", "mode", *COMPONENTS, "total"],
                     [[name, mode.upper(),
                       *(_uj(net["energy_pj"][mode][c]) for c in (*COMPONENTS, "total"))]
                      for name, net in model["networks"].items() for mode in MODES]), "",
           "![speed-up per layer](speedup.png)", "", "![energy per mode](energy.png)", ""]
    return out


def render_papers(summary: dict, model: dict, tiles: dict) -> list[str]:
    """Section 5 from ``report.json``'s ``summary``, ``model`` and plan's ``tiles``."""
    ours_l = summary["ours"]["layers"]
    ours_n = summary["ours"]["networks"]
    date, tcad = CLAIMS["DATE 2019"], CLAIMS["TCAD 2020"]

    def span(values, fmt):
        return f"{fmt(values[0])} - {fmt(values[1])}"

    quantities = [  # (row, summary key, format, the paper's figure)
        ("RED vs ZP speed-up (total cycles)", "speedup_vs_zp", ratio,
         f"DATE: {span(date['speedup_vs_zp'], ratio)} vs zero insertion"),
        ("RED vs ZP speed-up (compute cycles)", "compute_speedup_vs_zp", ratio, ""),
        ("RED vs PF speed-up (total cycles)", "speedup_vs_pf", ratio,
         f"TCAD: {span(tcad['speedup'], ratio)} vs {tcad['baseline']}"),
        ("RED vs PF speed-up (compute cycles)", "compute_speedup_vs_pf", ratio, ""),
        ("RED vs ZP energy reduction", "energy_reduction_vs_zp", percent,
         f"DATE: {span(date['energy_reduction_vs_zp'], percent)} vs zero insertion"),
        ("RED vs ZP energy efficiency", "energy_efficiency_vs_zp", ratio,
         f"TCAD: {span(tcad['energy_efficiency'], ratio)} vs {tcad['baseline']}"),
        ("RED vs PF energy reduction", "energy_reduction_vs_pf", percent, ""),
    ]
    out = ["## 5. Beside the papers", "",
           md_table(["quantity", "ours, per layer", "ours, per network", "paper"],
                     [[row, span(ours_l[key], fmt), span(ours_n[key], fmt), paper]
                      for row, key, fmt, paper in quantities]), ""]
    return out + [_why(summary, model, tiles), ""]


def _share(energy: dict, components: tuple[str, ...]) -> float:
    """Fraction of ``energy["total"]`` in ``components``."""
    return sum(energy[c] for c in components) / energy["total"]


def _against(ours: list[float], theirs: tuple[float, float], fmt) -> str:
    """Where our range ``ours`` lies against the paper's ``theirs``, end by end."""
    def side(mine, paper):
        return "above" if mine > paper else "below" if mine < paper else "at"
    return (f"our lower end ({fmt(ours[0])}) is {side(ours[0], theirs[0])} the paper's "
            f"({fmt(theirs[0])}), our upper end ({fmt(ours[1])}) {side(ours[1], theirs[1])} "
            f"its ({fmt(theirs[1])})")


def _by_stride(layers: list[dict], value, fmt=ratio) -> str:
    """``value(layer)`` per stride: ``"<span> at s=<s>"``, strides ascending."""
    strides = sorted({e["layer"]["s"] for e in layers})
    return ", ".join(f"{span((value(e) for e in layers if e['layer']['s'] == s), fmt)} "
                     f"at s={s}" for s in strides)


def _why(summary: dict, model: dict, tiles: dict) -> str:
    """Why our figures land where they do, every figure taken from the report's data."""
    layers, networks = model["layers"], model["networks"]
    ours = summary["ours"]["layers"]
    date = CLAIMS["DATE 2019"]
    lines = [
        "Why our figures land where they do:", "",
        "- *Same arrays, one weight copy.* ZP is zero insertion on the very same tile "
        "(same crossbar groups and ADCs, one step per output pixel, every group driven "
        "and converted, inserted zeros included); RED takes one step per output block of "
        "`s x s` pixels. The compute-cycle ratio RED/ZP is therefore about `s^2`: "
        + _by_stride(layers, lambda e: e["compute_speedup"]["red_vs_zp"]) + ".",
    ]
    low = min(layers, key=lambda e: e["utilization"]["red"])
    tile, s = tiles[low["network"]], low["layer"]["s"]
    port = min(tile["out_pixels"], s)
    binds = s * s > tile["in_bits"] * port
    below = all(e["speedup"]["red_vs_zp"] < e["compute_speedup"]["red_vs_zp"] for e in layers)
    lines.append(
        "- *Output port and pipeline.* RED's utilization (compute / total cycles) is "
        + span((e["utilization"]["red"] for e in layers), percent)
        + f", lowest on {low['name']} (s={s}, tile {low['network']}, "
        f"{low['schedule']['passes']} passes), where the output port "
        + ("binds" if binds else "does not bind")
        + f": a RED step yields `s^2 = {s * s}` pixels every `in_bits = {tile['in_bits']}` "
        f"cycles and the port takes `min(out_pixels, s) = {port}` per cycle"
        + ("" if binds else "; the rest is fill and drain of the passes") + ". The "
        "total-cycle speed-ups RED/ZP, " + _by_stride(layers, lambda e: e["speedup"]["red_vs_zp"])
        + (", stay below the compute ratios." if below else "."))
    zp_share = span((_share(net["energy_pj"]["zp"], _PER_STEP) for net in networks.values()),
                     percent)
    red_share = span((_share(net["energy_pj"]["red"], _PER_STEP)
                       for net in networks.values()), percent)
    lines.append(
        "- *Energy vs ZP.* Events that scale with driven group steps (ADC conversions, "
        f"DAC row drives, array reads) are {zp_share} of ZP's energy and {red_share} of "
        "RED's (per network), so the saving follows the fraction of ZP's group steps spent "
        "on inserted zeros and padding, about `1 - 1/s^2`: "
        + _by_stride(layers, lambda e: e["energy_reduction"]["red_vs_zp"], percent)
        + ". Against DATE's zero-insertion accelerator, "
        + _against(ours["energy_reduction_vs_zp"], date["energy_reduction_vs_zp"], percent)
        + ". `red.energy` prices only events that scale with the data flow (weight "
        "programming, shift-add logic, control, leakage and off-chip traffic are left out, "
        "section 3 prices reprogramming separately); a baseline with a large share of "
        "energy that does not scale with group steps saves less. The reference material "
        "does not say which costs the paper's baseline includes.")
    pf_total = [e for e in layers if e["speedup"]["red_vs_pf"] < 1]
    pf_line = (
        "- *PF* (padding-free, on the same arrays with an overlap-add buffer; section 5b) "
        "takes one step per input pixel and drives every group on it; there are about as "
        "many input pixels as RED's output blocks, so the compute ratios RED/PF are "
        + span((e["compute_speedup"]["red_vs_pf"] for e in layers), ratio) + ".")
    if pf_total:
        pf_line += (
            " RED/PF in total cycles is below 1x on " + ", ".join(e["name"] for e in pf_total)
            + " (" + span((e["speedup"]["red_vs_pf"] for e in pf_total), ratio) + ").")
    saved = [e["energy_reduction"]["red_vs_pf"] for e in layers]
    pf_line += (" In energy PF pays for the partial-sum buffer (a read and a write per "
                "overlap-add) and for cropped-away outputs; RED re-reads each input pixel, "
                "all its channels, once per block that uses it: 'E saved vs PF' is "
                + span(saved, percent) + " per layer"
                + (" (negative: RED uses more, on " + ", ".join(
                    e["name"] for e in layers if e["energy_reduction"]["red_vs_pf"] < 0)
                   + ")" if min(saved) < 0 else "") + ".")
    lines.append(pf_line)
    return "\n".join(lines)
