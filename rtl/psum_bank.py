"""The partial-sum bank: the previous passes' sums of a step's outputs, there when the
step runs, so that early termination decides on the whole sum (CompRRAE in multi-pass
layers)."""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width

from ._arith import wrap_sub
from .layouts import out_beat_layout, out_pixel_layout, require_tile_config
from .raster import RASTER_FIELDS, RasterWalk, placement_ports, step_outputs
from .sequencer import step_layout

__all__ = ["PartialSumBank", "PSUM_BANK_COUNTERS"]

#: The bank's counters: (the tile counter it adds to, the bank's own name).
PSUM_BANK_COUNTERS = (("psum_bank_writes", "writes"), ("psum_bank_reads", "reads"))


class PartialSumBank(wiring.Component):
    """Takes the partial-sum stream ahead of the steps and gives each step the partial
    sums of its outputs, per output slot (:class:`~red.rtl.merge.OutputMerge`).

    A pass that adds partial sums normally takes them as it emits, one beat per output
    beat, after its steps. Early termination (:mod:`red.rtl.early`) needs them during
    the step, to bound the whole sum of each output; in such a pass (the last of a cout
    slice, ``run``) the tile takes the partial-sum beats here instead, in the same raster
    order, and the merge adds each step's partial sums as it writes the step's results.

    **Organisation.** ``slot_banks^2`` memories of two halves, placed exactly as the
    merge's output banks: the fill walks the output map with the emitter's
    :class:`~red.rtl.raster.RasterWalk`, so an output's partial sum lies at the bank and
    word where the merge writes the output. The half of step row ``n`` is ``n mod 2``.

    **Fill.** One partial-sum beat per cycle while running. Step row ``n`` is filled only
    once the steps have left row ``n - 2`` (its half is free); a step of row ``n`` is
    taken (``step_ready``) only once row ``n`` is filled, so the pass's first steps wait
    for its first step row's partial sums.

    **Read.** A step taken (``issue``) reads its word of every bank. From the second
    cycle after ``issue`` until the second cycle after the next, ``psum`` holds the
    step's partial sums, per slot ``u * slot_banks + v`` (ZP: slot 0, the step's pixel):
    through the step's bounds and until the step's results are registered. Words of
    slots whose output lies outside the map are never filled; no decision or write
    uses them (no driven group feeds them).

    Latency: 2 cycles from ``issue`` to ``psum``. Throughput: one partial-sum beat per
    cycle; one step read per cycle.

    Members
    -------
    clear : In(1)
        Start of a pass.
    run : In(1)
        The pass takes its partial sums here and is running.
    zp : In(1)
        The pass runs ZP (one pixel per step, in bank ``(0, bank)``).
    ho, wo, s_row, s_col, a0, b0, rot_h, rot_w : In
        The pass's placement, as the merge's (:func:`~red.rtl.merge.merge_config_layout`).
    ps : In(stream.Signature(out_beat_layout))
        Partial-sum beats, in raster order.
    step : In(step_layout)
        The step the sequencer offers (its row gates the fill).
    issue : In(1)
        That step is taken.
    step_ready : Out(1)
        Its step row is filled.
    psum : Out(ArrayLayout(out_pixel_layout, slot_banks^2))
        The partial sums of the step taken last but one cycle.
    writes, reads : Out(COUNTER_WIDTH)
        Output pixels filled in, and read by steps (those inside the map).
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        super().__init__({
            "clear": In(1), "run": In(1), "zp": In(1), **placement_ports(c),
            "ps": In(stream.Signature(out_beat_layout(c))),
            "step": In(step_layout(c)),
            "issue": In(1),
            "step_ready": Out(1),
            "psum": Out(data.ArrayLayout(out_pixel_layout(c), c.slot_banks ** 2)),
            "writes": Out(COUNTER_WIDTH),
            "reads": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        SB, half = c.slot_banks, c.bank_words
        word = out_pixel_layout(c)
        banks = [[memory.Memory(shape=word.size, depth=c.out_bank_depth, init=[])
                  for _ in range(SB)] for _ in range(SB)]
        for u in range(SB):
            for v in range(SB):
                m.submodules[f"bank_{u}_{v}"] = banks[u][v]
        m.submodules.fill_walk = walk = RasterWalk(c)
        m.d.comb += [walk.clear.eq(self.clear),
                     *(getattr(walk, name).eq(getattr(self, name)) for name in RASTER_FIELDS)]

        # -- fill: a beat's pixel i goes where the emitter would read it ------------------
        take = Signal()
        m.d.comb += [
            self.ps.ready.eq(self.run & ~walk.finished & (walk.row < self.step.row + 2)),
            take.eq(self.ps.valid & self.ps.ready),
            walk.advance.eq(take),
            self.step_ready.eq(walk.finished | (self.step.row < walk.row)),
        ]
        pixels = Array(self.ps.payload.pixels[i] for i in range(c.out_pixels))
        base = walk.row[0] * half + walk.idx
        for v in range(SB):
            lane = Signal(unsigned_width(c.max_stride), name=f"fill_lane{v}")
            m.d.comb += lane.eq(wrap_sub(v, walk.v, self.s_col))
            for u in range(SB):
                port = banks[u][v].write_port()
                m.d.comb += [
                    port.addr.eq(base + (walk.b + lane >= self.s_col)),
                    port.data.eq(pixels[lane]),
                    port.en.eq(take & (walk.u == u) & (lane < walk.count)),
                ]

        # -- read: every bank's word of the step, held for the step ---------------------
        reads = [[banks[u][v].read_port() for v in range(SB)] for u in range(SB)]
        bank = Signal.like(self.step.bank)
        loaded = Signal()
        for row in reads:
            for port in row:
                m.d.comb += [port.addr.eq(self.step.row[0] * half + self.step.idx),
                             port.en.eq(self.issue)]
        m.d.sync += loaded.eq(self.issue)
        with m.If(self.issue):
            m.d.sync += bank.eq(self.step.bank)
        zp_word = Array(reads[0][v].data for v in range(SB))[bank]
        with m.If(loaded):
            m.d.sync += [self.psum[u * SB + v].eq(
                reads[u][v].data if u or v else Mux(self.zp, zp_word, reads[0][0].data))
                for u in range(SB) for v in range(SB)]

        inside = step_outputs(self.zp, self.step.row_ok, self.step.col_ok, c.max_stride)
        with m.If(self.clear):
            m.d.sync += [self.writes.eq(0), self.reads.eq(0)]
        with m.Else():
            with m.If(take):
                m.d.sync += self.writes.eq(self.writes + walk.count)
            with m.If(self.issue & self.run):
                m.d.sync += self.reads.eq(self.reads + inside)
        return m
