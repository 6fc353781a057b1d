"""Long sweep of the tile (``make test-slow``): larger kernels and strides, many layers,
heavier stalls, on both simulators."""

import numpy as np
import pytest

from red.config import TileConfig
from red.sim import SIMULATORS
from red.sim.session import simulate_layers

from test_cocotb_tile import make_runs

SWEEP_TILES = [
    TileConfig(rows=6, cols=12, cell_bits=2, w_bits=6, in_bits=5, adc_bits=4, kernel=5,
               max_stride=4, max_in=8, out_pixels=2),
    TileConfig(rows=8, cols=8, cell_bits=4, w_bits=8, in_bits=8, kernel=4, max_stride=4,
               max_in=7),
]


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("index", range(len(SWEEP_TILES)))
def test_sweep(index, sim, tmp_path):
    tile = SWEEP_TILES[index]
    seed = 9000 + index
    print(f"seed={seed} sim={sim} tile={tile}")
    results, _ = simulate_layers(tile, make_runs(tile, seed, count=40), sim=sim,
                                 work_dir=tmp_path, seed=seed, stall=0.5)
    bad = [f"{r.run.layer} {r.run.mode}" for r in results if not r.match]
    assert not bad, bad
    for red, zp in zip(results[0::2], results[1::2]):
        assert np.array_equal(red.y, zp.y)
