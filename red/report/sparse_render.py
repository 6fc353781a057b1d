"""The "Crossbar-aware sparsity" section of ``report.md``, rendered from the ``sparsity``
section of ``report.json`` that :func:`red.report.sparse.compute` computes."""

from __future__ import annotations

from .markdown import md_table, percent, ratio, span
from .sparse import STAGES

__all__ = ["render_sparsity"]

#: How the text names the stages.
_STAGE_NAMES = {"dense": "dense", "reordered": "reordered", "pruned": "block-pruned"}


def _fraction(blocks: dict, stage: str) -> float:
    return blocks["empty"][stage] / blocks["total"]


def _size(size: int) -> str:
    return f"{size}x{size}"


def _cells(section: dict):
    """``(layer entry, level entry, size entry)`` of every layer, level and size."""
    for entry in section["layers"]:
        for level in entry["levels"]:
            for cell in level["sizes"]:
                yield entry, level, cell


def render_sparsity(section: dict) -> list[str]:
    """The "Crossbar-aware sparsity" section of ``report.md`` from the ``sparsity``
    section of ``report.json``; every figure and comparison is computed from it."""
    sizes = section["sizes"]
    weights_ = section["weights"]
    out = ["## Crossbar-aware sparsity", "",
           f"Weights: `{weights_['function']}`, every output channel a log-uniform scale in "
           f"[1/{weights_['channel_spread']:g}, 1] times iid unit-variance "
           f"{weights_['distribution']} samples, quantised symmetrically to the tile's "
           f"`w_bits` (seed {weights_['seed']}); then magnitude pruning of "
           + ", ".join(percent(level) for level in section["levels"]) + " of the weights. "
           "Per layer, level and crossbar size: the fraction of empty crossbar blocks "
           "(one block = one kernel pixel's weights of one cin slice and one cout slice) "
           "with the dense mapping, after reordering the channels ("
           f"{section['reordering']}, lossless) and after crossbar-grained pruning "
           f"({section['block_pruning']}: at a level f, a fraction f of the blocks empty; "
           "no retraining). Its relative output error `||y - y_pruned|| / ||y||` against the "
           "unpruned layer is measured with the golden deconvolution on an "
           f"activation-like input, ReLU of a Gaussian of standard deviation "
           f"{section['input']['relu_gaussian_sigma_of_x_max']:g} x_max, rounded and "
           "clipped (at least half zeros; the RTL runs take all of it, the errors its top-left "
           f"corner of at most {section['input']['error_corner_pixels']} x "
           f"{section['input']['error_corner_pixels']} pixels). Crossbar sizes "
           + ", ".join(_size(size) for size in sizes) + ": the network's report tile with "
           "`rows = cols = N`; " + ", ".join(
               f"tile {key}: {tile['cell_bits']}-bit cells, {tile['w_bits']}-bit weights, "
               f"so N x N holds N input channels and "
               f"N/{tile['w_bits'] // tile['cell_bits']} output channels"
               for key, tile in section["tiles"].items()) + ". Figures marked `model` "
           "come from the analytical model in RED mode (empty blocks gated, passes whose "
           "blocks are all empty dropped), those marked `rtl` from the RTL's counters.", ""]
    out += _blocks_table(section)
    out += _network_table(section)
    out += _layer_table(section)
    out += _rtl_table(section)
    out += _sizes_answer(section)
    out += _beside_paper(section)
    return out


def _blocks_table(section: dict) -> list[str]:
    rows = [[net["network"], percent(net["level"]), _size(net["size"]),
             f"{net['blocks']['total']:,}",
             *(percent(_fraction(net["blocks"], stage)) for stage in STAGES)]
            for net in section["networks"]]
    return ["### Empty crossbar blocks (source: weights)", "",
            md_table(["network", "pruned weights", "crossbar", "blocks",
                        "empty: dense", "reordered", "block-pruned"], rows), ""]


def _network_table(section: dict) -> list[str]:
    rows = []
    for net in section["networks"]:
        model = net["model"]
        rows.append([net["network"], percent(net["level"]), _size(net["size"]),
                     model["dense"]["source"], f"{model['dense']['total_cycles']:,}",
                     f"{model['dense']['passes']:,}",
                     *(ratio(model[stage]["speedup"]) for stage in STAGES[1:]),
                     *(ratio(model[stage]["energy_efficiency"]) for stage in STAGES[1:]),
                     percent(model["pruned"]["adc_saved"]),
                     f"{model['pruned']['passes']:,}"])
    return ["### Per network: RED dense against RED sparse", "",
            "Speed-up = dense / sparse total cycles, energy efficiency = dense / sparse "
            "energy, on the same crossbar size; summed over the network's layers.", "",
            md_table(["network", "pruned weights", "crossbar", "source", "dense cycles",
                        "dense passes", "speed-up reordered", "speed-up block-pruned",
                        "E eff. reordered", "E eff. block-pruned",
                        "ADC conv. saved (block-pruned)", "block-pruned passes"], rows), ""]


def _layer_table(section: dict) -> list[str]:
    rows = []
    for entry, level, cell in _cells(section):
        model, blocks = cell["model"], cell["blocks"]
        rows.append([entry["name"], percent(level["level"]), _size(cell["size"]),
                     f"{blocks['total']:,}",
                     " / ".join(percent(_fraction(blocks, stage)) for stage in STAGES),
                     percent(level["unstructured_error"]["value"]),
                     percent(cell["pruned_error"]["value"]),
                     " / ".join(ratio(model[stage]["speedup"]) for stage in STAGES[1:]),
                     " / ".join(ratio(model[stage]["energy_efficiency"])
                                for stage in STAGES[1:])])
    return ["### Per layer (source: weights, golden, model)", "",
            "Empty blocks dense / reordered / block-pruned; output error of the "
            "unstructured pruning and of the block-pruned layer, both against the unpruned "
            "layer; speed-up and energy efficiency reordered / block-pruned.", "",
            md_table(["layer", "pruned weights", "crossbar", "blocks", "empty",
                        "error unstructured", "error block-pruned", "speed-up",
                        "E eff."], rows), ""]


def _rtl_table(section: dict) -> list[str]:
    rtl = section["rtl"]
    out = ["### On the RTL", ""]
    for key, error in rtl["errors"].items():
        out += [f"**Simulation of tile {key} failed:** {error}", ""]
    if not rtl["runs"]:
        return out + ["No layer is simulated.", ""]
    rows = []
    for entry in rtl["runs"]:
        dense, sparse = entry["runs"]["dense"], entry["runs"]["sparse"]
        rows.append([entry["name"], entry["tile"], dense["source"],
                     f"{dense['passes']} / {sparse['passes']}",
                     f"{dense['total_cycles']:,} / {sparse['total_cycles']:,}",
                     f"{dense['adc_conversions']:,} / {sparse['adc_conversions']:,}",
                     f"{sparse['skipped_blocks']:,}",
                     percent(1 - 1 / sparse["speedup"]), percent(sparse["adc_saved"]),
                     percent(1 - 1 / sparse["energy_efficiency"]),
                     " / ".join("yes" if run["golden_match"] else "**NO**"
                                for run in (dense, sparse)),
                     " / ".join("equal" if not run["differing"] else "**DIFFER**"
                                for run in (dense, sparse))])
    seconds = ", ".join(f"{key} {value:.0f} s" for key, value in rtl["seconds"].items())
    return out + [
        f"{rtl['sim']}, RED mode, {percent(rtl['level'])} pruning; each layer dense and with "
        "its block-pruned mapping (channels reordered, empty blocks gated, empty passes "
        "dropped), on its report tile. Each run's output must equal the golden contract "
        "model and its passes, cycles and every mirrored counter the model's. Saved = "
        f"1 - sparse / dense. Simulation time: {seconds}.", "",
        md_table(["layer", "tile", "source", "passes dense / sparse",
                    "total cycles dense / sparse", "ADC conversions dense / sparse",
                    "gated blocks", "cycles saved", "conversions saved", "energy saved",
                    "RTL == golden", "RTL vs model"], rows), ""]


#: The figures :func:`_sizes_answer` compares across crossbar sizes.
_SIZE_METRICS = (
    ("empty blocks after reordering", "most empty blocks after reordering",
     lambda net: _fraction(net["blocks"], "reordered"), percent),
    ("block-pruned speed-up", "highest block-pruned speed-up",
     lambda net: net["model"]["pruned"]["speedup"], ratio),
    ("block-pruned energy efficiency", "highest block-pruned energy efficiency",
     lambda net: net["model"]["pruned"]["energy_efficiency"], ratio),
)


def _sizes_answer(section: dict) -> list[str]:
    """Which crossbar size suits sparse deconvolution, from the network figures."""
    top, networks = max(section["levels"]), section["networks"]
    names = list(dict.fromkeys(net["network"] for net in networks))
    lines = ["### Which crossbar size", "",
             f"The paper asks which crossbar size suits crossbar-grained sparsity. At "
             f"{percent(top)} pruning, per network (source: weights and model):", ""]
    best: dict[str, list[int]] = {most: [] for _, most, _, _ in _SIZE_METRICS}
    for network in names:
        parts = []
        for name, most, value, fmt in _SIZE_METRICS:
            figures = {net["size"]: value(net) for net in networks
                       if net["network"] == network and net["level"] == top}
            best[most].append(max(figures, key=figures.get))
            parts.append(f"{name} " + ", ".join(f"{fmt(v)} at {_size(s)}"
                                                 for s, v in figures.items()))
        lines.append(f"- {network}: " + "; ".join(parts) + ".")
    answer = "; ".join(
        f"{most}: " + ", ".join(f"{_size(size)} in {sizes.count(size)} of {len(names)} "
                                "networks" for size in sorted(set(sizes)))
        for most, sizes in best.items())
    growing = list(dict.fromkeys(
               f"{net['network']} at {percent(net['level'])}, {_size(net['size'])}"
               for net in networks for other in networks
               if other["network"] == net["network"] and other["level"] == net["level"]
               and other["size"] < net["size"]
               and _fraction(net["blocks"], "reordered")
               > _fraction(other["blocks"], "reordered")))
    lines += ["", f"Answer: {answer}. A smaller crossbar holds fewer weights per block; "
              + ("at every level, in every network, the empty fraction after reordering "
                 "does not grow with the crossbar size" if not growing else
                 "the empty fraction after reordering grows with the crossbar size for "
                 + "; ".join(growing))
              + ". The ratios compare each size with its own dense mapping on one tile of "
              "that size: a smaller tile needs more passes for the same layer (the dense "
              "cycles above), and the energy table prices every size's events alike.", ""]
    return lines


def _within(values: list[float], paper: tuple[float, float]) -> bool:
    """Whether any of ``values`` lies in the paper's range."""
    return any(paper[0] <= value <= paper[1] for value in values)


def _beside_paper(section: dict) -> list[str]:
    paper, networks = section["paper"], section["networks"]
    rows, inside = [], {"speedup": [], "energy_efficiency": []}
    for level in section["levels"]:
        mine = [net for net in networks if net["level"] == level]
        errors = {"reordered": [lv["unstructured_error"]["value"] for e in section["layers"]
                                for lv in e["levels"] if lv["level"] == level],
                  "pruned": [c["pruned_error"]["value"] for _, lv, c in _cells(section)
                             if lv["level"] == level]}
        for stage in STAGES[1:]:
            figures = {key: [net["model"][stage][key] for net in mine] for key in inside}
            for key, values in figures.items():
                if _within(values, paper[key]):
                    inside[key].append(f"{_STAGE_NAMES[stage]} at {percent(level)}")
            rows.append([percent(level), _STAGE_NAMES[stage], span(figures["speedup"], ratio),
                         span(figures["energy_efficiency"], ratio),
                         span(errors[stage], percent)])
    ranges = {key: f"{ratio(paper[key][0])} - {ratio(paper[key][1])}" for key in inside}
    verdicts = [f"our {label} reaches the paper's {ranges[key]} "
                + (f"with: {', '.join(inside[key])}" if inside[key]
                   else "with none of our mappings")
                for key, label in (("speedup", "speed-up"),
                                   ("energy_efficiency", "energy efficiency"))]
    out = ["### Beside the paper", "",
           f"{paper['source']}: {ranges['energy_efficiency']} energy efficiency and "
           f"{ranges['speedup']} speed-up ({paper['how']}). Ours (source: model) against "
           "the dense mapping, over networks and crossbar sizes; the output error is "
           "against the unpruned layer, per layer (reordering adds none to the "
           "unstructured pruning's):", "",
           md_table(["pruned weights", "mapping", "speed-up", "energy efficiency",
                       "output error"], rows), "",
           "Per network and crossbar size, " + "; ".join(verdicts) + ".", "",
           "Why ours differ:", ""]
    return out + _why(section) + [""]


def _why(section: dict) -> list[str]:
    """The reasons, every figure taken from ``section``."""
    networks, levels = section["networks"], section["levels"]
    top, largest = max(levels), max(section["sizes"])
    at_top = [net for net in networks if net["level"] == top]
    cells = list(_cells(section))
    block_weights = largest * next(c["logical_cols"] for _, _, c in cells
                                   if c["size"] == largest)
    reordered = [net["model"]["reordered"] for net in networks]

    def per_size(stage: str) -> str:
        return ", ".join(span((_fraction(net["blocks"], stage) for net in at_top
                                if net["size"] == size), percent) + f" at {_size(size)}"
                         for size in section["sizes"])

    lines = [
        f"- *Empty blocks from unstructured pruning.* At {percent(top)} pruning the dense "
        f"mapping leaves {per_size('dense')} of the blocks empty, reordering "
        f"{per_size('reordered')} (ranges over networks). A {_size(largest)} block holds "
        f"{block_weights:,} weights (rows x logical columns); with independent zeros it "
        f"would be empty with probability {top:g}^{block_weights:,} = "
        f"{top ** block_weights:.1e}. One pair of channel permutations serves every kernel "
        "pixel (deconvolution maps each of the k x k pixels to its own blocks), so a "
        "channel's zeros must line up across all of them. Over all levels and sizes the "
        "lossless mapping therefore runs " + span((f["speedup"] for f in reordered), ratio)
        + " faster and is " + span((f["energy_efficiency"] for f in reordered), ratio)
        + " as energy-efficient as the dense one."]
    pruned_top = [net["model"]["pruned"] for net in at_top]
    kept = [net["model"]["pruned"]["passes"] / net["model"]["dense"]["passes"]
            for net in at_top]
    line = (
        "- *Gating a block saves its conversions, not its cycles.* A RED step takes "
        "`in_bits` cycles while any group of its pass is live, so cycles fall only when "
        "every block of a pass (k x k kernel pixels of one cin and cout slice) is empty "
        f"and the pass is dropped. Block-pruned to {percent(top)}, the networks keep "
        + span(kept, percent) + " of their passes and save "
        + span((f["adc_saved"] for f in pruned_top), percent) + " of their ADC conversions: "
        "speed-up " + span((f["speedup"] for f in pruned_top), ratio) + ", energy efficiency "
        + span((f["energy_efficiency"] for f in pruned_top), ratio) + ".")
    single = [entry for entry in section["layers"]
              if all(c["schedule"]["cin_tiles"] * c["schedule"]["folds"] == 1
                     for level in entry["levels"] for c in level["sizes"])]
    if single:
        line += (" " + ", ".join(entry["name"] for entry in single) + " run one pass per "
                 "cout slice at every size, and a cout slice keeps its first pass: "
                 "block-pruned speed-up " + span(
                     (c["model"]["pruned"]["speedup"] for entry in single
                      for level in entry["levels"] for c in level["sizes"]), ratio) + ".")
    lines.append(line)
    shares = [sum(net["model"]["dense"]["energy_pj"][part] for part in ("adc", "dac", "array"))
              / net["model"]["dense"]["energy_pj"]["total"] for net in networks]
    lines.append(
        "- *Energy and the empty fraction.* ADC conversions, DAC row drives and array "
        "reads, which gating removes block by block, are " + span(shares, percent)
        + " of the dense mapping's energy in `red.energy` (buffers and additions shrink "
        "only with dropped passes), so crossbar-grained pruning to a fraction f of empty "
        "blocks compares with `1/(1-f)`: " + ", ".join(
            span((net["model"]["pruned"]["energy_efficiency"] for net in networks
                   if net["level"] == level), ratio)
            + f" at {percent(level)} (1/(1-f) = {ratio(1 / (1 - level))})" for level in levels)
        + ". The paper's figures include costs that our table leaves out (weight "
        "programming, control, leakage, off-chip traffic); the reference material says "
        "neither which nor what crossbar sparsity it reached.")
    errors = {level: [c["pruned_error"]["value"] for _, entry_level, c in cells
                      if entry_level["level"] == level] for level in levels}
    lines.append(
        "- *No retraining.* The paper learns the sparsity while training and loses almost "
        "no accuracy; our block pruning of fixed synthetic weights changes a layer's "
        "output by " + ", ".join(f"{span(values, percent)} at {percent(level)}"
                                 for level, values in errors.items())
        + " (relative L2): our block-pruned savings come at an accuracy cost that the "
        "paper's trained sparsity does not pay.")
    return lines
