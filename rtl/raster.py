"""The raster walk over an output map, a beat at a time, in the output banks' placement."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import popcount, wrap_add, wrap_sub
from .layouts import require_tile_config

__all__ = ["RasterWalk", "RASTER_FIELDS", "placement_shapes", "placement_ports",
           "step_outputs"]

#: The placement fields a walk takes from its pass (:func:`~red.rtl.merge.merge_config_layout`).
RASTER_FIELDS = ("ho", "wo", "s_row", "s_col", "a0", "b0", "rot_h", "rot_w")


def placement_shapes(config: TileConfig) -> dict:
    """The shapes of :data:`RASTER_FIELDS`: output size, phase rows and bank columns per
    step row and column, first phases, and slot 0's phases."""
    phase = unsigned_width(config.max_stride - 1)
    stride = unsigned_width(config.max_stride)
    out_dim = unsigned_width(config.max_out)
    shapes = {"ho": out_dim, "wo": out_dim, "s_row": stride, "s_col": stride,
              "a0": phase, "b0": phase, "rot_h": phase, "rot_w": phase}
    return {name: shapes[name] for name in RASTER_FIELDS}


def placement_ports(config: TileConfig) -> dict:
    """The input ports of :data:`RASTER_FIELDS`, for a component's signature."""
    return {name: In(shape) for name, shape in placement_shapes(config).items()}


def step_outputs(zp, row_ok, col_ok, max_stride: int):
    """Output pixels inside the map that a step holds: ZP's one, or RED's phases inside
    (``row_ok`` x ``col_ok``, :func:`~red.rtl.sequencer.step_layout`)."""
    return Mux(zp, 1, popcount(row_ok, max_stride) * popcount(col_ok, max_stride))


class RasterWalk(wiring.Component):
    """Where the next beat of an output map lies in the output banks
    (:class:`~red.rtl.merge.OutputMerge`'s placement), walking output rows ``0 .. Ho-1``
    in raster order: the emitter's walk over the merge's banks and the partial-sum
    bank's (:class:`~red.rtl.psum_bank.PartialSumBank`) over the partial sums it is
    filled with, so that both place a pixel where the merge writes it.

    Output row ``oh`` belongs to step row ``row`` and phase row ``a`` (RED:
    ``oh + p = (row + p div s)*s + a``; ZP: ``row = oh``, ``a = 0``). A beat holds
    ``count = min(out_pixels, s_col, Wo - ow)`` pixels of one row from distinct bank
    columns: its first pixel is at phase column ``b``, in slot ``(u, v) = ((a - rot_h)
    mod s_row, (b - rot_w) mod s_col)`` and bank word ``idx`` (of the step row's bank
    half); its pixel ``i`` lies in bank column ``(v + i) mod s_col``, one word on where
    ``b + i >= s_col``.

    Latency: 0 cycles (the position is registered; ``count`` follows it).

    Members
    -------
    clear : In(1)
        Start of a pass: back to the first pixel. The configuration is read then.
    advance : In(1)
        The beat at the position is taken; never while ``finished``.
    ho, wo, s_row, s_col, a0, b0, rot_h, rot_w : In
        The pass's placement (:func:`~red.rtl.merge.merge_config_layout`).
    row, a, b, u, v, idx, count : Out
        The beat at the position, above.
    row_end : Out(1)
        The beat ends its output row.
    finished : Out(1)
        Every row has been walked.
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        phase = unsigned_width(c.max_stride - 1)
        stride = unsigned_width(c.max_stride)
        # Slots are a bit wider than phases: compared with constants, they must not make
        # the comparison constant (Verilator's CMPCONST) on small strides.
        super().__init__({
            "clear": In(1), "advance": In(1), **placement_ports(c),
            "row": Out(unsigned_width(max(c.max_blocks, c.max_out))),
            "a": Out(phase), "b": Out(phase),
            "u": Out(stride), "v": Out(stride),
            "idx": Out(unsigned_width(c.bank_words - 1)),
            "count": Out(unsigned_width(c.out_pixels)),
            "row_end": Out(1), "finished": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        oh, ow = Signal.like(self.ho), Signal.like(self.wo)
        remaining = Signal.like(self.wo)
        limit = Mux(self.s_col < self._config.out_pixels, self.s_col, self._config.out_pixels)
        m.d.comb += [
            remaining.eq(self.wo - ow),
            self.count.eq(Mux(remaining < limit, remaining, limit)),
            self.row_end.eq(self.count == remaining),
        ]
        with m.If(self.clear):
            m.d.sync += [
                oh.eq(0), ow.eq(0), self.a.eq(self.a0), self.b.eq(self.b0),
                self.u.eq(wrap_sub(self.a0, self.rot_h, self.s_row)),
                self.v.eq(wrap_sub(self.b0, self.rot_w, self.s_col)),
                self.idx.eq(0), self.row.eq(0), self.finished.eq(0),
            ]
        with m.Elif(self.advance & self.row_end):
            m.d.sync += [ow.eq(0), self.b.eq(self.b0), self.idx.eq(0), oh.eq(oh + 1),
                         self.v.eq(wrap_sub(self.b0, self.rot_w, self.s_col)),
                         self.u.eq(wrap_add(self.u, 1, self.s_row))]
            with m.If(oh == self.ho - 1):
                m.d.sync += self.finished.eq(1)
            with m.If(self.a == self.s_row - 1):
                m.d.sync += [self.a.eq(0), self.row.eq(self.row + 1)]
            with m.Else():
                m.d.sync += self.a.eq(self.a + 1)
        with m.Elif(self.advance):
            m.d.sync += [ow.eq(ow + self.count),
                         self.v.eq(wrap_add(self.v, self.count, self.s_col))]
            b_next = self.b + self.count
            with m.If(b_next >= self.s_col):
                m.d.sync += [self.b.eq(b_next - self.s_col), self.idx.eq(self.idx + 1)]
            with m.Else():
                m.d.sync += self.b.eq(b_next)
        return m
