"""The RED tile: pixel-wise mapped crossbar groups, zero-skipping input buffer, output
merge, and the zero-insertion (ZP) baseline on the same arrays."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, META_FIFO_DEPTH, TileConfig, unsigned_width
from red.counters import TILE_COUNTERS

from ._arith import tree_sum
from .input_buffer import InputBuffer
from .crossbar import DEFAULT_CROSSBAR
from .layouts import (require_tile_config, MODE_ZP, buffered_pixel_layout, layer_layout,
                      out_beat_layout, pixel_layout, step_meta_layout, weight_beat_layout)
from .early import EarlyDecision
from .merge import OutputMerge, slot_members
from .mvm import MVMInstance, MVMUnit

__all__ = ["RedTile", "TILE_COUNTERS"]

_IDLE, _LOAD, _RUN = 0, 1, 2


class RedTile(wiring.Component):
    """A complete deconvolution tile: ``kernel^2`` crossbar groups, one per kernel pixel.

    **Use.** Drive ``layer`` with one pass of a layer's schedule (:mod:`red.mapping`) and
    pulse ``start`` while not ``busy``. The tile then takes ``cin`` weight beats on
    ``w``, beat ``ci`` holding the weights of input channel ``ci`` for every group
    ``(gh, gw)`` (kernel pixel ``(kh0+gh, kw0+gw)``) and output channel ``co``
    (:func:`~red.rtl.layouts.weight_beat_layout`; each beat programs crossbar row ``ci``
    of every group in one cycle, slicing in hardware), then ``h*w`` raw input pixels on
    ``i`` in raster order, and produces ``Ho*Wo`` output pixels on ``o`` in raster
    order. With ``accumulate`` every output beat waits for one beat on ``ps``, the
    previous pass's output beat at the same place, and carries the sum: the partial
    sums of a layer's passes add here, in ``out_width`` bits that cannot overflow
    (``TileConfig.out_width``). ``done`` rises when the last output beat has been taken
    and stays high until the next ``start``.

    **Folds.** Group ``(gh, gw)`` acts as kernel pixel ``(kh, kw) = (kh0+gh, kw0+gw)``;
    groups past the layer's kernel are idle. Below, ``kh`` and ``kw`` are those pixels.

    **RED mode** (``mode=0``): output block ``(q_h, q_w)`` (``q = floor((o+p)/s)``)
    is one step; group ``(kh, kw)`` reads raw pixel ``x[q_h - kh div s][q_w - kw div s]``
    and yields the output of phase ``(kh mod s, kw mod s)``. A group whose pixel lies
    outside the input, or whose output lies outside ``[0,Ho) x [0,Wo)``, is gated: it
    drives no row and converts nothing. Steps: ``Nb_h * Nb_w``.

    **ZP mode** (``mode=1``): the zero-insertion baseline on the same groups and merge.
    One output pixel per step; every group of the kernel is driven with its value of the
    zero-inserted, padded input (mostly zeros, still driven and converted), and all
    groups are added. Steps: ``Ho * Wo``.

    **Timing.** Each step takes ``in_bits`` cycles in every group, back to back:
    compute cycles are exactly ``steps * in_bits``. A step waits for the raw pixels it
    reads (the input stream), for the output banks (ping-pong of two block rows) and for
    the output port; total cycles add the groups' pipeline latency and the output
    drain. The output port emits ``min(out_pixels, s)`` pixels per cycle in RED mode and
    binds when ``s*s > in_bits * min(out_pixels, s)``.

    Parameters
    ----------
    config : TileConfig
    crossbar : str
        Crossbar model of every group (see :class:`~red.rtl.mvm.MVMUnit`). With
        ``"macro"`` each group is an :class:`~red.rtl.mvm.MVMInstance` of the separately
        generated MVM module, which instantiates the crossbar macro.

    Members
    -------
    layer : In(layer_layout)
        Runtime pass (:func:`~red.rtl.layouts.layer_layout`): the pass's cin and cout
        slices, the layer's h, w, k (<= max_k), s (<= max_stride), p, op, the mode, the
        fold kh0, kw0 and accumulate. Must be a pass of
        :func:`red.mapping.schedule`.
    start : In(1)
        Latch ``layer``, clear the counters and begin.
    busy, done : Out(1)
    w : In(stream.Signature(weight_beat_layout))
        Weight beats, one per input channel.
    i : In(stream.Signature(pixel_layout))
        Raw input pixels (channels ``>= cin`` ignored).
    ps : In(stream.Signature(out_beat_layout))
        Partial-sum beats, taken one per output beat with ``accumulate``.
    o : Out(stream.Signature(out_beat_layout))
        Output beats (channels ``>= cout`` are 0).
    total_cycles : Out
        Cycles from the first input beat taken (or the first step issued, if a fold's
        first steps read no input) to the last output beat taken, both included.
    compute_cycles : Out
        Cycles in which the crossbar groups step.
    load_cycles : Out
        Weight programming: cycles from the first weight beat taken to the last, both
        included (``cin`` when beats come back to back). Not part of ``total_cycles``.
    steps : Out
        Steps issued (blocks in RED mode, output pixels in ZP mode).
    group_activations, gated_group_steps : Out
        Per step and group of the layer's ``k x k`` kernel: driven, or gated.
    crossbar_steps, adc_conversions, row_drives : Out
        Sums over the kernel's groups of their :class:`MVMUnit` counters (planes applied,
        ADC conversions, DAC row drives).
    weight_writes, line_buffer_writes : Out
        Weights programmed (``cout`` per group inside the kernel, per beat); raw pixels
        written into the line buffer (each exactly once).
    window_reads : Out
        Raw pixels delivered from the line buffer per step (a pixel shared by several
        groups in one step counts once; zero-insertion zeros and padding are not reads).
    merge_additions : Out
        Two-operand additions of group results, per output channel.
    psum_additions : Out
        Partial sums added to output pixels (with ``accumulate``), per output channel.
    out_buffer_writes, out_buffer_reads : Out
        Output pixels inside the output map written into / read out of the output banks.
    skipped_blocks : Out
        Groups inside the kernel gated for the whole pass because their weight block is
        empty (``skip``).
    decided_outputs, skipped_conversions, skipped_cycles : Out
        Early termination (:class:`~red.rtl.early.EarlyDecision`): outputs decided
        before their last plane, conversions not made (summed over the kernel's groups)
        and step cycles saved; 0 on a tile without it.

    **Output stage and early termination.** The pass's ``bias`` is added as results
    are merged when ``bias_en`` is set, ReLU applies to emitted values with ``relu``
    (:class:`~red.rtl.merge.OutputMerge`), and with ``early`` set the groups' runtime
    bounds stop outputs' conversions and end steps early
    (:class:`~red.rtl.early.EarlyDecision`): a step stopped after ``n`` planes takes
    ``n + 1`` cycles instead of ``in_bits``. The early-termination hardware is generated
    only with ``config.early_termination``; without it the layer's ``early`` field is
    ignored and the tile runs as with ``early`` off.
    """

    def __init__(self, config: TileConfig, crossbar: str = DEFAULT_CROSSBAR):
        self._config = require_tile_config(config)
        members = {
            "layer": In(layer_layout(config)),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "w": In(stream.Signature(weight_beat_layout(config))),
            "i": In(stream.Signature(pixel_layout(config))),
            "ps": In(stream.Signature(out_beat_layout(config))),
            "o": Out(stream.Signature(out_beat_layout(config))),
        }
        members.update({name: Out(COUNTER_WIDTH) for name in TILE_COUNTERS})
        super().__init__(members)
        # The flip-flop model stays one Amaranth design (the Amaranth simulator runs it);
        # the macro netlist instantiates one generated MVM module per group.
        self.groups = [MVMUnit(config, crossbar) if crossbar == "ff" else MVMInstance(config)
                       for _ in range(config.groups)]
        self.buffer = InputBuffer(config, reads=config.groups)
        self.merge = OutputMerge(config)
        self.early = EarlyDecision(config) if config.early_termination else None

    @property
    def config(self) -> TileConfig:
        return self._config

    @property
    def group_latency(self) -> int:
        """Cycles from a step's issue to its results reaching the merge."""
        return self._config.in_bits + 2

    def elaborate(self, platform):
        m = Module()
        c = self._config
        K, S, G, NB, SB = c.kernel, c.max_stride, c.groups, c.line_rows, c.slot_banks

        groups = self.groups
        for g, unit in enumerate(groups):
            m.submodules[f"group_{g // K}_{g % K}"] = unit
        m.submodules.buffer = buf = self.buffer
        m.submodules.merge = merge = self.merge
        m.submodules.meta_fifo = meta_fifo = fifo.SyncFIFO(
            width=step_meta_layout(c).size, depth=META_FIFO_DEPTH)

        # -- control --------------------------------------------------------------------
        state = Signal(range(3))
        latched = Signal(layer_layout(c))
        layer = Signal(layer_layout(c))
        start = Signal()
        m.d.comb += [
            start.eq(self.start & (state == _IDLE)),
            self.busy.eq(state != _IDLE),
        ]
        with m.If(start):
            m.d.sync += [latched.eq(self.layer), state.eq(_LOAD), self.done.eq(0)]
        # Counters and derived quantities initialise in the start cycle, so they read the
        # incoming configuration then and the latched one afterwards.
        m.d.comb += layer.eq(Mux(start, self.layer.as_value(), latched.as_value()))

        # Derived layer quantities (the layer register is constant while busy).
        zp = Signal()
        ho = Signal(unsigned_width(c.max_out))
        wo = Signal(unsigned_width(c.max_out))
        q0 = Signal(unsigned_width(c.max_k))          # floor(p / s)
        p_mod_s = Signal(unsigned_width(S - 1))        # p mod s
        n_rows = Signal(unsigned_width(max(c.max_blocks, c.max_out)))
        n_cols = Signal.like(n_rows)
        s, p, k = layer.s, layer.p, layer.k
        m.d.comb += [
            zp.eq(layer.mode == MODE_ZP),
            ho.eq((layer.h - 1) * s - 2 * p + k + layer.op),
            wo.eq((layer.w - 1) * s - 2 * p + k + layer.op),
            q0.eq(p // s),
            p_mod_s.eq(p % s),
            n_rows.eq(Mux(zp, ho, (ho - 1 + p) // s - q0 + 1)),
            n_cols.eq(Mux(zp, wo, (wo - 1 + p) // s - q0 + 1)),
        ]
        # The fold: group (gh, gw) is kernel pixel (kh0 + gh, kw0 + gw). Per group row
        # (column) its input offset relative to the fold's smallest, its phase, its slot
        # in the merge and whether it lies inside the kernel; all fixed for the pass, so
        # registered once at start rather than divided every cycle.
        # The window base needs the fold's smallest input offset per axis, jmin; the line
        # buffer's row limit its largest along the rows, jmax_h.
        jmin_h, jmin_w = Signal(unsigned_width(c.max_k - 1)), Signal(unsigned_width(c.max_k - 1))
        jmax_h = Signal.like(jmin_h)
        new_s, new_k = self.layer.s, self.layer.k
        with m.If(start):
            last_row = Mux(self.layer.kh0 + K < new_k, self.layer.kh0 + K, new_k) - 1
            m.d.sync += [jmin_h.eq(self.layer.kh0 // new_s), jmin_w.eq(self.layer.kw0 // new_s),
                         jmax_h.eq(last_row // new_s)]
        axes = {}
        for axis, offset in (("h", self.layer.kh0), ("w", self.layer.kw0)):
            rel = [Signal(unsigned_width(K - 1), name=f"j{axis}_{i}") for i in range(K)]
            phase = [Signal(unsigned_width(S - 1), name=f"r{axis}_{i}") for i in range(K)]
            slot = [Signal(unsigned_width(S - 1), name=f"slot{axis}_{i}") for i in range(K)]
            inside = Signal(K, name=f"inside_{axis}")
            with m.If(start):
                for i in range(K):
                    pixel = offset + i
                    m.d.sync += [
                        rel[i].eq(pixel // new_s - offset // new_s),
                        phase[i].eq(pixel % new_s),
                        slot[i].eq(i % new_s),
                        inside[i].eq(pixel < new_k),
                    ]
            axes[axis] = (rel, phase, slot, inside)
        (jh_rel, rh_axis, slot_h, inside_h), (jw_rel, rw_axis, slot_w, inside_w) = \
            axes["h"], axes["w"]
        jh = [jh_rel[g // K] for g in range(G)]
        jw = [jw_rel[g % K] for g in range(G)]
        rh = [rh_axis[g // K] for g in range(G)]
        rw = [rw_axis[g % K] for g in range(G)]
        # Groups of the fold inside the kernel take part, unless their block is empty.
        inside = Signal(G)
        active = Signal(G)
        for g in range(G):
            m.d.comb += [inside[g].eq(inside_h[g // K] & inside_w[g % K]),
                         active[g].eq(inside[g] & ~layer.skip[g])]

        # -- weight loading: one beat per input channel programs that row in every group --
        ci = Signal(unsigned_width(c.rows))
        loading = state == _LOAD
        m.d.comb += self.w.ready.eq(loading)
        for g, unit in enumerate(groups):
            m.d.comb += [
                unit.prog.valid.eq(loading & self.w.valid),
                unit.prog.row.eq(ci),
                unit.prog.data.eq(self.w.payload[g]),
                unit.active_rows.eq(layer.cin),
                unit.active_cols.eq(layer.cout),
                unit.clear.eq(start),
            ]
        with m.If(start):
            m.d.sync += ci.eq(0)
        with m.Elif(loading & self.w.valid):
            m.d.sync += self.weight_writes.eq(self.weight_writes +
                                              layer.cout * tree_sum(active[g] for g in range(G)))
            with m.If(ci == layer.cin - 1):
                m.d.sync += state.eq(_RUN)
            with m.Else():
                m.d.sync += ci.eq(ci + 1)

        # -- sequencer: one step per block (RED) or output pixel (ZP) ----------------------
        running = state == _RUN
        pos = Signal.like(buf.q_h)
        q_h, q_w = Signal.like(pos), Signal.like(pos)
        q_h_slot = Signal.like(buf.q_h_slot)
        r_h, r_w = Signal.like(p_mod_s), Signal.like(p_mod_s)   # ZP: phase of the pixel
        base_h = Signal(signed(unsigned_width(c.max_out) + 2))   # RED: q*s - p
        base_w = Signal.like(base_h)
        zp_bank = Signal(unsigned_width(SB - 1))                 # ZP: ow mod slot_banks
        zp_idx = Signal(unsigned_width(c.bank_words - 1))        # ZP: ow div slot_banks
        srow, scol = Signal.like(n_rows), Signal.like(n_cols)
        seq_done = Signal()

        row_ok = Signal(S)
        col_ok = Signal(S)
        for a in range(S):
            m.d.comb += [
                row_ok[a].eq((a < s) & (base_h + a >= 0) & (base_h + a < ho)),
                col_ok[a].eq((a < s) & (base_w + a >= 0) & (base_w + a < wo)),
            ]

        # Window reads and what each group receives. The window base is the block minus
        # the fold's smallest input offset: the newest input row the block reads.
        base_row, base_col = Signal.like(buf.q_h), Signal.like(buf.q_w)
        m.d.comb += [base_row.eq(q_h - jmin_h), base_col.eq(q_w - jmin_w)]
        m.d.comb += [
            buf.clear.eq(start), buf.cin.eq(layer.cin), buf.h.eq(layer.h), buf.w.eq(layer.w),
            buf.q_h.eq(base_row), buf.q_w.eq(base_col), buf.q_h_slot.eq(q_h_slot),
            # Rows from the block's oldest, q_h - jmax, on are kept (jmax - jmin < NB).
            buf.row_limit.eq(Mux(seq_done, (1 << (len(buf.row_limit) - 1)) - 1,
                                 q_h - jmax_h + NB)),
            buf.i.valid.eq(self.i.valid & running),
            buf.i.payload.eq(self.i.payload),
            self.i.ready.eq(buf.i.ready & running),
        ]
        live = Signal(G)
        real = Signal(G)       # the group receives a raw pixel (not a zero or padding)
        xs = []
        for g in range(G):
            m.d.comb += [buf.jh[g].eq(jh[g]), buf.jw[g].eq(jw[g])]
            phase_hit = (rh[g] == r_h) & (rw[g] == r_w)
            ok = buf.in_range[g]
            red_live = active[g] & ok & row_ok.bit_select(rh[g], 1) & col_ok.bit_select(rw[g], 1)
            m.d.comb += [
                live[g].eq(Mux(zp, active[g], red_live)),
                real[g].eq(Mux(zp, active[g] & ok & phase_hit, red_live)),
            ]
            x = Signal(buffered_pixel_layout(c), name=f"x{g}")
            with m.If(real[g]):
                m.d.comb += x.eq(buf.pixels[g])
            xs.append(x)

        # A step may issue once the last raw pixel it reads has arrived; a window wholly
        # before the map reads nothing and need not wait.
        need_row = Mux(base_row < layer.h - 1, base_row, layer.h - 1)
        need_col = Mux(base_col < layer.w - 1, base_col, layer.w - 1)
        inputs_here = Signal()
        m.d.comb += inputs_here.eq(buf.complete | (base_row < 0) | (base_col < 0) |
                                   (buf.in_row > need_row) |
                                   ((buf.in_row == need_row) & (buf.in_col > need_col)))
        issue = Signal()
        m.d.comb += issue.eq(running & ~seq_done & inputs_here & groups[0].i.ready &
                             meta_fifo.w_rdy)
        for g, unit in enumerate(groups):
            m.d.comb += [
                unit.i.valid.eq(issue),
                unit.i.payload.x.eq(xs[g].x),
                unit.i.payload.x_sum.eq(xs[g].x_sum),
                unit.i.payload.gate.eq(~live[g]),
            ]
        last_col = scol == n_cols - 1
        meta = Signal(step_meta_layout(c))
        m.d.comb += [
            meta.row.eq(srow),
            meta.idx.eq(Mux(zp, zp_idx, scol)),
            meta.bank.eq(zp_bank),
            meta.last.eq(last_col),
            meta.row_ok.eq(row_ok),
            meta.col_ok.eq(col_ok),
            meta.live.eq(live),
            meta_fifo.w_data.eq(meta.as_value()),
            meta_fifo.w_en.eq(issue),
        ]

        def restart_columns():
            return [scol.eq(0), q_w.eq(q0), r_w.eq(p_mod_s), base_w.eq(-p_mod_s),
                    zp_bank.eq(0), zp_idx.eq(0)]

        # The slot of the first window base, (q0 - jmin) mod NB, from a non-negative
        # dividend (jmin < max_k).
        first_slot = (q0 + NB * -(-c.max_k // NB) - self.layer.kh0 // s) % NB
        with m.If(start):
            m.d.sync += [srow.eq(0), q_h.eq(q0), q_h_slot.eq(first_slot), r_h.eq(p_mod_s),
                         base_h.eq(-p_mod_s), seq_done.eq(0), *restart_columns()]
        with m.Elif(issue):
            with m.If(last_col):
                m.d.sync += [srow.eq(srow + 1), *restart_columns()]
                with m.If(srow == n_rows - 1):
                    m.d.sync += seq_done.eq(1)
                next_block_row = [q_h.eq(q_h + 1),
                                  q_h_slot.eq(Mux(q_h_slot == NB - 1, 0, q_h_slot + 1))]
                with m.If(zp):
                    with m.If(r_h == s - 1):
                        m.d.sync += [r_h.eq(0), *next_block_row]
                    with m.Else():
                        m.d.sync += r_h.eq(r_h + 1)
                with m.Else():
                    m.d.sync += [base_h.eq(base_h + s), *next_block_row]
            with m.Else():
                m.d.sync += scol.eq(scol + 1)
                with m.If(zp):
                    with m.If(r_w == s - 1):
                        m.d.sync += [r_w.eq(0), q_w.eq(q_w + 1)]
                    with m.Else():
                        m.d.sync += r_w.eq(r_w + 1)
                    with m.If(zp_bank == SB - 1):
                        m.d.sync += [zp_bank.eq(0), zp_idx.eq(zp_idx + 1)]
                    with m.Else():
                        m.d.sync += zp_bank.eq(zp_bank + 1)
                with m.Else():
                    m.d.sync += [q_w.eq(q_w + 1), base_w.eq(base_w + s)]

        # -- merge -------------------------------------------------------------------------
        m.d.comb += [
            merge.clear.eq(start),
            merge.valid.eq(groups[0].o.valid & meta_fifo.r_rdy),
            merge.meta.eq(meta_fifo.r_data),
            merge.mode.eq(layer.mode),
            merge.cout.eq(layer.cout),
            merge.ho.eq(ho), merge.wo.eq(wo),
            merge.accumulate.eq(layer.accumulate),
            merge.s_row.eq(Mux(zp, 1, s)),
            merge.s_col.eq(Mux(zp, SB, s)),
            merge.a0.eq(Mux(zp, 0, p_mod_s)),
            merge.b0.eq(Mux(zp, 0, p_mod_s)),
            # Needed in the start cycle (the emitter starts from it): not registered.
            merge.rot_h.eq(Mux(zp, 0, layer.kh0 % s)),
            merge.rot_w.eq(Mux(zp, 0, layer.kw0 % s)),
            merge.active.eq(active),
            meta_fifo.r_en.eq(merge.valid & merge.ready),
        ]
        m.d.comb += [merge.bias.eq(layer.bias), merge.bias_en.eq(layer.bias_en),
                     merge.relu.eq(layer.relu)]
        if self.early is not None:
            self._early_termination(m, layer, start, issue, live, active, slot_h, slot_w,
                                    zp)
        for i in range(K):
            m.d.comb += [merge.slot_h[i].eq(slot_h[i]), merge.slot_w[i].eq(slot_w[i])]
        for g, unit in enumerate(groups):
            m.d.comb += [
                merge.results[g].eq(unit.o.payload),
                unit.o.ready.eq(merge.valid & merge.ready),
            ]
        wiring.connect(m, merge.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.ps), merge.ps)

        with m.If(running & merge.done & buf.complete):
            m.d.sync += [state.eq(_IDLE), self.done.eq(1)]

        # -- counters --------------------------------------------------------------------
        # A pass begins when it takes its first input pixel or, in a fold whose first
        # windows lie wholly before the input, issues its first step (which waits for no
        # input): both in the first running cycle when input is offered.
        begins = (self.i.valid & self.i.ready) | issue
        counting = Signal()
        last_out = Signal()
        m.d.comb += last_out.eq(self.o.valid & self.o.ready &
                                (merge.out_reads + self.o.payload.count == ho * wo))
        window_hits = []
        for a in range(K):
            for b in range(K):
                window_hits.append(Cat(real[g] & (jh[g] == a) & (jw[g] == b)
                                       for g in range(G)).any())
        masked = {name: tree_sum(Mux(active[g], getattr(unit, field), 0)
                                 for g, unit in enumerate(groups))
                  for name, field in (("crossbar_steps", "steps"),
                                      ("adc_conversions", "conversions"),
                                      ("row_drives", "row_drives"),
                                      ("skipped_conversions", "skipped_conversions"))}
        m.d.comb += [
            self.crossbar_steps.eq(masked["crossbar_steps"]),
            self.adc_conversions.eq(masked["adc_conversions"]),
            self.row_drives.eq(masked["row_drives"]),
            self.skipped_conversions.eq(masked["skipped_conversions"]),
            # The groups step in lockstep: one group's saved cycles are the tile's.
            self.skipped_cycles.eq(groups[0].skipped_cycles),
            self.merge_additions.eq(merge.merge_additions),
            self.psum_additions.eq(merge.psum_additions),
            self.out_buffer_writes.eq(merge.out_writes),
            self.out_buffer_reads.eq(merge.out_reads),
        ]
        first_w = self.w.valid & self.w.ready & (ci == 0)
        last_w = self.w.valid & self.w.ready & (ci == layer.cin - 1)
        loading_count = Signal()
        first_cycle = Signal()
        m.d.sync += first_cycle.eq(start)
        own = (self.total_cycles, self.compute_cycles, self.load_cycles, self.skipped_blocks,
               self.steps, self.group_activations, self.gated_group_steps, self.weight_writes,
               self.line_buffer_writes, self.window_reads, counting, loading_count)
        def count_span(counter, inside, first, last):
            """Count the cycles from ``first`` to ``last``, both included."""
            with m.If(first):
                m.d.sync += inside.eq(1)
            with m.If(last):
                m.d.sync += inside.eq(0)
            with m.If(first | inside):
                m.d.sync += counter.eq(counter + 1)

        with m.If(start):
            m.d.sync += [counter.eq(0) for counter in own]
        with m.Else():
            # Once per pass, in the first cycle the fold's registers hold it.
            with m.If(first_cycle):
                m.d.sync += self.skipped_blocks.eq(
                    tree_sum(inside[g] & layer.skip[g] for g in range(G)))
            count_span(self.total_cycles, counting, begins & (self.total_cycles == 0), last_out)
            count_span(self.load_cycles, loading_count, first_w, last_w)
            with m.If(groups[0].stepping):
                m.d.sync += self.compute_cycles.eq(self.compute_cycles + 1)
            with m.If(self.i.valid & self.i.ready):
                m.d.sync += self.line_buffer_writes.eq(self.line_buffer_writes + 1)
            with m.If(issue):
                m.d.sync += [
                    self.steps.eq(self.steps + 1),
                    self.group_activations.eq(self.group_activations +
                                              tree_sum(live[g] for g in range(G))),
                    self.gated_group_steps.eq(self.gated_group_steps +
                                              tree_sum(active[g] & ~live[g] for g in range(G))),
                    self.window_reads.eq(self.window_reads + tree_sum(window_hits)),
                ]
        return m

    def _early_termination(self, m, layer, start, issue, live, active, slot_h, slot_w, zp):
        """Decisions from the groups' bounds (:class:`~red.rtl.early.EarlyDecision`),
        back to the groups and into the merge."""
        c, early, groups, merge = self._config, self.early, self.groups, self.merge
        SB = c.slot_banks
        m.submodules.early = early
        # The driven groups of the step the groups compute.
        step_live = Signal(c.groups)
        with m.If(issue):
            m.d.sync += step_live.eq(live)
        slots = slot_members(m, c, active, slot_h, slot_w)
        m.d.comb += [
            early.bias.eq(layer.bias), early.bias_en.eq(layer.bias_en),
            early.relu.eq(layer.relu),
            early.clear.eq(start),
            early.bound_valid.eq(groups[0].bound_valid),
            early.producing.eq(groups[0].producing),
            early.live.eq(step_live),
            early.cout.eq(layer.cout),
            early.mode.eq(layer.early),
            early.eps.eq(layer.eps),
            # ZP: one output per step, fed by every active group.
            early.members[0].eq(Mux(zp, active, slots[0][0])),
            merge.decided.eq(early.decided),
            merge.decided_value.eq(early.value),
            self.decided_outputs.eq(early.decided_outputs),
        ]
        for o in range(1, SB * SB):
            m.d.comb += early.members[o].eq(Mux(zp, 0, slots[o // SB][o % SB]))
        for g, unit in enumerate(groups):
            m.d.comb += [
                early.lo[g].eq(unit.lo), early.span[g].eq(unit.span),
                unit.stop.eq(early.stop[g]), unit.finish.eq(early.finish),
                unit.bounds_en.eq(layer.early != 0),
            ]
