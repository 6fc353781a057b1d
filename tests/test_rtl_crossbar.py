"""CrossbarMVM: offset-binary programming, column sums, ADC saturation, enables."""

import numpy as np
import pytest

from red.config import TileConfig
from red.golden import weight_slices
from red.rtl.crossbar import CrossbarMVM

from _amaranth_sim import program_weights, simulate

SEED = 20261121

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4),                # lossless
    TileConfig(rows=6, cols=8, cell_bits=2, w_bits=4, in_bits=4, adc_bits=2),    # clipping
    TileConfig(rows=3, cols=8, cell_bits=1, w_bits=4, in_bits=2, adc_bits=1),
    TileConfig(rows=5, cols=6, cell_bits=4, w_bits=8, in_bits=2, adc_bits=3),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_column_codes(cfg):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    weights = rng.integers(cfg.w_min, cfg.w_max + 1, (cfg.rows, cfg.logical_cols))
    weights[0, :] = cfg.w_min
    weights[-1, :] = cfg.w_max
    # Reference cells: physical column j*S + k holds slice k of weight j.
    cells = weight_slices(weights, cell_bits=cfg.cell_bits, w_bits=cfg.w_bits)
    cells = cells.reshape(cfg.rows, cfg.logical_cols * cfg.slices)
    cells = np.pad(cells, ((0, 0), (0, cfg.cols - cells.shape[1])))
    steps = [(rng.integers(0, 2, cfg.rows), rng.integers(0, 2, cfg.rows),
              rng.integers(0, 2, cfg.cols)) for _ in range(30)]
    steps.append((np.ones(cfg.rows, int), np.ones(cfg.rows, int), np.ones(cfg.cols, int)))
    dut = CrossbarMVM(cfg)
    assert dut.latency == 1

    def bits(v):
        return int(sum(int(b) << i for i, b in enumerate(v)))

    async def testbench(ctx):
        await program_weights(ctx, dut.prog, weights)
        for plane, row_en, col_en in steps:
            ctx.set(dut.step, 1)
            ctx.set(dut.plane, bits(plane))
            ctx.set(dut.row_en, bits(row_en))
            ctx.set(dut.col_en, bits(col_en))
            await ctx.tick()
            ctx.set(dut.step, 0)
            got = [int(v) for v in ctx.get(dut.codes)]
            sums = (plane & row_en) @ cells
            want = np.where(col_en == 1, np.minimum(sums, cfg.adc_max), 0)
            assert got == list(want), (plane, row_en, col_en)

    simulate(dut, testbench)


def test_codes_hold_without_step():
    cfg = CONFIGS[0]
    dut = CrossbarMVM(cfg)

    async def testbench(ctx):
        ctx.set(dut.prog.valid, 1)
        ctx.set(dut.prog.data, cfg.w_max)
        await ctx.tick()
        ctx.set(dut.prog.valid, 0)
        ctx.set(dut.plane, 1)
        ctx.set(dut.row_en, 1)
        ctx.set(dut.col_en, (1 << cfg.cols) - 1)
        ctx.set(dut.step, 1)
        await ctx.tick()
        first = [int(v) for v in ctx.get(dut.codes)]
        ctx.set(dut.step, 0)
        ctx.set(dut.plane, 0)
        await ctx.tick().repeat(3)
        assert [int(v) for v in ctx.get(dut.codes)] == first
        assert any(first)

    simulate(dut, testbench)

