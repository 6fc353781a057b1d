"""ChannelSums: one output channel's masked sums of group results plus bias, against a
plain Python sum; the extremes must fit ``step_width`` without wrapping."""

import dataclasses

import numpy as np
import pytest

from red.config import TileConfig
from red.rtl.channel_sums import ChannelSums

from _amaranth_sim import simulate

SEED = 5

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=4),
    dataclasses.replace(TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=2),
                        early_termination=1),
    TileConfig(rows=128, cols=16, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8, kernel=5,
               max_stride=2, max_in=32, max_cin=1024, max_k=5),
]


def _limits(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_sums_equal_a_plain_sum(cfg):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    n_sums, G = 3, cfg.groups
    r_lo, r_hi = cfg.mvm_range
    b_lo, b_hi = cfg.bias_range
    s_lo, s_hi = _limits(cfg.step_width)
    all_groups = (1 << G) - 1
    cases = [(rng.integers(r_lo, r_hi + 1, G),
              [int(rng.integers(0, 1 << G)) for _ in range(n_sums)],
              int(rng.integers(b_lo, b_hi + 1)), int(rng.integers(0, 2)),
              [int(rng.integers(0, 2)) for _ in range(n_sums)],
              [int(rng.integers(s_lo, s_hi + 1)) for _ in range(n_sums)]) for _ in range(30)]
    for r, b in ((r_lo, b_lo), (r_hi, b_hi)):        # every group at an extreme, and the bias
        cases.append((np.full(G, r), [all_groups, 0, 1], b, 1, [0] * n_sums, [0] * n_sums))
    dut = ChannelSums(cfg, n_sums)

    async def testbench(ctx):
        for results, masks, bias, bias_en, decided, values in cases:
            for port, value in [*zip(dut.results, results), *zip(dut.masks, masks)]:
                ctx.set(port, int(value))
            ctx.set(dut.bias, bias)
            ctx.set(dut.bias_en, bias_en)
            if cfg.early_termination:
                for port, value in [*zip(dut.decided, decided),
                                    *zip(dut.decided_value, values)]:
                    ctx.set(port, value)
            await ctx.delay(1e-9)
            for k in range(n_sums):
                total = sum(int(results[g]) for g in range(G) if masks[k] >> g & 1) \
                    + (bias if bias_en else 0)
                assert s_lo <= total <= s_hi, (total, cfg.step_width)
                want = values[k] if cfg.early_termination and decided[k] else total
                assert ctx.get(dut.sums[k]) == want, (k, masks[k])

    simulate(dut, testbench, clocked=False)
