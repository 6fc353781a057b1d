"""ADCPacer in the Amaranth simulator, against a naive cycle model of shared ADCs.

The naive model: a plane stepped in cycle ``t`` whose busiest group converts ``n``
logical columns of ``S`` physical columns each needs ``ceil(n * S / A)`` conversion
cycles (at least the step cycle), so ``hold`` is high in cycles ``t+1 .. t+k-1``;
``ending`` is high where the next cycle does not hold; ``more`` in a step cycle with
``k > 1``. The stimulus steps whenever the model is not holding (random column counts
per group, random idle cycles), as the groups do.
"""

import numpy as np
import pytest

from red.config import TileConfig
from red.rtl.adc_pacer import ADCPacer

from _amaranth_sim import simulate

SEED = 2505

TILES = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=2, adcs_per_array=2),
    TileConfig(rows=4, cols=16, cell_bits=1, w_bits=4, in_bits=4, kernel=3, adcs_per_array=1),
    TileConfig(rows=4, cols=12, cell_bits=1, w_bits=3, in_bits=4, kernel=2, adcs_per_array=8),
]


def naive_cycles(tile, columns):
    physical = max(columns) * tile.slices
    return max(1, -(-physical // tile.adcs_per_array))


@pytest.mark.parametrize("tile", TILES, ids=lambda t: f"S{t.slices}-A{t.adcs_per_array}")
def test_hold_follows_the_busiest_group(tile):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    dut = ADCPacer(tile)
    checked = {"holds": 0, "steps": 0}

    async def testbench(ctx):
        left = 0                     # hold cycles the model still expects
        for _ in range(1000):
            step = left == 0 and rng.random() < 0.7
            columns = (rng.integers(0, tile.logical_cols + 1, tile.groups) if step
                       else np.zeros(tile.groups, dtype=int))
            ctx.set(dut.stepping, int(step))
            ctx.set(dut.columns, [int(n) for n in columns])
            await ctx.delay(1e-9)
            k = naive_cycles(tile, columns) if step else 1
            assert ctx.get(dut.hold) == (left > 0)
            assert ctx.get(dut.ending) == (left <= 1)
            assert ctx.get(dut.more) == (step and k > 1)
            checked["holds"] += left > 0
            checked["steps"] += step
            left = k - 1 if step else max(left - 1, 0)
            await ctx.tick()

    simulate(dut, testbench)
    assert checked["steps"] > 60
    assert tile.adc_cycles(tile.logical_cols) == 1 or checked["holds"] > 50

