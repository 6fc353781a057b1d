"""The CompRRAE section of ``report.md`` (section 6), rendered from the ``comprrae``
section of ``report.json`` that :func:`red.report.comprrae.compute` computes."""

from __future__ import annotations

from .markdown import layer_shape, md_table, percent, ratio, span

__all__ = ["render_comprrae", "early_checks"]


def early_checks(part: dict) -> list[dict]:
    """Every RTL run of the CompRRAE section, with its checks."""
    return [check for layer in part["layers"]
            for s in (*layer["sets"].values(), layer["shared_adcs"])
            for check in s.get("checks", ())]


def _early_runs(part: dict, on: bool | None = None):
    """``(layer, set, run)`` of every run with figures; ``on`` keeps only the runs with
    early termination on (True) or off (False)."""
    for layer in part["layers"]:
        for group in layer["sets"].values():
            for run in group.get("runs", ()):
                if on is None or (run["early"] != "off") == on:
                    yield layer, group, run


def _claim_pct(value: float) -> str:
    """A paper's rounded percentage, as it states it."""
    return f"{100 * value:g}%"


def _short(name: str) -> str:
    return name.split(".", 1)[1]


def _spec_name(part: dict, mode: str) -> str:
    spec = next(spec for spec in part["specs"] if spec["mode"] == mode)
    return f"approx:{spec['eps']:.4g}" if mode == "approx" else mode


def render_comprrae(part: dict) -> list[str]:
    claims = part["claims"]
    approx = next(spec for spec in part["specs"] if spec["mode"] == "approx")
    out = ["## 6. CompRRAE early termination", "",
           "The tile applies input bit planes sign first, so after each plane it bounds every "
           "output and stops converting the columns of an output its bounds decide "
           "(`red.early`): `negative` decides an output that must end negative, which "
           "ReLU makes 0 (exact); `approx:EPS` also decides an output whose interval is "
           "within EPS of its magnitude, as the interval's midpoint (EPS = "
           f"{approx['eps_q']} / 2^{approx['eps_frac_bits']} = {approx['eps']:.6g}). "
           f"Measured: {part['network']}'s layers with their bias and ReLU on the "
           f"`{part['tile']}` tile (section 1), RED and ZP, early termination off, "
           f"`negative` and `{_spec_name(part, 'approx')}`; CompRRAE reports about "
           f"{_claim_pct(claims['computations_removed'])} of computations removed and "
           f"{claims['throughput']}x throughput ({claims['source']}).", ""]
    out += _early_data(part)
    out += _early_where(part)
    out += _early_figures(part)
    out += _early_bounds(part)
    out += _early_beside(part)
    out += _early_synchronous(part)
    out += _early_shared(part)
    return out


def _early_bounds(part: dict) -> list[str]:
    """The tile's bound against the older one on the same data (golden decisions)."""
    runs = sorted({run for layer in part["layers"] for run in layer["bounds"]})
    if not runs:
        return []
    rows = [[layer["name"], run, *(percent(layer["bounds"][run][bound])
                                   for bound in ("signed", "offset")),
             ratio(layer["bounds"][run]["signed"] / layer["bounds"][run]["offset"])
             if layer["bounds"][run]["offset"] else "-"]
            for layer in part["layers"] for run in runs if run in layer["bounds"]]
    return ["**The bound.** Share of conversions skipped with the tile's `signed` bound "
            "(the planes to come add at most `min((2^r - 1) * U, (2^r - 1) * P + "
            "2^(w_bits-1) * sum(x mod 2^r))` per group, `P` the column's positive weights) "
            "and with the older `offset` bound (`(2^r - 1) * U` alone, every weight "
            "counted as stored, `w + 2^(w_bits-1)`), from the golden model's decisions on "
            "the same data and tile as the figures above:", "",
            md_table(["layer", "run", "signed", "offset", "signed / offset"], rows), ""]


def _early_data(part: dict) -> list[str]:
    chain, stats = part["data"]["chain"], part["data"]["layers"]
    first = chain[0]["name"]
    rows = []
    for layer in chain:
        mine = stats[layer["name"]]
        low, high = mine["bias_range"]
        rows.append([layer["name"], layer_shape(layer), percent(mine["input_zero_fraction"]),
                     f"{mine['input_max']:,}", f"{mine['bn_scale']:.4g}",
                     f"{mine['weight_max_abs']:,}", f"{low:,} .. {high:,}",
                     f"{mine['bias_bits']} / {mine['bias_width']}",
                     percent(mine["output_negative_fraction"]),
                     f"{mine['output_mean_over_std_max']:.2g}",
                     "yes" if mine["contract_equals_exact"] else "no"])
    return [
        f"**Data** (`red.report.comprrae`, seed {part['seed']}; not uniform random): a "
        f"DCGAN-like forward pass in the tile's integers. {first}'s input is "
        f"`ReLU(N(0, 1))` requantised. Per layer: Gaussian weights quantised to the tile's "
        "weight range; batch norm per output channel (`gamma = 1`, `beta = 0`) from the "
        "layer's own pre-BN golden output on its chained input, folded into the integer "
        "weights (`w * a / sigma_c`, one scale `a` per layer so that the largest weight "
        "fills the range) and an integer bias (`-mu_c * a / sigma_c`); the next layer's "
        "input is the layer's golden output after bias and ReLU, requantised so that its "
        f"{part['percentile']:g}th percentile maps to the largest input code (rounded, "
        "clipped; non-negative). Per layer (input: the requantised map it reads; output: "
        "the folded layer's golden output before ReLU):", "",
        md_table(["layer", "shape", "input zeros", "input max", "BN scale a",
                   "max abs weight", "bias", "bias bits / tile's", "outputs < 0",
                   "max abs mean / std", "contract == exact (no clipping)"], rows), ""]


def _early_where(part: dict) -> list[str]:
    out = ["**Where the tile decides.** Early termination decides in the last pass of "
           "each cout slice, on the whole sum: with several cin slices, the partial sums "
           "of the passes before come from the tile's partial-sum bank, ahead of the "
           "steps (`red.rtl.psum_bank`); the passes before decide nothing:", ""]
    out += [f"- {layer['name']}: {layer['reason']}." for layer in part["layers"]]
    return out + [""]


def _small_pct(value: float) -> str:
    """A fraction that may be tiny, as a percentage with three significant digits."""
    return f"{100 * value:.3g}%"


def _error_cell(run: dict) -> str:
    if "error" not in run:
        return ""
    error = run["error"]
    return (f"{error['relative_l2']:.2e} / {_small_pct(error['max_abs_relative'])} / "
            f"{_small_pct(error['changed'])}")


def _check_cell(group: dict, run: dict) -> str:
    check = next((c for c in group.get("checks", ()) if c["mode"] == run["mode"]
                  and c["early"] == run["early"]), None)
    if check is None:
        return "-"
    return (("yes" if check["golden_match"] else "**NO**") + " / "
            + ("equal" if check["model_equal"] else "**DIFFER**"))


def _early_figures(part: dict) -> list[str]:
    rows = [[_short(layer["name"]), group["tile"], run["source"],
             run["mode"].upper(), _spec_name(part, run["early"]),
             f"{run['total_cycles']:,}", f"{run['adc_conversions']:,}",
             percent(run["conversions_skipped"]),
             percent(run["cycles_saved"]) if "cycles_saved" in run else "",
             percent(run["decided"]), _error_cell(run), _check_cell(group, run)]
            for layer, group, run in _early_runs(part)]
    out = ["Per run: conversions skipped = skipped / (skipped + made); cycles saved = "
           "1 - total cycles / total cycles of the same mode with early termination off; "
           "outputs decided early over all outputs; error of the outputs against the "
           "exact ones (early termination off): relative L2 / largest absolute error "
           "over the largest exact output / outputs changed, from the RTL's outputs "
           "where the source is `rtl`.", "",
           md_table(["layer", "tile", "source", "mode", "early", "total cycles",
                      "ADC conversions", "conversions skipped", "cycles saved",
                      "outputs decided", "error: rel. L2 / max / changed",
                      "RTL == golden / model"], rows), ""]
    rows = [[_short(layer["name"]), group["tile"], group["source"], _spec_name(part, spec),
             ratio(ratios["red_vs_red_off"]), ratio(ratios["red_vs_zp_off"]),
             ratio(ratios["red_vs_zp_same"]), ratio(ratios["zp_vs_zp_off"])]
            for layer in part["layers"] for group in layer["sets"].values()
            for spec, ratios in group.get("speedups", {}).items()]
    out += ["Speed-ups (total cycles), RED+CompRRAE against RED alone, ZP alone and "
            "ZP+CompRRAE, and ZP+CompRRAE against ZP alone:", "",
            md_table(["layer", "tile", "source", "early", "RED+CompRRAE vs RED",
                       "RED+CompRRAE vs ZP", "RED+CompRRAE vs ZP+CompRRAE",
                       "ZP+CompRRAE vs ZP"], rows), ""]
    return out


def _over_layers(part: dict, value, mode: str, early: str, fmt) -> str:
    """``value(run)`` of every run of ``mode`` and ``early`` as a span over its layers
    (``-`` when there is none)."""
    found = [(layer, group, run) for layer, group, run in _early_runs(part)
             if run["mode"] == mode and run["early"] == early and "cycles_saved" in run]
    if not found:
        return "-"
    values = [value(layer, group, run) for layer, group, run in found]
    layers = sorted({_short(layer["name"]) for layer, _, _ in found})
    return f"{span(values, fmt)} ({', '.join(layers)})"


def _shared_over_layers(part: dict, mode: str, key: str, fmt) -> str:
    """``key`` of the shared-ADC runs of ``mode`` with ``negative``, as a span over the
    layers, each named with its source."""
    found = [(layer, run) for layer in part["layers"]
             for run in layer["shared_adcs"]["runs"]
             if run["mode"] == mode and run["early"] == "negative"]
    if not found:
        return "-"
    names = ", ".join(f"{_short(layer['name'])} {run['source']}" for layer, run in found)
    return f"{span((run[key] for _, run in found), fmt)} ({names})"


def _early_beside(part: dict) -> list[str]:
    claims = part["claims"]
    approx = _spec_name(part, "approx")

    def figure(key):
        return lambda layer, group, run: run[key]

    def speedup(key, spec):
        return lambda layer, group, run: group["speedups"][spec][key]

    def projected(key):
        return lambda layer, group, run: run["projection"][key]["speedup_vs_off"]

    def error(layer, group, run):
        return run["error"]["relative_l2"]
    removed = _claim_pct(claims["computations_removed"])
    throughput = f"{claims['throughput']}x"
    rows = []
    for spec in ("negative", "approx"):
        name = _spec_name(part, spec)
        rows += [
            [f"conversions skipped, RED + `{name}`",
             _over_layers(part, figure("conversions_skipped"), "red", spec, percent),
             f"~{removed} of computations removed"],
            [f"conversions skipped, ZP + `{name}`",
             _over_layers(part, figure("conversions_skipped"), "zp", spec, percent), ""],
            [f"RED + `{name}` vs RED (total cycles)",
             _over_layers(part, speedup("red_vs_red_off", spec), "red", spec, ratio),
             f"{throughput} throughput"],
            [f"RED + `{name}` vs RED, per-group termination (projection)",
             _over_layers(part, projected("per_group"), "red", spec, ratio), ""],
            [f"RED + `{name}` vs RED, per-group, ADC-bound (projection)",
             _over_layers(part, projected("per_group_adc"), "red", spec, ratio), ""],
            [f"ZP + `{name}` vs ZP (total cycles)",
             _over_layers(part, speedup("zp_vs_zp_off", spec), "zp", spec, ratio), ""]]
    for mode in ("red", "zp"):
        rows.append([f"{mode.upper()} + `negative` vs {mode.upper()}, shared ADCs "
                     "(total cycles; source per layer)",
                     _shared_over_layers(part, mode, "speedup_vs_off", ratio),
                     f"{throughput} throughput" if mode == "red" else ""])
    rows.append([f"RED + `{approx}`: output error (relative L2)",
                 _over_layers(part, error, "red", "approx", lambda v: f"{v:.2e}"),
                 f"<{_claim_pct(claims['accuracy_loss'])} accuracy loss (classification "
                 "accuracy, not an output error)"])
    return ["**Beside CompRRAE** (ours per layer, on the report's tile from the RTL; "
            "with shared ADCs, per layer from its source):", "",
            md_table(["quantity", "ours", "CompRRAE"], rows), ""]


def _early_synchronous(part: dict) -> list[str]:
    rows = []
    for layer, group, run in _early_runs(part, on=True):
        if "projection" not in run:
            continue
        proj = run["projection"]
        rows.append([
            _short(layer["name"]), group["tile"], run["source"], run["mode"].upper(),
            _spec_name(part, run["early"]), percent(run["conversions_skipped"]),
            percent(run["cycles_saved"]),
            f"{proj['steps_shortened']:,} / {proj['steps']:,}",
            "" if proj["mean_decision_plane"] is None else f"{proj['mean_decision_plane']:.1f}",
            percent(proj["per_group"]["cycles_saved"]),
            percent(proj["per_group_adc"]["cycles_saved"])])
    out = ["**Block-synchronous steps.** A step ends only when every output its driven "
           "groups feed is decided, and a step stopped after `n` planes takes `n + 1` "
           "cycles. Two first-order projections (source `model`: the golden decisions, "
           "which the RTL's outputs and counters equal where it decides), both `total = "
           "(T_off - C_off) + C_off * G / G_off`: `T_off`, `C_off` the total and compute "
           "cycles of the same mode with early termination off (fill, drain and output "
           "port kept), `G` the busiest crossbar group's load summed over the passes "
           "(`G_off` with nothing decided). *Per-group*: each group starts its next step "
           "once the outputs it feeds are decided, load = sum over the steps that drive "
           "it of `n + 1` for a step decided after `n < in_bits` planes, else `in_bits`. "
           "*Per-group, ADC-bound*: the same, with a group's time proportional to the "
           "conversions it makes (an ADC shared by the array's columns, as ISAAC's), load "
           "= the planes its output-channel columns convert; balanced groups would reach "
           "`1 - conversions skipped`.", "",
           md_table(["layer", "tile", "source", "mode", "early", "conversions skipped",
                      "cycles saved", "steps shortened", "mean decision plane",
                      "per-group: saved", "per-group, ADC-bound: saved"], rows), ""]
    return out + [_why_synchronous(part), ""]


def _why_synchronous(part: dict) -> str:
    """What the block-synchronous table shows, every figure taken from ``part``."""
    runs = [(layer, group, run) for layer, group, run in _early_runs(part, on=True)
            if "projection" in run]
    if not runs:
        return "No run with early termination has figures."
    red = [(layer, group, run) for layer, group, run in runs if run["mode"] == "red"]
    lines = []
    if red:
        layer, group, run = max(red, key=lambda item: item[2]["conversions_skipped"])
        proj, shape = run["projection"], layer["layer"]
        lines.append(
            f"- *RED.* The most conversions skipped is {percent(run['conversions_skipped'])}, "
            f"on {_short(layer['name'])} with `{_spec_name(part, run['early'])}` "
            f"({group['tile']}, {run['source']}), yet it saves "
            f"{percent(run['cycles_saved'])} of the cycles: a RED step covers `s^2 = "
            f"{shape['s'] ** 2}` output pixels and every output channel of the pass, and "
            f"only {proj['steps_shortened']:,} of its {proj['steps']:,} steps had all of "
            "them decided early enough to save a cycle. RED's cycles saved over all runs: "
            + span((run["cycles_saved"] for _, _, run in red), percent) + ".")
        lines.append(
            "- *Per-group termination* would save "
            + span((run["projection"]["per_group"]["cycles_saved"] for _, _, run in red),
                    percent)
            + " in RED: one input plane drives all the output-channel columns of a "
            "group, so a group still waits for its slowest column. Groups whose time "
            "follows their conversions (*per-group, ADC-bound*) would save "
            + span((run["projection"]["per_group_adc"]["cycles_saved"] for _, _, run in red),
                    percent)
            + ", toward the conversions skipped.")
    zp = [(layer, group, run) for layer, group, run in runs if run["mode"] == "zp"]
    if zp:
        gaps = [abs(run["projection"]["per_group"]["total_cycles"] - run["total_cycles"])
                / run["total_cycles"] for _, _, run in zp]
        lines.append(
            "- *ZP* steps one output pixel at a time, so per-group termination is what it "
            "already does: the projection differs from the measured total cycles by "
            + span(gaps, percent) + " (a check of the formula); its cycles saved are "
            + span((run["cycles_saved"] for _, _, run in zp), percent) + ".")
    negative = {layer["name"]: part["data"]["layers"][layer["name"]]["output_negative_fraction"]
                for layer in part["layers"]}
    in_bits = {layer["name"]: group["config"]["in_bits"] for layer, group, _ in runs}
    planes = [run["projection"]["mean_decision_plane"] for _, _, run in runs
              if run["projection"]["mean_decision_plane"] is not None]
    line = ("- *Far from CompRRAE's figure.* `negative` decides only outputs that end "
            f"negative, {span((negative[name] for name in in_bits), percent)} of the "
            "measured layers' outputs "
            "before ReLU: even if each were decided after its first plane, it would skip "
            "at most about "
            + span((negative[name] * (bits - 1) / bits for name, bits in in_bits.items()),
                    percent)
            + " of the conversions (that fraction x `(in_bits - 1) / in_bits`, outputs "
            "weighted alike)")
    if planes:
        line += (". Decided outputs stop after plane " + span(planes, lambda v: f"{v:.1f}")
                 + " of " + span(in_bits.values(), str) + " on average: the bound after "
                 "`n` planes adds, per group, `(2^(in_bits-n) - 1) * P`, as if every row "
                 "with a positive weight had all its remaining input bits set, while the "
                 "true rest of a sum over weights of both signs is near 0: it narrows "
                 "slowly")
    lines.append(line + ".")
    return "\n".join(lines)


def _early_shared(part: dict) -> list[str]:
    """The shared-ADC tile: its cost with nothing skipped, and the cycles early
    termination gives back on it."""
    rows, saved = [], {"rtl": [], "model": []}
    for layer in part["layers"]:
        shared = layer["shared_adcs"]
        runs = {(run["mode"], run["early"]): run for run in shared["runs"]}
        for mode in ("red", "zp"):
            off, on = runs[mode, "off"], runs[mode, "negative"]
            rows.append([_short(layer["name"]), shared["source"], mode.upper(),
                         f"{off['total_cycles']:,}", ratio(off["adc_cost"]),
                         f"{on['total_cycles']:,}", percent(on["conversions_skipped"]),
                         percent(on["cycles_saved"]), ratio(on["speedup_vs_off"]),
                         _check_cell(shared, on)])
            if mode == "red":
                saved[shared["source"]].append((_short(layer["name"]), on["cycles_saved"]))
    config = part["layers"][0]["shared_adcs"]["config"]
    slices = config["w_bits"] // config["cell_bits"]
    lines = [f"RED + `negative` saves {span((v for _, v in found), percent)} of the cycles "
             f"on {', '.join(name for name, _ in found)} (source {source})"
             for source, found in saved.items() if found]
    return ["**Shared ADCs** (`adcs_per_array = "
            f"{config['adcs_per_array']}`, `red.rtl.adc_pacer`): the macro variant in which "
            "each array's columns are sampled and held when a plane is applied and "
            f"{config['adcs_per_array']} ADCs convert them, so a plane takes `ceil(n * "
            f"{slices} / {config['adcs_per_array']})` cycles, `n` the logical columns the "
            "step's busiest driven group converts (gated groups convert none). The groups "
            "stay in lockstep plane by plane, so every decision and output equals those "
            "above, and the columns early termination stops give time back. (RED_TILE.md's "
            "ISAAC defaults share one 8-bit ADC by an array's 128 columns within its "
            "100 ns read: with a cycle per array read that is `adcs_per_array = "
            f"{config['cols']}`, no plane waits for the ADC, and skipped conversions save "
            "energy, not time. This tile's ADCs are "
            f"{config['cols'] // config['adcs_per_array']} times slower, so its planes are "
            "ADC-bound.) *ADC cost*: "
            "total cycles with early termination off over those with one ADC per column "
            "(the model's, which the RTL equals). Cycles saved and speed-up: against the "
            "same mode on this tile with early termination off.", "",
            md_table(["layer", "source", "mode", "total cycles, off", "ADC cost",
                      "total cycles, `negative`", "conversions skipped", "cycles saved",
                      "speed-up", "RTL == golden / model"], rows), "",
            "; ".join(lines) + ".", ""]
