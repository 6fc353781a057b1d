"""PF's overlap-add buffer: every input pixel's ``k x k`` group results added into the
uncropped output map, and its finished rows emitted cropped, in raster order."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width

from ._arith import div_const, mod_const, packed, popcount, wrap_add, wrap_sub
from .layouts import merged_pixel_layout, out_beat_layout, require_tile_config
from .merge import output_pixel
from .mvm import mvm_output_layout

__all__ = ["OverlapAddBuffer", "pf_config_layout", "pf_step_layout", "PF_COUNTERS"]

#: The buffer's counters: (the tile counter it adds to, :data:`red.counters.COUNTERS`;
#: the buffer's own name).
PF_COUNTERS = (("psum_buffer_reads", "psum_buffer_reads"),
               ("psum_buffer_writes", "psum_buffer_writes"),
               ("psum_buffer_accumulations", "psum_buffer_accumulations"),
               ("wasted_group_steps", "cropped_results"), ("psum_additions", "psum_additions"))


def _position_shape(config: TileConfig):
    """A row or column of the uncropped map, ``kh0 - p + i*s + g``: signed."""
    return signed(unsigned_width(config.max_out + config.max_k) + 1)


def pf_config_layout(config: TileConfig) -> data.StructLayout:
    """The pass configuration of :class:`OverlapAddBuffer` (fixed while a pass runs)."""
    c = config
    out_dim = unsigned_width(c.max_out)
    offset = signed(unsigned_width(c.max_k - 1) + 1)
    return data.StructLayout({
        "cout": unsigned_width(c.logical_cols),
        "h": unsigned_width(c.max_in),
        "s": unsigned_width(c.max_stride),
        "ho": out_dim,
        "wo": out_dim,
        "base_h": offset,
        "base_w": offset,
        "rows_in": unsigned_width(c.kernel),
        "active": c.groups,
        "accumulate": 1,
        "bias": data.ArrayLayout(signed(c.bias_width), c.logical_cols),
        "bias_en": 1,
        "relu": 1,
    })


def pf_step_layout(config: TileConfig) -> data.StructLayout:
    """One PF step as the buffer takes it: ``last``, the last input pixel of its row.
    The groups' results come beside it (``OverlapAddBuffer.results``)."""
    return data.StructLayout({"last": 1})


class OverlapAddBuffer(wiring.Component):
    """The padding-free data flow's output side: an overlap-add buffer over the uncropped
    map, cropped as it drains.

    **What a step adds.** Steps come in raster order over the input pixels ``(i_h, i_w)``.
    Group ``(gh, gw)`` (kernel pixel ``(kh0 + gh, kw0 + gw)``) of a step adds its result
    into output ``(base_h + i_h*s + gh, base_w + i_w*s + gw)`` of the uncropped map
    (``base = kh0 - p``). A result whose output lies outside ``[0,Ho) x [0,Wo)`` is
    dropped (``cropped_results``): it was computed for the border PF crops away.

    **Organisation.** ``kernel x B`` banks, ``B = pf_bank_cols = max(kernel,
    out_pixels)``; output ``(oh, ow)`` lives in bank ``(oh mod kernel, ow mod B)`` at word
    ``((oh mod pf_rows) div kernel) * pf_row_words + ow div B``. The buffer holds
    ``pf_rows = kernel * pf_row_slots >= kernel + max_stride`` output rows (:attr:`~red.config.TileConfig.pf_rows`): the
    ``kernel`` rows an input row adds into, plus the ``s`` rows the row before it
    finished, which drain meanwhile. The ``k x k`` results of one step land in
    distinct banks (consecutive rows and columns), so each bank does at most one
    read-modify-write per step, in one cycle: a combinational read port and a write port.
    Bank ``(u, v)`` takes the group ``((u - oh0) mod kernel, (v - ow0) mod B)`` if that
    column is below ``kernel`` (``oh0``, ``ow0``: the step's group-0 output), a rotation
    of the results. ``B`` columns let a beat carry ``out_pixels`` pixels, as wide as
    RED's output port.

    **Timing.** A step is taken in the cycle it is offered unless an output row it adds
    into still holds a row ``pf_rows`` earlier that the emitter has not left (then
    ``ready`` stays low and the tile stalls). Output row ``oh`` is final once every input
    row that adds into it is in, ``oh < base_h + i_h*s`` for the input row ``i_h`` being
    written (or the whole input is in); the last row waits for the whole input, so that
    the pass's last output beat follows its last step even where the last input rows add
    only into the cropped border. Final rows are emitted ``min(out_pixels, remaining)``
    pixels per beat, one beat per cycle, from distinct bank columns; the
    emitter writes 0 into every word it reads, so every word is 0 again when its row
    slot is reused and when the next pass begins (no word is written outside the map).

    **Output stage.** As the merge's (:class:`~red.rtl.merge.OutputMerge`): with
    ``accumulate`` each beat waits for one partial-sum beat on ``ps`` and adds it;
    ``bias`` is added as a pixel is emitted with ``bias_en``; ReLU with ``relu``.

    Latency: a step's results are in the buffer the cycle after it is taken; a row's
    first beat is valid 1 cycle after the row is final. Throughput: one step per cycle,
    one beat per cycle (and per partial-sum beat).

    Members
    -------
    clear : In(1)
        Start of a pass: ``pass_config`` is read in this cycle (and must be that of the
        pass from then on); the counters clear.
    run : In(1)
        The pass is running: the emitter drains final rows only then (rows no input adds
        into are final before the weights have loaded).
    pass_config : In(pf_config_layout)
        ``cout``, input rows ``h``, ``s``, ``ho``, ``wo``; ``base_h``, ``base_w``:
        ``kh0 - p`` and ``kw0 - p``; ``rows_in``: group rows inside the kernel,
        ``min(kernel, k - kh0)``; ``active``: groups inside the kernel and not gated for
        the pass; the output stage's ``accumulate``, ``bias``, ``bias_en``, ``relu``.
    i : In(stream.Signature(pf_step_layout))
    results : In(mvm_output_layout).array(groups)
        Every group's result of the step ``i`` offers.
    ps : In(stream.Signature(out_beat_layout))
    o : Out(stream.Signature(out_beat_layout))
    done : Out(1)
        Every output row has been emitted and taken.
    psum_buffer_reads, psum_buffer_writes : Out(COUNTER_WIDTH)
        Values (one channel of one pixel) read from / written into the buffer: the
        read-modify-writes of kept results, and the emitter's reads and clearing writes.
    psum_buffer_accumulations : Out(COUNTER_WIDTH)
        Kept results added into the buffer, per output channel (two-operand additions).
    cropped_results : Out(COUNTER_WIDTH)
        Active groups' results dropped because their output lies outside the map.
    psum_additions, out_reads : Out(COUNTER_WIDTH)
        Partial sums added (per output channel) and output pixels emitted.
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        super().__init__({
            "clear": In(1),
            "run": In(1),
            "pass_config": In(pf_config_layout(c)),
            "i": In(stream.Signature(pf_step_layout(c))),
            "results": In(mvm_output_layout(c)).array(c.groups),
            "ps": In(stream.Signature(out_beat_layout(c))),
            "o": Out(stream.Signature(out_beat_layout(c))),
            "done": Out(1),
            **{field: Out(COUNTER_WIDTH) for _, field in PF_COUNTERS},
            "out_reads": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        K, B = c.kernel, c.pf_bank_cols
        banks = [[memory.Memory(shape=merged_pixel_layout(c).size, depth=c.pf_bank_depth,
                                init=[]) for v in range(B)] for u in range(K)]
        for u in range(K):
            for v in range(B):
                m.submodules[f"bank_{u}_{v}"] = banks[u][v]
        # Shared by the two sides: the emitter's row, the writer's input row's output base,
        # whether the whole input is in, and the values each side adds to the counters.
        emit_oh = Signal(unsigned_width(c.max_out))
        row_base = Signal(_position_shape(c))
        all_in = Signal()
        written, emitted = Signal(unsigned_width(c.groups)), Signal(unsigned_width(B))
        self._write_side(m, banks, emit_oh, row_base, all_in, written)
        self._emit_side(m, banks, emit_oh, row_base, all_in, emitted)
        self._count(m, written, emitted)
        return m

    def _write_side(self, m, banks, emit_oh, row_base, all_in, written):
        """Each taken step's results, rotated onto the banks and added in place."""
        c, cfg = self._config, self.pass_config
        K, B, D, G = c.kernel, c.pf_bank_cols, c.pf_rows, c.groups
        px = merged_pixel_layout(c)
        lo, hi = -(c.max_k - 1), c.max_k - 1
        # The step's group-0 output: row (and its slot, mod pf_rows), column (mod and div
        # B); kept as counters from the pass's base, so nothing divides.
        row_slot = Signal(range(D))
        col_base = Signal.like(row_base)
        # Bank numbers are a bit wider than needed: compared with constants below, they
        # must not make the comparison constant (Verilator's CMPCONST) when K is a power
        # of two.
        col_mod = Signal(unsigned_width(B))
        col_div = Signal(_position_shape(c))
        in_row = Signal.like(cfg.h)
        take = Signal()
        last_row = row_base + cfg.rows_in - 1
        m.d.comb += [
            self.i.ready.eq((last_row < emit_oh + D) | (cfg.ho < emit_oh + D + 1)),
            take.eq(self.i.valid & self.i.ready),
        ]
        restart_columns = [col_base.eq(cfg.base_w), col_mod.eq(mod_const(cfg.base_w, B, lo, hi)),
                           col_div.eq(div_const(cfg.base_w, B, lo, hi))]
        with m.If(self.clear):
            m.d.sync += [row_base.eq(cfg.base_h), row_slot.eq(mod_const(cfg.base_h, D, lo, hi)),
                         in_row.eq(0), all_in.eq(0), *restart_columns]
        with m.Elif(take & self.i.payload.last):
            m.d.sync += [row_base.eq(row_base + cfg.s), row_slot.eq(wrap_add(row_slot, cfg.s, D)),
                         in_row.eq(in_row + 1), *restart_columns]
            with m.If(in_row == cfg.h - 1):
                m.d.sync += all_in.eq(1)
        with m.Elif(take):
            step = col_mod + cfg.s
            m.d.sync += [col_base.eq(col_base + cfg.s),
                         col_mod.eq(mod_const(step, B, 0, B - 1 + c.max_stride)),
                         col_div.eq(col_div + div_const(step, B, 0, B - 1 + c.max_stride))]

        # Bank row u: group row gh = (u - oh0) mod K, its output row and word row.
        row_group, row_ok, word_row = [], [], []
        first_bank = mod_const(row_slot, K, 0, D - 1)
        for u in range(K):
            gh = Signal(range(K), name=f"row_group_{u}")
            oh = row_base + gh
            # (u - first_bank) mod K as a table, not a comparison with the constant u.
            m.d.comb += gh.eq(mod_const(u + K - first_bank, K, u + 1, u + K))
            row_group.append(gh)
            row_ok.append((oh >= 0) & (oh < cfg.ho))
            word_row.append(div_const(wrap_add(row_slot, gh, D), K, 0, D - 1))
        # Bank column v: group column gw = (v - ow0) mod B, if below K.
        col_group, col_ok, word_col = [], [], []
        for v in range(B):
            gw = Signal(range(B), name=f"col_group_{v}")
            ow = col_base + gw
            m.d.comb += gw.eq(wrap_sub(v, col_mod, B))
            col_group.append(gw)
            inside = (ow >= 0) & (ow < cfg.wo)
            col_ok.append(inside & (gw < K) if B > K else inside)
            word_col.append(col_div + (col_mod + gw >= B))

        results = Array(r.as_value() for r in self.results)
        enables = []
        for u in range(K):
            for v in range(B):
                group = row_group[u] * K + col_group[v]
                result = data.View(mvm_output_layout(c), results[group])
                read = banks[u][v].read_port(domain="comb")
                write = banks[u][v].write_port()
                old = data.View(px, read.data)
                address = word_row[u] * c.pf_row_words + word_col[v]
                enable = Signal(name=f"add_{u}_{v}")
                m.d.comb += [
                    enable.eq(take & row_ok[u] & col_ok[v] & cfg.active.bit_select(group, 1)),
                    read.addr.eq(address), write.addr.eq(address), write.en.eq(enable),
                    write.data.eq(packed(px, [old[j] + result[j]
                                              for j in range(c.logical_cols)])),
                ]
                enables.append(enable)
        m.d.comb += written.eq(popcount(Cat(enables), len(enables)))
        with m.If(self.clear):
            m.d.sync += self.cropped_results.eq(0)
        with m.Elif(take):
            m.d.sync += self.cropped_results.eq(self.cropped_results +
                                                popcount(cfg.active, G) - written)

    def _emit_side(self, m, banks, emit_oh, row_base, all_in, emitted):
        """Final rows in raster order, cropped, cleared as they are read; the output
        stream's handshake and beat."""
        c, cfg = self._config, self.pass_config
        K, B, D = c.kernel, c.pf_bank_cols, c.pf_rows
        L = c.out_pixels
        px = merged_pixel_layout(c)
        ow = Signal.like(cfg.wo)
        slot = Signal(range(D))                      # emit_oh mod pf_rows
        v_e = Signal(unsigned_width(B))              # ow mod B (wide: see col_mod)
        word_e = Signal(range(c.pf_row_words + 1))   # ow div B
        finished, r_valid, out_take, issue = Signal(), Signal(), Signal(), Signal()
        count = Signal(unsigned_width(L))
        remaining = Signal.like(cfg.wo)
        m.d.comb += [
            remaining.eq(cfg.wo - ow),
            count.eq(Mux(remaining < L, remaining, L)),
            out_take.eq(self.o.valid & self.o.ready),
            issue.eq(self.run & ~self.clear & ~finished & (~r_valid | out_take) &
                     (all_in | ((emit_oh < row_base) & (emit_oh != cfg.ho - 1)))),
            emitted.eq(Mux(issue, count, 0)),
        ]
        u_e = mod_const(slot, K, 0, D - 1)
        word_row = div_const(slot, K, 0, D - 1)
        reads = [[banks[u][v].read_port() for v in range(B)] for u in range(K)]
        for v in range(B):
            lane = wrap_sub(v, v_e, B)               # bank column v holds lane (v - v_e) mod B
            address = word_row * c.pf_row_words + word_e + (v < v_e)
            for u in range(K):
                clear = banks[u][v].write_port()
                here = issue & (u_e == u)
                m.d.comb += [reads[u][v].addr.eq(address), reads[u][v].en.eq(here),
                             clear.addr.eq(address), clear.data.eq(0),
                             clear.en.eq(here & (lane < count))]

        r_u, r_v = Signal(range(K)), Signal(range(B))
        r_count = Signal.like(count)
        with m.If(self.clear):
            m.d.sync += [emit_oh.eq(0), ow.eq(0), slot.eq(0), v_e.eq(0), word_e.eq(0),
                         finished.eq(0), r_valid.eq(0)]
        with m.Else():
            with m.If(issue):
                m.d.sync += [r_valid.eq(1), r_u.eq(u_e), r_v.eq(v_e), r_count.eq(count)]
                with m.If(count == remaining):      # end of the output row
                    m.d.sync += [ow.eq(0), v_e.eq(0), word_e.eq(0), emit_oh.eq(emit_oh + 1),
                                 slot.eq(wrap_add(slot, 1, D))]
                    with m.If(emit_oh == cfg.ho - 1):
                        m.d.sync += finished.eq(1)
                with m.Else():
                    m.d.sync += [ow.eq(ow + count), v_e.eq(wrap_add(v_e, count, B)),
                                 word_e.eq(word_e + (v_e + count >= B))]
            with m.Elif(out_take):
                m.d.sync += r_valid.eq(0)
        m.d.comb += [
            self.o.valid.eq(r_valid & (~cfg.accumulate | self.ps.valid)),
            self.ps.ready.eq(r_valid & cfg.accumulate & self.o.ready),
            self.done.eq(finished & ~r_valid),
        ]

        bank_data = Array(Array(reads[u][v].data for v in range(B)) for u in range(K))
        lanes = []
        for i in range(L):
            merged = Signal(px, name=f"lane{i}_merged")
            psum = Signal.like(self.ps.payload.pixels[i], name=f"lane{i}_psum")
            with m.If(i < r_count):
                m.d.comb += merged.eq(bank_data[r_u][wrap_add(r_v, i, B)])
                with m.If(cfg.accumulate):
                    m.d.comb += psum.eq(self.ps.payload.pixels[i])
            bias = [Mux(cfg.bias_en & (i < r_count), b, 0) for b in cfg.bias]
            lanes.append(output_pixel(m, c, f"lane{i}", merged, psum, cfg.relu, bias))
        beat = out_beat_layout(c)
        m.d.comb += self.o.payload.eq(packed(beat, {
            "pixels": packed(beat["pixels"].shape, lanes), "count": r_count}))

        with m.If(self.clear):
            m.d.sync += [self.out_reads.eq(0), self.psum_additions.eq(0)]
        with m.Elif(out_take):
            m.d.sync += self.out_reads.eq(self.out_reads + r_count)
            with m.If(cfg.accumulate):
                m.d.sync += self.psum_additions.eq(self.psum_additions + r_count * cfg.cout)

    def _count(self, m, written, emitted):
        """Buffer traffic: a kept result is one read, one add and one write per channel;
        an emitted pixel one read and one clearing write."""
        cout = self.pass_config.cout
        with m.If(self.clear):
            m.d.sync += [self.psum_buffer_reads.eq(0), self.psum_buffer_writes.eq(0),
                         self.psum_buffer_accumulations.eq(0)]
        with m.Else():
            m.d.sync += [
                self.psum_buffer_reads.eq(self.psum_buffer_reads + (written + emitted) * cout),
                self.psum_buffer_writes.eq(self.psum_buffer_writes + (written + emitted) * cout),
                self.psum_buffer_accumulations.eq(self.psum_buffer_accumulations +
                                                  written * cout),
            ]
