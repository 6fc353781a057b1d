"""``red report``'s CompRRAE section (red.report.comprrae): the data generator's
distribution, the per-group load by hand, and the section of ``--quick`` on Icarus with
its figures recomputed from the RTL's counters.

Expected values come from the issue's definitions (non-negative ReLU inputs, batch norm
folded so per-channel means are about 0, a bias the tile can add, conversions skipped =
skipped / (skipped + made), cycles saved against the same mode with early termination
off) and RED_TILE.md (output size, ``negative`` is exact), never from the code under
test.
"""

from __future__ import annotations

import numpy as np
import pytest

from red.config import LayerSpec, TileConfig
from red.golden import deconv2d
from red.report import comprrae
from red.sim.session import simulate_layers

# A lossless tile (the contract is the exact deconvolution) with room for 8x8 inputs.
TILE = TileConfig(rows=16, cols=32, cell_bits=2, w_bits=8, in_bits=8, kernel=3,
                  max_stride=2, max_in=8, max_cin=16, max_k=3)
CHAIN = (LayerSpec(cin=8, cout=16, h=2, w=2, k=3, s=2, p=1, op=1, name="c.1"),
         LayerSpec(cin=16, cout=8, h=4, w=4, k=3, s=2, p=1, op=1, name="c.2"),
         LayerSpec(cin=8, cout=4, h=8, w=8, k=3, s=2, p=1, op=1, name="c.3"))


def out_size(layer: LayerSpec) -> int:
    """RED_TILE.md: Ho = (H-1)*s - 2p + K + op."""
    return (layer.h - 1) * layer.s - 2 * layer.p + layer.k + layer.op


@pytest.fixture(scope="module")
def chain():
    return comprrae.chain_data(CHAIN, TILE, np.random.default_rng(7))


def test_inputs_are_non_negative_requantised_relu(chain):
    x_max = (1 << (TILE.in_bits - 1)) - 1
    for d in chain:
        assert d.x.dtype == np.int64 and d.x.shape == (d.layer.cin, d.layer.h, d.layer.w)
        assert d.x.min() >= 0 and d.x.max() == x_max
        # About half of a centred output is cut by ReLU; the latent too.
        assert 0.2 < np.mean(d.x == 0) < 0.8
    # The next input is ReLU of this layer's output, requantised: zero wherever the
    # output is not positive, and increasing with it.
    for d, nxt in zip(chain, chain[1:]):
        y = deconv2d(d.x, d.w, d.layer.s, d.layer.p, d.layer.op) + d.bias[:, None, None]
        assert np.all(nxt.x[y <= 0] == 0)
        positive = y > 0
        order = np.argsort(y[positive], kind="stable")
        assert np.all(np.diff(nxt.x[positive][order]) >= 0)


def test_batch_norm_folding_centres_every_channel(chain):
    w_max = (1 << (TILE.w_bits - 1)) - 1
    for d in chain:
        # The folded weights use the tile's range; the bias fits the tile's bias width.
        assert np.abs(d.w).max() == w_max
        limit = 1 << (TILE.bias_width - 1)
        assert d.bias.shape == (d.layer.cout,)
        assert -limit <= d.bias.min() and d.bias.max() < limit
        y = deconv2d(d.x, d.w, d.layer.s, d.layer.p, d.layer.op) + d.bias[:, None, None]
        mean, std = y.mean(axis=(1, 2)), y.std(axis=(1, 2))
        assert np.all(std > 0)
        assert np.all(np.abs(mean) <= 0.05 * std), (d.layer.name, mean / std)


def test_chain_is_seeded():
    again = comprrae.chain_data(CHAIN, TILE, np.random.default_rng(7))
    other = comprrae.chain_data(CHAIN, TILE, np.random.default_rng(8))
    first = comprrae.chain_data(CHAIN, TILE, np.random.default_rng(7))
    assert all(np.array_equal(a.w, b.w) and np.array_equal(a.x, b.x)
               for a, b in zip(first, again))
    assert not np.array_equal(first[0].w, other[0].w)


def test_requantise_maps_the_percentile_to_the_top_code():
    values = np.arange(10_000, dtype=np.float64)
    x = comprrae.requantise(values, TILE)
    top = (1 << (TILE.in_bits - 1)) - 1
    cut = np.percentile(values, 99.9)
    assert x.min() == 0 and x.max() == top
    assert np.all(x[values >= cut] == top)
    assert x[int(values.size * 0.5)] == round(0.5 * values.size * top / cut)


def test_group_loads_by_hand():
    """K2 s2 p0 on 2x2: four 2x2 blocks, group (kh, kw) feeds pixel (kh, kw) of every
    block. Block (0, 0) decided after plane 1 costs its four groups 2 cycles instead of
    B; a step saves a cycle only when all its pixels are decided."""
    tile = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=2,
                      max_stride=2, max_in=2)
    layer = LayerSpec(cin=1, cout=1, h=2, w=2, k=2, s=2, p=0)
    B = tile.in_bits
    feeders = np.ones((4, 4), dtype=np.int64)
    planes = np.full((1, 4, 4), B)
    planes[0, 0, 0] = 1                              # one pixel of block (0, 0)
    loads = comprrae.group_loads(layer, tile, "red", feeders, planes)
    assert loads == {"per_group": 4 * B, "per_group_adc": 4 * B, "steps": 4,
                     "steps_shortened": 0}
    planes[0, :2, :2] = 1                            # the whole block
    loads = comprrae.group_loads(layer, tile, "red", feeders, planes)
    assert loads == {"per_group": 3 * B + 2, "per_group_adc": 3 * B + 1, "steps": 4,
                     "steps_shortened": 1}
    # ZP: one step per pixel, every group feeds it.
    loads = comprrae.group_loads(layer, tile, "zp", feeders, planes)
    assert loads == {"per_group": 12 * B + 4 * 2, "per_group_adc": 12 * B + 4,
                     "steps": 16, "steps_shortened": 4}


# -- the quick section on Icarus ---------------------------------------------------------

@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    config = comprrae.setup("quick")
    measured = comprrae.measure(config, "icarus", tmp_path_factory.mktemp("comprrae"),
                                lambda line: None, simulate_layers)
    section = comprrae.compute(config, measured)
    return config, (section.to_json(), section.problems)


def test_quick_section_runs_and_keys(quick):
    config, (part, problems) = quick
    assert problems == [] and part["sim_error"] is None
    assert part["seed"] == 2019 and part["tile"] == "quick" and part["network"] == "dcgan"
    assert [spec["mode"] for spec in part["specs"]] == ["off", "negative", "approx"]
    assert part["claims"]["computations_removed"] == 0.70
    assert part["claims"]["throughput"] == 2.8
    assert [layer["name"] for layer in part["data"]["chain"]] == \
        [f"dcgan.deconv{n}" for n in range(1, 5)]
    rows = config.tile.rows
    for layer in part["layers"]:
        shape = layer["layer"]
        # One kernel fold; with cin slices the last pass decides (s <= kernel).
        assert layer["applies"] == (shape["k"] <= config.tile.kernel
                                    and (shape["cin"] <= rows
                                         or shape["s"] <= config.tile.kernel))
        assert layer["outputs"] == shape["cout"] * out_size(LayerSpec(**shape)) ** 2
        report = layer["sets"]["report"]
        assert report["source"] == "rtl" and set(layer["sets"]) == {"report"}
        assert all(c["golden_match"] and c["model_equal"] for c in report["checks"])
        assert len(report["checks"]) == 6 and len(report["runs"]) == 6
    # Shared ADCs: the last layer on the RTL (held to golden and model), the others
    # from the model; RED and ZP, early termination off and negative.
    sources = [layer["shared_adcs"]["source"] for layer in part["layers"]]
    assert sources == ["model"] * (len(sources) - 1) + ["rtl"]
    shared = part["layers"][-1]["shared_adcs"]
    assert shared["config"]["adcs_per_array"] == config.tile.slices
    assert len(shared["checks"]) == 4
    assert all(c["golden_match"] and c["model_equal"] for c in shared["checks"])
    # Every quick layer decides, three of them in cin slices (the last pass of each).
    assert [layer["name"] for layer in part["layers"]] == \
        [f"dcgan.deconv{n}" for n in range(1, 5)]
    assert all(layer["applies"] for layer in part["layers"])
    assert sum(layer["layer"]["cin"] > rows for layer in part["layers"]) == 3


def test_quick_figures_equal_the_counters(quick):
    _, (part, _) = quick
    layer = next(layer for layer in part["layers"] if layer["applies"])
    report = layer["sets"]["report"]
    counters = {(c["mode"], c["early"]): c["counters"] for c in report["checks"]}
    shape = LayerSpec(**layer["layer"])
    outputs = shape.cout * out_size(shape) ** 2
    for run in report["runs"]:
        mine, off = counters[run["mode"], run["early"]], counters[run["mode"], "off"]
        made, skipped = mine["adc_conversions"], mine["skipped_conversions"]
        assert run["source"] == "rtl"
        assert run["total_cycles"] == mine["total_cycles"]
        assert run["conversions_skipped"] == pytest.approx(skipped / (made + skipped))
        assert run["cycles_saved"] == pytest.approx(
            1 - mine["total_cycles"] / off["total_cycles"])
        assert run["decided"] == pytest.approx(mine["decided_outputs"] / outputs)
        if run["early"] == "negative":
            assert run["error"]["relative_l2"] == 0 and run["error"]["changed"] == 0
    cycles = {key: c["total_cycles"] for key, c in counters.items()}
    for spec, ratios in report["speedups"].items():
        assert ratios["red_vs_red_off"] == pytest.approx(cycles["red", "off"]
                                                         / cycles["red", spec])
        assert ratios["red_vs_zp_off"] == pytest.approx(cycles["zp", "off"]
                                                        / cycles["red", spec])
        assert ratios["red_vs_zp_same"] == pytest.approx(cycles["zp", spec]
                                                         / cycles["red", spec])
        assert ratios["zp_vs_zp_off"] == pytest.approx(cycles["zp", "off"]
                                                       / cycles["zp", spec])
    # Negative decisions skip conversions on this data (the ReLU inputs give negative
    # outputs), in RED mode.
    assert counters["red", "negative"]["skipped_conversions"] > 0


def test_quick_shared_adcs_figures_equal_the_counters(quick):
    """The shared-ADC tile's figures from its RTL counters; its ADC cost against the
    RTL's run with one ADC per column (section 6's first set); the same conversions
    skipped as there (results and decisions do not change with the ADCs)."""
    _, (part, _) = quick
    layer = part["layers"][-1]
    shared = layer["shared_adcs"]
    counters = {(c["mode"], c["early"]): c["counters"] for c in shared["checks"]}
    plain = {(c["mode"], c["early"]): c["counters"]
             for c in layer["sets"]["report"]["checks"]}
    for run in shared["runs"]:
        mine, off = counters[run["mode"], run["early"]], counters[run["mode"], "off"]
        assert run["total_cycles"] == mine["total_cycles"]
        assert run["cycles_saved"] == pytest.approx(
            1 - mine["total_cycles"] / off["total_cycles"])
        assert mine["skipped_conversions"] == \
            plain[run["mode"], run["early"]]["skipped_conversions"]
        if run["early"] == "off":
            assert run["adc_cost"] == pytest.approx(
                mine["total_cycles"] / plain[run["mode"], "off"]["total_cycles"])
            # Nothing skipped: at least as slow as one ADC per column.
            assert mine["compute_cycles"] >= plain[run["mode"], "off"]["compute_cycles"]
