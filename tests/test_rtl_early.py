"""EarlyDecision in the Amaranth simulator, on hand-counted bounds: the negative and the
approximation rule, which groups stop, when a step finishes, and what a result carries.

The tile has 2x2 groups and stride 2 slots (slot_banks = 2, four outputs); the cases
drive two of them, output 0 fed by groups 0 and 1, output 3 by group 3.
"""

from red.config import TileConfig
from red.early import EARLY_MODES
from red.rtl.early import EarlyDecision

from _amaranth_sim import simulate

TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=2, max_stride=2,
                  max_in=4)
OFF, NEGATIVE, APPROX = (EARLY_MODES.index(m) for m in ("off", "negative", "approx"))


def setup(ctx, dut, *, mode, relu=1, eps=0, bias=(0, 0), live=0b1011, cout=2):
    ctx.set(dut.mode, mode)
    ctx.set(dut.relu, relu)
    ctx.set(dut.eps, eps)
    ctx.set(dut.bias_en, 1)
    for j, b in enumerate(bias):
        ctx.set(dut.bias[j], b)
    ctx.set(dut.members[0], 0b0011)
    ctx.set(dut.members[3], 0b1000)
    ctx.set(dut.live, live)
    ctx.set(dut.cout, cout)


def bounds(ctx, dut, lo, span):
    """``lo[g][j]``, ``span[g][j]`` of groups 0, 1, 3 (group 2 feeds nothing)."""
    for g, (lows, spans) in zip((0, 1, 3), zip(lo, span)):
        for j in range(2):
            ctx.set(dut.lo[g][j], lows[j])
            ctx.set(dut.span[g][j], spans[j])


def test_negative_rule_stops_and_finishes():
    dut = EarlyDecision(TILE)

    async def testbench(ctx):
        setup(ctx, dut, mode=NEGATIVE, bias=(-10, 0))
        # Output 0, column 0: lo = -10 + 3 + 1 = -6, hi = -6 + 2 + 2 = -2 < 0: decided.
        # Output 0, column 1: lo = 0 + 3 + 1 = 4: not. Output 3, column 0:
        # lo = -10 + 5 = -5, hi = 0: not; column 1: lo = 5: not.
        bounds(ctx, dut, lo=[(3, 3), (1, 1), (5, 5)], span=[(2, 2), (2, 2), (5, 5)])
        ctx.set(dut.bound_valid, 1)
        await ctx.delay(1e-9)
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0b01, 0b01, 0, 0]
        assert not ctx.get(dut.finish)
        await ctx.tick()
        # Next plane: output 3 column 0 now hi = -5 + 4 = -1; column 1 of both outputs
        # still open.
        bounds(ctx, dut, lo=[(3, 3), (1, 1), (5, 5)], span=[(2, 2), (2, 2), (4, 4)])
        await ctx.delay(1e-9)
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0b01, 0b01, 0, 0b01]
        assert not ctx.get(dut.finish)
        # Column 1 of outputs 0 (lo = -19, hi = -15) and 3 (lo = -9, hi = -5) decided
        # too: every open output closed, finish.
        bounds(ctx, dut, lo=[(3, -20), (1, 1), (5, -9)], span=[(2, 2), (2, 2), (4, 4)])
        await ctx.delay(1e-9)
        assert ctx.get(dut.finish)
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0b11, 0b11, 0, 0b11]
        ctx.set(dut.producing, 1)
        await ctx.tick()
        ctx.set(dut.producing, 0)
        ctx.set(dut.bound_valid, 0)
        await ctx.delay(1e-9)
        assert ctx.get(dut.decided[0]) == 0b11 and ctx.get(dut.decided[3]) == 0b11
        assert ctx.get(dut.decided[1]) == ctx.get(dut.decided[2]) == 0
        assert [ctx.get(dut.value[0][j]) for j in range(2)] == [0, 0]
        assert ctx.get(dut.decided_outputs) == 4
        # Not deciding: nothing stops.
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0, 0, 0, 0]

    simulate(dut, testbench)


def test_approx_rule_value_and_relu_off():
    dut = EarlyDecision(TILE)

    async def testbench(ctx):
        # eps = 0.5. Output 0, column 0: lo = 4 + 6 = 10, hi = 10 + 3 + 1 = 14,
        # 4 * 2^16 <= 32768 * 10: decided as floor((10 + 14) / 2) = 12. Column 1:
        # lo = -3, hi = 3: 6 * 2^16 > 32768 * 3, open. Without ReLU, hi < 0 decides
        # nothing (output 3: lo = -9, hi = -8 is decided by the approximation only:
        # 1 * 2^16 <= 32768 * 9, value floor(-17 / 2) = -9).
        setup(ctx, dut, mode=APPROX, relu=0, eps=32768, bias=(4, 0))
        bounds(ctx, dut, lo=[(6, -3), (0, 0), (-13, -100)], span=[(3, 3), (1, 3), (1, 1000)])
        ctx.set(dut.bound_valid, 1)
        await ctx.delay(1e-9)
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0b01, 0b01, 0, 0b01]
        ctx.set(dut.producing, 1)
        await ctx.tick()
        await ctx.delay(1e-9)
        assert ctx.get(dut.decided[0]) == 0b01 and ctx.get(dut.decided[3]) == 0b01
        assert ctx.get(dut.value[0][0]) == 12 and ctx.get(dut.value[3][0]) == -9

    simulate(dut, testbench)


def test_off_decides_nothing_and_gated_steps_finish_only_when_on():
    dut = EarlyDecision(TILE)

    async def testbench(ctx):
        setup(ctx, dut, mode=OFF, bias=(-100, -100))
        bounds(ctx, dut, lo=[(0, 0)] * 3, span=[(0, 0)] * 3)
        ctx.set(dut.bound_valid, 1)
        await ctx.delay(1e-9)
        assert not ctx.get(dut.finish)
        assert [ctx.get(dut.stop[g]) for g in range(4)] == [0, 0, 0, 0]
        # No driven group: nothing to decide, the step may end at once when on.
        setup(ctx, dut, mode=NEGATIVE, bias=(5, 5), live=0)
        await ctx.delay(1e-9)
        assert ctx.get(dut.finish)
        # Columns past cout are never waited for.
        setup(ctx, dut, mode=NEGATIVE, bias=(-100, 5), live=0b1011, cout=1)
        await ctx.delay(1e-9)
        assert ctx.get(dut.finish)

    simulate(dut, testbench)
