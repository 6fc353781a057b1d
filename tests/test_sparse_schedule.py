"""Sparse schedules (red.mapping.schedule with a block mask), the per-pass model that
counts them, and the golden model's gated blocks.

The per-pass model is checked against the closed forms of the dense model on random
layers (the two are written independently), and on sparse schedules against a count
by hand.
"""

import numpy as np
import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.golden import crossbar_deconv2d, deconv2d
from red.mapping import schedule
from red.model import _estimate, _per_pass_estimate, estimate

SEED = 2019
TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=3, kernel=2, max_stride=8,
                  max_in=6, max_cin=5, max_k=5, out_pixels=4)


def random_layers(rng, count):
    layers = []
    while len(layers) < count:
        k, s = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        try:
            layers.append(LayerSpec(int(rng.integers(1, 6)), int(rng.integers(1, 6)),
                                    int(rng.integers(1, 7)), int(rng.integers(1, 7)), k, s,
                                    int(rng.integers(0, k)), int(rng.integers(0, s))))
        except ConfigError:
            continue
    return layers


@pytest.mark.parametrize("mode", ["red", "zp"])
def test_per_pass_model_equals_the_closed_forms(mode):
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    for layer in random_layers(rng, 40):
        plan = schedule(layer, TILE)
        dense, counted = _estimate(plan, mode).as_dict(), _per_pass_estimate(plan, mode).as_dict()
        assert dense == counted, (layer, {k: (dense[k], counted[k]) for k in dense
                                          if dense[k] != counted[k]})


def test_empty_passes_are_dropped_and_the_rest_accumulate():
    layer = LayerSpec(cin=5, cout=3, h=3, w=3, k=3, s=2, p=1, op=1)
    # 2 cout slices x 3 cin slices x 4 folds (kh0, kw0 in 0, 2) = 24 candidate passes;
    # blocks [cout slice][cin slice][kh][kw].
    blocks = np.ones((2, 3, 3, 3), dtype=bool)
    blocks[0, 1] = False          # cout slice 0, cin slice 1: its 4 folds go
    blocks[1, :, :2, :2] = False  # cout slice 1, fold (0, 0), every cin slice: 3 go
    blocks[1, 0, 2, 2] = False    # fold (2, 2) holds only kernel pixel (2, 2): 1 goes
    blocks[1, 1, 2, 0] = False    # fold (2, 0) holds (2, 0) and (2, 1): (2, 0) gated
    plan = schedule(layer, TILE, blocks)
    assert plan.skipped_passes == 8 and len(plan) == 24 - 8
    for cout in (range(0, 2), range(2, 3)):
        runs = [p for p in plan if p.cout == cout]
        assert [p.accumulate for p in runs] == [False] + [True] * (len(runs) - 1)
        assert [p.last for p in runs] == [False] * (len(runs) - 1) + [True]
    assert not any(p.cin == range(2, 4) for p in plan if p.cout == range(0, 2))
    (gated,) = [p for p in plan if any(p.empty)]
    # Group (gh, gw) = (0, 0) of fold (2, 0) is kernel pixel (2, 0).
    assert (gated.cout, gated.cin, gated.kh0, gated.kw0) == (range(2, 3), range(2, 4), 2, 0)
    assert gated.empty == (True, False, False, False)


def test_gated_groups_and_their_counts():
    layer = LayerSpec(cin=2, cout=2, h=2, w=2, k=2, s=1, p=0)
    blocks = np.ones((1, 1, 2, 2), dtype=bool)
    blocks[0, 0, 0, 1] = False
    plan = schedule(layer, TILE, blocks)
    (run,) = plan.passes
    assert run.empty == (False, True, False, False)
    est = estimate(layer, TILE, "red", blocks)
    # 3x3 output, s=1: 9 blocks; each of the 3 live groups has 2x2 in-range terms.
    assert est.skipped_blocks == 1 and est.skipped_passes == 0
    assert est.group_activations == 3 * 4
    assert est.adc_conversions == TILE.in_bits * TILE.slices * 2 * 12
    assert est.gated_group_steps == 9 * 3 - 12


def test_a_cout_slice_with_no_weights_keeps_one_gated_pass():
    layer = LayerSpec(cin=3, cout=2, h=2, w=2, k=2, s=2, p=0)
    blocks = np.zeros((1, 2, 2, 2), dtype=bool)
    plan = schedule(layer, TILE, blocks)
    assert len(plan) == 1 and plan.skipped_passes == 1 and all(plan.passes[0].empty)
    est = estimate(layer, TILE, "red", blocks)
    assert est.adc_conversions == est.group_activations == 0


def test_mask_shape_is_checked():
    layer = LayerSpec(cin=3, cout=2, h=2, w=2, k=2, s=2, p=0)
    with pytest.raises(ConfigError, match="block mask shape"):
        schedule(layer, TILE, np.ones((1, 1, 2, 2), dtype=bool))


def test_golden_gates_empty_blocks_only_where_the_adc_clips():
    rng = np.random.default_rng(SEED + 1)
    x = rng.integers(-8, 8, (6, 3, 3))
    w = rng.integers(-8, 8, (6, 4, 3, 3))
    w[0:4, 0:2] = 0                       # empty blocks (rows 0..3, columns 0..1)
    params = dict(rows=4, cell_bits=2, w_bits=4, in_bits=4)
    lossless = [crossbar_deconv2d(x, w, 2, 1, 1, block_cols=cols, **params)
                for cols in (None, 2)]
    assert np.array_equal(lossless[0], lossless[1])
    assert np.array_equal(lossless[0], deconv2d(x, w, 2, 1, 1))
    clipped = [crossbar_deconv2d(x, w, 2, 1, 1, adc_bits=2, block_cols=cols, **params)
               for cols in (None, 2)]
    # Zero weights are cells of 2^(Bw-1): the clipping ADC turns their sum into a
    # non-zero result, which gating removes.
    assert not np.array_equal(clipped[0], clipped[1])
    rows_only = crossbar_deconv2d(x[4:], w[4:], 2, 1, 1, adc_bits=2, **params)
    assert np.array_equal(clipped[1][:2], rows_only[:2])
