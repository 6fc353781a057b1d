"""``red.sparsity``: blocks, permutations, reordering, pruning and their errors.

Expected values come from direct loops over the tile's slices (the block definition in
``red.sparsity``'s docstring and RED_TILE.md's passes), from the mapper's own
``Schedule.pass_weights`` and from the golden deconvolution, never from the code under
test. Planted structure: weights whose non-zeros live in a random subset of blocks,
hidden under random channel permutations.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from red.config import PAPER_TILE, ConfigError, LayerSpec, TileConfig
from red.golden import deconv2d
from red.mapping import schedule
from red.sparsity import (
    apply_permutation, block_is_empty, block_mask, check_weights, count_empty_blocks,
    permute_input, prune_blocks, relative_output_error, relative_weight_error,
    reorder_channels, restore_output, sparsify, synthetic_weights, undo_permutation,
    unstructured_prune)

from _blocks import blocks_by_loop, empty_by_loop, planted

#: 8 rows, 16 physical columns of 4-bit weights in 2-bit cells: 8 logical columns.
SMALL = TileConfig(rows=8, cols=16, cell_bits=2, w_bits=4, kernel=3)
SMALL_COLS = 8


def random_sparse(rng, shape, density=0.3, bits=4):
    values = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), shape)
    return np.where(rng.random(shape) < density, values, 0)


# -- blocks --------------------------------------------------------------------------

@pytest.mark.parametrize("cin,cout,k", [(8, 8, 3), (19, 21, 3), (5, 3, 1), (17, 30, 4)])
def test_block_mask_matches_a_loop_over_the_slices(cin, cout, k):
    rng = np.random.default_rng(cin * 100 + cout)
    w = random_sparse(rng, (cin, cout, k, k), density=0.02)
    mask = block_mask(w, SMALL)
    blocks = blocks_by_loop(w, 8, SMALL_COLS)
    assert mask.shape == (math.ceil(cout / SMALL_COLS), math.ceil(cin / 8), k, k)
    assert mask.dtype == bool
    assert {index: bool(mask[index]) for index in blocks} == \
        {index: bool(block.any()) for index, block in blocks.items()}
    assert count_empty_blocks(w, SMALL) == empty_by_loop(w, 8, SMALL_COLS)


def test_block_mask_axes_follow_the_docstring():
    """One non-zero weight at w[ci][co][kh][kw] marks mask[co // cols][ci // rows][kh][kw]."""
    w = np.zeros((20, 20, 3, 3), dtype=np.int64)
    w[13, 17, 2, 1] = -3
    mask = block_mask(w, SMALL)
    assert np.argwhere(mask).tolist() == [[17 // SMALL_COLS, 13 // 8, 2, 1]]


@pytest.mark.parametrize("layer", [LayerSpec(cin=19, cout=21, h=2, w=2, k=3, s=2),
                                   LayerSpec(cin=9, cout=10, h=2, w=2, k=5, s=1),
                                   LayerSpec(cin=3, cout=2, h=2, w=2, k=7, s=4, p=1)])
def test_block_is_empty_agrees_with_the_schedule(layer):
    """For every pass and group: empty exactly when the weights the mapper gives that
    group in that pass (folds past the kernel padded with zeros) are all zero."""
    rng = np.random.default_rng(layer.cin)
    w = random_sparse(rng, (layer.cin, layer.cout, layer.k, layer.k), density=0.01)
    w[0, 0, 0, 0] = 1                         # at least one non-empty block
    mask = block_mask(w, SMALL)
    plan = schedule(layer, SMALL)
    empty_seen = nonempty_seen = 0
    for p in plan:
        held = plan.pass_weights(p, w)
        for gh in range(SMALL.kernel):
            for gw in range(SMALL.kernel):
                expected = not held[:, :, gh, gw].any()
                assert block_is_empty(mask, SMALL, p, (gh, gw)) == expected, (p, gh, gw)
                empty_seen += expected
                nonempty_seen += not expected
    assert empty_seen and nonempty_seen


# -- permutations --------------------------------------------------------------------

def test_permutation_convention_and_undo():
    rng = np.random.default_rng(3)
    w = rng.integers(-8, 8, (6, 5, 2, 2))
    perm_in, perm_out = rng.permutation(6), rng.permutation(5)
    wp = apply_permutation(w, perm_in, perm_out)
    for i in range(6):
        for j in range(5):
            assert np.array_equal(wp[i, j], w[perm_in[i], perm_out[j]])
    assert np.array_equal(undo_permutation(wp, perm_in, perm_out), w)


@pytest.mark.parametrize("s,p,op", [(1, 0, 0), (2, 1, 1), (3, 2, 0)])
def test_permuted_layer_computes_the_permuted_output(s, p, op):
    """deconv(x[perm_in], wp) is y with its channels in perm_out's order."""
    rng = np.random.default_rng(s)
    x = rng.integers(-8, 8, (7, 4, 3))
    w = rng.integers(-8, 8, (7, 5, 3, 3))
    perm_in, perm_out = rng.permutation(7), rng.permutation(5)
    y = deconv2d(x, w, s, p, op)
    yp = deconv2d(permute_input(x, perm_in), apply_permutation(w, perm_in, perm_out), s, p, op)
    assert np.array_equal(yp, y[perm_out])
    assert np.array_equal(restore_output(yp, perm_out), y)


# -- reordering ----------------------------------------------------------------------

def _check_reordering(w, tile, result):
    cin, cout = w.shape[:2]
    assert sorted(result.perm_in) == list(range(cin))
    assert sorted(result.perm_out) == list(range(cout))
    permuted = apply_permutation(w, result.perm_in, result.perm_out)
    assert result.empty_blocks == empty_by_loop(permuted, tile.rows, tile.logical_cols)


@pytest.mark.parametrize("seed,cin,cout,k,rows,cols,live,density", [
    (11, 64, 48, 3, 8, 8, 0.5, 0.5),          # SMALL-sized blocks
    (12, 100, 50, 3, 16, 8, 0.3, 0.3),        # slices that do not divide the channels
    (13, 256, 64, 3, 32, 8, 0.5, 0.5),
    (14, 300, 90, 5, 64, 16, 0.4, 0.2),       # sparse live blocks, k=5
    (16, 300, 90, 5, 64, 16, 0.4, 0.5),       # remainder slices on both axes
])
def test_reordering_recovers_planted_blocks(seed, cin, cout, k, rows, cols, live, density):
    print(f"planted structure seed {seed}")
    tile = TileConfig(rows=rows, cols=cols * 2, cell_bits=2, w_bits=4, kernel=3)
    assert tile.logical_cols == cols
    w, hidden = planted(np.random.default_rng(seed), cin, cout, k, rows, cols, live, density)
    planted_empty = empty_by_loop(w, rows, cols)
    hidden_empty = empty_by_loop(hidden, rows, cols)
    result = reorder_channels(hidden, tile)
    _check_reordering(hidden, tile, result)
    print(f"empty blocks: planted {planted_empty}, hidden {hidden_empty}, "
          f"reordered {result.empty_blocks}")
    assert hidden_empty < 0.5 * planted_empty          # the permutation did hide them
    assert result.empty_blocks >= 0.9 * planted_empty


def test_paper_tile_full_size_layer():
    """DCGAN's largest layer shape on the paper tile: planted structure recovered, in
    seconds (the bound is loose: a shared test machine)."""
    seed = 21
    print(f"planted structure seed {seed}")
    w, hidden = planted(np.random.default_rng(seed), 1024, 1024, 5, PAPER_TILE.rows,
                        PAPER_TILE.logical_cols, 0.3, 0.3)
    planted_empty = empty_by_loop(w, PAPER_TILE.rows, PAPER_TILE.logical_cols)
    start = time.perf_counter()
    result = reorder_channels(hidden, PAPER_TILE)
    elapsed = time.perf_counter() - start
    print(f"empty blocks: planted {planted_empty}, reordered {result.empty_blocks}; "
          f"{elapsed:.2f} s")
    _check_reordering(hidden, PAPER_TILE, result)
    assert result.empty_blocks >= 0.9 * planted_empty
    assert elapsed < 15


@pytest.mark.parametrize("case", ["structured", "faint", "random", "dense"])
def test_reordering_is_never_worse_than_the_identity(case):
    rng = np.random.default_rng(5)
    if case == "structured":                  # already ordered: nothing to gain
        w, _ = planted(rng, 40, 24, 3, 8, SMALL_COLS, 0.4, 0.6)
    elif case == "faint":
        # Ordered, but live blocks so sparse (about 0.4 non-zeros per channel and block)
        # that clustering alone finds far fewer empty blocks than this order has.
        w, _ = planted(rng, 128, 48, 3, 8, SMALL_COLS, 0.6, 0.05)
    elif case == "random":
        w = random_sparse(rng, (40, 24, 3, 3), density=0.01)
    else:
        w = rng.integers(1, 8, (40, 24, 3, 3))
    result = reorder_channels(w, SMALL)
    _check_reordering(w, SMALL, result)
    assert result.empty_blocks >= empty_by_loop(w, 8, SMALL_COLS)


def test_reordering_is_deterministic():
    _, hidden = planted(np.random.default_rng(8), 64, 40, 3, 8, SMALL_COLS, 0.5, 0.4)
    first, second = reorder_channels(hidden, SMALL), reorder_channels(hidden, SMALL)
    assert np.array_equal(first.perm_in, second.perm_in)
    assert np.array_equal(first.perm_out, second.perm_out)


# -- pruning -------------------------------------------------------------------------

def test_block_pruning_zeroes_the_weakest_blocks():
    rng = np.random.default_rng(4)
    w = rng.integers(-8, 8, (20, 20, 3, 3))
    w[:8, :8, 0, 0] = 0                       # one block already empty
    fraction = 0.4
    pruned = prune_blocks(w, SMALL, fraction)
    before, after = blocks_by_loop(w, 8, SMALL_COLS), blocks_by_loop(pruned, 8, SMALL_COLS)
    target = math.ceil(fraction * len(before))
    assert sum(not b.any() for b in after.values()) == target
    zeroed = [i for i in before if before[i].any() and not after[i].any()]
    kept = [i for i in before if after[i].any()]
    assert len(zeroed) == target - 1
    for index in kept:                         # kept blocks are untouched ...
        assert np.array_equal(after[index], before[index])
    norm = {i: float(np.sum(before[i].astype(float) ** 2)) for i in before}
    # ... and none is weaker than a zeroed one.
    assert max(norm[i] for i in zeroed) <= min(norm[i] for i in kept)


def test_block_pruning_limits():
    rng = np.random.default_rng(6)
    w = random_sparse(rng, (16, 16, 3, 3), density=0.5)
    assert np.array_equal(prune_blocks(w, SMALL, 0.0), w)
    assert not prune_blocks(w, SMALL, 1.0).any()
    already = count_empty_blocks(w, SMALL) / block_mask(w, SMALL).size
    assert np.array_equal(prune_blocks(w, SMALL, already), w)
    # 0.07 * 100 is 7.000000000000001 in floats: still 7 of 100 blocks, not 8.
    hundred_blocks = rng.integers(1, 8, (8, SMALL_COLS * 100, 1, 1))
    assert empty_by_loop(prune_blocks(hundred_blocks, SMALL, 0.07), 8, SMALL_COLS) == 7
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="must be in"):
            prune_blocks(w, SMALL, bad)


def test_unstructured_pruning_zeroes_the_smallest_weights():
    rng = np.random.default_rng(7)
    w = rng.integers(-100, 100, (6, 5, 3, 3))
    pruned = unstructured_prune(w, 0.7)
    target = math.ceil(0.7 * w.size)
    zeroed = (pruned == 0) & (w != 0)
    assert np.count_nonzero(pruned == 0) == max(target, np.count_nonzero(w == 0))
    assert np.array_equal(pruned[pruned != 0], w[pruned != 0])
    assert np.abs(w[zeroed]).max() <= np.abs(w[pruned != 0]).min()
    assert np.array_equal(unstructured_prune(w, 0.0), w)


def test_relative_errors_by_hand():
    w = np.array([3, 4]).reshape(1, 2, 1, 1)           # ||w|| = 5
    w_pruned = np.array([0, 4]).reshape(1, 2, 1, 1)    # ||w - w_pruned|| = 3
    assert relative_weight_error(w, w_pruned) == pytest.approx(0.6)
    assert relative_weight_error(np.zeros_like(w), np.zeros_like(w)) == 0.0
    # A 1x1 layer on a 1x1 input: y = x * w, so the output error is the weight error.
    layer = LayerSpec(cin=1, cout=2, h=1, w=1, k=1)
    x = np.array([[[-7]]])
    assert relative_output_error(x, w, w_pruned, layer) == pytest.approx(0.6)
    assert relative_output_error(x, w, w, layer) == 0.0


def test_relative_output_error_of_a_real_layer():
    """Against an independent evaluation: the output difference is the layer of the
    weight difference (the deconvolution is linear in the weights)."""
    rng = np.random.default_rng(9)
    layer = LayerSpec(cin=6, cout=4, h=3, w=3, k=3, s=2, p=1, op=1)
    x = rng.integers(-8, 8, (6, 3, 3))
    w = rng.integers(-8, 8, (6, 4, 3, 3))
    w_pruned = prune_blocks(w, TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4), 0.5)
    y = deconv2d(x, w, 2, 1, 1)
    difference = deconv2d(x, w - w_pruned, 2, 1, 1)
    expected = np.linalg.norm(difference) / np.linalg.norm(y)
    assert relative_output_error(x, w, w_pruned, layer) == pytest.approx(expected)
    assert 0 < expected < 1
    with pytest.raises(ConfigError, match="shape"):
        relative_output_error(x, w[:5], w_pruned[:5], layer)


# -- synthetic weights and the whole flow --------------------------------------------

@pytest.mark.parametrize("distribution", ["laplace", "gauss"])
def test_synthetic_weights(distribution):
    tile = TileConfig(rows=8, cols=16, cell_bits=2, w_bits=8, kernel=3)
    w = synthetic_weights(32, 16, 3, tile, distribution=distribution, seed=1)
    assert w.shape == (32, 16, 3, 3) and w.dtype == np.int64
    assert np.abs(w).max() == 127                       # w_max of 8-bit weights
    assert np.array_equal(w, synthetic_weights(32, 16, 3, tile, distribution=distribution,
                                               seed=1))
    per_channel = w.std(axis=(0, 2, 3))
    assert per_channel.max() > 1.5 * per_channel.min()  # channels differ in scale
    with pytest.raises(ConfigError, match="distribution"):
        synthetic_weights(2, 2, 1, tile, distribution="uniform")


def test_laplace_weights_have_heavier_tails_than_gauss():
    tile = TileConfig(rows=8, cols=16, cell_bits=2, w_bits=16, kernel=3)

    def kurtosis(w):
        w = w.astype(float) / w.std(axis=(0, 2, 3), keepdims=True)   # undo channel scales
        return float(np.mean(w ** 4) / np.mean(w ** 2) ** 2)

    # Normal: 3, Laplace: 6.
    assert kurtosis(synthetic_weights(64, 32, 3, tile, distribution="gauss")) < 3.5
    assert kurtosis(synthetic_weights(64, 32, 3, tile, distribution="laplace")) > 5


def test_sparsify_end_to_end():
    rng = np.random.default_rng(10)
    _, hidden = planted(rng, 40, 30, 3, 8, SMALL_COLS, 0.5, 0.5)
    result = sparsify(hidden, SMALL, prune=0.75)
    blocks = blocks_by_loop(result.weights, 8, SMALL_COLS)
    assert result.blocks_total == len(blocks)
    assert result.empty_blocks_dense == empty_by_loop(hidden, 8, SMALL_COLS)
    assert result.empty_blocks_pruned == sum(not b.any() for b in blocks.values()) \
        >= math.ceil(0.75 * len(blocks))
    assert result.empty_blocks_reordered > result.empty_blocks_dense
    # Pruning only zeroes weights of the reordered layer.
    reordered = apply_permutation(hidden, result.perm_in, result.perm_out)
    kept = result.weights != 0
    assert np.array_equal(result.weights[kept], reordered[kept])
    assert result.relative_weight_error == pytest.approx(
        np.linalg.norm(reordered - result.weights) / np.linalg.norm(hidden))
    assert np.array_equal(result.mask, block_mask(result.weights, SMALL))


@pytest.mark.parametrize("shape,needle", [((3, 3, 3), "shape"), ((3, 3, 3, 2), "square"),
                                          ((0, 3, 3, 3), "empty axis"),
                                          ((5000, 1, 1, 1), "max_cin=4096"),
                                          ((1, 1, 65, 65), "max_k=64")])
def test_check_weights_refuses_what_no_tile_runs(shape, needle):
    with pytest.raises(ConfigError, match=needle):
        check_weights(np.zeros(shape, dtype=np.int64), SMALL)


def test_check_weights_refuses_out_of_range_values():
    w = np.zeros((2, 2, 1, 1), dtype=np.int64)
    w[1, 1, 0, 0] = 8                          # 4-bit weights end at 7
    with pytest.raises(ConfigError, match=r"8 is outside the 4-bit signed range \[-8, 7\]"):
        check_weights(w, SMALL)
