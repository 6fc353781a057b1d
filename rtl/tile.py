"""The RED tile: pixel-wise mapped crossbar groups, zero-skipping input buffer, output
merge, and the zero-insertion (ZP) baseline on the same arrays."""

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, META_FIFO_DEPTH, TileConfig
from red.counters import TILE_COUNTERS

from ._arith import tree_or, tree_sum
from .adc_pacer import PACER_NAME, ADCPacer
from .counters import GROUP_SUMS, KEPT, TileCounters
from .crossbar import DEFAULT_CROSSBAR
from .early import EarlyDecision
from .geometry import FoldGeometry
from .input_buffer import InputBuffer
from .layouts import (require_tile_config, runs, layer_layout, out_beat_layout,
                      pixel_layout, step_meta_layout, weight_beat_layout)
from .merge import OutputMerge, slot_members
from .mvm import MVMInstance, MVMUnit
from .overlap_add import PF_COUNTERS, OverlapAddBuffer
from .psum_bank import PSUM_BANK_COUNTERS, PartialSumBank
from .raster import RASTER_FIELDS
from .sequencer import Sequencer
from .window import ZeroSkipWindow

__all__ = ["RedTile", "TILE_COUNTERS"]

#: The merge's counters: (the tile counter it adds to, the merge's own name).
MERGE_COUNTERS = (("merge_additions", "merge_additions"), ("psum_additions", "psum_additions"),
                  ("out_buffer_writes", "out_writes"), ("out_buffer_reads", "out_reads"))


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

    **Parts** (each its own component, named as in the paper):

    - :class:`~red.rtl.sequencer.Sequencer`: pass control (load the weights, run, finish)
      and the walk over the steps;
    - :class:`~red.rtl.geometry.FoldGeometry`: per fold, each group's kernel pixel,
      phase, merge slot and window offset;
    - :class:`~red.rtl.input_buffer.InputBuffer`: the line buffer of raw pixels;
    - :class:`~red.rtl.window.ZeroSkipWindow`: the zero-skipping data flow, what each
      group reads and whether it is driven;
    - the crossbar groups ``group_{gh}_{gw}``: one :class:`~red.rtl.mvm.MVMUnit` per
      kernel pixel (pixel-wise mapping);
    - :class:`~red.rtl.merge.OutputMerge`: slot sums, raster reordering, partial sums;
    - :class:`~red.rtl.overlap_add.OverlapAddBuffer` (with ``config.pf_mode``): PF's
      overlap-add buffer, its crop and its partial sums;
    - :class:`~red.rtl.counters.TileCounters`: the event and cycle counters;
    - :class:`~red.rtl.early.EarlyDecision` (with ``config.early_termination``).

    No part divides: what the layer's shape gives (output size, blocks, phases of the
    fold) comes with the pass (:func:`~red.rtl.layouts.geometry_layout`).

    **Folds.** Group ``(gh, gw)`` acts as kernel pixel ``(kh, kw) = (kh0+gh, kw0+gw)``;
    groups past the layer's kernel are idle. Below, ``kh`` and ``kw`` are those pixels.

    **RED mode** (``ModeCode.RED``): output block ``(q_h, q_w)`` (``q = floor((o+p)/s)``)
    is one step; group ``(kh, kw)`` reads raw pixel ``x[q_h - kh div s][q_w - kw div s]``
    and yields the output of phase ``(kh mod s, kw mod s)``. A group whose pixel lies
    outside the input, or whose output lies outside ``[0,Ho) x [0,Wo)``, is gated: it
    drives no row and converts nothing. Steps: ``Nb_h * Nb_w``.

    **ZP mode** (``ModeCode.ZP``): the zero-insertion baseline on the same groups and merge.
    One output pixel per step; every group of the kernel is driven with its value of the
    zero-inserted, padded input (mostly zeros, still driven and converted), and all
    groups are added. Steps: ``Ho * Wo``.

    **PF mode** (``ModeCode.PF``): the padding-free baseline on the same groups. One input
    pixel per step, raster order; every group inside the kernel reads it and is driven,
    and group ``(kh, kw)``'s result belongs to output ``(ih*s - p + kh, iw*s - p + kw)``
    of the uncropped map. The overlap-add buffer adds each result into its output,
    drops those outside ``[0,Ho) x [0,Wo)``, and emits finished rows in raster order.
    Steps: ``h * w``. Early termination does not apply (no step holds a whole sum).

    **Timing.** Each step takes ``in_bits`` cycles in every group, back to back:
    compute cycles are exactly ``steps * in_bits``. With shared ADCs
    (``config.adcs_per_array``, :class:`~red.rtl.adc_pacer.ADCPacer`) a plane takes
    ``TileConfig.adc_cycles`` of the busiest driven group's converted columns instead of
    one cycle, and compute cycles count the cycles the groups hold for the ADCs too. A step waits for the raw pixels it
    reads (the input stream), for the output banks (ping-pong of two block rows; in PF,
    the overlap-add buffer's rows) and for the output port; total cycles add the groups'
    pipeline latency and the output drain. The output port emits ``min(out_pixels, s)``
    pixels per cycle in RED mode and binds when ``s*s > in_bits * min(out_pixels, s)``.

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
        fold kh0, kw0 and accumulate, and what the host derives from them
        (:func:`~red.rtl.layouts.geometry_fields`). Must be a pass of
        :func:`red.mapping.schedule`, as :func:`~red.rtl.layouts.layer_fields` gives it.
    start : In(1)
        Latch ``layer``, clear the counters and begin.
    busy, done : Out(1)
    w : In(stream.Signature(weight_beat_layout))
        Weight beats, one per input channel.
    i : In(stream.Signature(pixel_layout))
        Raw input pixels (channels ``>= cin`` ignored).
    ps : In(stream.Signature(out_beat_layout))
        Partial-sum beats, taken one per output beat with ``accumulate``; in early
        termination's deciding pass, ahead of the steps instead
        (:class:`~red.rtl.psum_bank.PartialSumBank`).
    o : Out(stream.Signature(out_beat_layout))
        Output beats (channels ``>= cout`` are 0).
    total_cycles : Out
        Cycles from the first input beat taken (or the first step issued, if a fold's
        first steps read no input) to the last output beat taken, both included.
    compute_cycles : Out
        Cycles in which the crossbar groups step (or hold for shared ADCs).
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
        Output pixels inside the output map written into / read out of the output banks
        (RED, ZP).
    wasted_group_steps : Out
        Driven group steps that add no term: ZP's groups given an inserted zero or
        padding, PF's results for the cropped border.
    psum_buffer_reads, psum_buffer_writes, psum_buffer_accumulations : Out
        PF's overlap-add buffer (:class:`~red.rtl.overlap_add.OverlapAddBuffer`): values
        read and written, kept results added per channel.
    skipped_blocks : Out
        Groups inside the kernel gated for the whole pass because their weight block is
        empty (``skip``).
    psum_bank_writes, psum_bank_reads : Out
        Early termination's partial-sum bank (:class:`~red.rtl.psum_bank.PartialSumBank`):
        output pixels filled in, and read by their steps.
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
        self._crossbar = crossbar

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
        K, NB = c.kernel, c.line_rows
        # The flip-flop model stays one Amaranth design (the Amaranth simulator runs it);
        # the macro netlist instantiates one generated MVM module per group.
        groups = [MVMUnit(c, self._crossbar) if self._crossbar == "ff" else MVMInstance(c)
                  for _ in range(c.groups)]
        for g, unit in enumerate(groups):
            m.submodules[f"group_{g // K}_{g % K}"] = unit
        m.submodules.sequencer = seq = Sequencer(c)
        m.submodules.geometry = geometry = FoldGeometry(c)
        m.submodules.buffer = buf = InputBuffer(c, reads=c.groups)
        m.submodules.window = window = ZeroSkipWindow(c)
        m.submodules.merge = merge = OutputMerge(c)
        pf_buffer = None
        if "pf" in c.modes:
            m.submodules.overlap_add = pf_buffer = OverlapAddBuffer(c)
        m.submodules.counters = counters = TileCounters(c)
        m.submodules.meta_fifo = meta_fifo = fifo.SyncFIFO(
            width=step_meta_layout(c).size, depth=META_FIFO_DEPTH)

        # -- pass control, the fold ---------------------------------------------------------
        layer, start = seq.pass_layer, seq.begin
        zp, pf = runs(c, layer.mode, "zp"), runs(c, layer.mode, "pf")
        geom = layer.geometry
        # The output side of the pass's data flow: the merge, or PF's overlap-add buffer.
        out_done = merge.done if pf_buffer is None else Mux(pf, pf_buffer.done, merge.done)
        m.d.comb += [
            seq.layer.eq(self.layer), seq.start.eq(self.start),
            self.busy.eq(seq.busy), self.done.eq(seq.done),
            seq.w_valid.eq(self.w.valid), self.w.ready.eq(seq.w_ready),
            seq.finish.eq(out_done & buf.complete),
            geometry.layer.eq(self.layer), geometry.start.eq(start),
        ]

        # -- the input buffer and the zero-skipping window of each step ----------------------
        step = seq.step.payload
        m.d.comb += [
            buf.clear.eq(start), buf.cin.eq(layer.cin), buf.h.eq(layer.h), buf.w.eq(layer.w),
            buf.q_h.eq(window.base_row), buf.q_w.eq(window.base_col),
            buf.q_h_slot.eq(step.pos.q_h_slot), buf.jh.eq(window.jh), buf.jw.eq(window.jw),
            # Rows from the block's oldest, q_h - jmax, on are kept (jmax - jmin < NB).
            buf.row_limit.eq(Mux(seq.steps_done, (1 << (len(buf.row_limit) - 1)) - 1,
                                 step.pos.q_h - geometry.jmax_h + NB)),
            buf.i.valid.eq(self.i.valid & seq.running),
            buf.i.payload.eq(self.i.payload),
            self.i.ready.eq(buf.i.ready & seq.running),
            window.step.eq(step), window.zp.eq(zp), window.pf.eq(pf),
            window.jmin_h.eq(geom.jmin_h), window.jmin_w.eq(geom.jmin_w),
            window.in_range.eq(buf.in_range), window.pixels.eq(buf.pixels),
            *(getattr(window, name).eq(getattr(geometry, name))
              for name in ("rel_h", "rel_w", "phase_h", "phase_w", "active")),
        ]

        # -- steps: issued once their inputs are in and the groups and merge can take them --
        issue = seq.step.valid & seq.step.ready
        # Early termination's deciding pass also waits for the step's partial sums.
        psum_ready = Signal(init=1)
        m.d.comb += seq.step.ready.eq(buf.window_ready & groups[0].i.ready & meta_fifo.w_rdy
                                      & psum_ready)
        # What the merge needs of the step, in order with the groups' results.
        meta = Signal(step_meta_layout(c))
        m.d.comb += [
            *(meta[name].eq(step[name]) for name in ("row", "idx", "bank", "last", "row_ok",
                                                     "col_ok")),
            meta.live.eq(window.live),
            meta_fifo.w_data.eq(meta.as_value()), meta_fifo.w_en.eq(issue),
        ]

        # -- merge: the pass's placement, and the groups' results with their metadata --
        results = groups[0].o.valid & meta_fifo.r_rdy
        result_taken = Signal()
        m.d.comb += [
            *self._merge_config(merge.pass_config, layer, geometry, zp),
            merge.clear.eq(start | pf),
            merge.i.valid.eq(results & ~pf),
            merge.i.payload.meta.eq(meta_fifo.r_data),
            meta_fifo.r_en.eq(result_taken),
        ]
        ps_ready = [merge.ps.ready]
        if pf_buffer is None:
            m.d.comb += result_taken.eq(merge.i.valid & merge.i.ready)
            wiring.connect(m, merge.o, wiring.flipped(self.o))
        else:
            ps_ready = [self._overlap_add(m, pf_buffer, merge, seq, geometry, pf, results)]
            m.d.comb += result_taken.eq(Mux(pf, pf_buffer.i.valid & pf_buffer.i.ready,
                                            merge.i.valid & merge.i.ready))
        psum_bank = None
        if c.early_termination:
            psum_bank = self._early_termination(m, groups, merge, seq, start, issue,
                                                window.live, geometry, zp, psum_ready)
            ps_ready.append(psum_bank.ps.ready)
        # The pass's data flow and output stage own the partial-sum stream: the merge's
        # emitter, PF's buffer or the partial-sum bank takes it (each only in its passes).
        for unit in (merge, pf_buffer, psum_bank):
            if unit is not None:
                m.d.comb += [unit.ps.valid.eq(self.ps.valid),
                             unit.ps.payload.eq(self.ps.payload)]
        m.d.comb += self.ps.ready.eq(tree_or(ps_ready))

        blocks = [(merge, MERGE_COUNTERS)]
        blocks += [] if pf_buffer is None else [(pf_buffer, PF_COUNTERS)]
        blocks += [] if psum_bank is None else [(psum_bank, PSUM_BANK_COUNTERS)]
        busy = groups[0].stepping
        if c.adcs_per_array:
            busy = self._share_adcs(m, groups)
        self._count(m, counters, seq, geometry, window, merge, pf_buffer, groups[0], busy,
                    start, issue, blocks)
        self._drive_groups(m, groups, seq, window, merge, pf_buffer, counters, start, issue,
                           result_taken)
        return m

    def _overlap_add(self, m, pf_buffer, merge, seq, geometry, pf, results):
        """PF's overlap-add buffer: its pass, the groups' results, and the output stream
        shared with the merge (the pass's data flow owns it). The buffer runs only in PF
        passes. Returns the partial-sum stream's ``ready`` of the pass's data flow."""
        c, cfg, layer = self._config, pf_buffer.pass_config, seq.pass_layer
        geom = layer.geometry
        rows_left = layer.k - layer.kh0
        m.d.comb += [
            cfg.cout.eq(layer.cout), cfg.h.eq(layer.h), cfg.s.eq(layer.s),
            cfg.ho.eq(geom.ho), cfg.wo.eq(geom.wo),
            cfg.base_h.eq(geom.pf_base_h), cfg.base_w.eq(geom.pf_base_w),
            cfg.rows_in.eq(Mux(rows_left < c.kernel, rows_left, c.kernel)),
            cfg.active.eq(geometry.active), cfg.accumulate.eq(layer.accumulate),
            cfg.bias.eq(layer.bias), cfg.bias_en.eq(layer.bias_en), cfg.relu.eq(layer.relu),
            # Idle until the pass runs: rows no input adds into would otherwise drain
            # while the weights load.
            pf_buffer.clear.eq(seq.begin), pf_buffer.run.eq(pf & seq.running),
            pf_buffer.i.valid.eq(results & pf),
            pf_buffer.i.payload.last.eq(merge.i.payload.meta.last),
        ]
        m.d.comb += [self.o.valid.eq(Mux(pf, pf_buffer.o.valid, merge.o.valid)),
                     self.o.payload.eq(Mux(pf, pf_buffer.o.payload.as_value(),
                                           merge.o.payload.as_value()))]
        m.d.comb += [merge.o.ready.eq(self.o.ready & ~pf),
                     pf_buffer.o.ready.eq(self.o.ready & pf)]
        return Mux(pf, pf_buffer.ps.ready, merge.ps.ready)

    def _share_adcs(self, m, groups):
        """Shared ADCs (``config.adcs_per_array``): the :class:`ADCPacer` holds every
        group while the busiest one's conversions of a plane last. Returns the groups'
        busy signal: stepping, or holding for the ADCs."""
        m.submodules[PACER_NAME] = pacer = ADCPacer(self._config)
        m.d.comb += pacer.stepping.eq(groups[0].stepping)
        for g, unit in enumerate(groups):
            m.d.comb += [pacer.columns[g].eq(unit.adc_columns), unit.adc_hold.eq(pacer.hold),
                         unit.adc_more.eq(pacer.more), unit.adc_ending.eq(pacer.ending)]
        return groups[0].stepping | pacer.hold

    def _count(self, m, counters, seq, geometry, window, merge, pf_buffer, group, busy,
               start, issue, blocks):
        """The hardware counters' strobes (:class:`TileCounters`) and the tile's counter
        ports; ``group``: any group, as they step in lockstep; ``busy``: the groups step
        or hold for shared ADCs; ``blocks``: the parts that keep counters, each with its
        (tile counter, part's counter) pairs."""
        layer = seq.pass_layer
        geom = layer.geometry
        pf_reads = 0 if pf_buffer is None else pf_buffer.out_reads
        # A pass begins when it takes its first input pixel or, in a fold whose first
        # windows lie wholly before the input, issues its first step (which waits for no
        # input): both in the first running cycle when input is offered.
        i_take, w_take = self.i.valid & self.i.ready, self.w.valid & self.w.ready
        m.d.comb += [
            counters.clear.eq(start),
            counters.begins.eq(i_take | issue),
            counters.out_last.eq(self.o.valid & self.o.ready &
                                 (merge.out_reads + pf_reads + self.o.payload.count ==
                                  geom.outputs)),
            counters.stepping.eq(busy),
            counters.step.eq(issue), counters.i_take.eq(i_take), counters.w_take.eq(w_take),
            counters.w_first.eq(w_take & (seq.ci == 0)),
            counters.w_last.eq(w_take & (seq.ci == layer.cin - 1)),
            counters.cout.eq(layer.cout), counters.skip.eq(layer.skip),
            counters.inside.eq(geometry.inside), counters.active.eq(geometry.active),
            counters.live.eq(window.live), counters.real.eq(window.real),
            counters.reads.eq(window.reads),
            # The groups step in lockstep: one group's saved cycles are the tile's.
            self.skipped_cycles.eq(group.skipped_cycles),
        ]
        # A tile counter is the sum of the blocks that keep it; the merge's and the PF
        # buffer's stay 0 while the other's data flow runs.
        kept = {name: [getattr(counters, name)] for name in KEPT}
        for block, names in blocks:
            for name, field in names:
                kept.setdefault(name, []).append(getattr(block, field))
        m.d.comb += [getattr(self, name).eq(tree_sum(parts)) for name, parts in kept.items()]

    def _drive_groups(self, m, groups, seq, window, merge, pf_buffer, counters, start, issue,
                      result_taken):
        """The crossbar groups: programmed a row per weight beat, stepped in lockstep;
        their results go to the merge and PF's buffer, taken by the pass's one."""
        layer = seq.pass_layer
        for g, unit in enumerate(groups):
            m.d.comb += [
                unit.clear.eq(start),
                unit.active_rows.eq(layer.cin), unit.active_cols.eq(layer.cout),
                unit.prog.valid.eq(seq.loading & self.w.valid),
                unit.prog.row.eq(seq.ci), unit.prog.data.eq(self.w.payload[g]),
                unit.i.valid.eq(issue), unit.i.payload.x.eq(window.x[g].x),
                unit.i.payload.x_sum.eq(window.x[g].x_sum),
                unit.i.payload.gate.eq(~window.live[g]),
                merge.results[g].eq(unit.o.payload),
                unit.o.ready.eq(result_taken),
                *([] if pf_buffer is None else [pf_buffer.results[g].eq(unit.o.payload)]),
                *(getattr(counters, f"{field}_in")[g].eq(getattr(unit, field))
                  for field in GROUP_SUMS.values()),
            ]

    def _merge_config(self, cfg, layer, geometry, zp):
        """The merge's pass configuration (:func:`~red.rtl.merge.merge_config_layout`):
        RED places the ``s x s`` phases of a block from ``p mod s``, ZP one pixel per
        step over ``slot_banks`` bank columns."""
        geom = layer.geometry
        return [
            cfg.mode.eq(layer.mode), cfg.cout.eq(layer.cout), cfg.ho.eq(geom.ho),
            cfg.wo.eq(geom.wo),
            # Early termination's deciding pass takes its partial sums with the steps.
            cfg.accumulate.eq(layer.accumulate & ~self._step_psum(layer)),
            cfg.s_row.eq(Mux(zp, 1, layer.s)),
            cfg.s_col.eq(Mux(zp, self._config.slot_banks, layer.s)),
            cfg.a0.eq(Mux(zp, 0, geom.r0)), cfg.b0.eq(Mux(zp, 0, geom.r0)),
            # Needed in the start cycle (the emitter starts from it): from the port.
            cfg.rot_h.eq(Mux(zp, 0, geom.rot_h)), cfg.rot_w.eq(Mux(zp, 0, geom.rot_w)),
            cfg.slot_h.eq(geometry.slot_h), cfg.slot_w.eq(geometry.slot_w),
            cfg.active.eq(geometry.active),
            cfg.bias.eq(layer.bias), cfg.bias_en.eq(layer.bias_en), cfg.relu.eq(layer.relu),
            *([cfg.step_psum.eq(self._step_psum(layer))] if self._config.early_termination
              else []),
        ]

    def _step_psum(self, layer):
        """Whether the pass brings its partial sums with its steps: early termination's
        deciding pass of a multi-pass cout slice (:func:`red.early.deciding_pass`: the
        driver enables early termination only in a cout slice's last pass)."""
        if not self._config.early_termination:
            return C(0, 1)
        return (layer.early != 0) & layer.accumulate

    def _early_termination(self, m, groups, merge, seq, start, issue, live, geometry, zp,
                           psum_ready):
        """Decisions from the groups' bounds (:class:`~red.rtl.early.EarlyDecision`),
        back to the groups and into the merge, with the partial sums of earlier passes
        from the :class:`~red.rtl.psum_bank.PartialSumBank`; returns the bank."""
        c = self._config
        SB = c.slot_banks
        layer = seq.pass_layer
        m.submodules.early = early = EarlyDecision(c)
        m.submodules.psum_bank = bank = PartialSumBank(c)
        step_psum = self._step_psum(layer)
        cfg = merge.pass_config
        m.d.comb += [
            bank.clear.eq(start), bank.run.eq(step_psum & seq.running), bank.zp.eq(zp),
            *(getattr(bank, name).eq(cfg[name]) for name in RASTER_FIELDS),
            bank.step.eq(seq.step.payload), bank.issue.eq(issue),
            psum_ready.eq(~step_psum | bank.step_ready),
            early.psum.eq(bank.psum), early.psum_en.eq(step_psum),
            merge.i.payload.psum.eq(early.psum_held),
        ]
        # The driven groups of the step the groups compute.
        step_live = Signal(c.groups)
        with m.If(issue):
            m.d.sync += step_live.eq(live)
        active = geometry.active
        slots = slot_members(m, c, active, geometry.slot_h, geometry.slot_w)
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
            merge.i.payload.decided.eq(early.decided),
            merge.i.payload.decided_value.eq(early.value),
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
        return bank
