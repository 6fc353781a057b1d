"""Input line buffer of raw pixels and the zero-skipping window read view."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import first_ones, wrap_sub
from .layouts import buffered_pixel_layout, require_tile_config, pixel_layout
from .offset import OffsetCorrection

__all__ = ["InputBuffer"]


class InputBuffer(wiring.Component):
    """Line buffer holding the last ``line_rows = kernel + 1`` raw input rows.

    Raw pixels arrive once each, in raster order, on ``i``; row ``r`` lives in buffer row
    ``r mod line_rows``. Each pixel is stored with the sum of its first ``cin`` channels
    (:class:`~red.rtl.offset.OffsetCorrection`), which every group's offset correction
    reuses. A row may be written only while ``r < row_limit`` (the tile
    raises the limit as blocks retire the oldest row), so a pixel is never overwritten
    before the last block that reads it.

    The read side is the zero-skipping window: for the window base ``(q_h, q_w)`` (the
    block minus the fold's smallest input offset, so it may be negative) every read
    ``g`` fetches raw pixel ``x[q_h - jh[g]][q_w - jw[g]]`` in the same cycle, with
    ``in_range[g]`` low (and the pixel 0) when it falls outside the input. Reads never
    look at pixels that have not arrived: the tile issues a block only after
    :attr:`in_row`/:attr:`in_col` have passed the pixels it needs (``window_ready``).

    Latency: a pixel taken in cycle ``t`` is readable from cycle ``t + 1`` (a synchronous
    write, combinational reads). Throughput: one pixel per cycle in, ``reads`` pixels
    per cycle out; ``h*w`` cycles for a layer's input when it is never held back by
    ``row_limit``.

    Parameters
    ----------
    config : TileConfig
    reads : int
        Number of window reads (the tile uses one per crossbar group).

    Members
    -------
    i : In(stream.Signature(pixel_layout))
        Raw input pixels, raster order.
    clear : In(1)
        Start of a layer: forget every pixel.
    cin : In
        Channels of the layer (the pixel sum covers channels ``0 .. cin-1``).
    h, w : In
        Input height and width of the layer.
    row_limit : In(signed)
        Rows ``< row_limit`` may be written.
    in_row, in_col : Out
        Position of the next pixel expected on ``i``.
    complete : Out(1)
        All ``h*w`` pixels have arrived.
    q_h, q_h_slot, q_w : In
        The window base being read (signed), and ``q_h mod line_rows`` (kept by the
        caller's counters).
    jh, jw : In(Array)
        Per read, its offset into the window (``< kernel``).
    pixels : Out(Array of buffered_pixel_layout), in_range : Out(reads)
        The window reads, combinational.
    window_ready : Out(1)
        Every pixel the window at ``(q_h, q_w)`` reads inside the input has arrived (a
        window wholly before the input reads nothing and is ready at once).
    """

    def __init__(self, config: TileConfig, reads: int):
        self._config = require_tile_config(config)
        self._reads = reads
        dim = unsigned_width(config.max_in)
        pos = signed(unsigned_width(config.max_blocks + config.max_out) + 1)
        offset = unsigned_width(config.kernel - 1)
        super().__init__({
            "i": In(stream.Signature(pixel_layout(config))),
            "clear": In(1),
            "cin": In(unsigned_width(config.rows)),
            "h": In(dim),
            "w": In(dim),
            "row_limit": In(pos),
            "in_row": Out(dim),
            "in_col": Out(dim),
            "complete": Out(1),
            "q_h": In(pos),
            "q_h_slot": In(unsigned_width(config.line_rows - 1)),
            "q_w": In(pos),
            "jh": In(data.ArrayLayout(offset, reads)),
            "jw": In(data.ArrayLayout(offset, reads)),
            "pixels": Out(data.ArrayLayout(buffered_pixel_layout(config), reads)),
            "in_range": Out(reads),
            "window_ready": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        n_slots = c.line_rows
        # One memory word per buffered pixel, ``slot * max_in + column``; every window
        # read is a combinational read port (a register file with ``reads`` read ports),
        # which simulates as an array index rather than a multiplexer tree.
        m.submodules.lines = lines = memory.Memory(
            shape=buffered_pixel_layout(c).size, depth=n_slots * c.max_in, init=[])
        write = lines.write_port()
        m.submodules.channel_sum = channel_sum = OffsetCorrection(c)
        stored = Signal(buffered_pixel_layout(c))
        m.d.comb += [
            channel_sum.x.eq(self.i.payload),
            channel_sum.row_en.eq(first_ones(c.rows, self.cin)),
            stored.x.eq(self.i.payload),
            stored.x_sum.eq(channel_sum.x_sum),
        ]

        # -- write side: raster counters and the slot of the current row ----------------
        slot = Signal(range(n_slots))
        m.d.comb += [
            self.i.ready.eq(~self.complete & (self.in_row < self.row_limit)),
            write.addr.eq(slot * c.max_in + self.in_col),
            write.data.eq(stored.as_value()),
            write.en.eq(~self.clear & self.i.valid & self.i.ready),
        ]
        with m.If(self.clear):
            m.d.sync += [self.in_row.eq(0), self.in_col.eq(0), slot.eq(0),
                         self.complete.eq(0)]
        with m.Elif(self.i.valid & self.i.ready):
            with m.If(self.in_col == self.w - 1):
                m.d.sync += [self.in_col.eq(0), self.in_row.eq(self.in_row + 1),
                             slot.eq(Mux(slot == n_slots - 1, 0, slot + 1))]
                with m.If(self.in_row == self.h - 1):
                    m.d.sync += self.complete.eq(1)
            with m.Else():
                m.d.sync += self.in_col.eq(self.in_col + 1)

        # -- read side: one window read per group -----------------------------------------
        need_row = Mux(self.q_h < self.h - 1, self.q_h, self.h - 1)
        need_col = Mux(self.q_w < self.w - 1, self.q_w, self.w - 1)
        m.d.comb += self.window_ready.eq(
            self.complete | (self.q_h < 0) | (self.q_w < 0) | (self.in_row > need_row) |
            ((self.in_row == need_row) & (self.in_col > need_col)))
        for g in range(self._reads):
            port = lines.read_port(domain="comb")
            jh, jw = self.jh[g], self.jw[g]
            row = Signal.like(self.q_h, name=f"row{g}")
            col = Signal.like(self.q_w, name=f"col{g}")
            read_slot = Signal(range(n_slots), name=f"slot{g}")
            ok = Signal(name=f"in_range{g}")
            m.d.comb += [
                row.eq(self.q_h - jh),
                col.eq(self.q_w - jw),
                read_slot.eq(wrap_sub(self.q_h_slot, jh, n_slots)),
                ok.eq((row >= 0) & (row < self.h) & (col >= 0) & (col < self.w)),
                port.addr.eq(read_slot * c.max_in + col),
                self.in_range[g].eq(ok),
            ]
            with m.If(ok):
                m.d.comb += self.pixels[g].eq(port.data)
        return m
