"""The configuration the papers evaluate (red.config.PAPER_TILE: 128x128 arrays, 2-bit
cells, 16-bit weights and inputs, an 8-bit ADC that clips at 128 rows of 2-bit cells,
K5), end to end on the fast path: the full-size DCGAN layer and a layer in four passes
(two clipped row tiles, two cout slices) on Verilator and a small layer on Icarus, RED
and ZP on the same data, bit-exact with the clipping contract, and every counter equal
to the model."""

import numpy as np
import pytest

from red.config import PAPER_TILE, LayerSpec
from red.golden import deconv2d
from red.model import estimate
from red.sim.session import LayerRun, random_layer_data, simulate_layers
from red.verdict import model_differences

SEED = 128

LAYERS = [
    # DCGAN (Radford et al.), last generator layer: 128 -> 3 channels, 32x32 -> 64x64.
    ("verilator", LayerSpec(cin=128, cout=3, h=32, w=32, k=5, s=2, p=2, op=1)),
    # Two row tiles (128 + 72 channels, each clipped on its own) and two cout slices
    # (16 + 4): four passes whose partial sums the tile adds.
    ("verilator", LayerSpec(cin=200, cout=20, h=3, w=4, k=5, s=2, p=2, op=1)),
    ("icarus", LayerSpec(cin=128, cout=2, h=1, w=2, k=5, s=2, p=2, op=1)),
]


def clipping_data(layer, rng):
    """Random data that drives the 8-bit ADC past its range.

    Uniform random data does not: with 128 rows of random 2-bit cells a column sums to
    about 96 on average, far below 255. Here every other input pixel is -1 (every bit
    plane drives every row) and half the input channels carry the largest weight
    (offset-binary cells all 3), so those columns sum to at least 3 * 64 = 192 plus the
    random half, beyond 255 for most of them.
    """
    x, w = random_layer_data(layer, PAPER_TILE, rng)
    x[:, ::2, ::2] = -1
    w[: (layer.cin + 1) // 2] = PAPER_TILE.w_max
    return x, w


@pytest.mark.parametrize("sim, layer", LAYERS, ids=lambda v: str(v))
def test_paper_tile_layer(sim, layer, tmp_path):
    print(f"seed={SEED} sim={sim} layer={layer} tile={PAPER_TILE}")
    x, w = clipping_data(layer, np.random.default_rng(SEED))
    runs = [LayerRun(layer, mode, x, w) for mode in ("red", "zp")]
    results, _ = simulate_layers(PAPER_TILE, runs, sim=sim, work_dir=tmp_path, seed=SEED)
    golden = results[0].y_golden
    # The realistic case: the 8-bit ADC clips, so the result is not the exact product.
    assert not np.array_equal(golden, deconv2d(x, w, layer.s, layer.p, layer.op))
    for result in results:
        mode = result.run.mode
        assert result.match, f"{mode}: RTL != golden"
        differ = model_differences(result.counters, result.passes, estimate(layer, PAPER_TILE, mode))
        assert not differ, f"{mode}: (RTL, model) differ: {differ}"
    assert np.array_equal(results[0].y, results[1].y)
