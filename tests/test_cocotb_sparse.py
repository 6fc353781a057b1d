"""Sparse mappings on the generated tile, Icarus and Verilator, both testbench paths.

Weights with planted empty blocks, hidden under random channel permutations, run dense
and with the mapping ``red.sparsity.reorder_channels`` finds: the sparse run equals the
golden model of the layer in its original channel order bit for bit (with a lossless
ADC, the dense result itself), converts less, drops passes, and every counter
(skipped_blocks included; cycles without stalls) equals ``red.model.estimate`` with the
block mask. With a clipping ADC the gated blocks are what the golden model gates.
"""

import numpy as np
import pytest

from red.config import LayerSpec, TileConfig
from red.golden import deconv2d
from red.model import estimate
from red.sim.session import LayerRun, random_layer_data, simulate_layers
from red.sparsity import apply_permutation, block_mask, reorder_channels
from red.verdict import model_differences

from _cases import cases

SEED = 2019

TILES = {
    "lossless": TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=3, kernel=2,
                           max_stride=4, max_in=4, max_cin=6, max_k=4),
    "clipping": TileConfig(rows=3, cols=6, cell_bits=1, w_bits=3, in_bits=3, adc_bits=1,
                           kernel=3, max_stride=4, max_in=4, max_cin=6, max_k=3,
                           out_pixels=2),
}

LAYERS = [LayerSpec(cin=6, cout=4, h=3, w=3, k=3, s=2, p=1, op=1),
          LayerSpec(cin=4, cout=5, h=2, w=3, k=2, s=3, p=0, op=1)]


def planted(layer: LayerSpec, tile: TileConfig, rng):
    """Random weights whose blocks (in a hidden channel order) are empty with
    probability 1/2, and the data of the layer."""
    x, w = random_layer_data(layer, tile, rng)
    cins = -(-layer.cin // tile.rows)
    couts = -(-layer.cout // tile.logical_cols)
    keep = rng.random((cins, couts, layer.k, layer.k)) < 0.5
    for r in range(cins):
        for t in range(couts):
            w[r * tile.rows:(r + 1) * tile.rows, t * tile.logical_cols:
              (t + 1) * tile.logical_cols] *= keep[r, t][None, None]
    hide_in, hide_out = rng.permutation(layer.cin), rng.permutation(layer.cout)
    return x, w[hide_in][:, hide_out]


@pytest.mark.parametrize("tile_name, sim, path", cases(TILES, {
    ("lossless", "verilator", "harness"), ("lossless", "icarus", "harness"),
    ("clipping", "verilator", "harness")}))
def test_sparse_mapping(tile_name, sim, path, tmp_path):
    tile = TILES[tile_name]
    seed = SEED + sorted(TILES).index(tile_name)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    runs = []
    layers = LAYERS[:1] if sim == "icarus" else LAYERS    # the slow simulator: one layer
    for layer in layers:
        x, w = planted(layer, tile, rng)
        reorder = reorder_channels(w, tile)
        runs += [LayerRun(layer, mode, x, w, reorder=mapping)
                 for mode in ("red", "zp", "pf") for mapping in (None, reorder)]
    stall = 0.3 if path == "agents" else 0.0
    results, _ = simulate_layers(tile, runs, sim=sim, work_dir=tmp_path, seed=seed,
                                 stall=stall, path=path)
    by_run = {}
    for result in results:
        run, layer = result.run, result.run.layer
        name = f"{layer} {run.mode} sparse={run.reorder is not None}"
        assert result.match, f"{name}: RTL != golden"
        if tile.lossless:
            assert np.array_equal(result.y, deconv2d(run.x, run.w, layer.s, layer.p,
                                                     layer.op)), name
        blocks = None
        if run.reorder is not None:
            blocks = block_mask(apply_permutation(run.w, run.reorder.perm_in,
                                                  run.reorder.perm_out), tile)
        est = estimate(layer, tile, run.mode, blocks)
        assert model_differences(result.counters, result.passes, est, cycles=not stall) == {}, name
        by_run[layer, run.mode, run.reorder is not None] = (result, est)
    for layer in layers:
        for mode in ("red", "zp", "pf"):
            (dense, _), (sparse, est) = by_run[layer, mode, False], by_run[layer, mode, True]
            assert est.skipped_blocks + est.skipped_passes > 0
            assert sparse.counters["adc_conversions"] < dense.counters["adc_conversions"]
            assert sparse.passes + est.skipped_passes == dense.passes
            if tile.lossless:
                assert np.array_equal(sparse.y, dense.y)
