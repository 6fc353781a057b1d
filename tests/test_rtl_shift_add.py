"""ShiftAdd: Horner accumulation of slice codes, sign plane first, widths at the extremes."""

import numpy as np
import pytest

from red.config import TileConfig
from red.rtl.shift_add import ShiftAdd

from _amaranth_sim import simulate

SEED = 7

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4),
    TileConfig(rows=16, cols=32, cell_bits=4, w_bits=8, in_bits=8),
    TileConfig(rows=8, cols=16, cell_bits=1, w_bits=8, in_bits=8, adc_bits=2),
    TileConfig(rows=128, cols=16, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8),
]


def reference(codes_per_plane, cfg):
    """P = sum_b g_b 2^b sum_k 2^(c*k) code[b][j*S+k]; planes listed MSB (sign) first."""
    total = np.zeros(cfg.logical_cols, dtype=object)
    for index, codes in enumerate(codes_per_plane):
        b = cfg.in_bits - 1 - index
        g = -1 if b == cfg.in_bits - 1 else 1
        for j in range(cfg.logical_cols):
            plane = sum(int(codes[j * cfg.slices + k]) << (cfg.cell_bits * k)
                        for k in range(cfg.slices))
            total[j] += g * (plane << b)
    return list(total)


def run(cfg, vectors):
    """Feed each vector's planes back to back (first flag on the sign plane)."""
    dut = ShiftAdd(cfg)
    results = []

    async def testbench(ctx):
        for planes in vectors:
            for index, codes in enumerate(planes):
                ctx.set(dut.en, 1)
                ctx.set(dut.first, index == 0)
                ctx.set(dut.codes, [int(c) for c in codes])
                if index == len(planes) - 1:
                    results.append([int(v) for v in ctx.get(dut.value)])
                await ctx.tick()

    simulate(dut, testbench)
    return results


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_random_planes(cfg):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    vectors = [rng.integers(0, cfg.code_max + 1, (cfg.in_bits, cfg.cols)) for _ in range(6)]
    assert run(cfg, vectors) == [reference(v, cfg) for v in vectors]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_extremes_fit(cfg):
    """The largest and smallest P the contract allows come out exactly: the width holds."""
    top = np.full(cfg.cols, cfg.code_max)
    zero = np.zeros(cfg.cols, dtype=int)
    most_negative = [top] + [zero] * (cfg.in_bits - 1)
    most_positive = [zero] + [top] * (cfg.in_bits - 1)
    got = run(cfg, [most_negative, most_positive])
    lo, hi = cfg.shift_add_range
    assert got == [[lo] * cfg.logical_cols, [hi] * cfg.logical_cols]
    assert reference(most_negative, cfg) == [lo] * cfg.logical_cols
    assert reference(most_positive, cfg) == [hi] * cfg.logical_cols


def test_enable_holds_accumulator():
    cfg = CONFIGS[0]
    dut = ShiftAdd(cfg)
    ones = [1] * cfg.cols

    async def testbench(ctx):
        ctx.set(dut.codes, ones)
        ctx.set(dut.first, 1)
        ctx.set(dut.en, 1)
        await ctx.tick()
        ctx.set(dut.first, 0)
        ctx.set(dut.en, 0)
        await ctx.tick().repeat(2)
        # acc = -plane(1s) = -(1 + 4) = -5 was kept; now 2*acc + 5 = -5.
        assert [int(v) for v in ctx.get(dut.value)] == [-5] * cfg.logical_cols

    simulate(dut, testbench)
