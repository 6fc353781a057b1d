"""OffsetCorrection: 2^(Bw-1) * sum of the enabled inputs, exact at the extremes."""

import numpy as np
import pytest

from red.config import TileConfig
from red.rtl.offset import OffsetCorrection

from _amaranth_sim import simulate

SEED = 11

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4),
    TileConfig(rows=16, cols=32, cell_bits=4, w_bits=8, in_bits=8),
    TileConfig(rows=128, cols=16, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_correction(cfg):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    cases = [(rng.integers(cfg.x_min, cfg.x_max + 1, cfg.rows), rng.integers(0, 2, cfg.rows))
             for _ in range(20)]
    cases += [(np.full(cfg.rows, cfg.x_min), np.ones(cfg.rows, int)),
              (np.full(cfg.rows, cfg.x_max), np.ones(cfg.rows, int)),
              (np.full(cfg.rows, cfg.x_min), np.zeros(cfg.rows, int))]
    dut = OffsetCorrection(cfg)
    assert dut.latency == 0

    async def testbench(ctx):
        for x, enable in cases:
            ctx.set(dut.x, [int(v) for v in x])
            ctx.set(dut.row_en, int(sum(int(e) << r for r, e in enumerate(enable))))
            await ctx.delay(1e-9)
            total = int(sum(int(v) for v, e in zip(x, enable) if e))
            assert ctx.get(dut.x_sum) == total
            assert ctx.get(dut.correction) == (1 << (cfg.w_bits - 1)) * total

    simulate(dut, testbench, clocked=False)
