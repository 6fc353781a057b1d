"""Cycle-exact timing of one pass of a layer on the RTL tile, without stalls.

This mirrors the control of :class:`red.rtl.tile.RedTile` cycle by cycle (input
acceptance under the line buffer's row limit, step issue, the groups' pipeline, the
ping-pong output banks and the emitter), so it predicts the tile's ``total_cycles``
counter exactly when the input is offered every cycle and the output is always ready.
Only control state is simulated, no data: a few million cycles per minute, and the
fast-forward below skips the periodic middle of a pass (FCN-32s's upscore in ZP: 26 s
cycle by cycle, under 0.1 s with it; ``make bench`` prints every report layer's time).

Counting rule (the same as the hardware counter): from the cycle the first input pixel
is taken, or the first step issued if that is earlier (a fold whose first windows lie
before the input), to the cycle the last output beat is taken, both included; with input
offered from the start, that is the pass's first running cycle.

**Fast-forward.** Away from the pass's edges the control is periodic in its rows: at the
cycle a row's first step issues, the state *relative to the row* (the pipeline, the FIFO's
rows and the emitter's position less the row, the input buffer's row less the block's
input row, or the complete input) determines every later cycle up to the edges, because
no decision there depends on an absolute row. When that relative state recurs ``P`` rows
later, the next ``m * P`` rows repeat the last ``P`` exactly, so their cycles, compute
cycles and stalls are added ``m`` times and the state is moved ``m * P`` rows on, with
``m`` as large as keeps clear of the edges (the first inputs, the end of the input, the
last rows and outputs: :func:`_periods`). ``fast=False`` simulates every cycle: the
tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .config import META_FIFO_DEPTH, LayerSpec, TileConfig
from .mapping import fold_extent, fold_rows
from .modes import RTL_MODES

__all__ = ["PassTiming", "pass_timing"]


@dataclass(frozen=True)
class PassTiming:
    """Timing of one pass: cycles and where they went."""

    total_cycles: int
    compute_cycles: int
    first_issue: int
    """Cycle of the first step, counted from the pass's first running cycle (cycle 0)."""
    merge_stall_cycles: int
    """Cycles the groups were frozen because the output banks were full."""


def _next_position(phase: int, block: int, s: int, zp: bool) -> tuple[int, int]:
    """Advance one step along an axis: ZP walks output pixels (phase wraps into the next
    block), RED walks blocks."""
    if not zp:
        return phase, block + 1
    return (0, block + 1) if phase == s - 1 else (phase + 1, block)


def pass_timing(layer: LayerSpec, tile: TileConfig, mode: str, kh0: int = 0,
                kw0: int = 0, stops: tuple[int | None, ...] | None = None,
                fast: bool = True, psum: bool = False,
                plane_cycles: tuple[tuple[int, ...], ...] | None = None) -> PassTiming:
    """Simulate the tile's control for one pass of ``layer`` in ``mode`` (one of
    :data:`~red.modes.RTL_MODES`) with the kernel fold at ``(kh0, kw0)``
    (:mod:`red.mapping`).

    The fold matters only through the input rows and columns its blocks read
    (:func:`red.mapping.fold_rows`), in PF through the output rows its first group row
    adds into (``kh0 - p``) and its group rows inside the kernel, and the channel slices
    not at all, so passes that share those share one simulation (cached).

    ``stops`` gives, per step in issue order, the plane after which early termination
    (:mod:`red.early`) ends it (``None``: all ``in_bits`` planes): the groups skip the
    next plane's cycle's step and take the next vector in that cycle, so a step stopped
    after ``n`` planes occupies ``n + 1`` cycles. Steps stopped early break the rows'
    periodicity: with ``stops`` (or ``fast=False``) every cycle is simulated.

    ``psum``: the pass takes its partial sums ahead of its steps, into early
    termination's partial-sum bank (:class:`red.rtl.psum_bank.PartialSumBank`): one
    beat per cycle from the first running cycle, in the emitter's raster walk; step row
    ``n`` is filled once the steps have left row ``n - 2``, and its steps wait until it
    is filled.

    ``plane_cycles``: shared ADCs (``TileConfig.adcs_per_array``,
    :class:`red.rtl.adc_pacer.ADCPacer`): per step in issue order, the cycles of each of
    its planes in application order (``TileConfig.adc_cycles`` of the busiest driven
    group's converted columns). A plane of ``k`` cycles steps, then holds the groups
    ``k - 1`` cycles; a vector's last plane of ``k > 1`` cycles lets the next vector in
    during its last hold cycle. ``None``: one cycle per plane.
    """
    if mode not in RTL_MODES:
        raise ValueError(f"mode={mode!r}: the RTL tile runs {' or '.join(RTL_MODES)}")
    if mode == "pf":
        # Every group reads the step's own pixel; the overlap-add buffer's rows matter.
        reads = ((kh0 - layer.p, fold_extent(layer.k, tile.kernel, kh0)), (0, 0))
    else:
        reads = (fold_rows(layer.k, tile.kernel, layer.s, kh0),
                 fold_rows(layer.k, tile.kernel, layer.s, kw0))
    shape = LayerSpec(cin=1, cout=1, h=layer.h, w=layer.w, k=layer.k, s=layer.s,
                      p=layer.p, op=layer.op)
    fast = fast and stops is None and not psum and plane_cycles is None
    return _pass_timing(shape, tile, mode, reads, stops, fast, psum, plane_cycles)


def _position(n: int, q0: int, p_mod_s: int, s: int, zp: bool) -> tuple[int, int]:
    """``(block, phase)`` after ``n`` steps along an axis from ``(q0, p mod s)``: the
    closed form of :func:`_next_position`."""
    if not zp:
        return q0 + n, p_mod_s
    return q0 + (p_mod_s + n) // s, (p_mod_s + n) % s


def _periods(period: int, dq: int, srow: int, n_rows: int, oh: int, ho: int, s_row: int,
             inputs_left: int | None) -> int:
    """Periods of ``period`` rows (``dq`` block input rows each) the simulation may skip
    from row ``srow``, output row ``oh``, staying a period and 3 rows clear of the last
    row and output row and, before the input is complete, of the input's end
    (``inputs_left`` input rows of it)."""
    margin = period + 3
    m = min((n_rows - 1 - srow - margin) // period,
            (ho - 1 - oh - margin * s_row) // (period * s_row))
    if inputs_left is not None:
        m = min(m, (inputs_left - dq - 2) // dq if dq > 0 else 0)
    return max(m, 0)


@lru_cache(maxsize=256)
def _pass_timing(layer: LayerSpec, tile: TileConfig, mode: str,
                 reads: tuple[tuple[int, int], tuple[int, int]],
                 stops: tuple[int | None, ...] | None, fast: bool, psum: bool,
                 plane_cycles: tuple[tuple[int, ...], ...] | None) -> PassTiming:
    control = _Control(layer, tile, mode, reads, stops, psum, plane_cycles)
    while True:
        take, run, finish, base_h, need_row, issue = control.view()
        if fast and issue:
            control.skip_rows(base_h)
            control.skip_columns(base_h, need_row)
        timing = control.clock(take, run, finish, issue)
        if timing is not None:
            return timing


class _Control:
    """The tile's control state in one pass: the input buffer, the sequencer, the groups'
    pipeline (all groups move in lockstep), the merge's FIFO and the emitter, plus the
    cycle count and what fast-forward remembers (module docstring)."""

    __slots__ = ("zp", "pf", "pf_base", "pf_taps", "pf_rows", "planes", "H", "W", "s", "ho",
                 "wo", "outputs", "q0", "p_mod_s", "jmin_h", "jmin_w", "n_rows", "n_cols",
                 "s_row", "beat", "row_slack", "stops", "in_row", "in_col", "complete", "srow", "scol", "q_h", "r_h", "q_w", "r_w", "seq_done",
                 "busy", "bit", "stepped", "stop", "issued", "s1_valid", "s1_last", "o_valid",
                 "fifo", "rows_done", "emit_row", "oh", "ow", "a_e", "finished", "r_valid",
                 "r_count", "emitted", "cycle", "compute", "merge_stall", "first_issue", "seen",
                 "seen_cols", "seen_row", "psum", "fill", "plane_cycles", "cycles",
                 "adc_wait")

    def __init__(self, layer: LayerSpec, tile: TileConfig, mode: str,
                 reads: tuple[tuple[int, int], tuple[int, int]],
                 stops: tuple[int | None, ...] | None, psum: bool = False,
                 plane_cycles: tuple[tuple[int, ...], ...] | None = None):
        self.zp = zp = mode == "zp"
        self.pf = pf = mode == "pf"
        self.planes = tile.in_bits
        self.H, self.W, self.s = layer.h, layer.w, layer.s
        self.ho, self.wo = layer.ho, layer.wo
        self.outputs = layer.ho * layer.wo
        if pf:
            # PF (red.rtl.overlap_add): steps walk the input pixels from (0, 0), each
            # reading its own; input row i adds into output rows pf_base + i*s +
            # (0 .. pf_taps-1), and the buffer holds pf_rows output rows.
            (self.pf_base, self.pf_taps), _ = reads
            self.pf_rows = tile.pf_rows
            self.q0 = self.p_mod_s = self.jmin_h = self.jmin_w = jmax_h = 0
            self.n_rows, self.n_cols = layer.h, layer.w
        else:
            self.q0, self.p_mod_s = layer.p // layer.s, layer.p % layer.s
            (self.jmin_h, jmax_h), (self.jmin_w, _) = reads
            self.n_rows, self.n_cols = (layer.ho, layer.wo) if zp else (layer.nb_h, layer.nb_w)
        self.s_row = 1 if zp else layer.s            # output rows per block (input) row
        self.beat = tile.beat_pixels(layer.s, mode)  # pixels of a full output beat
        # Rows from q - jmax on are kept: the line buffer takes row r while
        # r < q - jmax + line_rows.
        self.row_slack = tile.line_rows - jmax_h
        self.stops = stops
        # shared ADCs: each step's plane cycles, the vector's, the hold left
        self.plane_cycles = plane_cycles
        self.cycles: tuple[int, ...] = ()
        self.adc_wait = 0
        # input buffer
        self.in_row = self.in_col = 0
        self.complete = False
        # sequencer
        self.srow = self.scol = 0
        self.q_h, self.r_h = self.q_w, self.r_w = self.q0, self.p_mod_s
        self.seq_done = False
        # group pipeline: planes of the vector applied, its stop, steps issued
        self.busy, self.bit = False, 0
        self.stepped, self.stop, self.issued = 0, None, 0
        self.s1_valid = self.s1_last = self.o_valid = False
        self.fifo: list[tuple[int, bool]] = []       # (row, last) of issued steps
        # merge and emitter
        self.rows_done = 0
        self.emit_row, self.oh, self.ow = 0, 0, 0
        self.a_e = 0 if zp else self.p_mod_s
        self.finished = self.r_valid = False
        self.r_count = self.emitted = 0
        # the partial-sum bank's fill: the emitter's walk (row, oh, ow, a), finished
        self.psum = psum
        self.fill = [0, 0, 0, self.a_e, False]
        # counts
        self.cycle = self.compute = self.merge_stall = 0
        self.first_issue = None
        # fast-forward: relative state at a row's first issue -> where; state at an
        # issue of row seen_row -> where
        self.seen: dict[tuple, tuple] = {}
        self.seen_cols: dict[tuple, tuple] = {}
        self.seen_row = -1

    def view(self) -> tuple[bool, bool, bool, int, int, bool]:
        """This cycle's combinational signals (and its merge stall, counted): whether the
        merge takes the groups' result (``take``), the groups' pipeline moves (``run``:
        no result waits and no shared ADC holds), the step in the groups ends early at its stop plane (``finish``),
        the block's newest input row unclamped (``base_h``) and the row it waits for
        (``need_row``), and whether the sequencer issues a step (``issue``)."""
        fifo, o_valid, busy, in_row = self.fifo, self.o_valid, self.busy, self.in_row
        if self.pf:
            # The step's last output row (inside the map) must not hold a row pf_rows
            # earlier that the emitter has not left.
            take = o_valid and bool(fifo) and min(
                self.pf_base + fifo[0][0] * self.s + self.pf_taps - 1,
                self.ho - 1) < self.oh + self.pf_rows
        else:
            take = o_valid and bool(fifo) and fifo[0][0] < self.emit_row + 2
        advance = not o_valid or take
        hold = self.adc_wait > 0
        run = advance and not hold
        finish = busy and run and self.stepped == self.stop
        more = busy and run and not finish and self._plane_cycles() > 1
        group_ready = advance and ((not busy and self.adc_wait <= 1)
                                   or (not hold and ((self.bit == 0 and not more) or finish)))
        # The block's newest input is (q_h - jmin_h, q_w - jmin_w), clamped to the map;
        # a block whose inputs all lie before the map reads nothing and need not wait.
        base_h, base_w = self.q_h - self.jmin_h, self.q_w - self.jmin_w
        need_row = base_h if base_h < self.H else self.H - 1
        need_col = base_w if base_w < self.W else self.W - 1
        inputs_here = (self.complete or base_h < 0 or base_w < 0 or in_row > need_row
                       or (in_row == need_row and self.in_col > need_col))
        psum_here = not self.psum or self.fill[4] or self.srow < self.fill[0]
        issue = (not self.seq_done and inputs_here and group_ready and psum_here
                 and len(fifo) < META_FIFO_DEPTH)
        if o_valid and not take:
            self.merge_stall += 1
        return take, run, finish, base_h, need_row, issue

    def _plane_cycles(self) -> int:
        """Cycles of the plane the groups hold (shared ADCs; 1 without)."""
        return self.cycles[self.stepped] if self.cycles else 1

    def _forward(self, then: tuple, m: int) -> None:
        """Add ``m`` times the cycles, compute cycles and stalls since ``then``."""
        self.cycle, self.compute, self.merge_stall = (
            self.cycle + m * (self.cycle - then[-3]),
            self.compute + m * (self.compute - then[-2]),
            self.merge_stall + m * (self.merge_stall - then[-1]))

    def _counts(self) -> tuple[int, int, int]:
        return self.cycle, self.compute, self.merge_stall

    def skip_rows(self, base_h: int) -> None:
        """At a row's first issue, skip whole periods of rows (module docstring)."""
        if self.scol != 0 or base_h < 0:
            return
        srow, s_row = self.srow, self.s_row
        # Once the input is complete the block's input row no longer matters.
        key = (self.busy, self.bit, self.s1_valid, self.s1_last, self.o_valid, self.r_valid,
               self.r_count, self.finished,
               tuple((row - srow, last) for row, last in self.fifo), self.rows_done - srow,
               self.emit_row - srow, self.oh - srow * s_row, self.ow, self.a_e,
               self.complete, self.in_col,
               (self.in_row, None) if self.complete else (self.in_row - self.q_h, self.r_h),
               self.emitted - srow * s_row * self.wo)
        if key in self.seen:
            then = self.seen[key]
            period, dq = srow - then[0], self.q_h - then[1]
            m = _periods(period, dq, srow, self.n_rows, self.oh, self.ho, s_row,
                         None if self.complete
                         else self.H - 1 - max(self.in_row, base_h))
            if m:
                rows = m * period
                self.srow, self.rows_done = srow + rows, self.rows_done + rows
                self.emit_row += rows
                self.in_row += 0 if self.complete else m * dq
                self.q_h, self.r_h = _position(self.srow, self.q0, self.p_mod_s, self.s,
                                               self.zp)
                self.oh += rows * s_row
                self.emitted += rows * s_row * self.wo
                self.fifo = [(row + rows, last) for row, last in self.fifo]
                self._forward(then, m)
                self.seen.clear()
        self.seen[key] = (self.srow, self.q_h, *self._counts())

    def skip_columns(self, base_h: int, need_row: int) -> None:
        """Within a row, with the inputs of every later block of the row in the buffer,
        the column matters only at the row's end: the same state two issues apart
        repeats until then."""
        if not (self.complete or base_h < 0 or self.in_row > need_row):
            return
        if self.srow != self.seen_row:
            self.seen_cols.clear()
            self.seen_row = self.srow
        key = (self.busy, self.bit, self.s1_valid, self.s1_last, self.o_valid, self.r_valid,
               self.r_count, self.finished, tuple(self.fifo), self.rows_done, self.emit_row,
               self.oh, self.ow, self.a_e, self.in_row, self.in_col, self.emitted)
        if key in self.seen_cols:
            then = self.seen_cols[key]
            period = self.scol - then[0]
            m = max(0, (self.n_cols - 2 - self.scol - period) // period)
            if m:
                self.scol += m * period
                self.q_w, self.r_w = _position(self.scol, self.q0, self.p_mod_s, self.s,
                                               self.zp)
                self._forward(then, m)
                self.seen_cols.clear()
        self.seen_cols[key] = (self.scol, *self._counts())

    def clock(self, take: bool, run: bool, finish: bool,
              issue: bool) -> PassTiming | None:
        """The rest of the cycle and its clock edge; the pass's timing once its last
        output beat is taken."""
        accept = (not self.complete) and (self.seq_done
                                          or self.in_row < self.q_h + self.row_slack)
        if self.pf:
            # A row is final once every input row adding into it is in the buffer; the
            # last row once the whole input is.
            emit = (not self.finished) and (
                self.rows_done == self.H or
                self.ho - 1 != self.oh < self.pf_base + self.rows_done * self.s)
        else:
            emit = (not self.finished) and self.emit_row < self.rows_done
        if self.r_valid:
            self.emitted += self.r_count
            if self.emitted == self.outputs:
                return PassTiming(total_cycles=self.cycle + 1, compute_cycles=self.compute,
                                  first_issue=self.first_issue,
                                  merge_stall_cycles=self.merge_stall)
        fill = self.psum and not self.fill[4] and self.fill[0] < self.srow + 2
        hold = self.adc_wait > 0
        stepping = self.busy and run and not finish
        self.compute += stepping or hold
        if stepping:
            self.adc_wait = self._plane_cycles() - 1
        elif hold:
            self.adc_wait -= 1
        self._clock_groups(take, run, finish, issue, stepping)
        if issue:
            self._clock_sequencer()
        if accept:
            self._clock_input()
        if emit:
            self._clock_emitter()
        else:
            self.r_valid = False
        if fill:
            self.fill = self._walk(*self.fill)[:-1]
        self.cycle += 1
        return None

    def _clock_groups(self, take: bool, run: bool, finish: bool, issue: bool,
                      stepping: bool) -> None:
        """The groups' pipeline and the merge's FIFO at the clock edge (``run``: the
        pipeline moves; a vector may be taken in the last cycle of an ADC hold)."""
        produce = False
        if run:
            s1_next = stepping
            s1_last_next = stepping and self.bit == 0 if stepping else self.s1_last
            if self.busy:
                if self.bit == 0 or finish:
                    self.busy = False
                self.bit -= 1
            self.stepped += stepping
            produce = self.s1_valid and (self.s1_last or finish)
            self.s1_valid, self.s1_last = s1_next, s1_last_next
        if issue:
            self.busy, self.bit, self.stepped = True, self.planes - 1, 0
            self.stop = self.stops[self.issued] if self.stops is not None else None
            if self.plane_cycles is not None:
                self.cycles = self.plane_cycles[self.issued]
            self.issued += 1
        if take:
            self.o_valid = False
            self.rows_done += self.fifo.pop(0)[1]
        if produce:
            self.o_valid = True

    def _clock_sequencer(self) -> None:
        """An issued step: its entry in the FIFO, and the sequencer's next block."""
        if self.first_issue is None:
            self.first_issue = self.cycle
        last_col = self.scol == self.n_cols - 1
        self.fifo.append((self.srow, last_col))
        if last_col:
            if self.srow == self.n_rows - 1:
                self.seq_done = True
            self.srow += 1
            self.scol, self.q_w, self.r_w = 0, self.q0, self.p_mod_s
            self.r_h, self.q_h = _next_position(self.r_h, self.q_h, self.s, self.zp)
        else:
            self.scol += 1
            self.r_w, self.q_w = _next_position(self.r_w, self.q_w, self.s, self.zp)

    def _clock_input(self) -> None:
        """An input pixel taken into the line buffer."""
        if self.in_col == self.W - 1:
            self.in_col = 0
            if self.in_row == self.H - 1:
                self.complete = True
            self.in_row += 1
        else:
            self.in_col += 1

    def _clock_emitter(self) -> None:
        """An output beat emitted, and the emitter's next position."""
        self.emit_row, self.oh, self.ow, self.a_e, finished, self.r_count = self._walk(
            self.emit_row, self.oh, self.ow, self.a_e, self.finished)
        self.finished, self.r_valid = finished, True

    def _walk(self, row: int, oh: int, ow: int, a: int, finished: bool) -> tuple:
        """One beat of the raster walk (:class:`red.rtl.raster.RasterWalk`) from step
        row ``row``, output pixel ``(oh, ow)`` and phase row ``a``: the next position,
        whether the walk is finished, and the beat's pixels."""
        count = min(self.beat, self.wo - ow)
        if count < self.wo - ow:
            return row, oh, ow + count, a, finished, count
        if a == self.s_row - 1:
            row, a = row + 1, 0
        else:
            a += 1
        return row, oh + 1, 0, a, finished or oh == self.ho - 1, count
