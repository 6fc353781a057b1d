"""``report.md``: the report's data as tables and sentences.

Every number and every comparison in the text is computed here from the report's data
(``report.json``); nothing is written in by hand.
"""

from __future__ import annotations

from red.counters import CYCLE_COUNTERS
from red.energy import COMPONENTS
from red.modes import MODES, RTL_MODES

from .area import render as render_area
from .network import render as render_networks
from .waveform import render as render_timing
from .claims import CLAIMS
from .comprrae_render import early_checks, render_comprrae
from .markdown import layer_shape, md_table, percent, ratio, span
from .plan import QUICK
from .sparse_render import render_sparsity

__all__ = ["render_markdown"]

#: Tile fields shown in the tile table (the generation parameters).
_TILE_FIELDS = ("rows", "cols", "cell_bits", "w_bits", "in_bits", "adc_bits", "kernel",
                "max_stride", "max_in", "max_cin", "max_k", "out_pixels")

#: Energy components that scale with driven group steps.
_PER_STEP = ("adc", "dac", "array")



def _uj(picojoules: float) -> str:
    return f"{picojoules / 1e6:.3g}"


def _us(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e3:.3g}"



def _cycles(figures: dict) -> str:
    return " / ".join(f"{figures[name]:,}" for name in CYCLE_COUNTERS)


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
    out += _rtl_section(report)
    out += _schedule_section(report)
    out += _figures_section(report)
    out += _papers_section(report)
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
            "model. PF has no RTL.", "",
            md_table(["layer", "tile", *(mode.upper() for mode in MODES)],
                      [[entry["name"], entry["network"],
                        *(entry["modes"][mode]["source"] for mode in MODES)]
                       for entry in model["layers"]]), ""]
    left = [entry for entry in report["rtl"]["runs"] if entry["source"] == "model"]
    if left:
        out += ["RED and ZP runs left to the model:", ""]
        out += [f"- {entry['name']} {entry['mode'].upper()}: {entry['reason']}"
                for entry in left]
        out += [""]
    return out


def _rtl_section(report: dict) -> list[str]:
    rtl = report["rtl"]
    runs = [entry for entry in rtl["runs"] if entry["source"] == "rtl"]
    out = ["## 2. RTL == golden == model", ""]
    if not runs:
        return out + ["No run is simulated in this variant.", ""]
    out += [f"{rtl['sim']}, no stalls, seed {rtl['seed']}; one simulation per tile. Each run "
            "executes the layer's whole pass schedule; its output must equal the golden "
            "contract model, its cycles (" + ", ".join(CYCLE_COUNTERS) + ") and passes "
            "the model's, and so must every event counter the model mirrors ("
            + ", ".join(rtl["mirrored_events"]) + "). The energy column prices the RTL's "
            "counters and the model's fields with the same table.", ""]
    for key, error in rtl["errors"].items():
        out += [f"**Simulation of tile {key} failed:** {error}", ""]
    rows = []
    for entry in runs:
        simulated = layer_shape(entry["scaled"]) if entry["scaled"] else "full size"
        if "error" in entry:
            rows.append([entry["name"], layer_shape(entry["full_size"]), simulated,
                         entry["mode"].upper(), entry["tile"], "", "", "", "**FAILED**",
                         "", "", ""])
            continue
        rows.append([
            entry["name"], layer_shape(entry["full_size"]), simulated, entry["mode"].upper(),
            entry["tile"], f"{entry['passes']['rtl']} / {entry['passes']['model']}",
            _cycles(entry["rtl"]), _cycles(entry["model"]),
            "yes" if entry["golden_match"] else "**NO**",
            "equal" if entry["cycles_equal"] else "**DIFFER**",
            "equal" if entry["events_equal"] else "**DIFFER**",
            f"{entry['energy_pj']['rtl_counters']:.4g} / {entry['energy_pj']['model']:.4g}"])
    out += [md_table(["layer", "full size", "simulated", "mode", "tile",
                       "passes RTL / model", "RTL total / compute / load",
                       "model total / compute / load", "RTL == golden", "cycles", "events",
                       "energy pJ RTL / model"], rows), ""]
    rates = []
    for key, seconds in rtl["seconds"].items():
        cycles = sum(e["rtl"]["total_cycles"] + e["rtl"]["load_cycles"] for e in runs
                     if e["tile"] == key and "rtl" in e)
        if cycles and seconds:
            rates.append(f"{key}: {cycles:,} cycles in {seconds:.0f} s "
                         f"({cycles / seconds:,.0f} cycles/s, build and golden included)")
    if rates:
        out += ["Simulated: " + "; ".join(rates) + ".", ""]
    return out


def _schedule_section(report: dict) -> list[str]:
    model, cost = report["model"], report["pass_cost"]
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
             *(percent(entry["utilization"][mode]) for mode in RTL_MODES)]
            for name, entry in items]


def _sources(entry: dict, mode: str) -> list[str]:
    figure = entry["modes"][mode]
    return figure["sources"] if "sources" in figure else [figure["source"]]


_MODEL_HEADER = ["", "sources", "RED cycles", "ZP cycles", "PF cycles", "RED/ZP", "RED/PF",
                 "RED/ZP compute", "RED/PF compute", "RED uJ", "ZP uJ", "PF uJ",
                 "E saved vs ZP", "E saved vs PF", "RED util.", "ZP util."]


def _figures_section(report: dict) -> list[str]:
    model = report["model"]
    out = ["## 4. Full-size layers", "",
           "Cycles are total cycles: compute plus fill, waits for input, output banks and "
           "port, and drain, counted by the RTL or given by the cycle-exact control model "
           "(`red.timing`), summed over the passes; PF has no RTL and its total is its "
           "compute cycles (first order, no output port). Speed-ups are ratios of total "
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


def _papers_section(report: dict) -> list[str]:
    ours_l = report["summary"]["ours"]["layers"]
    ours_n = report["summary"]["ours"]["networks"]
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
    return out + [_why(report), ""]


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


def _why(report: dict) -> str:
    """Why our figures land where they do, every figure taken from ``report``."""
    layers, networks = report["model"]["layers"], report["model"]["networks"]
    tiles = report["plan"]["tiles"]
    ours = report["summary"]["ours"]["layers"]
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
        "- *PF* (padding-free; no RTL, first order) takes one step per input pixel and "
        "drives every group on it; there are about as many input pixels as RED's output "
        "blocks, so the compute ratios RED/PF are "
        + span((e["compute_speedup"]["red_vs_pf"] for e in layers), ratio) + ".")
    if pf_total:
        pf_line += (
            " PF's totals count compute cycles only (no fill, drain or output port), so "
            "RED/PF in total cycles is below 1x on " + ", ".join(e["name"] for e in pf_total)
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
