"""Analytical model (red.model) and workloads (red.workloads).

The reference counts are computed here by walking every pass, step and crossbar group as
RED_TILE.md describes the data flows; the model computes them from per-axis products.
"""

from __future__ import annotations

import math
import dataclasses
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from red.config import ConfigError, LayerSpec, TileConfig
from red.golden import deconv2d
from red.model import ISAAC_TILE, compare, estimate, sum_estimates
from red.modes import MODES
from red.workloads import WORKLOADS, get_workload

# slices = 4/2 = 2, so 4 logical columns; 3 input channels per crossbar.
SMALL_TILE = TileConfig(rows=3, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=5,
                        max_stride=4, max_in=16)

# The same crossbars with a 2x2 kernel: k > 2 runs in kernel folds.
FOLD_TILE = dataclasses.replace(SMALL_TILE, kernel=2)

LAYERS = [
    LayerSpec(cin=3, cout=4, h=4, w=3, k=3, s=2, p=1, op=1),
    LayerSpec(cin=7, cout=9, h=3, w=4, k=4, s=2, p=1),          # 3 cin x 3 cout tiles
    LayerSpec(cin=2, cout=3, h=3, w=3, k=5, s=2, p=2, op=1),
    LayerSpec(cin=4, cout=5, h=4, w=3, k=3, s=1, p=2),          # p=k-1: output border gated
    LayerSpec(cin=1, cout=1, h=3, w=4, k=2, s=4, p=1, op=3),    # s>k: outputs without terms
    LayerSpec(cin=5, cout=2, h=2, w=3, k=5, s=3, p=4, op=2),
    LayerSpec(cin=2, cout=6, h=1, w=1, k=4, s=1),               # DCGAN-PyTorch first layer
]


def _tiles(n: int, size: int) -> list[int]:
    """Active lanes of each tile when ``n`` lanes are split into tiles of ``size``."""
    return [min(size, n - start) for start in range(0, n, size)]


def brute_force(layer: LayerSpec, tile: TileConfig, mode: str) -> dict:
    """Count steps and events by visiting every pass (cin tile x cout tile x kernel
    fold of ``tile.kernel x tile.kernel`` kernel pixels), step and group. A step's
    planes take ``ceil(cols * slices / A)`` cycles with shared ADCs when one of its
    groups is driven (one cycle otherwise, and without shared ADCs)."""
    k, s, p, bx, K = layer.k, layer.s, layer.p, tile.in_bits, tile.kernel
    slices = tile.w_bits // tile.cell_bits
    ho = (layer.h - 1) * s - 2 * p + k + layer.op
    wo = (layer.w - 1) * s - 2 * p + k + layer.op
    cin_tiles = _tiles(layer.cin, tile.rows)
    cout_tiles = _tiles(layer.cout, tile.cols // slices)
    folds = [(kh0, kw0) for kh0 in range(0, k, K) for kw0 in range(0, k, K)]
    count = Counter()
    # results[key]: group results added into one value: per pass and output position in
    # RED and ZP (a step merges its groups), per cout tile and uncropped position in PF
    # (the overlap-add of every pass).
    results = Counter()

    def in_output(oh, ow):
        return 0 <= oh < ho and 0 <= ow < wo

    for rows in cin_tiles:
        for co_tile, cols in enumerate(cout_tiles):
            for kh0, kw0 in folds:
                count["passes"] += 1
                window = [(kh, kw) for kh in range(kh0, min(kh0 + K, k))
                          for kw in range(kw0, min(kw0 + K, k))]
                positions_read = set()

                def plane_cycles(driven):
                    A = tile.adcs_per_array
                    return -(-cols * slices // A) if A and driven else 1

                def drive(value_position, useful):
                    count["group_activations"] += 1
                    count["wasted_group_steps"] += not useful
                    count["adc_conversions"] += bx * cols * slices
                    count["row_drives"] += bx * rows
                    key = (co_tile, value_position) if mode == "pf" else \
                        (count["passes"], value_position)
                    results[key] += 1
                    return key

                if mode == "red":
                    blocks_h = sorted({(o + p) // s for o in range(ho)})
                    blocks_w = sorted({(o + p) // s for o in range(wo)})
                    for qh in blocks_h:
                        for qw in blocks_w:
                            count["steps"] += 1
                            driven = False
                            for kh, kw in window:
                                ih, iw = qh - kh // s, qw - kw // s
                                oh, ow = qh * s + kh % s - p, qw * s + kw % s - p
                                if (0 <= ih < layer.h and 0 <= iw < layer.w
                                        and in_output(oh, ow)):
                                    positions_read.add((ih, iw))
                                    drive((oh, ow), useful=True)
                                    driven = True
                                else:
                                    count["gated_group_steps"] += 1
                            count["compute_cycles"] += bx * plane_cycles(driven)
                elif mode == "zp":
                    pad = k - 1 - p
                    zh = (layer.h - 1) * s + 1 + 2 * pad + layer.op
                    zw = (layer.w - 1) * s + 1 + 2 * pad + layer.op
                    raw = np.zeros((zh, zw), dtype=bool)
                    raw[pad:pad + (layer.h - 1) * s + 1:s,
                        pad:pad + (layer.w - 1) * s + 1:s] = True
                    for oh in range(ho):
                        for ow in range(wo):
                            count["steps"] += 1
                            count["compute_cycles"] += bx * plane_cycles(True)
                            for kh, kw in window:
                                # flipped kernel: tap kh reads window row k-1-kh
                                a, b = k - 1 - kh, k - 1 - kw
                                positions_read.add((oh + a, ow + b))
                                drive((oh, ow), useful=bool(raw[oh + a, ow + b]))
                else:
                    for ih in range(layer.h):
                        for iw in range(layer.w):
                            count["steps"] += 1
                            count["compute_cycles"] += bx * plane_cycles(True)
                            positions_read.add((ih, iw))
                            for kh, kw in window:
                                uh, uw = ih * s + kh, iw * s + kw    # uncropped map
                                kept = in_output(uh - p, uw - p)
                                drive((uh, uw), useful=kept)
                                # A kept result: read, add, write back, per channel.
                                for field in ("psum_buffer_reads", "psum_buffer_writes",
                                              "psum_buffer_accumulations"):
                                    count[field] += cols * kept
                    # Each output emitted: read, then cleared.
                    count["psum_buffer_reads"] += cols * ho * wo
                    count["psum_buffer_writes"] += cols * ho * wo
                count["input_buffer_reads"] += rows * len(positions_read)

    count["steps"] //= count["passes"]
    passes_per_cout_tile = count["passes"] // len(cout_tiles)
    if mode != "pf":                  # PF adds in its overlap-add buffer (above)
        # Within a pass: RED adds the results that land on one pixel; ZP adds every
        # group of the fold, zero-inserted or not.
        for (n_pass, _), n in results.items():
            co_tile = (n_pass - 1) // passes_per_cout_tile
            count["merge_additions"] += cout_tiles[co_tile] * (n - 1)
    # Every pass after the first of a cout tile adds the previous pass's output.
    count["psum_additions"] = (passes_per_cout_tile - 1) * ho * wo * layer.cout
    return count


@pytest.mark.parametrize("layer", LAYERS, ids=str)
@pytest.mark.parametrize("mode", ["red", "zp", "pf"])
@pytest.mark.parametrize("tile", [SMALL_TILE, FOLD_TILE,
                                  dataclasses.replace(SMALL_TILE, adcs_per_array=2),
                                  dataclasses.replace(FOLD_TILE, adcs_per_array=1)],
                         ids=["one fold", "folds", "one fold, shared ADCs",
                              "folds, shared ADCs"])
def test_counts_match_brute_force(layer, mode, tile):
    expected = brute_force(layer, tile, mode)
    got = estimate(layer, tile, mode).as_dict()
    for field in ("passes", "steps", "compute_cycles", "group_activations",
                  "gated_group_steps", "wasted_group_steps", "adc_conversions",
                  "row_drives", "input_buffer_reads", "merge_additions", "psum_additions",
                  "psum_buffer_reads", "psum_buffer_writes", "psum_buffer_accumulations"):
        assert got[field] == expected[field], field
    assert got["total_cycles"] == got["compute_cycles"] + got["fill_drain_cycles"]
    assert got["fill_drain_cycles"] >= 1


@pytest.mark.parametrize("layer", LAYERS, ids=str)
def test_useful_group_steps_are_the_deconvolution_terms(layer):
    """Driven, non-wasted group steps are exactly the scatter terms that land in the
    output, in every mode: with all-ones data the golden output counts them."""
    ones = np.ones((1, layer.h, layer.w), dtype=np.int64)
    terms = int(deconv2d(ones, np.ones((1, 1, layer.k, layer.k), dtype=np.int64),
                         layer.s, layer.p, layer.op).sum())
    for mode in MODES:
        est = estimate(layer, SMALL_TILE, mode)
        assert est.group_activations - est.wasted_group_steps == est.passes * terms
    assert estimate(layer, SMALL_TILE, "red").wasted_group_steps == 0


def rtl_buffer_events(layer: LayerSpec, mode: str) -> Counter:
    """Buffer events of one pass, step by step and group by group as ``rtl/tile.py`` and
    ``rtl/merge.py`` count them (no per-axis shortcut).

    RED: block ``(qh, qw)``; group ``(kh, kw)`` receives a raw pixel when it is not
    gated (its input and its output both in range). ZP: output pixel ``(oh, ow)`` with
    ``oh + p = qh*s + rh``; group ``(kh, kw)`` receives a raw pixel when
    ``(kh mod s, kw mod s) == (rh, rw)`` and ``x[qh - kh div s][qw - kw div s]`` exists.
    A step reads each window position ``(kh div s, kw div s)`` that some receiving group
    maps to, once.
    """
    k, s, p, h, w = layer.k, layer.s, layer.p, layer.h, layer.w
    ho = (h - 1) * s - 2 * p + k + layer.op
    wo = (w - 1) * s - 2 * p + k + layer.op
    count = Counter(line_buffer_writes=h * w)
    emitted = set()

    def inside(ih, iw):
        return 0 <= ih < h and 0 <= iw < w

    if mode == "red":
        blocks_h = sorted({(o + p) // s for o in range(ho)})
        blocks_w = sorted({(o + p) // s for o in range(wo)})
        for qh in blocks_h:
            for qw in blocks_w:
                window = {(kh // s, kw // s) for kh in range(k) for kw in range(k)
                          if inside(qh - kh // s, qw - kw // s)
                          and 0 <= qh * s + kh % s - p < ho
                          and 0 <= qw * s + kw % s - p < wo}
                count["window_reads"] += len(window)
                for a in range(s):
                    for b in range(s):
                        oh, ow = qh * s + a - p, qw * s + b - p
                        if 0 <= oh < ho and 0 <= ow < wo:
                            count["out_buffer_writes"] += 1
                            emitted.add((oh, ow))
    else:
        for oh in range(ho):
            for ow in range(wo):
                (qh, rh), (qw, rw) = divmod(oh + p, s), divmod(ow + p, s)
                window = {(kh // s, kw // s) for kh in range(k) for kw in range(k)
                          if (kh % s, kw % s) == (rh, rw)
                          and inside(qh - kh // s, qw - kw // s)}
                count["window_reads"] += len(window)
                count["out_buffer_writes"] += 1
                emitted.add((oh, ow))
    count["out_buffer_reads"] = len(emitted)
    return count


BUFFER_FIELDS = ("line_buffer_writes", "window_reads", "out_buffer_writes",
                 "out_buffer_reads")


@pytest.mark.parametrize("layer", LAYERS, ids=str)
@pytest.mark.parametrize("mode", ["red", "zp"])
def test_buffer_events_match_the_rtl_rules(layer, mode):
    est = estimate(layer, SMALL_TILE, mode)
    per_pass = rtl_buffer_events(layer, mode)
    for field in BUFFER_FIELDS:
        assert getattr(est, field) == est.passes * per_pass[field], field
    # Every output pixel is written and read once per pass.
    assert est.out_buffer_writes == est.out_buffer_reads == est.passes * layer.ho * layer.wo


@pytest.mark.parametrize("mode", ["red", "zp"])
@given(k=st.integers(1, 5), s=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5),
       p_frac=st.floats(0, 0.999), op_frac=st.floats(0, 0.999))
def test_window_reads_match_the_rtl_rules_on_random_shapes(mode, k, s, h, w, p_frac,
                                                           op_frac):
    p, op = int(p_frac * k), int(op_frac * s)
    try:
        layer = LayerSpec(cin=1, cout=1, h=h, w=w, k=k, s=s, p=p, op=op)
    except ConfigError:
        return                                   # empty output
    est = estimate(layer, SMALL_TILE, mode)
    per_pass = rtl_buffer_events(layer, mode)
    assert est.passes == 1
    assert {f: getattr(est, f) for f in BUFFER_FIELDS} == {f: per_pass[f]
                                                           for f in BUFFER_FIELDS}


def test_window_reads_by_hand():
    # k=3, s=2, p=1, op=1 on a 2x1 input: Ho = 1*2 - 2 + 3 + 1 = 4, Wo = 0 - 2 + 3 + 1 = 2.
    # Along h, blocks q = floor((o+1)/2) of o = 0..3 are 0, 1, 2; taps kh = 0, 1, 2 map
    # to window offsets 0, 0, 1. Terms (i, kh) -> o = 2i - 1 + kh kept in [0, 4):
    # i=0: kh=1 (o=0, q=0), kh=2 (o=1, q=1); i=1: kh=0 (o=1, q=1), kh=1 (o=2, q=1),
    # kh=2 (o=3, q=2). Distinct (i, q): (0,0), (0,1), (1,1), (1,2) -> 4 reads; 5 terms.
    # Along w (one input, Wo=2): i=0: kh=1 (o=0, q=0), kh=2 (o=1, q=1) -> 2 reads, 2 terms.
    layer = LayerSpec(cin=1, cout=1, h=2, w=1, k=3, s=2, p=1, op=1)
    assert estimate(layer, SMALL_TILE, "red").window_reads == 4 * 2
    assert estimate(layer, SMALL_TILE, "zp").window_reads == 5 * 2
    pf = estimate(layer, SMALL_TILE, "pf")
    assert (pf.line_buffer_writes, pf.window_reads) == (2, 2)
    assert (pf.out_buffer_writes, pf.out_buffer_reads) == (0, 0)


def test_first_order_cycles_by_hand():
    # Ho = 3*2 - 2 + 3 + 1 = 8, Wo = 2*2 - 2 + 3 + 1 = 6; blocks floor((o+1)/2):
    # 0..4 along h (5), 0..3 along w (4); one pass, 4 cycles per step.
    layer = LayerSpec(cin=3, cout=4, h=4, w=3, k=3, s=2, p=1, op=1)
    assert estimate(layer, SMALL_TILE, "red").compute_cycles == 5 * 4 * 4
    assert estimate(layer, SMALL_TILE, "zp").compute_cycles == 8 * 6 * 4
    assert estimate(layer, SMALL_TILE, "pf").compute_cycles == 4 * 3 * 4
    result = compare(layer, SMALL_TILE)
    totals = {mode: result[mode].total_cycles for mode in ("red", "zp", "pf")}
    assert result["red_vs_zp"] == pytest.approx(totals["zp"] / totals["red"])
    assert result["red_vs_pf"] == pytest.approx(totals["pf"] / totals["red"])


@pytest.mark.parametrize("layer", LAYERS, ids=str)
def test_cycle_formulas_of_red_tile_md(layer):
    """ZP ``Ho*Wo*Bx``, PF ``H*W*Bx``, RED ``Nbh*Nbw*Bx`` per pass."""
    def blocks(n_out):
        return (n_out - 1 + layer.p) // layer.s - layer.p // layer.s + 1

    passes = math.ceil(layer.cin / 3) * math.ceil(layer.cout / 4)
    ho = (layer.h - 1) * layer.s - 2 * layer.p + layer.k + layer.op
    wo = (layer.w - 1) * layer.s - 2 * layer.p + layer.k + layer.op
    expected = {"zp": ho * wo, "pf": layer.h * layer.w, "red": blocks(ho) * blocks(wo)}
    for mode, steps in expected.items():
        assert estimate(layer, SMALL_TILE, mode).compute_cycles == passes * steps * 4


def test_pass_splitting_multiplies_cycles():
    layer = LayerSpec(cin=10, cout=7, h=3, w=3, k=3, s=2, p=1)
    big = TileConfig(rows=16, cols=16, cell_bits=2, w_bits=4, in_bits=4, kernel=3)
    small = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3)
    for mode in MODES:
        one, split = estimate(layer, big, mode), estimate(layer, small, mode)
        assert (one.passes, one.cin_tiles, one.cout_tiles) == (1, 1, 1)
        assert (split.passes, split.cin_tiles, split.cout_tiles) == (6, 3, 2)
        assert split.total_cycles == 6 * one.total_cycles
        assert split.group_activations == 6 * one.group_activations
        # Each cin row is driven once per cout tile; each cout column converted once
        # per cin tile.
        assert split.row_drives == 2 * one.row_drives
        assert split.adc_conversions == 3 * one.adc_conversions
        for field in BUFFER_FIELDS:
            assert getattr(split, field) == 6 * getattr(one, field), (mode, field)


def test_cin_tiles_add_one_partial_sum_per_output_and_pass():
    layer = LayerSpec(cin=6, cout=1, h=2, w=2, k=2, s=2)       # each output: one term
    tile = TileConfig(rows=2, cols=2, cell_bits=2, w_bits=4, in_bits=2, kernel=2)
    red = estimate(layer, tile, "red")
    assert red.cin_tiles == 3
    assert red.merge_additions == 0                             # one group per output
    assert red.psum_additions == 4 * 4 * (3 - 1)                # 16 outputs, 3 partials


def test_kernel_larger_than_max_k_is_rejected():
    layer = LayerSpec(cin=2, cout=2, h=4, w=4, k=5, s=2, name="big")
    tile = TileConfig(kernel=3, max_k=4)
    with pytest.raises(ConfigError, match=r"big.*k=5.*max_k=4"):
        estimate(layer, tile, "red")
    with pytest.raises(ConfigError, match="k=5"):
        compare(layer, tile)


def test_stride_beyond_the_tile_is_rejected():
    with pytest.raises(ConfigError, match=r"s=8.*max_stride=4"):
        estimate(LayerSpec(cin=1, cout=1, h=2, w=2, k=3, s=8), TileConfig(), "zp")


def test_unknown_mode_is_rejected():
    with pytest.raises(ConfigError, match="'fast'"):
        estimate(LAYERS[0], SMALL_TILE, "fast")


def test_sum_estimates_adds_layer_totals():
    estimates = [estimate(layer, SMALL_TILE, "pf") for layer in LAYERS[:3]]
    totals = sum_estimates(estimates)
    assert totals["total_cycles"] == sum(e.total_cycles for e in estimates)
    assert totals["psum_buffer_reads"] == sum(e.psum_buffer_reads for e in estimates)
    assert "steps" not in totals and "mode" not in totals


def test_isaac_tile_is_the_reference_configuration():
    assert (ISAAC_TILE.rows, ISAAC_TILE.cols, ISAAC_TILE.cell_bits, ISAAC_TILE.w_bits,
            ISAAC_TILE.in_bits, ISAAC_TILE.adc_bits) == (128, 128, 2, 16, 16, 8)


# -- workloads -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dcgan", "dcgan-pytorch", "sngan"])
def test_generator_layers_chain(name):
    layers = WORKLOADS[name]
    for before, after in zip(layers, layers[1:]):
        assert (before.cout, before.ho, before.wo) == (after.cin, after.h, after.w)
    assert [layer.name for layer in layers] == [f"{name}.deconv{i}"
                                                for i in range(1, len(layers) + 1)]


def test_generator_outputs():
    assert [(layer.cout, layer.ho) for layer in WORKLOADS["dcgan"]][-1] == (3, 64)
    assert [(layer.cin, layer.h) for layer in WORKLOADS["dcgan-pytorch"]][0] == (100, 1)
    assert len(WORKLOADS["dcgan-pytorch"]) == 5
    assert [(layer.cout, layer.ho) for layer in WORKLOADS["sngan"]][-1] == (64, 32)


def test_fcn_sizes_follow_the_caffe_reference_nets():
    """Caffe FCN on 500x500: 16x16 scores; upscored maps are cropped to 500x500."""
    shapes = {layer.name: (layer.h, layer.k, layer.s, layer.ho)
              for layer in WORKLOADS["fcn"]}
    assert shapes == {
        "fcn8s.upscore2": (16, 4, 2, 34),
        "fcn8s.upscore_pool4": (34, 4, 2, 70),
        "fcn8s.upscore8": (70, 16, 8, 568),
        "fcn16s.upscore2": (16, 4, 2, 34),
        "fcn16s.upscore16": (34, 32, 16, 560),
        "fcn32s.upscore": (16, 64, 32, 544),
    }
    assert all((layer.cin, layer.cout, layer.p) == (21, 21, 0) for layer in WORKLOADS["fcn"])
    assert WORKLOADS["fcn"] == WORKLOADS["fcn8s"] + WORKLOADS["fcn16s"] + WORKLOADS["fcn32s"]


def test_unknown_workload_lists_known_names():
    assert get_workload("sngan") == WORKLOADS["sngan"]
    with pytest.raises(ConfigError, match=r"'gan'.*dcgan.*fcn32s"):
        get_workload("gan")
