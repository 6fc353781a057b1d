"""The sequencer alone in the Amaranth simulator: the steps of a pass it walks, their
order and their output-range flags equal what the layer's definition gives (outputs
enumerated one by one, no block formula), and so do red.timing's compute cycles; the
weight load takes ``cin`` beats; passes run back to back."""

import pytest

from red.config import LayerSpec, TileConfig
from red.rtl.layouts import layer_fields
from red.rtl.sequencer import Sequencer
from red.timing import pass_timing

from _amaranth_sim import simulate

TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=4,
                  max_in=8, max_k=5)

# (layer, mode, fold): strides below, at and past the kernel, padding, output padding,
# folds of a kernel larger than the tile's.
CASES = [
    (LayerSpec(2, 1, 3, 3, 3, 2, 1, 1), "red", (0, 0)),
    (LayerSpec(2, 1, 3, 3, 3, 2, 1, 1), "zp", (0, 0)),
    (LayerSpec(1, 2, 4, 3, 3, 1, 2, 0), "red", (0, 0)),
    (LayerSpec(3, 1, 2, 3, 2, 4, 1, 3), "red", (0, 0)),
    (LayerSpec(3, 1, 2, 3, 2, 3, 0, 2), "zp", (0, 0)),
    (LayerSpec(1, 1, 3, 2, 5, 2, 2, 1), "red", (3, 0)),
    (LayerSpec(1, 1, 3, 4, 5, 2, 4, 1), "red", (0, 3)),
    (LayerSpec(2, 1, 2, 2, 5, 3, 3, 2), "zp", (3, 3)),
]


def _id(case):
    layer, mode, fold = case
    return f"{mode}-k{layer.k}s{layer.s}p{layer.p}op{layer.op}-{layer.h}x{layer.w}-fold{fold}"


def expected_steps(layer: LayerSpec, mode: str):
    """Per step in issue order: ``(q_h, q_w, r_h, r_w)`` and the RED in-range phases, from
    the outputs themselves: output ``o`` lies in block ``(o+p) div s`` at phase
    ``(o+p) mod s``; RED visits each block once, ZP each output once."""
    def axis(n_out):
        return [divmod(o + layer.p, layer.s) for o in range(n_out)]
    rows, cols = axis(layer.ho), axis(layer.wo)
    if mode == "zp":
        return [(qh, qw, rh, rw, None, None) for qh, rh in rows for qw, rw in cols]
    r0 = layer.p % layer.s

    def blocks(pairs, n_out):
        qs = sorted({q for q, _ in pairs})
        return [(q, frozenset(a for a in range(layer.s) if 0 <= q * layer.s - layer.p + a < n_out))
                for q in qs]
    return [(qh, qw, r0, r0, ok_h, ok_w)
            for qh, ok_h in blocks(rows, layer.ho) for qw, ok_w in blocks(cols, layer.wo)]


async def run_pass(ctx, dut, layer, mode, fold, stall_every=0):
    """One pass; returns (load beats, cycle after start the first step is offered,
    steps taken), the steps taken when ``step.ready`` (low every ``stall_every``-th
    cycle)."""
    ctx.set(dut.layer, layer_fields(layer, mode, *fold))
    ctx.set(dut.start, 1)
    ctx.set(dut.w_valid, 1)
    ctx.set(dut.finish, 0)
    loads, first, steps, cycle = 0, None, [], 0
    await ctx.tick()
    ctx.set(dut.start, 0)
    while True:
        cycle += 1
        ready = not (stall_every and cycle % stall_every == 0)
        ctx.set(dut.step.ready, ready)
        assert ctx.get(dut.busy)
        if ctx.get(dut.w_ready):
            loads += 1
        if ctx.get(dut.step.valid) and first is None:
            first = cycle
        if ctx.get(dut.step.valid) and ready:
            p = ctx.get(dut.step.payload)
            row_ok = frozenset(a for a in range(layer.s) if (p.row_ok >> a) & 1)
            col_ok = frozenset(a for a in range(layer.s) if (p.col_ok >> a) & 1)
            steps.append((p.pos.q_h, p.pos.q_w, p.pos.r_h, p.pos.r_w,
                          None if mode == "zp" else row_ok, None if mode == "zp" else col_ok))
        if ctx.get(dut.steps_done):
            ctx.set(dut.finish, 1)
            await ctx.tick()
            ctx.set(dut.finish, 0)
            assert ctx.get(dut.done) and not ctx.get(dut.busy)
            return loads, first, steps
        await ctx.tick()
        assert cycle < 10_000, "the pass never ends"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_steps_equal_the_definition(case):
    layer, mode, fold = case
    dut = Sequencer(TILE)
    got = {}

    async def bench(ctx):
        got["plain"] = await run_pass(ctx, dut, layer, mode, fold)
        got["stalled"] = await run_pass(ctx, dut, layer, mode, fold, stall_every=3)

    simulate(dut, bench)
    expected = expected_steps(layer, mode)
    for name, (loads, first, steps) in got.items():
        assert loads == layer.cin, name
        assert first == layer.cin + 1, name          # the cycle after the last beat
        assert steps == expected, name
    # red.timing's compute cycles are the steps' planes (no early termination).
    timing = pass_timing(layer, TILE, mode, *fold)
    assert timing.compute_cycles == len(expected) * TILE.in_bits


def test_hand_counted_steps():
    """K3 s2 p1 op1 on 3x3: Ho = (3-1)*2 - 2 + 3 + 1 = 6; outputs 0..5 fall in blocks
    (o+1) div 2 = 0,1,1,2,2,3: 4 blocks per axis, 16 RED steps, 36 ZP steps."""
    layer = LayerSpec(2, 1, 3, 3, 3, 2, 1, 1)
    counts = {}
    for mode in ("red", "zp"):
        dut = Sequencer(TILE)

        async def bench(ctx, dut=dut, mode=mode):
            counts[mode] = len((await run_pass(ctx, dut, layer, mode, (0, 0)))[2])

        simulate(dut, bench)
    assert counts == {"red": 16, "zp": 36}
