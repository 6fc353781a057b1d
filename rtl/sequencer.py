"""The sequencer: a pass's control (load the weights, run the steps, finish) and the walk
over its steps, one per output block (RED) or output pixel (ZP)."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import mod_const
from .layouts import layer_layout, require_tile_config, runs

__all__ = ["Sequencer", "position_layout", "step_layout"]


def position_layout(config: TileConfig) -> data.StructLayout:
    """Where a step lies: block ``(q_h, q_w)``, signed (RED: ``floor((o+p)/s)``; ZP: the
    block of the output pixel), and ``q_h_slot``, the line-buffer row of the window base
    ``q_h - jmin_h`` (``mod line_rows``). ZP also gives the pixel's phase ``(r_h, r_w)``."""
    pos = signed(unsigned_width(config.max_blocks + config.max_out) + 1)
    phase = unsigned_width(config.max_stride - 1)
    return data.StructLayout({
        "q_h": pos, "q_w": pos,
        "q_h_slot": unsigned_width(config.line_rows - 1),
        "r_h": phase, "r_w": phase,
    })


def step_layout(config: TileConfig) -> data.StructLayout:
    """One step as the sequencer issues it: its :func:`position_layout`, which phases
    land inside the output (``row_ok``/``col_ok``, RED: phase ``a`` of block ``q`` is
    output ``q*s - p + a``), and where the merge puts its results: the step row
    (``row``: block row in RED, output row in ZP), the bank word ``idx`` and (ZP) bank
    column ``bank``, and ``last``, the last step of its row (see
    :func:`~red.rtl.layouts.step_meta_layout`)."""
    rows = unsigned_width(max(config.max_blocks, config.max_out))
    return data.StructLayout({
        "pos": position_layout(config),
        "row_ok": config.max_stride,
        "col_ok": config.max_stride,
        "row": rows,
        "idx": unsigned_width(config.bank_words - 1),
        "bank": unsigned_width(config.slot_banks - 1),
        "last": 1,
    })


class Sequencer(wiring.Component):
    """Pass and step control of the RED tile.

    **Pass control** (an FSM: ``IDLE -> LOAD -> RUN -> IDLE``). ``start`` in ``IDLE``
    latches ``layer`` (a pass, :func:`~red.rtl.layouts.layer_layout`) and pulses
    ``begin``, which clears every block of the tile; ``pass_layer`` is the pass from
    that cycle on. ``LOAD`` takes one weight beat per input channel (``w_ready``,
    crossbar row ``ci``): ``cin`` cycles when beats come back to back. ``RUN`` issues
    the steps and ends, raising ``done``, in the cycle ``finish`` is high (the last
    output beat taken, every input pixel in).

    **Steps.** One step per output block ``(q_h, q_w)`` in RED mode, ``Nb_h * Nb_w``
    of them with ``Nb = floor((Ho-1+p)/s) - floor(p/s) + 1``; one per output pixel in
    ZP mode, ``Ho * Wo``; raster order, from ``q = floor(p/s)`` and phase ``p mod s``.
    ``step`` offers the next step while running; the tile takes it (``ready``) once its
    inputs have arrived and the groups and the merge can take it. No division: the
    walk only counts, from the pass's :func:`~red.rtl.layouts.geometry_layout`.

    Latency: the first step is offered ``cin + 1`` cycles after ``start`` (weights
    back to back). Throughput: one step per cycle offered; the tile takes one per
    ``in_bits`` cycles (the groups' step time). Pass cycles are those of
    :func:`red.timing.pass_timing`, which mirrors this control.

    Members
    -------
    layer : In(layer_layout)
        The next pass, latched by ``start``.
    start : In(1)
    busy, done : Out(1)
        Not idle; the last pass ended (high until the next ``start``).
    begin : Out(1)
        ``start`` accepted: the first cycle of a pass.
    pass_layer : Out(layer_layout)
        The pass: ``layer`` in the ``begin`` cycle, the latched value afterwards.
    w_valid : In(1)
        A weight beat is offered.
    w_ready, loading, running : Out(1)
        A beat is taken when offered (``LOAD``); the FSM state.
    ci : Out
        Row (input channel) the beat programs.
    step : Out(stream.Signature(step_layout))
        The next step.
    steps_done : Out(1)
        Every step has been taken.
    finish : In(1)
        The pass is complete (read in ``RUN``).
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        super().__init__({
            "layer": In(layer_layout(c)),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "begin": Out(1),
            "pass_layer": Out(layer_layout(c)),
            "w_valid": In(1),
            "w_ready": Out(1),
            "loading": Out(1),
            "running": Out(1),
            "ci": Out(unsigned_width(c.rows)),
            "step": Out(stream.Signature(step_layout(c))),
            "steps_done": Out(1),
            "finish": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        S, NB, SB = c.max_stride, c.line_rows, c.slot_banks
        latched = Signal(layer_layout(c))
        layer = self.pass_layer
        m.d.comb += layer.eq(Mux(self.begin, self.layer.as_value(), latched.as_value()))

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [latched.eq(self.layer), self.done.eq(0), self.ci.eq(0)]
                    m.next = "LOAD"
            with m.State("LOAD"):
                with m.If(self.w_valid):
                    with m.If(self.ci == layer.cin - 1):
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += self.ci.eq(self.ci + 1)
            with m.State("RUN"):
                with m.If(self.finish):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
        # Outside the states: plain continuous assignments, which every simulator
        # evaluates from time 0 (Icarus leaves an ``always @*`` output X until one of its
        # inputs changes, and the testbench waits for ``busy`` low before any start).
        m.d.comb += [
            self.begin.eq(self.start & fsm.ongoing("IDLE")),
            self.busy.eq(~fsm.ongoing("IDLE")),
            self.loading.eq(fsm.ongoing("LOAD")),
            self.w_ready.eq(fsm.ongoing("LOAD")),
            self.running.eq(fsm.ongoing("RUN")),
        ]

        # -- the walk over the steps ---------------------------------------------------
        geom, s = layer.geometry, layer.s
        zp = runs(c, layer.mode, "zp")
        n_rows, n_cols = Mux(zp, geom.ho, geom.nb_h), Mux(zp, geom.wo, geom.nb_w)
        # Registers of the walk; ``step`` shows them.
        pos = Signal(position_layout(c))
        row = Signal.like(self.step.payload.row)      # step row
        col = Signal.like(row)                        # step in the row
        bank = Signal.like(self.step.payload.bank)    # ZP: ow mod slot_banks
        zp_idx = Signal.like(self.step.payload.idx)   # ZP: ow div slot_banks
        base_h = Signal(signed(unsigned_width(c.max_out) + 2))   # RED: q*s - p
        base_w = Signal.like(base_h)
        last = col == n_cols - 1
        step = self.step.payload
        for a in range(S):
            m.d.comb += [
                step.row_ok[a].eq((a < s) & (base_h + a >= 0) & (base_h + a < geom.ho)),
                step.col_ok[a].eq((a < s) & (base_w + a >= 0) & (base_w + a < geom.wo)),
            ]
        m.d.comb += [
            step.pos.eq(pos), step.row.eq(row), step.bank.eq(bank), step.last.eq(last),
            step.idx.eq(Mux(zp, zp_idx, col)),
            self.step.valid.eq(self.running & ~self.steps_done),
        ]
        take = self.step.valid & self.step.ready

        def restart_columns():
            return [col.eq(0), pos.q_w.eq(geom.q0), pos.r_w.eq(geom.r0),
                    base_w.eq(-geom.r0), bank.eq(0), zp_idx.eq(0)]

        with m.If(self.begin):
            # The slot of the first window base, (q0 - jmin_h) mod line_rows.
            first_slot = mod_const(geom.q0 - geom.jmin_h, NB, -(c.max_k - 1), c.max_k - 1)
            m.d.sync += [row.eq(0), pos.q_h.eq(geom.q0), pos.q_h_slot.eq(first_slot),
                         pos.r_h.eq(geom.r0), base_h.eq(-geom.r0), self.steps_done.eq(0),
                         *restart_columns()]
        with m.Elif(take):
            with m.If(last):
                m.d.sync += [row.eq(row + 1), *restart_columns()]
                with m.If(row == n_rows - 1):
                    m.d.sync += self.steps_done.eq(1)
                next_block_row = [pos.q_h.eq(pos.q_h + 1), pos.q_h_slot.eq(
                    Mux(pos.q_h_slot == NB - 1, 0, pos.q_h_slot + 1))]
                with m.If(zp):
                    with m.If(pos.r_h == s - 1):
                        m.d.sync += [pos.r_h.eq(0), *next_block_row]
                    with m.Else():
                        m.d.sync += pos.r_h.eq(pos.r_h + 1)
                with m.Else():
                    m.d.sync += [base_h.eq(base_h + s), *next_block_row]
            with m.Else():
                m.d.sync += col.eq(col + 1)
                with m.If(zp):
                    with m.If(pos.r_w == s - 1):
                        m.d.sync += [pos.r_w.eq(0), pos.q_w.eq(pos.q_w + 1)]
                    with m.Else():
                        m.d.sync += pos.r_w.eq(pos.r_w + 1)
                    with m.If(bank == SB - 1):
                        m.d.sync += [bank.eq(0), zp_idx.eq(zp_idx + 1)]
                    with m.Else():
                        m.d.sync += bank.eq(bank + 1)
                with m.Else():
                    m.d.sync += [pos.q_w.eq(pos.q_w + 1), base_w.eq(base_w + s)]
        return m
