"""PartialSumBank in the Amaranth simulator, against a naive model of where each output
of a step lies.

The partial-sum beats hold, in raster order, pixels whose channels name the output:
``[100*oh + ow, -(100*oh + ow)]``. The naive model places outputs by the tile's
documented step geometry alone (``red.rtl.tile.RedTile``): RED step ``(qh, qw)`` (block
``q0 + qh``, ``q0 = p div s``) has, in slot ``(u, v)`` (phase ``(u, v)``, no fold),
output ``((q0+qh)*s + u - p, (q0+qw)*s + v - p)``; ZP step ``(oh, ow)`` has output
``(oh, ow)`` in slot 0. Beats carry ``min(out_pixels, s_col, remaining)`` pixels of a
row. Checked, with the steps issued as soon as the bank allows, and partial-sum beats
offered every cycle:

* every slot of every step whose output is inside the map reads that output's value,
  two cycles after the step is taken;
* a step is never ready before every beat of its step row has been taken;
* a beat of step row ``n`` is never taken before the steps have reached row ``n - 1``
  (the bank holds two step rows);
* the counters: pixels written, and pixels inside the map read.
"""

import pytest

from red.config import TileConfig
from red.rtl.psum_bank import PartialSumBank

from _amaranth_sim import simulate

# kernel 3, max_stride 2 -> slot_banks 2; 2 logical columns; 2 output pixels per beat.
TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=2,
                  max_in=4, max_cin=2, max_k=3, out_pixels=2, early_termination=1)
SB = TILE.slot_banks


def code(oh, ow):
    return [100 * oh + ow, -(100 * oh + ow)]


def beats_of(ho, wo, s_col):
    """(step row, [pixels]) of every beat, raster order; ``row_of(oh)`` gives the row."""
    width = min(TILE.out_pixels, s_col)
    return [(oh, [code(oh, ow) for ow in range(ow0, min(ow0 + width, wo))])
            for oh in range(ho) for ow0 in range(0, wo, width)]


def red_case(ho, wo, s, p):
    q0 = p // s
    nb_h, nb_w = (ho - 1 + p) // s - q0 + 1, (wo - 1 + p) // s - q0 + 1
    steps = []
    for qh in range(nb_h):
        for qw in range(nb_w):
            slots = {}
            for u in range(SB):
                for v in range(SB):
                    oh, ow = (q0 + qh) * s + u - p, (q0 + qw) * s + v - p
                    if u < s and v < s and 0 <= oh < ho and 0 <= ow < wo:
                        slots[u * SB + v] = code(oh, ow)
            row_ok = sum(1 << a for a in range(s) if 0 <= (q0 + qh) * s + a - p < ho)
            col_ok = sum(1 << a for a in range(s) if 0 <= (q0 + qw) * s + a - p < wo)
            steps.append((dict(row=qh, idx=qw, bank=0, row_ok=row_ok, col_ok=col_ok), slots))
    beats = [((oh + p) // s - q0, pixels) for oh, pixels in beats_of(ho, wo, s)]
    config = dict(zp=0, ho=ho, wo=wo, s_row=s, s_col=s, a0=p % s, b0=p % s, rot_h=0, rot_w=0)
    return config, beats, steps


def zp_case(ho, wo):
    steps = [(dict(row=oh, idx=ow // SB, bank=ow % SB, row_ok=0, col_ok=0), {0: code(oh, ow)})
             for oh in range(ho) for ow in range(wo)]
    config = dict(zp=1, ho=ho, wo=wo, s_row=1, s_col=SB, a0=0, b0=0, rot_h=0, rot_w=0)
    return config, beats_of(ho, wo, SB), steps


@pytest.mark.parametrize("case", [red_case(5, 6, 2, 1), red_case(4, 3, 2, 0),
                                  red_case(3, 5, 1, 1), zp_case(4, 5)],
                         ids=["red-s2-p1", "red-s2-p0", "red-s1", "zp"])
def test_psum_bank(case):
    config, beats, steps = case
    dut = PartialSumBank(TILE)
    inside = sum(len(slots) for _, slots in steps)
    pixels = sum(len(px) for _, px in beats)

    async def testbench(ctx):
        for name, value in config.items():
            ctx.set(getattr(dut, name), value)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        ctx.set(dut.run, 1)
        taken, issued, due = 0, 0, []       # due: (cycle, slots) of steps to check
        cycle = 0
        while issued < len(steps) or due:
            row = steps[issued][0]["row"] if issued < len(steps) else steps[-1][0]["row"] + 1
            if issued < len(steps):
                ctx.set(dut.step, steps[issued][0])
            offer = taken < len(beats)
            ctx.set(dut.ps.valid, offer)
            if offer:
                px = beats[taken][1]
                ctx.set(dut.ps.payload, {"pixels": px + [[0, 0]] * (TILE.out_pixels - len(px)),
                                         "count": len(px)})
            ready = issued < len(steps) and ctx.get(dut.step_ready)
            ctx.set(dut.issue, ready)
            took = offer and ctx.get(dut.ps.ready)
            if ready:
                assert all(beat_row > row for beat_row, _ in beats[taken:]), \
                    f"step of row {row} ready before its row is filled"
            if took:
                assert beats[taken][0] < row + 2, "the fill ran more than two rows ahead"
            for when, slots in [d for d in due if d[0] == cycle]:
                got = ctx.get(dut.psum)
                for slot, value in slots.items():
                    assert [got[slot][j] for j in range(2)] == value, (when, slot)
            due = [d for d in due if d[0] > cycle]
            await ctx.tick()
            cycle += 1
            taken += took
            if ready:
                due.append((cycle + 1, steps[issued][1]))
                issued += 1
            assert cycle < 50 * (len(steps) + len(beats)), "hang"
        assert ctx.get(dut.writes) == pixels
        assert ctx.get(dut.reads) == inside

    simulate(dut, testbench)
