"""Output merge: add the groups of each phase and reorder blocks into raster rows."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width

from ._arith import tree_sum
from .layouts import require_tile_config, MODE_ZP, out_beat_layout, out_pixel_layout, step_meta_layout
from .mvm import mvm_output_layout

__all__ = ["OutputMerge"]


def _popcount(bits, width):
    return tree_sum(bits[i] for i in range(width))


class OutputMerge(wiring.Component):
    """Adds group results per output phase and emits output pixels in raster order.

    **Write side.** Each step delivers every group's result at once. In RED mode the
    results of the groups of phase ``(a, b) = (kh mod s, kw mod s)`` are added and
    written to output bank ``(a, b)``; in ZP mode all groups are added into one pixel,
    written to bank ``(0, ow mod max_stride)``. Banks are ``max_stride^2`` memories of
    two block rows each (ping-pong): a step of block row ``n`` is written only once the
    emitter has left block row ``n - 2``; otherwise ``ready`` stays low and the tile stalls.

    **Emit side.** Output rows ``0 .. Ho-1`` are walked in order; row ``oh`` belongs to
    block row ``m`` and bank row ``a`` (RED: ``oh + p = (m + p div s)*s + a``; ZP:
    ``m = oh``, ``a = 0``). Once block row ``m`` is complete, the row is read out
    ``min(out_pixels, s_col, remaining)`` pixels per beat, one beat per cycle, from
    distinct bank columns (``s_col`` is ``s`` in RED mode and ``max_stride`` in ZP mode).
    Nothing outside ``[0, Ho) x [0, Wo)`` is ever emitted.

    Latency: a row's first beat is valid 1 cycle after its block row completes (one
    synchronous memory read). Throughput: one beat per cycle.

    Members
    -------
    clear : In(1)
        Start of a layer.
    results : In(ArrayLayout(mvm_output_layout, groups)), valid : In(1), ready : Out(1)
        Group results of one step and its metadata ``meta``.
    meta : In(step_meta_layout)
    mode, cout, ho, wo : In
        Layer configuration.
    s_row, s_col, a0, b0 : In
        Placement: bank rows per block row, bank columns, first bank row and column
        (RED: ``s, s, p mod s, p mod s``; ZP: ``1, max_stride, 0, 0``).
    phase_h, phase_w : In(ArrayLayout)
        Per group, ``kh mod s`` and ``kw mod s``.
    active : In(groups)
        Groups of the layer's ``k x k`` kernel.
    o : Out(stream.Signature(out_beat_layout))
        Output beats.
    done : Out(1)
        Every output row has been emitted and taken.
    merge_additions, out_writes, out_reads : Out(COUNTER_WIDTH)
        Two-operand additions of group results (per output channel), output pixels
        written into the banks inside ``[0, Ho) x [0, Wo)``, output pixels emitted.
    """

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        c = config
        stride = unsigned_width(c.max_stride)
        phase = unsigned_width(c.max_stride - 1)
        out_dim = unsigned_width(c.max_out)
        super().__init__({
            "clear": In(1),
            "results": In(data.ArrayLayout(mvm_output_layout(c), c.groups)),
            "valid": In(1),
            "ready": Out(1),
            "meta": In(step_meta_layout(c)),
            "mode": In(1),
            "cout": In(unsigned_width(c.logical_cols)),
            "ho": In(out_dim),
            "wo": In(out_dim),
            "s_row": In(stride),
            "s_col": In(stride),
            "a0": In(phase),
            "b0": In(phase),
            "phase_h": In(data.ArrayLayout(phase, c.groups)),
            "phase_w": In(data.ArrayLayout(phase, c.groups)),
            "active": In(c.groups),
            "o": Out(stream.Signature(out_beat_layout(c))),
            "done": Out(1),
            "merge_additions": Out(COUNTER_WIDTH),
            "out_writes": Out(COUNTER_WIDTH),
            "out_reads": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        S, G, L = c.max_stride, c.groups, c.out_pixels
        px = out_pixel_layout(c)
        half = c.max_blocks

        banks = [[memory.Memory(shape=px.size, depth=c.out_bank_depth, init=[])
                  for b in range(S)] for a in range(S)]
        for a in range(S):
            for b in range(S):
                m.submodules[f"bank_{a}_{b}"] = banks[a][b]
        writes = [[banks[a][b].write_port() for b in range(S)] for a in range(S)]
        reads = [[banks[a][b].read_port() for b in range(S)] for a in range(S)]

        # -- emitter state -----------------------------------------------------------
        emit_row = Signal.like(self.meta.row)   # block row m being emitted
        rows_done = Signal.like(self.meta.row)  # complete block rows written
        finished = Signal()

        # -- write side --------------------------------------------------------------
        meta = self.meta
        zp = self.mode == MODE_ZP
        take = Signal()
        m.d.comb += [
            self.ready.eq(meta.row < emit_row + 2),
            take.eq(self.valid & self.ready),
        ]
        match = [[Signal(G, name=f"match_{a}_{b}") for b in range(S)] for a in range(S)]
        for a in range(S):
            for b in range(S):
                m.d.comb += match[a][b].eq(Cat(
                    self.active[g] & (self.phase_h[g] == a) & (self.phase_w[g] == b)
                    for g in range(G)))

        def group_sum(mask):
            word = Signal(px, name="sum")
            for j in range(c.logical_cols):
                m.d.comb += word[j].eq(tree_sum(Mux(mask[g], self.results[g][j], 0)
                                                for g in range(G)))
            return word

        total = group_sum(self.active)
        address = meta.row[0] * half + meta.idx
        for a in range(S):
            for b in range(S):
                port = writes[a][b]
                phase_word = group_sum(match[a][b])
                m.d.comb += [port.addr.eq(address)]
                if a == 0:
                    m.d.comb += [
                        port.data.eq(Mux(zp, total.as_value(), phase_word.as_value())),
                        port.en.eq(take & (~zp | (meta.bank == b))),
                    ]
                else:
                    m.d.comb += [port.data.eq(phase_word.as_value()), port.en.eq(take & ~zp)]

        # Event counts of one step.
        adds = Signal(unsigned_width(S * S * G))
        written = Signal(unsigned_width(S * S))
        n_active = _popcount(self.active, G)
        red_adds = []
        for a in range(S):
            for b in range(S):
                n = _popcount(meta.live & match[a][b], G)
                red_adds.append(Mux(n > 0, n - 1, 0))
        m.d.comb += [
            adds.eq(Mux(zp, Mux(n_active > 0, n_active - 1, 0), tree_sum(red_adds))),
            written.eq(Mux(zp, 1, tree_sum(meta.row_ok[a] & meta.col_ok[b]
                                           for a in range(S) for b in range(S)))),
        ]
        with m.If(self.clear):
            m.d.sync += [rows_done.eq(0), self.merge_additions.eq(0), self.out_writes.eq(0)]
        with m.Elif(take):
            m.d.sync += [
                rows_done.eq(rows_done + meta.last),
                self.merge_additions.eq(self.merge_additions + adds * self.cout),
                self.out_writes.eq(self.out_writes + written),
            ]

        # -- emit side -----------------------------------------------------------------
        oh = Signal.like(self.ho)
        ow = Signal.like(self.wo)
        a_e = Signal.like(self.a0)
        b_e = Signal.like(self.b0)
        idx_e = Signal.like(meta.idx)
        count = Signal(unsigned_width(L))
        remaining = Signal.like(self.wo)
        m.d.comb += remaining.eq(self.wo - ow)
        limit = Mux(self.s_col < L, self.s_col, L)
        m.d.comb += count.eq(Mux(remaining < limit, remaining, limit))

        r_valid = Signal()
        r_a = Signal.like(a_e)
        r_b = Signal.like(b_e)
        r_count = Signal.like(count)
        issue = Signal()
        m.d.comb += issue.eq(~self.clear & ~finished & (emit_row < rows_done) &
                             (~r_valid | self.o.ready))

        read_base = emit_row[0] * half + idx_e
        for a in range(S):
            for b in range(S):
                port = reads[a][b]
                # Lanes that wrap past s_col read the next word; the last bank never wraps.
                wrapped = (b_e > b) if b < S - 1 else 0
                m.d.comb += [port.addr.eq(read_base + wrapped), port.en.eq(issue)]

        b_next = Signal(unsigned_width(2 * S))
        m.d.comb += b_next.eq(b_e + count)
        with m.If(self.clear):
            m.d.sync += [
                oh.eq(0), ow.eq(0), a_e.eq(self.a0), b_e.eq(self.b0), idx_e.eq(0),
                emit_row.eq(0), finished.eq(0), r_valid.eq(0), self.out_reads.eq(0),
            ]
        with m.Else():
            with m.If(issue):
                m.d.sync += [r_valid.eq(1), r_a.eq(a_e), r_b.eq(b_e), r_count.eq(count)]
                with m.If(count == remaining):  # end of the output row
                    m.d.sync += [ow.eq(0), b_e.eq(self.b0), idx_e.eq(0), oh.eq(oh + 1)]
                    with m.If(oh == self.ho - 1):
                        m.d.sync += finished.eq(1)
                    with m.If(a_e == self.s_row - 1):
                        m.d.sync += [a_e.eq(0), emit_row.eq(emit_row + 1)]
                    with m.Else():
                        m.d.sync += a_e.eq(a_e + 1)
                with m.Else():
                    m.d.sync += ow.eq(ow + count)
                    with m.If(b_next >= self.s_col):
                        m.d.sync += [b_e.eq(b_next - self.s_col), idx_e.eq(idx_e + 1)]
                    with m.Else():
                        m.d.sync += b_e.eq(b_next)
            with m.Elif(self.o.ready):
                m.d.sync += r_valid.eq(0)
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += self.out_reads.eq(self.out_reads + r_count)

        # Lane i shows bank (r_a, (r_b + i) mod s_col) of the read just completed.
        bank_data = Array(Array(reads[a][b].data for b in range(S)) for a in range(S))
        m.d.comb += [self.o.valid.eq(r_valid), self.o.payload.count.eq(r_count)]
        for i in range(L):
            column = Signal(unsigned_width(2 * S), name=f"lane{i}_bank")
            m.d.comb += column.eq(Mux(r_b + i >= self.s_col, r_b + i - self.s_col, r_b + i))
            with m.If(i < r_count):
                m.d.comb += self.o.payload.pixels[i].eq(bank_data[r_a][column])
        m.d.comb += self.done.eq(finished & ~r_valid)
        return m
