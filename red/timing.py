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
from .mapping import fold_rows
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
                fast: bool = True) -> PassTiming:
    """Simulate the tile's control for one pass of ``layer`` in ``mode`` ("red"/"zp")
    with the kernel fold at ``(kh0, kw0)`` (:mod:`red.mapping`).

    The fold matters only through the input rows and columns its blocks read
    (:func:`red.mapping.fold_rows`), and the channel slices not at all, so passes that
    share those share one simulation (cached).

    ``stops`` gives, per step in issue order, the plane after which early termination
    (:mod:`red.early`) ends it (``None``: all ``in_bits`` planes): the groups skip the
    next plane's cycle's step and take the next vector in that cycle, so a step stopped
    after ``n`` planes occupies ``n + 1`` cycles. Steps stopped early break the rows'
    periodicity: with ``stops`` (or ``fast=False``) every cycle is simulated.
    """
    if mode not in RTL_MODES:
        raise ValueError(f"mode={mode!r}: the RTL tile runs {' or '.join(RTL_MODES)}")
    reads = (fold_rows(layer.k, tile.kernel, layer.s, kh0),
             fold_rows(layer.k, tile.kernel, layer.s, kw0))
    shape = LayerSpec(cin=1, cout=1, h=layer.h, w=layer.w, k=layer.k, s=layer.s,
                      p=layer.p, op=layer.op)
    return _pass_timing(shape, tile, mode, reads, stops, fast and stops is None)


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
                 stops: tuple[int | None, ...] | None, fast: bool) -> PassTiming:
    zp = mode == "zp"
    B = tile.in_bits
    H, W, s, p = layer.h, layer.w, layer.s, layer.p
    ho, wo = layer.ho, layer.wo
    q0, p_mod_s = p // s, p % s
    (jmin_h, jmax_h), (jmin_w, _) = reads
    n_rows, n_cols = (ho, wo) if zp else (layer.nb_h, layer.nb_w)
    s_row = 1 if zp else s                   # output rows per block row
    beat = tile.beat_pixels(s, zp)           # pixels of a full output beat
    a0 = 0 if zp else p_mod_s
    # Rows from q - jmax on are kept: the line buffer takes row r while
    # r < q - jmax + line_rows.
    row_slack = tile.line_rows - jmax_h

    # input buffer
    in_row = in_col = 0
    complete = False
    # sequencer
    srow = scol = 0
    q_h, q_w, r_h, r_w = q0, q0, p_mod_s, p_mod_s
    seq_done = False
    # group pipeline (all groups move in lockstep)
    busy, bit = False, 0
    stepped, stop, issued = 0, None, 0   # planes of the vector applied, its stop, steps
    s1_valid = s1_last = False
    o_valid = False
    fifo: list[tuple[int, bool]] = []   # (row, last) of issued steps
    # merge and emitter
    rows_done = 0
    emit_row, oh, ow, a_e = 0, 0, 0, a0
    finished = r_valid = False
    r_count = emitted = 0

    compute = merge_stall = 0
    first_issue = None
    cycle = 0
    seen: dict[tuple, tuple] = {}      # relative state at a row's first issue -> where
    seen_cols: dict[tuple, tuple] = {}  # state at an issue of row seen_row -> where
    seen_row = -1
    while True:
        # -- combinational view of this cycle ------------------------------------------
        take = o_valid and bool(fifo) and fifo[0][0] < emit_row + 2
        advance = (not o_valid) or take
        if o_valid and not take:
            merge_stall += 1
        finish = busy and advance and stop is not None and stepped == stop
        group_ready = advance and (not busy or bit == 0 or finish)
        # The block's newest input is (q_h - jmin_h, q_w - jmin_w), clamped to the map;
        # a block whose inputs all lie before the map reads nothing and need not wait.
        base_h, base_w = q_h - jmin_h, q_w - jmin_w
        need_row, need_col = min(base_h, H - 1), min(base_w, W - 1)
        inputs_here = (complete or base_h < 0 or base_w < 0 or in_row > need_row
                       or (in_row == need_row and in_col > need_col))
        issue = (not seq_done) and inputs_here and group_ready and len(fifo) < META_FIFO_DEPTH
        if fast and issue and scol == 0 and base_h >= 0:
            # Once the input is complete the block's input row no longer matters.
            key = (busy, bit, s1_valid, s1_last, o_valid, r_valid, r_count, finished,
                   tuple((row - srow, last) for row, last in fifo), rows_done - srow,
                   emit_row - srow, oh - srow * s_row, ow, a_e, complete, in_col,
                   (in_row, None) if complete else (in_row - q_h, r_h),
                   emitted - srow * s_row * wo)
            here = (srow, q_h, cycle, compute, merge_stall)
            if key in seen:
                then = seen[key]
                period, dq = srow - then[0], q_h - then[1]
                m = _periods(period, dq, srow, n_rows, oh, ho, s_row,
                             None if complete else H - 1 - max(in_row, base_h))
                if m:
                    rows = m * period
                    srow, rows_done, emit_row = srow + rows, rows_done + rows, emit_row + rows
                    in_row += 0 if complete else m * dq
                    q_h, r_h = _position(srow, q0, p_mod_s, s, zp)
                    oh, emitted = oh + rows * s_row, emitted + rows * s_row * wo
                    fifo = [(row + rows, last) for row, last in fifo]
                    cycle, compute, merge_stall = (cycle + m * (cycle - then[2]),
                                                   compute + m * (compute - then[3]),
                                                   merge_stall + m * (merge_stall - then[4]))
                    seen.clear()
                    here = (srow, q_h, cycle, compute, merge_stall)
            seen[key] = here
        if fast and issue and (complete or base_h < 0 or in_row > need_row):
            # Within a row, with the inputs of every later block of the row in the
            # buffer, the column matters only at the row's end: the same state two
            # issues apart repeats until then.
            if srow != seen_row:
                seen_cols.clear()
                seen_row = srow
            key = (busy, bit, s1_valid, s1_last, o_valid, r_valid, r_count, finished,
                   tuple(fifo), rows_done, emit_row, oh, ow, a_e, in_row, in_col, emitted)
            here = (scol, cycle, compute, merge_stall)
            if key in seen_cols:
                then = seen_cols[key]
                period = scol - then[0]
                m = max(0, (n_cols - 2 - scol - period) // period)
                if m:
                    scol += m * period
                    q_w, r_w = _position(scol, q0, p_mod_s, s, zp)
                    cycle, compute, merge_stall = (cycle + m * (cycle - then[1]),
                                                   compute + m * (compute - then[2]),
                                                   merge_stall + m * (merge_stall - then[3]))
                    seen_cols.clear()
                    here = (scol, cycle, compute, merge_stall)
            seen_cols[key] = here
        accept = (not complete) and (seq_done or in_row < q_h + row_slack)
        emit = (not finished) and emit_row < rows_done
        out_taken = r_valid
        if out_taken:
            emitted += r_count
            if emitted == ho * wo:
                return PassTiming(total_cycles=cycle + 1, compute_cycles=compute,
                                  first_issue=first_issue, merge_stall_cycles=merge_stall)
        stepping = busy and advance and not finish
        compute += stepping

        # -- register updates at the clock edge ------------------------------------------
        if advance:
            s1_next = stepping
            s1_last_next = stepping and bit == 0 if stepping else s1_last
            if busy:
                if bit == 0 or finish:
                    busy = False
                bit -= 1
            stepped += stepping
            if issue:
                busy, bit, stepped = True, B - 1, 0
                stop = stops[issued] if stops is not None else None
                issued += 1
            produce = s1_valid and (s1_last or finish)
            s1_valid, s1_last = s1_next, s1_last_next
        else:
            produce = False
        if take:
            o_valid = False
            rows_done += fifo.pop(0)[1]
        if produce:
            o_valid = True

        if issue:
            if first_issue is None:
                first_issue = cycle
            last_col = scol == n_cols - 1
            fifo.append((srow, last_col))
            if last_col:
                if srow == n_rows - 1:
                    seq_done = True
                srow += 1
                scol, q_w, r_w = 0, q0, p_mod_s
                r_h, q_h = _next_position(r_h, q_h, s, zp)
            else:
                scol += 1
                r_w, q_w = _next_position(r_w, q_w, s, zp)

        if accept:
            if in_col == W - 1:
                in_col = 0
                if in_row == H - 1:
                    complete = True
                in_row += 1
            else:
                in_col += 1

        if emit:
            count = min(beat, wo - ow)
            r_valid, r_count = True, count
            if count == wo - ow:
                ow = 0
                if oh == ho - 1:
                    finished = True
                oh += 1
                if a_e == s_row - 1:
                    a_e, emit_row = 0, emit_row + 1
                else:
                    a_e += 1
            else:
                ow += count
        else:
            r_valid = False
        cycle += 1
