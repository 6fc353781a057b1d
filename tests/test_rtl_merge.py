"""OutputMerge in the Amaranth simulator, on hand-counted cases.

Every expected value below is written out by hand from the merge's documented contract
(``red.rtl.merge.OutputMerge``), not computed by the code under test:

* RED mode, stride 2, kernel 3, a 2 x 2 block grid whose first phase row and column lie
  outside the output (``p = 1``): slot sums land in raster order, beats of 2 + 1
  pixels, out-of-range slots are never emitted, counters;
* the same stream under random output back-pressure (fixed seed): no beat lost or
  duplicated;
* accumulate: every beat waits for its partial-sum beat and adds it lane by lane;
* ZP mode: all groups inside the kernel add into one pixel, groups outside the kernel
  are ignored, and a step of output row 2 waits until the emitter has left row 0.

Only the ports these cases need are driven; any other input keeps its reset value.
"""

import random

from red.config import TileConfig
from red.rtl.layouts import MODE_RED, MODE_ZP
from red.rtl.merge import OutputMerge

from _amaranth_sim import simulate

SEED = 2024

# kernel 3 -> 9 groups g = 3*gh + gw; max_stride 2 -> slot_banks = min(2, 3) = 2;
# cols 4 of 2-bit cells for 4-bit weights -> 2 logical columns (2 output channels);
# up to 2 output pixels per beat.
TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=2,
                  max_in=2, max_cin=2, max_k=3, out_pixels=2)
G = 9
ALL_GROUPS = (1 << G) - 1


def mask(*groups: int) -> int:
    return sum(1 << g for g in groups)


# -- the RED case ---------------------------------------------------------------------
# Layer k=3, s=2, p=1, op=0 on a 2 x 2 input: Ho = Wo = (2-1)*2 - 2*1 + 3 + 0 = 3.
# Output o is in block q = (o+1) div 2 at phase a = (o+1) mod 2: o = 0 -> (0, 1),
# o = 1 -> (1, 0), o = 2 -> (1, 1). So blocks 0..1 per axis (2 x 2 steps), and block 0's
# phase 0 is output -1: out of range. a0 = b0 = p mod s = 1.
# Group (gh, gw) adds into slot (gh mod 2, gw mod 2) = its phase (no fold: rot = 0):
#   slot (0,0): g0 g2 g6 g8   slot (0,1): g1 g7   slot (1,0): g3 g5   slot (1,1): g4
# Group g of step t delivers [2^g, -(t+1)] (channel 0 names the groups added, channel 1
# the step and how many groups).
# Live groups (what the tile would not gate): along an axis, kernel pixel kh of block q
# reads input q - kh div 2 and yields phase kh mod 2. Block 0: kh=0 -> phase 0 out of
# range, kh=1 -> live, kh=2 -> input -1. Block 1: kh = 0, 1, 2 all live. Every group that
# is not live therefore adds into an out-of-range slot only.
RED_LAYER = dict(mode=MODE_RED, cout=2, ho=3, wo=3, s_row=2, s_col=2, a0=1, b0=1,
                 rot_h=0, rot_w=0, slot_h=[0, 1, 0], slot_w=[0, 1, 0], active=ALL_GROUPS)
RED_STEPS = [
    # (block row, block column, row_ok, col_ok, live)
    (0, 0, 0b10, 0b10, mask(4)),                      # gh in {1} x gw in {1}
    (0, 1, 0b10, 0b11, mask(3, 4, 5)),                # {1} x {0,1,2}
    (1, 0, 0b11, 0b10, mask(1, 4, 7)),                # {0,1,2} x {1}
    (1, 1, 0b11, 0b11, ALL_GROUPS),
]
# y[oh][ow] = [channel 0, channel 1]: (oh, ow) -> block (qh, qw) = step t = 2*qh + qw,
# slot (a, b); channel 0 is the sum of 2^g over the slot's groups, channel 1 is
# -(t+1) times their number.
RED_Y = [
    [[16, -1], [8 + 32, -2 * 2], [16, -2]],                   # t=0 (1,1); t=1 (1,0), (1,1)
    [[2 + 128, -3 * 2], [1 + 4 + 64 + 256, -4 * 4], [2 + 128, -4 * 2]],  # t=2 (0,1); t=3 ..
    [[16, -3], [8 + 32, -4 * 2], [16, -4]],                   # t=2 (1,1); t=3 (1,0), (1,1)
]
# Beats: min(out_pixels=2, s=2, remaining) pixels of one row: 2 + 1 per row, unused
# lanes 0.
RED_BEATS = [beat for row in RED_Y for beat in ((2, [row[0], row[1]]), (1, [row[2], [0, 0]]))]


def red_step(t):
    qh, qw, row_ok, col_ok, live = RED_STEPS[t]
    meta = dict(row=qh, idx=qw, bank=0, last=int(qw == 1), row_ok=row_ok, col_ok=col_ok,
                live=live)
    return [[1 << g, -(t + 1)] for g in range(G)], meta


# -- the ZP case ----------------------------------------------------------------------
# Layer k=2, s=2, p=1, op=1 on 2 x 2: Ho = Wo = 2 - 2 + 2 + 1 = 3, one step per output
# pixel, t = 3*oh + ow, written to bank (0, ow mod 2), word ow div 2. The kernel covers
# groups (0,0) (0,1) (1,0) (1,1) = g0 g1 g3 g4; the others deliver 300 and must be
# ignored. Group g of step t delivers [10*t + g, 0] -> pixel 4*10*t + (0+1+3+4) = 40t + 8.
ZP_LAYER = dict(mode=MODE_ZP, cout=1, ho=3, wo=3, s_row=1, s_col=2, a0=0, b0=0,
                rot_h=0, rot_w=0, slot_h=[0, 1, 0], slot_w=[0, 1, 0],
                active=mask(0, 1, 3, 4))
ZP_Y = [[[8, 0], [48, 0], [88, 0]],
        [[128, 0], [168, 0], [208, 0]],
        [[248, 0], [288, 0], [328, 0]]]
ZP_BEATS = [beat for row in ZP_Y for beat in ((2, [row[0], row[1]]), (1, [row[2], [0, 0]]))]


def zp_step(t):
    oh, ow = divmod(t, 3)
    inside = mask(0, 1, 3, 4)
    results = [[10 * t + g, 0] if inside >> g & 1 else [300, 0] for g in range(G)]
    meta = dict(row=oh, idx=ow // 2, bank=ow % 2, last=int(ow == 2), row_ok=0, col_ok=0,
                live=inside)
    return results, meta


COUNTERS = ("merge_additions", "psum_additions", "out_writes", "out_reads")


def run(layer, steps, *, cycles, accumulate=False, o_ready=lambda cycle: True,
        ps_beats=(), ps_valid=lambda cycle: True):
    """Clear in cycle 0, offer the steps back to back from cycle 1 on, run ``cycles``
    cycles. Returns what happened, each with the cycle it happened in."""
    dut = OutputMerge(TILE)
    seen = {"taken": [], "refused": [], "beats": [], "ps_taken": [], "done": []}

    async def testbench(ctx):
        ctx.set(dut.pass_config, {**layer, "accumulate": int(accumulate)})
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        pending = list(steps)
        psums = list(ps_beats)
        for cycle in range(1, cycles):
            ctx.set(dut.i.valid, bool(pending))
            if pending:
                results, meta = pending[0]
                ctx.set(dut.i.payload, {"meta": meta})
                for port, result in zip(dut.results, results):
                    ctx.set(port, result)
            offer_ps = bool(psums) and ps_valid(cycle)
            ctx.set(dut.ps.valid, offer_ps)
            if offer_ps:
                ctx.set(dut.ps.payload, psums[0])
            ready_o = bool(o_ready(cycle))
            ctx.set(dut.o.ready, ready_o)
            *_, ready, o_valid, beat, ps_ready, done = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload, dut.ps.ready, dut.done)
            if pending:
                if ready:
                    pending.pop(0)
                    seen["taken"].append(cycle)
                else:
                    seen["refused"].append(cycle)
            if offer_ps and ps_ready:
                psums.pop(0)
                seen["ps_taken"].append(cycle)
            if o_valid and ready_o:
                pixels = [[int(v) for v in beat.pixels[lane]] for lane in range(2)]
                seen["beats"].append((cycle, int(beat.count), pixels))
            if done:
                seen["done"].append(cycle)
        seen["counters"] = {name: ctx.get(getattr(dut, name)) for name in COUNTERS}

    simulate(dut, testbench)
    return seen


def test_red_slot_sums_in_raster_order():
    seen = run(RED_LAYER, [red_step(t) for t in range(4)], cycles=16)
    # Steps taken in cycles 1..4 (two block rows fit the two bank halves: never refused).
    assert seen["taken"] == [1, 2, 3, 4] and seen["refused"] == []
    # Block row 0 completes with the step taken in cycle 2 (rows_done = 1 from cycle 3),
    # the emitter reads in cycle 3 and the first beat is valid in cycle 4; then one beat
    # per cycle: row 0 (block row 0) in 4, 5; rows 1 and 2 (block row 1, complete from
    # cycle 5) in 6, 7 and 8, 9. Out-of-range phases (output row/column -1) are skipped.
    # (Block 0's out-of-range slots hold sums too, e.g. slot (0,0) 1+4+64+256 with -4:
    # no beat carries them.)
    assert seen["beats"] == [(c, n, px) for c, (n, px) in zip([4, 5, 6, 7, 8, 9], RED_BEATS)]
    # done once the last beat (cycle 9) has been taken, and it stays high.
    assert seen["done"] == list(range(10, 16))
    # merge_additions per step and channel: per slot, (live groups in it) - 1:
    # t0: g4 alone -> 0; t1: (1,0) has g3 g5 -> 1; t2: (0,1) has g1 g7 -> 1;
    # t3: 3 + 1 + 1 + 0 = 5. 7 per channel, 2 channels -> 14.
    # out_writes: in-range phases per step, rows x columns: 1*1 + 1*2 + 2*1 + 2*2 = 9.
    # out_reads: 9 pixels emitted. No partial sums.
    assert seen["counters"] == {"merge_additions": 14, "psum_additions": 0,
                                "out_writes": 9, "out_reads": 9}


def test_red_output_back_pressure_loses_and_duplicates_nothing():
    print(f"seed={SEED}")
    rng = random.Random(SEED)
    ready = [rng.random() < 0.4 for _ in range(64)]
    seen = run(RED_LAYER, [red_step(t) for t in range(4)], cycles=64,
               o_ready=lambda cycle: ready[cycle])
    assert [(n, px) for _, n, px in seen["beats"]] == RED_BEATS
    assert seen["counters"]["out_reads"] == 9 and seen["done"]


def test_accumulate_adds_each_partial_sum_beat_once():
    # Partial-sum beat of output (oh, ow): [1000 + 10*oh + ow, -2000]; lane 1 of the
    # 1-pixel beats carries junk (777) that must not reach the output.
    ps_beats = []
    for oh in range(3):
        ps_beats.append({"count": 2, "pixels": [[1000 + 10 * oh, -2000],
                                                [1001 + 10 * oh, -2000]]})
        ps_beats.append({"count": 1, "pixels": [[1002 + 10 * oh, -2000], [777, 777]]})
    seen = run(RED_LAYER, [red_step(t) for t in range(4)], cycles=20, accumulate=True,
               ps_beats=ps_beats, ps_valid=lambda cycle: cycle not in (4, 7))
    # RED_Y plus the partial sums, by hand.
    want = [
        (2, [[1016, -2001], [1041, -2004]]), (1, [[1018, -2002], [0, 0]]),
        (2, [[1140, -2006], [1336, -2016]]), (1, [[1142, -2008], [0, 0]]),
        (2, [[1036, -2003], [1061, -2008]]), (1, [[1038, -2004], [0, 0]]),
    ]
    # The first beat is read in cycle 3 (as without accumulate) but its partial sum
    # only comes in cycle 5; the beat of cycle 7 waits for cycle 8. Each output beat is
    # taken together with its partial-sum beat.
    assert seen["beats"] == [(c, n, px) for c, (n, px) in zip([5, 6, 8, 9, 10, 11], want)]
    assert seen["ps_taken"] == [5, 6, 8, 9, 10, 11]
    assert seen["done"][0] == 12
    # psum_additions: pixels emitted x cout = 9 * 2.
    assert seen["counters"] == {"merge_additions": 14, "psum_additions": 18,
                                "out_writes": 9, "out_reads": 9}


def test_zp_adds_the_kernel_and_waits_for_the_bank():
    # o.ready low in cycles 0..9 and 12, high otherwise.
    seen = run(ZP_LAYER, [zp_step(t) for t in range(9)], cycles=24,
               o_ready=lambda cycle: cycle >= 10 and cycle != 12)
    # Steps of rows 0 and 1 go in cycles 1..6 (rows < emit_row + 2 = 2). Row 0 is complete
    # from cycle 4: its first beat is valid from cycle 5 but held until cycle 10. The
    # step of row 2 (t=6) needs emit_row >= 1: refused in 7..10; the emitter reads row
    # 0's last beat in cycle 10 (emit_row = 1 from 11), so t=6..8 go in 11, 12, 13.
    assert seen["taken"] == [1, 2, 3, 4, 5, 6, 11, 12, 13]
    assert seen["refused"] == [7, 8, 9, 10]
    # Beats: row 0 in 10, 11; row 1's first read in 11, held by ready low in 12, taken
    # in 13, its second in 14; row 2 complete from cycle 14 (t=8 taken in 13): 15, 16.
    assert seen["beats"] == [(c, n, px) for c, (n, px) in
                             zip([10, 11, 13, 14, 15, 16], ZP_BEATS)]
    assert seen["done"][0] == 17
    # merge_additions: 4 groups in the kernel -> 3 additions per step, 9 steps, cout 1.
    # out_writes: one pixel per step.
    assert seen["counters"] == {"merge_additions": 27, "psum_additions": 0,
                                "out_writes": 9, "out_reads": 9}
