"""red.timing.pass_timing on small passes whose cycles are counted by hand, and the same
hand counts against the RTL's counters (RedTile in the Amaranth simulator).

The pipeline the hand counts follow (``red.rtl.tile.RedTile``, ``red.rtl.mvm.MVMUnit``,
``red.rtl.merge.OutputMerge``; cycle 0 is the pass's first running cycle, input offered
every cycle, output always ready, ``B = in_bits``):

* input: one raw pixel taken per cycle; a pixel taken in cycle c is visible to the
  sequencer from cycle c+1;
* issue: a step issues once the newest pixel it reads is visible (a window wholly before
  the input waits for nothing), and then every ``B`` cycles: a step issued in cycle c
  applies its planes in cycles c+1 .. c+B, and the next issues in cycle c+B;
* results: the groups' latency is ``B + 2`` (planes, ADC register, output register): the
  step issued in cycle c reaches the merge in cycle c+B+2 and is taken there;
* merge: a block row completes with its last step's take in cycle d, the emitter reads
  from cycle d+1 (one beat per cycle) and a beat read in cycle e is taken in cycle e+1;
  a step of block row n is taken only once the emitter has left block row n-2;
* ``total_cycles`` counts from cycle 0 to the cycle the last beat is taken, both
  included: last beat taken in cycle e -> ``e + 1``.
"""

import pytest

from red.config import LayerSpec, TileConfig
from red.model import estimate
from red.rtl.layouts import layer_fields
from red.rtl.tile import RedTile
from red.timing import pass_timing

from _amaranth_sim import simulate

# in_bits B = 2; kernel 3 (line buffer of 4 rows, 2 x 2 output slot banks); one output
# pixel per beat; max_k 4 allows a folded k=4 layer.
B = 2
TILE = TileConfig(rows=1, cols=2, cell_bits=2, w_bits=4, in_bits=B, kernel=3, max_stride=2,
                  max_in=3, max_cin=1, max_k=4, out_pixels=1)
# The same with two output pixels per beat.
TILE2 = TileConfig(rows=1, cols=2, cell_bits=2, w_bits=4, in_bits=B, kernel=3, max_stride=2,
                   max_in=3, max_cin=1, max_k=4, out_pixels=2)


def layer(h, w, k, s, p=0, op=0, cin=1, cout=1):
    return LayerSpec(cin=cin, cout=cout, h=h, w=w, k=k, s=s, p=p, op=op)


# 1x1 input, k=1, s=1: one block, one pixel. Pixel taken in 0, visible in 1: issue 1;
# planes 2..B+1; result at the merge in 1+B+2 = B+3 (5), taken; block row complete, read
# in B+4 (6), beat taken in B+5 (7). total = B+6 = 8, compute = B = 2.
ONE_PIXEL = layer(1, 1, k=1, s=1)

# k=1, s=2, op=1 on 1x1: Ho = Wo = 0 - 0 + 1 + 1 = 2.
# RED: one block (q = o div 2 = 0 for o = 0, 1) holding all 4 pixels: issue 1, result
# taken in B+3 = 5, reads in 6, 7, 8, 9 (rows of 2 pixels, 1 per beat), last taken 10:
# total 11. With 2 pixels per beat: reads 6, 7, last taken 8: total 9.
# ZP: 4 steps (one per pixel), all reading x[0][0]: issued 1, 1+B, 1+2B, 1+3B; results
# taken B+3, 2B+3, 3B+3, 4B+3 = 5, 7, 9, 11. Output row 0 (steps 0, 1) complete with the
# take in 7: reads 8, 9; row 1 complete in 11: reads 12, 13, last taken 14: total 15.
# With 2 pixels per beat (slot_banks = 2): reads 8 and 12, last taken 13: total 14.
STRIDE2 = layer(1, 1, k=1, s=2, op=1)

# k=2, s=2 on a 3x1 input: Ho = 2*2 + 2 = 6, Wo = 2; blocks 3 x 1, each 2 x 2 pixels
# = 4 beats. Block q reads x[q]: pixels taken 0, 1, 2; blocks issue 1, 3, 5, results at
# 5, 7, 9. Block row 0 taken in 5: reads 6..9 (emit_row = 1 from cycle 10). Block row 1
# taken in 7 (row 1 < 0 + 2). Block row 2's result (cycle 9) needs emit_row >= 1: one
# merge stall cycle (9), taken in 10. Block row 1 is read in 10..13, block row 2 in
# 14..17, last taken 18: total 19 (the output port binds: 12 beats from cycle 6).
BANK_STALL = layer(3, 1, k=2, s=2)

# k=3, s=1, p=1 on 2x2: Ho = Wo = 1 - 2 + 3 = 2; blocks q = o+1 in 1..2. The first
# block (1, 1) reads x[1][1], the 4th pixel: taken in 3, visible in 4 -> first issue 4.
# Blocks issue 4, 4+B, 4+2B, 4+3B; results taken 6+B, 6+2B, 6+3B, 6+4B. Block row 1
# (second) complete in 6+4B = 14: reads 15, 16, last taken 17: total 18.
WAITS_FOR_INPUT = layer(2, 2, k=3, s=1, p=1)

# k=4, s=1 on 1x1 (Ho = Wo = 4, 16 blocks) on the kernel-3 tile: folds at 0 and 3. In
# the fold (3, 3) block q reads x[q - 3]: blocks before q = 3 read nothing and the first
# issues in cycle 0 without waiting; block j issues in jB, reaches the merge in
# jB+B+2. Block row r's last block j = 4r+3 is taken in (4r+4)B+2; the 4 beats of its
# row are read from (4r+4)B+3; row 3: read 35..38, last taken 39: total 16B+8 = 40.
# The fold (0, 0) reads x[0][0] for every block (taken in 0, visible in 1): each issue
# one cycle later, total 41. The folds (0, 3) and (3, 0) have a first window before the
# input, like (3, 3): 40 each.
FOLDED = layer(1, 1, k=4, s=1)

# PF (red.rtl.overlap_add): a step per input pixel, issued as in RED once its pixel is
# visible; its result is taken B+2 cycles later unless a row it adds into is held; an
# output row is emitted once the input rows adding into it are taken (the last row once
# the whole input is). ONE_PIXEL and STRIDE2: one step as RED's, all rows final with it
# (taken in B+3): the same totals. WAITS_FOR_INPUT: steps issue 1, 1+B, 1+2B, 1+3B
# (pixels visible by then), taken 5, 7, 9, 11; row 0 (= 0*1 - 1 + 1 input rows) needs
# both input rows: all rows final after the take in 11, read 12..15, last taken 16:
# total 17. FOLDED, fold (3, 3): output rows 0-2 receive nothing and drain from cycle 0
# (12 beats, 0..11); row 3 (the last) follows them, read 12..15: total 17. Fold (0, 0):
# rows 0-3 read from B+4 = 6 to 21, last taken 22: total 23.

HAND_COUNTED = [
    # (tile, layer, mode, fold, total, compute, first issue, merge stall cycles)
    (TILE, ONE_PIXEL, "red", (0, 0), 8, B, 1, 0),
    (TILE, STRIDE2, "red", (0, 0), 11, B, 1, 0),
    (TILE2, STRIDE2, "red", (0, 0), 9, B, 1, 0),
    (TILE, STRIDE2, "zp", (0, 0), 15, 4 * B, 1, 0),
    (TILE2, STRIDE2, "zp", (0, 0), 14, 4 * B, 1, 0),
    (TILE, BANK_STALL, "red", (0, 0), 19, 3 * B, 1, 1),
    (TILE, WAITS_FOR_INPUT, "red", (0, 0), 18, 4 * B, 4, 0),
    (TILE, FOLDED, "red", (3, 3), 40, 16 * B, 0, 0),
    (TILE, FOLDED, "red", (0, 0), 41, 16 * B, 1, 0),
    (TILE, ONE_PIXEL, "pf", (0, 0), 8, B, 1, 0),
    (TILE, STRIDE2, "pf", (0, 0), 11, B, 1, 0),
    (TILE2, STRIDE2, "pf", (0, 0), 9, B, 1, 0),
    (TILE, WAITS_FOR_INPUT, "pf", (0, 0), 17, 4 * B, 1, 0),
    (TILE, FOLDED, "pf", (3, 3), 17, B, 1, 0),
    (TILE, FOLDED, "pf", (0, 0), 23, B, 1, 0),
]


def _id(case):
    tile, lay, mode, fold, *_ = case
    return f"{lay}-{mode}-fold{fold[0]}{fold[1]}-px{tile.out_pixels}"


@pytest.mark.parametrize("case", HAND_COUNTED, ids=_id)
def test_pass_timing_by_hand(case):
    tile, lay, mode, (kh0, kw0), total, compute, first_issue, stall = case
    t = pass_timing(lay, tile, mode, kh0, kw0)
    assert (t.total_cycles, t.compute_cycles, t.first_issue, t.merge_stall_cycles) == \
        (total, compute, first_issue, stall)


def test_channel_slices_do_not_change_the_timing():
    # Only the schedule of blocks matters: 3 input and 5 output channels time like one.
    t = pass_timing(layer(3, 1, k=2, s=2, cin=3, cout=5), TILE, "red")
    assert (t.total_cycles, t.merge_stall_cycles) == (19, 1)


def test_estimate_sums_the_passes():
    # FOLDED in 4 passes (folds (0,0), (0,3), (3,0), (3,3)): 41 + 40 + 40 + 40 cycles,
    # each with 16 steps of B cycles.
    e = estimate(FOLDED, TILE, "red")
    assert (e.passes, e.total_cycles, e.compute_cycles) == (4, 161, 4 * 16 * B)
    # One pass: the hand count of ONE_PIXEL.
    assert estimate(ONE_PIXEL, TILE, "red").total_cycles == 8


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="xx"):
        pass_timing(ONE_PIXEL, TILE, "xx")


def test_hand_counts_equal_the_rtl_counters():
    """The same passes on the RTL: its total_cycles and compute_cycles counters equal the
    hand counts (weights and inputs are zero: timing does not depend on data)."""
    measured = {}
    for tile in (TILE, TILE2):
        cases = [c for c in HAND_COUNTED if c[0] is tile]
        dut = RedTile(tile, crossbar="ff")

        async def testbench(ctx, dut=dut, cases=cases):
            ctx.set(dut.o.ready, 1)
            for case in cases:
                _, lay, mode, (kh0, kw0), *_ = case
                ctx.set(dut.layer, layer_fields(lay, mode, kh0, kw0))
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                ctx.set(dut.w.valid, 1)          # cin = 1: one weight beat, all zero
                ctx.set(dut.w.payload, [[0] * tile.logical_cols] * tile.groups)
                pixels = lay.h * lay.w
                ctx.set(dut.i.payload, [0] * tile.rows)
                for _ in range(200):
                    ctx.set(dut.i.valid, pixels > 0)
                    *_, w_ready, i_ready, done = await ctx.tick().sample(
                        dut.w.ready, dut.i.ready, dut.done)
                    if w_ready:
                        ctx.set(dut.w.valid, 0)
                    pixels -= bool(i_ready and pixels)
                    if done:
                        break
                assert ctx.get(dut.done), f"{_id(case)}: no done in 200 cycles"
                measured[_id(case)] = (ctx.get(dut.total_cycles), ctx.get(dut.compute_cycles))

        simulate(dut, testbench)
    assert measured == {_id(c): (c[4], c[5]) for c in HAND_COUNTED}


def _random_passes(seed: int, count: int):
    """Seeded random layers and tiles, every fold of each, large enough that the rows and
    columns repeat (strides up to 8, inputs up to 40x24, kernels up to 12 in folds)."""
    import random

    from red.config import ConfigError
    from red.mapping import schedule
    rng = random.Random(seed)
    print(f"seed={seed}")
    while count:
        s, k = rng.randint(1, 8), rng.randint(1, 12)
        try:
            lay = LayerSpec(cin=1, cout=1, h=rng.randint(1, 40), w=rng.randint(1, 24), k=k,
                            s=s, p=rng.randint(0, k - 1), op=rng.randint(0, s - 1))
            tile = TileConfig(rows=4, cols=8, w_bits=4, kernel=rng.randint(1, 4), max_stride=8,
                              in_bits=rng.choice([2, 4, 8]), max_in=40,
                              out_pixels=rng.choice([1, 1, 2, 8]))
            tile.check_layer(lay)
        except ConfigError:
            continue
        count -= 1
        for kh0, kw0 in sorted({(run.kh0, run.kw0) for run in schedule(lay, tile)})[:4]:
            for mode in ("red", "zp", "pf"):
                yield lay, tile, mode, kh0, kw0


def test_fast_forward_equals_every_cycle_simulated():
    """The periodic fast-forward (red.timing's docstring) against the same control
    simulated cycle by cycle, on random layers and folds and on an FCN-like upscore whose
    rows and columns repeat hundreds of times."""
    from red.timing import _pass_timing
    cases = list(_random_passes(2024, 30))
    upscore = LayerSpec(cin=1, cout=1, h=9, w=9, k=16, s=8, p=4, op=0)
    fcn = TileConfig(rows=4, cols=8, w_bits=4, in_bits=4, kernel=4, max_stride=8, max_in=9,
                     out_pixels=8)
    cases += [(upscore, fcn, mode, kh0, kw0) for mode in ("red", "zp", "pf")
              for kh0, kw0 in ((0, 0), (4, 8), (12, 12))]
    for lay, tile, mode, kh0, kw0 in cases:
        _pass_timing.cache_clear()
        fast = pass_timing(lay, tile, mode, kh0, kw0)
        _pass_timing.cache_clear()
        assert fast == pass_timing(lay, tile, mode, kh0, kw0, fast=False), \
            (str(lay), tile, mode, kh0, kw0)


def test_one_cycle_planes_change_nothing():
    """Shared ADCs' plane cycles of 1 everywhere time a pass as one ADC per column does
    (the hold never rises); planes of k cycles add k - 1 compute cycles each."""
    for lay, tile, mode, kh0, kw0 in list(_random_passes(77, 8)):
        n = {"red": lay.nb_h * lay.nb_w, "zp": lay.ho * lay.wo, "pf": lay.h * lay.w}[mode]
        plain = pass_timing(lay, tile, mode, kh0, kw0, fast=False)
        ones = ((1,) * tile.in_bits,) * n
        assert pass_timing(lay, tile, mode, kh0, kw0, plane_cycles=ones) == plain
        threes = ((3,) * tile.in_bits,) * n
        slow = pass_timing(lay, tile, mode, kh0, kw0, plane_cycles=threes)
        assert slow.compute_cycles == 3 * plain.compute_cycles, (str(lay), mode)
        assert slow.total_cycles >= plain.total_cycles
