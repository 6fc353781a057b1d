"""``red.report.sparse``: the report's crossbar-aware sparsity section.

Expected figures are recomputed independently of the code under test: empty blocks by
plain loops over the slices (``tests/_blocks.py``), the crossbar-grained pruning's
target count exactly (fractions), passes and compute cycles from RED_TILE.md's
first-order formula, and the hardware's gated blocks and dropped passes by walking the
passes of the block mask by hand. The ``--quick`` section runs on Icarus once, in one
test (a module fixture would run once per xdist worker).
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from _blocks import blocks_by_loop, empty_by_loop
from red.config import LayerSpec
from red.counters import TILE_COUNTERS
from red.energy import DEFAULT_ENERGY
from red.report import sparse, sparse_render, sparsity_section
from red.report.plan import QUICK, QUICK_TILE
from red.sim.session import simulate_layers
from red.sparsity import (apply_permutation, prune_blocks, reorder_channels,
                          synthetic_weights, unstructured_prune)

# The quick tile (red.report.plan): 2 rows, 4 columns of 2-bit cells for 4-bit weights,
# so 4 / (4 / 2) = 2 output channels per crossbar; kernel 4; 4-bit inputs.
QUICK_ROWS, QUICK_LOGICAL, QUICK_KERNEL, QUICK_IN_BITS = 2, 2, 4, 4
# The issue's crossbar sizes, and --quick's (rows = cols = N; N / slices columns).
SIZES, QUICK_SIZES = [32, 64, 128], [2, 4]
LEVELS = [0.5, 0.7, 0.9]
SEED = 2019


def logical(size: int, tile: dict) -> int:
    return size // (tile["w_bits"] // tile["cell_bits"])


def first_order_passes(layer: dict, rows: int, cols: int, kernel: int) -> int:
    """cin slices x cout slices x folds (RED_TILE.md, "Layers larger than the tile")."""
    return (math.ceil(layer["cin"] / rows) * math.ceil(layer["cout"] / cols)
            * math.ceil(layer["k"] / kernel) ** 2)


def red_steps(layer: dict) -> int:
    """RED's crossbar steps per pass, ``Nbh * Nbw`` (RED_TILE.md)."""
    ho = (layer["h"] - 1) * layer["s"] - 2 * layer["p"] + layer["k"] + layer["op"]
    nb = (ho - 1 + layer["p"]) // layer["s"] - layer["p"] // layer["s"] + 1
    return nb * nb


def target_empty(level: float, total: int) -> int:
    """The fewest blocks that make up ``level`` of ``total``, exactly."""
    return math.ceil(Fraction(str(level)) * total)


def pruned_weights(layer: dict, tile, seed: int, level: float, weights: dict):
    w = synthetic_weights(layer["cin"], layer["cout"], layer["k"], tile, seed=seed,
                          distribution=weights["distribution"],
                          channel_spread=weights["channel_spread"])
    return unstructured_prune(w, level)


def gating_by_hand(mask_blocks: dict, layer: dict, rows: int, cols: int,
                   kernel: int) -> tuple[int, int]:
    """``(passes run, gated groups)`` of weights split into blocks (``{(cout tile, cin
    tile, kh, kw): block}``). A pass is a cout slice, cin slice and fold; it is dropped
    when every kernel pixel of its fold is empty, but a cout slice keeps its first pass
    (all gated) when all of its passes are empty, to emit its output."""
    k, folds = layer["k"], range(0, layer["k"], kernel)
    runs = gated = 0
    for t in range(math.ceil(layer["cout"] / cols)):
        kept = []
        for r in range(math.ceil(layer["cin"] / rows)):
            for kh0 in folds:
                for kw0 in folds:
                    pixels = [(kh, kw) for kh in range(kh0, min(kh0 + kernel, k))
                              for kw in range(kw0, min(kw0 + kernel, k))]
                    empty = sum(not mask_blocks[t, r, kh, kw].any() for kh, kw in pixels)
                    if empty < len(pixels):
                        kept.append(empty)
        if kept:
            runs, gated = runs + len(kept), gated + sum(kept)
        else:
            runs, gated = runs + 1, gated + min(kernel, k) ** 2
    return runs, gated


# -- the quick section on Icarus ---------------------------------------------------------

def test_quick_section_on_icarus(tmp_path):
    lines = []
    section = sparsity_section(QUICK, "icarus", tmp_path / "sim", lines.append,
                               DEFAULT_ENERGY, simulate_layers).to_json()
    assert section["problems"] == [], section["problems"]
    assert any(line.startswith("sparsity: RTL quick: done") for line in lines)
    check_keys(section)
    check_blocks(section)
    check_ratios(section)
    check_rtl(section)
    check_markdown(section)


def check_keys(section: dict) -> None:
    for key in ("variant", "levels", "sizes", "stages", "tiles", "weights", "input",
                "reordering", "block_pruning", "layers", "networks", "rtl", "paper",
                "problems", "seconds"):
        assert key in section, key
    assert section["variant"] == QUICK and section["levels"] == LEVELS
    assert section["sizes"] == QUICK_SIZES
    assert section["weights"]["distribution"] == "laplace"
    assert section["paper"]["energy_efficiency"] == (3.0, 5.0)
    assert section["paper"]["speedup"] == (2.5, 6.0)
    # Every figure says where it comes from.
    for entry in section["layers"]:
        for level in entry["levels"]:
            assert level["unstructured_error"]["source"] == "golden"
            for cell in level["sizes"]:
                assert cell["blocks"]["source"] == "weights"
                assert cell["pruned_error"]["source"] == "golden"
                assert {f["source"] for f in cell["model"].values()} == {"model"}
    for net in section["networks"]:
        assert net["blocks"]["source"] == "weights"
        assert {f["source"] for f in net["model"].values()} == {"model"}
    for entry in section["rtl"]["runs"]:
        assert {f["source"] for f in entry["runs"].values()} == {"rtl"}


def check_blocks(section: dict) -> None:
    """Empty blocks recounted by loops from the documented weights."""
    tile = QUICK_TILE
    names = [entry["name"] for entry in section["layers"]]
    assert names == ["dcgan.deconv1", "fcn8s.upscore8"]
    for n, entry in enumerate(section["layers"]):
        assert entry["seed"] == SEED + n
        for level_entry, level in zip(entry["levels"], LEVELS):
            assert level_entry["level"] == level
            w = pruned_weights(entry["layer"], tile, entry["seed"], level,
                               section["weights"])
            assert level_entry["zero_weights"] == pytest.approx(np.mean(w == 0))
            assert np.mean(w == 0) >= level
            for cell, size in zip(level_entry["sizes"], QUICK_SIZES):
                cols = logical(size, section["tiles"][QUICK])
                blocks = cell["blocks"]
                total = (math.ceil(entry["layer"]["cin"] / size)
                         * math.ceil(entry["layer"]["cout"] / cols) * entry["layer"]["k"] ** 2)
                assert cell["size"] == size and cell["logical_cols"] == cols
                assert blocks["total"] == total
                assert blocks["empty"]["dense"] == empty_by_loop(w, size, cols)
                # Reordering never loses empty blocks; pruning stops at the target.
                assert blocks["empty"]["reordered"] >= blocks["empty"]["dense"]
                assert blocks["empty"]["pruned"] == max(blocks["empty"]["reordered"],
                                                        target_empty(level, total))
                assert 0 <= cell["pruned_error"]["value"]
    for net in section["networks"]:
        cells = [c for e in section["layers"] if e["network"] == net["network"]
                 for lv in e["levels"] if lv["level"] == net["level"]
                 for c in lv["sizes"] if c["size"] == net["size"]]
        assert net["blocks"]["total"] == sum(c["blocks"]["total"] for c in cells)
        for stage in ("dense", "reordered", "pruned"):
            assert net["blocks"]["empty"][stage] == sum(c["blocks"]["empty"][stage]
                                                        for c in cells)
            assert net["model"][stage]["total_cycles"] == sum(
                c["model"][stage]["total_cycles"] for c in cells)


def check_ratios(section: dict) -> None:
    """Speed-ups, energy efficiencies and savings recomputed from the counts."""
    groups = [cell["model"] for _, _, cell in sparse_render._cells(section)]
    groups += [net["model"] for net in section["networks"]]
    groups += [entry["runs"] for entry in section["rtl"]["runs"]]
    for figures in groups:
        base = figures["dense"]
        for figure in figures.values():
            assert figure["speedup"] == pytest.approx(
                base["total_cycles"] / figure["total_cycles"])
            assert figure["energy_efficiency"] == pytest.approx(
                base["energy_pj"]["total"] / figure["energy_pj"]["total"])
            assert figure["adc_saved"] == pytest.approx(
                1 - figure["adc_conversions"] / base["adc_conversions"])
            parts = [figure["energy_pj"][c] for c in ("adc", "dac", "array", "buffers", "adds")]
            assert figure["energy_pj"]["total"] == pytest.approx(sum(parts))
    for _, _, cell in sparse_render._cells(section):
        model = cell["model"]
        # The dense mapping gates nothing and drops nothing.
        assert model["dense"]["skipped_blocks"] == 0
        # Gating never adds conversions or cycles.
        assert (model["pruned"]["adc_conversions"] <= model["reordered"]["adc_conversions"]
                <= model["dense"]["adc_conversions"])
        assert model["pruned"]["total_cycles"] <= model["dense"]["total_cycles"]


def check_rtl(section: dict) -> None:
    rtl = section["rtl"]
    assert rtl["sim"] == "icarus" and rtl["errors"] == {} and rtl["level"] == 0.9
    assert [entry["name"] for entry in rtl["runs"]] == ["dcgan.deconv1", "fcn8s.upscore8"]
    for entry in rtl["runs"]:
        layer, dense, sparse_run = entry["layer"], entry["runs"]["dense"], entry["runs"]["sparse"]
        for run in (dense, sparse_run):
            assert run["golden_match"] and run["differing"] == {}
        passes = first_order_passes(layer, QUICK_ROWS, QUICK_LOGICAL, QUICK_KERNEL)
        assert dense["passes"] == passes
        assert dense["compute_cycles"] == passes * red_steps(layer) * QUICK_IN_BITS
        # The hardware's gating, by hand from the same mapping.
        w = pruned_weights(layer, QUICK_TILE, entry["seed"], 0.9, section["weights"])
        order = reorder_channels(w, QUICK_TILE)
        mapped = prune_blocks(apply_permutation(w, order.perm_in, order.perm_out),
                              QUICK_TILE, 0.9)
        runs, gated = gating_by_hand(blocks_by_loop(mapped, QUICK_ROWS, QUICK_LOGICAL),
                                     layer, QUICK_ROWS, QUICK_LOGICAL, QUICK_KERNEL)
        assert sparse_run["passes"] == runs < passes
        assert sparse_run["skipped_blocks"] == gated
        assert sparse_run["compute_cycles"] == runs * red_steps(layer) * QUICK_IN_BITS
        assert sparse_run["adc_conversions"] < dense["adc_conversions"]


def check_markdown(section: dict) -> None:
    text = "\n".join(sparse_render.render_sparsity(section))
    assert text.startswith("## Crossbar-aware sparsity")
    for heading in ("### Empty crossbar blocks", "### Per network", "### Per layer",
                    "### On the RTL", "### Which crossbar size", "### Beside the paper",
                    "Why ours differ"):
        assert heading in text, heading
    assert "3.00x - 5.00x energy efficiency" in text and "2.50x - 6.00x speed-up" in text
    assert "laplace" in text and "ReLU of a Gaussian" in text
    for entry in section["rtl"]["runs"]:
        dense, sparse_run = entry["runs"]["dense"], entry["runs"]["sparse"]
        assert (f"| {entry['name']} | quick | rtl | {dense['passes']} / "
                f"{sparse_run['passes']} | {dense['total_cycles']:,} / "
                f"{sparse_run['total_cycles']:,} |") in text
    for net in section["networks"]:
        pruned = net["model"]["pruned"]
        assert f"{pruned['speedup']:.2f}x | " in text
    assert "**NO**" not in text and "DIFFER" not in text


# -- without a simulator -----------------------------------------------------------------

def test_default_setup_is_the_issues():
    config = sparse.setup("default")
    assert config.sizes == tuple(SIZES)
    assert [layer.name for _, layer in config.layers] == [
        "dcgan.deconv1", "dcgan.deconv2", "dcgan.deconv3", "dcgan.deconv4",
        "fcn8s.upscore2", "fcn8s.upscore_pool4", "fcn8s.upscore8"]
    assert set(config.simulated) == {"dcgan.deconv3", "fcn8s.upscore2"}
    for key, tile in config.tiles.items():
        # The paper's crossbar: 2-bit cells, 16-bit weights -> N/8 output channels.
        assert (tile.cell_bits, tile.w_bits, tile.rows, tile.cols) == (2, 16, 128, 128)
        for size in SIZES:
            crossbar = sparse.crossbar_tile(tile, size)
            assert (crossbar.rows, crossbar.cols, crossbar.logical_cols) == (size, size,
                                                                             size // 8)
            assert crossbar.kernel == tile.kernel
    full = sparse.setup("full")
    assert set(full.simulated) == {layer.name for _, layer in full.layers}


def test_input_is_relu_of_a_gaussian():
    layer = LayerSpec(cin=64, cout=1, h=16, w=16, k=3, s=2)
    x = sparse.layer_input(layer, QUICK_TILE, SEED)
    assert x.shape == (64, 16, 16) and x.dtype == np.int64
    assert x.min() == 0 and x.max() <= QUICK_TILE.x_max
    # ReLU of a zero-mean Gaussian rounded: at least half zeros, not all.
    assert 0.5 <= np.mean(x == 0) < 0.8
    assert np.array_equal(x, sparse.layer_input(layer, QUICK_TILE, SEED))


def _fake_simulation(tamper):
    """A stand-in for ``simulate_layers`` whose results are the model's, altered by
    ``tamper(counters)``, and whose output differs from the golden one."""
    from red.model import estimate
    from red.sparsity import block_mask

    def simulate_layers(tile, runs, **_):
        results = []
        for run in runs:
            blocks = None if run.reorder is None else block_mask(
                apply_permutation(run.w, run.reorder.perm_in, run.reorder.perm_out), tile)
            est = estimate(run.layer, tile, "red", blocks)
            counters = {name: getattr(est, name, 0) for name in TILE_COUNTERS}
            counters["crossbar_steps"] = est.group_activations * tile.in_bits
            tamper(counters)
            results.append(SimpleNamespace(y=np.ones((1, 1, 1), dtype=np.int64),
                                           y_golden=np.zeros((1, 1, 1), dtype=np.int64),
                                           counters=counters, passes=est.passes))
        return results, None
    return simulate_layers


def test_differences_are_problems(tmp_path):
    def tamper(counters):
        counters["total_cycles"] += 1

    section = sparsity_section(QUICK, "icarus", tmp_path, lambda line: None,
                               DEFAULT_ENERGY, _fake_simulation(tamper)).to_json()
    problems = section["problems"]
    assert len(problems) == 2 * 2 * 2      # 2 layers x dense, sparse x output, cycles
    assert sum("RTL output != golden output" in p for p in problems) == 4
    assert sum("total_cycles RTL" in p for p in problems) == 4
    text = "\n".join(sparse_render.render_sparsity(section))
    assert "**NO**" in text and "**DIFFER**" in text


def test_failed_simulation_is_a_problem(tmp_path):
    from red.sim.runner import SimulationError

    def fail(*_, **__):
        raise SimulationError("tile simulation failed: build error\nmore")

    section = sparsity_section(QUICK, "icarus", tmp_path, lambda line: None,
                               DEFAULT_ENERGY, fail).to_json()
    assert section["problems"] == ["sparsity: RTL simulation of tile quick failed: "
                                   "tile simulation failed: build error"]
    assert section["rtl"]["runs"] == []
    text = "\n".join(sparse_render.render_sparsity(section))
    assert "**Simulation of tile quick failed:**" in text
