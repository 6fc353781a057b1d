"""InputBuffer in the Amaranth simulator, on hand-counted cases: the row limit holds back
the stream, window reads return the right raw pixel with its channel sum, reads outside
the map (a negative window base included) are out of range and 0."""

from red.config import TileConfig
from red.rtl.input_buffer import InputBuffer

from _amaranth_sim import simulate

# 2 channels, kernel 2: the buffer keeps kernel + 1 = 3 rows.
TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=8, kernel=2, max_stride=2,
                  max_in=4)
H, W = 3, 2


def pixel(r: int, c: int) -> list[int]:
    """Channels of raw pixel (r, c): distinct per pixel, their sum 10r + c + 1."""
    return [10 * r + c, 1]


def test_row_limit_window_reads_and_ranges():
    dut = InputBuffer(TILE, reads=2)
    seen = {}

    async def read(ctx, q_h, q_w, jh, jw):
        """(in_range, x, x_sum) of both reads of window base (q_h, q_w)."""
        ctx.set(dut.q_h, q_h)
        ctx.set(dut.q_w, q_w)
        ctx.set(dut.q_h_slot, q_h % TILE.line_rows)
        for g in range(2):
            ctx.set(dut.jh[g], jh[g])
            ctx.set(dut.jw[g], jw[g])
        await ctx.delay(1e-9)
        return [(ctx.get(dut.in_range[g]), [ctx.get(dut.pixels[g].x[ch]) for ch in range(2)],
                 ctx.get(dut.pixels[g].x_sum)) for g in range(2)]

    async def testbench(ctx):
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        ctx.set(dut.cin, 2)
        ctx.set(dut.h, H)
        ctx.set(dut.w, W)
        ctx.set(dut.row_limit, 2)                  # rows 0 and 1 only
        stream = [pixel(r, c) for r in range(H) for c in range(W)]
        taken = 0
        for _ in range(10):                        # more cycles than the 4 pixels need
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, stream[taken])
            *_, ready = await ctx.tick().sample(dut.i.ready)
            taken += ready
        seen["held"] = (taken, ctx.get(dut.in_row), ctx.get(dut.in_col),
                        ctx.get(dut.complete))
        # Window base (1, 1): read 0 is x[1][1], read 1 is x[1-1][1-1] = x[0][0].
        seen["inside"] = await read(ctx, 1, 1, jh=[0, 1], jw=[0, 1])
        # Base (1, 0) with jw = 1: column -1. Base (-1, 1): row -1 (a fold's early
        # window).
        seen["left"] = await read(ctx, 1, 0, jh=[0, 0], jw=[1, 0])
        seen["above"] = await read(ctx, -1, 1, jh=[0, 0], jw=[0, 1])
        ctx.set(dut.row_limit, 4)                  # row 2 may come now
        while taken < len(stream):
            ctx.set(dut.i.payload, stream[taken])
            *_, ready = await ctx.tick().sample(dut.i.ready)
            taken += ready
        ctx.set(dut.i.valid, 0)
        await ctx.tick()
        seen["complete"] = ctx.get(dut.complete)
        # Row 2 went to slot 2; base (2, 0) reads x[2][0] and x[1][0].
        seen["last"] = await read(ctx, 2, 0, jh=[0, 1], jw=[0, 0])

    simulate(dut, testbench)
    assert seen["held"] == (4, 2, 0, 0)            # two rows of two pixels, then held
    assert seen["inside"] == [(1, pixel(1, 1), 12), (1, pixel(0, 0), 1)]
    assert seen["left"] == [(0, [0, 0], 0), (1, pixel(1, 0), 11)]
    assert seen["above"] == [(0, [0, 0], 0), (0, [0, 0], 0)]
    assert seen["complete"] == 1
    assert seen["last"] == [(1, pixel(2, 0), 21), (1, pixel(1, 0), 11)]
