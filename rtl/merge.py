"""Output merge: add the groups of each output slot, reorder blocks into raster rows and
add the previous pass's partial sums."""

from amaranth.hdl import C, Array, Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width

from .channel_sums import ChannelSums
from ._arith import packed, popcount, tree_sum, wrap_add, wrap_sub
from .layouts import (require_tile_config, runs, ModeCode, merged_pixel_layout,
                      out_beat_layout, out_pixel_layout, step_meta_layout)
from .mvm import mvm_output_layout
from .raster import RASTER_FIELDS, RasterWalk, placement_shapes, step_outputs

__all__ = ["OutputMerge", "slot_members", "merge_config_layout", "merge_step_layout",
           "output_pixel"]


def output_pixel(m: Module, config: TileConfig, name: str, merged, psum, relu,
                 bias=None) -> Value:
    """One emitted pixel, channel by channel: ``merged + psum`` (``+ bias``, where given),
    through ReLU with ``relu``, in ``out_width`` bits; combinational signals of ``m``."""
    channels = []
    for j in range(config.logical_cols):
        value = Signal(signed(config.out_width), name=f"{name}_value{j}")
        m.d.comb += value.eq(merged[j] + psum[j] + (0 if bias is None else bias[j]))
        channels.append(Mux(relu & (value < 0), 0, value))
    return packed(out_pixel_layout(config), channels)


def slot_members(m: Module, config: TileConfig, active, slot_h, slot_w):
    """``match[u][v]``: the active groups ``(gh, gw)`` whose slot ``(slot_h[gh],
    slot_w[gw])`` is ``(u, v)`` (RED mode), as signals of module ``m``."""
    K, G, SB = config.kernel, config.groups, config.slot_banks
    match = [[Signal(G, name=f"match_{u}_{v}") for v in range(SB)] for u in range(SB)]
    for u in range(SB):
        for v in range(SB):
            m.d.comb += match[u][v].eq(Cat(
                active[g] & (slot_h[g // K] == u) & (slot_w[g % K] == v) for g in range(G)))
    return match


def merge_config_layout(config: TileConfig) -> data.StructLayout:
    """The pass configuration of :class:`OutputMerge` (fixed while a pass runs)."""
    c = config
    phase = unsigned_width(c.max_stride - 1)
    return data.StructLayout({
        "mode": ModeCode,
        "cout": unsigned_width(c.logical_cols),
        "accumulate": 1,
        **placement_shapes(c),
        "slot_h": data.ArrayLayout(phase, c.kernel),
        "slot_w": data.ArrayLayout(phase, c.kernel),
        "active": c.groups,
        "bias": data.ArrayLayout(signed(c.bias_width), c.logical_cols),
        "bias_en": 1,
        "relu": 1,
        # With early termination: the steps bring their partial sums (psum_bank.py).
        **({"step_psum": 1} if c.early_termination else {}),
    })


def merge_step_layout(config: TileConfig) -> data.StructLayout:
    """One step as the merge takes it: the step's metadata and, per output slot, early
    termination's decisions and the partial sums of earlier passes (only with
    ``config.early_termination``). The groups' results come beside it
    (``OutputMerge.results``)."""
    c = config
    fields = {"meta": step_meta_layout(c)}
    if c.early_termination:
        outputs = c.slot_banks ** 2
        fields["decided"] = data.ArrayLayout(c.logical_cols, outputs)
        fields["decided_value"] = data.ArrayLayout(merged_pixel_layout(c), outputs)
        fields["psum"] = data.ArrayLayout(out_pixel_layout(c), outputs)
    return data.StructLayout(fields)


class OutputMerge(wiring.Component):
    """Adds group results per output slot and emits output pixels in raster order, with
    the partial sum of the previous pass added.

    **Slots.** In RED mode group ``(gh, gw)`` of a step adds into slot
    ``(gh mod s, gw mod s)``: with the fold at ``(kh0, kw0)`` its kernel pixel
    ``kh0 + gh`` has output phase ``(kh0 + gh) mod s``, so the groups of one slot share a
    phase and different slots have different phases. Slot ``(u, v)`` therefore holds
    phase ``((rot_h + u) mod s, (rot_w + v) mod s)`` (``rot = kh0 mod s``), and there are
    ``slot_banks = min(max_stride, kernel)`` slots per axis however large the stride:
    the phases no slot holds receive nothing from this pass and are emitted as 0.

    **Write side.** Each step delivers every group's result at once. In RED mode each
    slot's sum is written to output bank ``(u, v)``; in ZP mode all groups are added
    into one pixel, written to bank ``(0, ow mod slot_banks)``. A tile generated for one
    data flow (:attr:`~red.config.TileConfig.modes`) forms only that data flow's sums.
    Banks are
    ``slot_banks^2`` memories of two halves (ping-pong): a step of block row ``n`` is
    written only once the emitter has left block row ``n - 2``; otherwise ``ready`` stays
    low and the tile stalls.

    **Emit side.** Output rows ``0 .. Ho-1`` are walked in order
    (:class:`~red.rtl.raster.RasterWalk`); row ``oh`` belongs to
    block row ``m`` and phase row ``a`` (RED: ``oh + p = (m + p div s)*s + a``; ZP:
    ``m = oh``, ``a = 0``). Once block row ``m`` is complete, the row is read out
    ``min(out_pixels, s_col, remaining)`` pixels per beat, one beat per cycle, from
    distinct bank columns (``s_col`` is ``s`` in RED mode and ``slot_banks`` in ZP mode).
    With ``accumulate``, each beat waits for one partial-sum beat on ``ps`` (the
    previous pass's output beat at the same place) and emits the sum, lane by lane.
    Nothing outside ``[0, Ho) x [0, Wo)`` is ever emitted.

    **Output stage.** With ``bias_en`` (the first pass of a cout slice) a slot's sum
    gets ``bias[co]`` as it is written, so the bias is added once per output pixel;
    an output that early termination decided (``decided``, :mod:`red.rtl.early`) is
    written as its decided value instead. With ``step_psum`` (early termination's
    deciding pass, :class:`~red.rtl.psum_bank.PartialSumBank`) the step brings the
    partial sums of its outputs (``psum``), added as it is written, and the emitter
    adds none. With ``relu`` (the last pass of a cout slice) every emitted value is
    ``max(0, merged + partial sum)``.

    Latency: a row's first beat is valid 1 cycle after its block row completes (one
    synchronous memory read). Throughput: one beat per cycle (and per partial-sum beat).

    Members
    -------
    clear : In(1)
        Start of a pass.
    pass_config : In(merge_config_layout)
        The pass (:func:`merge_config_layout`), fixed while it runs:

        ``mode``, ``cout``, ``ho``, ``wo``, ``accumulate``
            Data flow, output channels and size, whether partial sums are added.
        ``s_row``, ``s_col``, ``a0``, ``b0``
            Placement: phase rows per block row, bank columns, first phase row and
            column (RED: ``s, s, p mod s, p mod s``; ZP: ``1, slot_banks, 0, 0``).
        ``rot_h``, ``rot_w``
            Phase of slot 0 (RED: ``kh0 mod s``, ``kw0 mod s``; ZP: 0). Read in the
            ``clear`` cycle.
        ``slot_h``, ``slot_w``
            Per group row ``gh`` (column ``gw``), its slot ``gh mod s`` (``gw mod s``).
        ``active``
            Groups inside the layer's kernel.
        ``bias``, ``bias_en``, ``relu``, ``step_psum``
            The output stage, above (``step_psum`` only with early termination).
    i : In(stream.Signature(merge_step_layout))
        One step (:func:`merge_step_layout`): its metadata
        (:func:`~red.rtl.layouts.step_meta_layout`) and, per output slot
        ``u * slot_banks + v`` (ZP: slot 0) and channel, whether early termination
        decided the step's output and its value (with ``config.early_termination``).
    results : In(mvm_output_layout).array(groups)
        Every group's result of the step ``i`` offers, valid with it. One port per group
        rather than a field of the payload: a packed payload is rebuilt, in an
        event-driven simulator, whenever any one group's result changes, and Icarus
        spent most of a run doing that.
    ps : In(stream.Signature(out_beat_layout))
        Partial-sum beats (taken only with ``accumulate``).
    o : Out(stream.Signature(out_beat_layout))
        Output beats.
    done : Out(1)
        Every output row has been emitted and taken.
    merge_additions, psum_additions, out_writes, out_reads : Out(COUNTER_WIDTH)
        Two-operand additions of group results and of partial sums (per output
        channel), output pixels written into the banks inside ``[0, Ho) x [0, Wo)``,
        output pixels emitted.
    """

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        c = config
        super().__init__({
            "clear": In(1),
            "pass_config": In(merge_config_layout(c)),
            "i": In(stream.Signature(merge_step_layout(c))),
            "results": In(mvm_output_layout(c)).array(c.groups),
            "ps": In(stream.Signature(out_beat_layout(c))),
            "o": Out(stream.Signature(out_beat_layout(c))),
            "done": Out(1),
            "merge_additions": Out(COUNTER_WIDTH),
            "psum_additions": Out(COUNTER_WIDTH),
            "out_writes": Out(COUNTER_WIDTH),
            "out_reads": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        SB, px = c.slot_banks, merged_pixel_layout(c)
        banks = [[memory.Memory(shape=px.size, depth=c.out_bank_depth, init=[])
                  for v in range(SB)] for u in range(SB)]
        for u in range(SB):
            for v in range(SB):
                m.submodules[f"bank_{u}_{v}"] = banks[u][v]
        writes = [[banks[u][v].write_port() for v in range(SB)] for u in range(SB)]
        reads = [[banks[u][v].read_port() for v in range(SB)] for u in range(SB)]

        # Shared by the two sides: the block row being emitted and the complete block
        # rows written (a step of block row n waits until the emitter has left n - 2).
        emit_row = Signal.like(self.i.payload.meta.row)
        rows_done = Signal.like(self.i.payload.meta.row)
        self._write_side(m, writes, emit_row, rows_done)
        self._emit_side(m, reads, emit_row, rows_done)
        return m

    def _write_side(self, m, writes, emit_row, rows_done):
        """Each step's slot sums into the banks, and the write-side counters."""
        c = self._config
        cfg, step = self.pass_config, self.i.payload
        G, SB = c.groups, c.slot_banks
        px = merged_pixel_layout(c)
        half = c.bank_words

        # -- write side --------------------------------------------------------------
        meta = step.meta
        zp = runs(c, cfg.mode, "zp")
        take = Signal()
        m.d.comb += [
            self.i.ready.eq(meta.row < emit_row + 2),
            take.eq(self.i.valid & self.i.ready),
        ]
        match = slot_members(m, c, cfg.active, cfg.slot_h, cfg.slot_w)

        # The sums of a step: ZP adds every active group into one ("total"), RED each
        # slot's groups into its own; a tile without a data flow forms none of its sums.
        sums = {}                                   # sum -> (its groups, its decision slot)
        if "zp" in c.modes:
            sums["total"] = (cfg.active, 0)
        if "red" in c.modes:
            sums.update({(u, v): (match[u][v], u * SB + v) for u in range(SB) for v in range(SB)})
        words = {key: Signal(px, name=f"sum_{k}") for k, key in enumerate(sums)}
        channels = []
        for j in range(c.logical_cols):
            lane = m.submodules[f"channel_{j}"] = ChannelSums(c, len(sums))
            channels.append(lane)
            m.d.comb += [lane.bias.eq(cfg.bias[j]), lane.bias_en.eq(cfg.bias_en)]
            m.d.comb += [lane.results[g].eq(self.results[g][j]) for g in range(G)]
            for k, (mask, slot) in enumerate(sums.values()):
                m.d.comb += lane.masks[k].eq(mask)
                if c.early_termination:
                    m.d.comb += [lane.decided[k].eq(step.decided[slot][j]),
                                 lane.decided_value[k].eq(step.decided_value[slot][j]),
                                 lane.psum[k].eq(step.psum[slot][j])]
        for k, word in enumerate(words.values()):
            m.d.comb += word.eq(packed(px, [lane.sums[k] for lane in channels]))

        none = C(0, px.size)
        total = words["total"].as_value() if "total" in words else none
        address = meta.row[0] * half + meta.idx
        for u in range(SB):
            for v in range(SB):
                port = writes[u][v]
                slot_word = words[u, v].as_value() if (u, v) in words else none
                m.d.comb += [port.addr.eq(address)]
                if u == 0:
                    m.d.comb += [
                        port.data.eq(Mux(zp, total, slot_word)),
                        port.en.eq(take & (~zp | (meta.bank == v))),
                    ]
                else:
                    m.d.comb += [port.data.eq(slot_word), port.en.eq(take & ~zp)]

        # Event counts of one step.
        adds = Signal(unsigned_width(G))
        written = Signal(unsigned_width(c.max_stride ** 2))
        n_active = popcount(cfg.active, G)
        red_adds = []
        for u in range(SB):
            for v in range(SB):
                n = popcount(meta.live & match[u][v], G)
                red_adds.append(Mux(n > 0, n - 1, 0))
        m.d.comb += [
            adds.eq(Mux(zp, Mux(n_active > 0, n_active - 1, 0), tree_sum(red_adds))),
            written.eq(step_outputs(zp, meta.row_ok, meta.col_ok, c.max_stride)),
        ]
        with m.If(self.clear):
            m.d.sync += [rows_done.eq(0), self.merge_additions.eq(0), self.out_writes.eq(0)]
        with m.Elif(take):
            m.d.sync += [
                rows_done.eq(rows_done + meta.last),
                self.merge_additions.eq(self.merge_additions + adds * cfg.cout),
                self.out_writes.eq(self.out_writes + written),
            ]
            if c.early_termination:
                # The partial sums come with the steps; otherwise they are added as the
                # emitter reads (_emit_side), never both in one pass.
                with m.If(cfg.step_psum):
                    m.d.sync += self.psum_additions.eq(self.psum_additions
                                                       + written * cfg.cout)

    def _emit_side(self, m, reads, emit_row, rows_done):
        """Output rows in raster order from the banks, plus the partial sums: which
        words to read, when, and the output stream's handshake."""
        c = self._config
        cfg = self.pass_config
        SB, half = c.slot_banks, c.bank_words
        m.submodules.emit_walk = walk = RasterWalk(c)
        m.d.comb += [walk.clear.eq(self.clear), emit_row.eq(walk.row),
                     *(getattr(walk, name).eq(cfg[name]) for name in RASTER_FIELDS)]

        r_valid = Signal()
        r_u, r_v = Signal.like(walk.u), Signal.like(walk.v)
        r_count = Signal.like(walk.count)
        out_take = Signal()
        issue = Signal()
        m.d.comb += [
            out_take.eq(self.o.valid & self.o.ready),
            issue.eq(~self.clear & ~walk.finished & (walk.row < rows_done)
                     & (~r_valid | out_take)),
            walk.advance.eq(issue),
        ]

        read_base = walk.row[0] * half + walk.idx
        for v in range(SB):
            # Bank column v holds the pixel of lane (v - walk.v) mod s_col; it lies in the
            # next block when that lane's phase wraps past s_col.
            lane = wrap_sub(v, walk.v, cfg.s_col)
            wrapped = walk.b + lane >= cfg.s_col
            for u in range(SB):
                m.d.comb += [reads[u][v].addr.eq(read_base + wrapped), reads[u][v].en.eq(issue)]

        with m.If(self.clear):
            m.d.sync += [r_valid.eq(0), self.out_reads.eq(0), self.psum_additions.eq(0)]
        with m.Else():
            with m.If(issue):
                m.d.sync += [r_valid.eq(1), r_u.eq(walk.u), r_v.eq(walk.v),
                             r_count.eq(walk.count)]
            with m.Elif(out_take):
                m.d.sync += r_valid.eq(0)
            with m.If(out_take):
                m.d.sync += self.out_reads.eq(self.out_reads + r_count)
                with m.If(cfg.accumulate):
                    m.d.sync += self.psum_additions.eq(self.psum_additions +
                                                       r_count * cfg.cout)

        m.d.comb += [
            self.o.valid.eq(r_valid & (~cfg.accumulate | self.ps.valid)),
            self.ps.ready.eq(r_valid & cfg.accumulate & self.o.ready),
            self.done.eq(walk.finished & ~r_valid),
        ]
        self._output_beat(m, reads, r_u, r_v, r_count)

    def _output_beat(self, m, reads, r_u, r_v, r_count):
        """The beat of the read just completed: lane ``i`` shows slot
        ``(r_u, (r_v + i) mod s_col)``, or 0 where no slot holds that phase, plus the
        partial sum with ``accumulate``, through ReLU with ``relu``."""
        c, cfg = self._config, self.pass_config
        L, SB = c.out_pixels, c.slot_banks
        px = merged_pixel_layout(c)
        bank_data = Array(Array(reads[u][v].data for v in range(SB)) for u in range(SB))
        lanes = []
        for i in range(L):
            column = Signal(unsigned_width(2 * c.max_stride), name=f"lane{i}_slot")
            m.d.comb += column.eq(wrap_add(r_v, i, cfg.s_col))   # i < r_count <= s_col
            merged = Signal(px, name=f"lane{i}_merged")
            psum = Signal(out_pixel_layout(c), name=f"lane{i}_psum")
            with m.If(i < r_count):
                with m.If((r_u < SB) & (column < SB)):
                    m.d.comb += merged.eq(bank_data[r_u][column])
                with m.If(cfg.accumulate):
                    m.d.comb += psum.eq(self.ps.payload.pixels[i])
            lanes.append(output_pixel(m, c, f"lane{i}", merged, psum, cfg.relu))
        beat = out_beat_layout(c)
        m.d.comb += self.o.payload.eq(packed(beat, {
            "pixels": packed(beat["pixels"].shape, lanes), "count": r_count}))
