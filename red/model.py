"""Analytical model of one RED tile running a deconvolution layer, cycle-exact against
the RTL.

The model counts crossbar steps, cycles and circuit events for the three data flows the
tile supports (see ``../shared/RED_TILE.md``):

* ``"red"`` -- pixel-wise mapping with the zero-skipping data flow: one step per output
  block ``(qh, qw)``; group ``(kh, kw)`` reads input ``(qh - kh div s, qw - kw div s)``
  and produces output ``(qh*s + kh mod s - p, qw*s + kw mod s - p)``;
* ``"zp"`` -- zero insertion on the same arrays: one step per output pixel; every group
  is driven with its window value of the zero-inserted, padded input;
* ``"pf"`` -- padding-free: one step per input pixel; every group is driven and its
  result is overlap-added into a buffer of the uncropped map's rows, which drains
  cropped (:class:`red.rtl.overlap_add.OverlapAddBuffer`).

Assumptions
-----------
* One tile with one copy of the weights. A layer larger than the tile runs in the
  passes of :func:`red.mapping.schedule` (cout slices x cin slices x kernel folds), one
  after the other; each pass repeats the whole step sequence over its fold's kernel
  window. Passes after the first of a cout slice add the previous pass's output in the
  tile (``psum_additions``). The stride, input size, ``max_cin`` and ``max_k`` must fit
  the tile (``tile.check_layer``); otherwise :class:`~red.config.ConfigError` is raised.
* A crossbar step takes ``in_bits`` cycles (one bit plane per cycle). Only the groups
  inside the layer's kernel are counted; the tile's remaining groups are idle. With
  shared ADCs (``TileConfig.adcs_per_array``) a plane takes
  ``TileConfig.adc_cycles`` of the busiest driven group's converted columns: the
  pass's ``cout`` in a step with a driven group, else one cycle
  (:func:`plane_cycles`).
* Weight programming (``load_cycles``) is the digital port's rate, one crossbar row per
  cycle; the physical cost of reprogramming ReRAM between passes is reported
  separately, in the report (:func:`red.report.sweep.reprogramming`).
* Every per-event rule is stated on :class:`Estimate`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from .config import KERNEL_MAX, ConfigError, LayerSpec, TileConfig
from .counters import TILE_COUNTERS
from .early import EARLY_FLOWS, EarlySpec, deciding_pass, early_applies
from .mapping import Schedule, fold_extent, fold_offsets, schedule, slice_counts
from .modes import MODES, Mode
from .timing import pass_timing

__all__ = ["ISAAC_TILE", "Estimate", "estimate", "early_estimate",
           "compare", "speedups", "sum_estimates", "MIRRORED_COUNTERS",
           "steps_per_pass", "check_model_size", "MAX_MODEL_CYCLES", "MAX_MODEL_PASS_GROUPS"]

#: ISAAC-style circuit defaults of RED_TILE.md (128x128 arrays, 2-bit cells, 16-bit
#: weights and inputs, 1-bit DAC, 8-bit ADC). ``kernel=KERNEL_MAX`` covers FCN-32s;
#: ``max_stride`` and ``max_in`` cover the evaluation workloads and ordinary ``--layer``
#: shapes. The output port carries up to ``max_stride`` pixels per beat (``min(32, s)``
#: per cycle), so it binds only where ``s*s/min(32, s) > in_bits``: FCN-32s (s=32).
ISAAC_TILE = TileConfig(rows=128, cols=128, cell_bits=2, w_bits=16, in_bits=16,
                        adc_bits=8, kernel=KERNEL_MAX, max_stride=32, max_in=4096,
                        out_pixels=32)

#: Largest layer the model takes, by the work an estimate does. Per kernel fold it
#: simulates the tile's control cycle by cycle (:func:`red.timing.pass_timing`, half a
#: million to a million cycles a second): at most ``MAX_MODEL_CYCLES`` over the folds
#: and RTL modes estimated, 10 to 20 s. It lists every pass with a flag per crossbar group
#: (:func:`red.mapping.schedule`): at most ``MAX_MODEL_PASS_GROUPS`` passes x groups,
#: about 2 s and 300 MB. On the ISAAC tile the evaluation workloads need at most two
#: thirds of the first and a thirtieth of the second.
MAX_MODEL_CYCLES = 1 << 23
MAX_MODEL_PASS_GROUPS = 1 << 25

#: Fields of :class:`Estimate` that describe one layer and do not add across layers.
_PER_LAYER_FIELDS = ("mode", "cin_tiles", "cout_tiles", "folds", "steps")



@dataclass(frozen=True)
class Estimate:
    """Cycles and event counts of one layer on one tile in one mode.

    Event counts are totals over all passes. A *group step* is one crossbar group taking
    part in one step; it is *driven* when it is not gated.

    Attributes
    ----------
    mode : str
        ``"red"``, ``"zp"`` or ``"pf"``.
    passes, cin_tiles, cout_tiles, folds : int
        ``passes = cin_tiles * cout_tiles * folds`` (:func:`red.mapping.schedule`).
    steps : int
        Crossbar steps of one group in one pass: output blocks ``nb_h * nb_w`` (RED),
        output pixels ``Ho * Wo`` (ZP), input pixels ``H * W`` (PF).
    compute_cycles : int
        ``passes * steps * in_bits``; with shared ADCs, the cycles of every step's
        planes (:func:`plane_cycles`), hold cycles included.
    fill_drain_cycles : int
        The tile's cycles beyond ``compute_cycles`` when input is offered every cycle
        and output always taken (pipeline fill, waits for input, output banks or PF's
        overlap-add buffer, output port, drain), from the cycle-exact control model
        :func:`red.timing.pass_timing`, summed over the passes (each timed alone, with
        its fold).
    total_cycles : int
        ``compute_cycles + fill_drain_cycles``.
    load_cycles : int
        Weight programming, not part of ``total_cycles``: the tile programs one
        crossbar row of every group per cycle, so a pass takes the rows of its ``cin``
        slice; summed over passes ``cout_tiles * folds * cin``. (One cycle per row is
        the digital port's rate; a physical ReRAM write takes longer per row, see
        :func:`red.report.sweep.reprogramming`.)
    group_activations : int
        Driven group steps. RED: a group step is gated, and not driven, when its input
        pixel lies outside ``[0,H) x [0,W)`` or its output pixel outside
        ``[0,Ho) x [0,Wo)``. ZP and PF gate nothing: every step drives the fold's
        groups inside the kernel, ``steps * k*k`` per cin and cout slice over the folds
        (ZP drives and converts inserted zeros and padding too).
    gated_group_steps : int
        ``cin_tiles * cout_tiles * steps * k*k - group_activations`` (non-zero in RED
        mode only).
    wasted_group_steps : int
        Driven group steps that contribute no term of the deconvolution: ZP steps whose
        window value is an inserted zero or padding, PF steps whose result lands in the
        cropped-away border. 0 in RED mode, whose driven steps are exactly the terms.
    crossbar_steps : int
        Bit planes applied to a crossbar array: ``in_bits`` per driven group step (fewer
        with early termination, which ends steps early).
    adc_conversions : int
        Per driven group step, ``in_bits`` planes times the pass's active physical
        columns ``active_cout * slices``; gated group steps convert nothing.
    row_drives : int
        DAC row drives: per driven group step, ``in_bits`` planes times the pass's
        active rows (its ``cin`` slice).
    input_buffer_reads : int
        Input values (one channel of one pixel) fetched from the input buffer. Each pass
        reads its ``cin`` slice of every buffered position it uses once: in RED the raw
        pixels its fold's driven groups read (reused across blocks by the window; all
        ``H * W`` without folds, unless padding crops a pixel's every term), in PF all
        ``H * W`` (broadcast to all groups); in ZP the part of the zero-inserted, padded map its fold's kernel window
        covers, ``(Ho+e_h-1) x (Wo+e_w-1)`` for a window of ``e_h x e_w`` (the whole
        ``(Ho+k-1) x (Wo+k-1)`` map without folds).
    merge_additions : int
        Two-operand additions that combine the group results of one step, per output
        channel of the pass: in RED mode a value that receives ``n >= 1`` results
        costs ``n - 1``, one with none costs nothing; in ZP mode every step adds all of
        its fold's groups (``area - 1``). The shift-add and offset correction inside a
        group are not counted. PF: 0 (its additions are ``psum_buffer_accumulations``).
    psum_additions : int
        Partial sums added to the outputs of the passes that accumulate (all but the
        first of each cout slice), ``Ho * Wo`` pixels per pass, per output channel of
        the pass.
    psum_buffer_reads, psum_buffer_writes, psum_buffer_accumulations : int
        PF only (0 otherwise), values (one output channel of one pixel) of the
        overlap-add buffer: every kept group result (its output inside the map) is a
        read-modify-write, one read, one addition and one write per channel of the
        pass; each of the ``Ho * Wo`` outputs of a pass is read once when emitted and
        cleared by one write. Results for the cropped border are dropped before the
        buffer (``wasted_group_steps``).
    line_buffer_writes : int
        Raw input pixels written into the line buffer: ``H * W`` per pass (each pixel,
        all channels of the pass's ``cin`` slice, streams in once). The same in every
        mode: ZP's inserted zeros and padding are generated, never stored.
    window_reads : int
        Raw pixels read out of the line buffer, per pass summed over the steps; a pixel
        that several groups use in one step is read once, zeros and padding are not
        reads. RED: per step, the distinct window positions ``(kh div s, kw div s)`` of
        the driven groups, i.e. the distinct (input pixel, output block) pairs of the
        deconvolution's terms. ZP: per step (output pixel) the groups of its phase
        whose raw pixel lies inside the input, one position each, i.e. the terms
        themselves. PF: one read per step, broadcast to all groups, ``H * W``.
    psum_bank_writes, psum_bank_reads : int
        Early termination's partial-sum bank (:class:`red.rtl.psum_bank.PartialSumBank`;
        0 without it): in a deciding pass that accumulates, the ``Ho * Wo`` output
        pixels of the earlier passes' sums, each written once and read once by its step.
    decided_outputs, skipped_conversions, skipped_cycles : int
        Early termination (:mod:`red.early`; 0 without it, see :func:`early_estimate`):
        outputs (one channel of one pixel) decided before their last plane; ADC
        conversions not made because of it (``adc_conversions`` counts only those
        made); step cycles saved, ``in_bits - n - 1`` for a step stopped after ``n``
        planes. ``compute_cycles`` then counts the planes applied, and ``row_drives``
        and ``adc_conversions`` those applied and converted.
    skipped_blocks, skipped_passes : int
        Sparse mappings (:mod:`red.sparsity`; 0 otherwise): groups inside the kernel
        gated for a whole pass because their weight block is empty, in the passes that
        run; passes dropped because all their blocks are empty (each would have had
        every group of its fold empty). The other counts then cover only the groups
        and passes that run (a gated group drives, converts and programs nothing).
    out_buffer_writes, out_buffer_reads : int
        Output pixels (all channels of the pass's ``cout`` slice) inside
        ``[0,Ho) x [0,Wo)`` written into the output banks and read out of them:
        ``Ho * Wo`` each per pass in RED and ZP (one write per merged pixel, one read
        when it is emitted). PF: 0, because PF's output storage is the overlap-add
        buffer, whose traffic ``psum_buffer_reads``/``psum_buffer_writes`` counts, the
        emitting read included.
    """

    mode: Mode
    passes: int
    cin_tiles: int
    cout_tiles: int
    folds: int
    steps: int
    compute_cycles: int
    fill_drain_cycles: int
    total_cycles: int
    load_cycles: int
    group_activations: int
    gated_group_steps: int
    wasted_group_steps: int
    crossbar_steps: int
    adc_conversions: int
    row_drives: int
    input_buffer_reads: int
    merge_additions: int
    psum_additions: int
    psum_buffer_reads: int
    psum_buffer_writes: int
    psum_buffer_accumulations: int
    line_buffer_writes: int
    window_reads: int
    out_buffer_writes: int
    out_buffer_reads: int
    psum_bank_writes: int = 0
    psum_bank_reads: int = 0
    decided_outputs: int = 0
    skipped_conversions: int = 0
    skipped_cycles: int = 0
    skipped_blocks: int = 0
    skipped_passes: int = 0

    def as_dict(self) -> dict:
        """All fields, by name."""
        return dataclasses.asdict(self)


#: The tile's hardware counters, summed over a layer's passes, that an
#: :class:`Estimate` field of the same name predicts exactly (stall-free runs).
MIRRORED_COUNTERS = tuple(name for name in TILE_COUNTERS
                          if name in {f.name for f in dataclasses.fields(Estimate)}
                          and name not in _PER_LAYER_FIELDS)


@dataclass(frozen=True)
class _AxisTerms:
    """Deconvolution terms along one axis; the 2-D counts are products of two axes."""

    terms: int
    """Pairs (input index ``i``, tap ``kh``) whose output ``i*s - p + kh`` is kept."""
    covered: int
    """Kept outputs that receive at least one term."""
    inputs: int
    """Distinct input indices ``i`` among the kept terms."""
    block_reads: int
    """Distinct pairs (input index ``i``, output block ``q = floor((o+p)/s)``) among the
    kept terms: in RED mode block ``q`` reads input ``i`` at window offset
    ``q - i = tap div s`` exactly when one of its driven groups needs it."""


def _axis_terms(n_in: int, n_out: int, taps: range, s: int, p: int) -> _AxisTerms:
    """Count the terms of kernel taps ``taps`` that land in ``[0, n_out)`` along one
    axis."""
    kept = [(i, i * s - p + tap) for i in range(n_in) for tap in taps
            if 0 <= i * s - p + tap < n_out]
    return _AxisTerms(terms=len(kept), covered=len({o for _, o in kept}),
                      inputs=len({i for i, _ in kept}),
                      block_reads=len({(i, (o + p) // s) for i, o in kept}))


def _fold_terms(n_in: int, n_out: int, k: int, kernel: int, s: int,
                p: int) -> list[_AxisTerms]:
    """:func:`_axis_terms` of each fold window along one axis."""
    return [_axis_terms(n_in, n_out, range(start, min(start + kernel, k)), s, p)
            for start in fold_offsets(k, kernel)]


def estimate(layer: LayerSpec, tile: TileConfig, mode: Mode, blocks=None) -> Estimate:
    """Estimate cycles and events of ``layer`` on ``tile`` in ``mode``.

    Parameters
    ----------
    layer : LayerSpec
        The deconvolution layer, of any size the tile accepts (``tile.check_layer``).
    tile : TileConfig
        The tile; the layer runs in the passes of :func:`red.mapping.schedule`.
    mode : {"red", "zp", "pf"}
        The data flow.
    blocks : bool array, optional
        A sparse mapping's block mask (:func:`red.sparsity.block_mask` of the reordered
        weights): empty blocks are gated and empty passes dropped
        (:func:`red.mapping.schedule`). RED and ZP only.

    Returns
    -------
    Estimate
        Counts under the rules documented on :class:`Estimate`.

    Raises
    ------
    ConfigError
        Unknown ``mode``, or a layer the tile cannot run.
    """
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is invalid: must be one of {', '.join(MODES)}")
    try:
        plan = schedule(layer, tile, blocks)
    except ConfigError as exc:
        raise ConfigError(f"{layer.name or layer}: {exc}") from None
    if plan.sparse or tile.adcs_per_array:
        return _per_pass_estimate(plan, mode)
    return _estimate(plan, mode)


def steps_per_pass(layer: LayerSpec, mode: Mode) -> int:
    """Crossbar steps of one group in one pass (:attr:`Estimate.steps`): output blocks
    ``nb_h * nb_w`` (RED), output pixels ``Ho * Wo`` (ZP), input pixels ``H * W`` (PF)."""
    return {"red": layer.nb_h * layer.nb_w, "zp": layer.ho * layer.wo,
            "pf": layer.h * layer.w}[mode]


def check_model_size(layer: LayerSpec, tile: TileConfig, modes=MODES) -> None:
    """Refuse, before any work, a layer too large to estimate in ``modes`` on ``tile``
    (:data:`MAX_MODEL_CYCLES`, :data:`MAX_MODEL_PASS_GROUPS`).

    Raises
    ------
    ConfigError
        One line with the layer's count and the limit.
    """
    cin_tiles, cout_tiles, folds = slice_counts(layer, tile)
    passes = cin_tiles * cout_tiles * folds
    if passes * tile.groups > MAX_MODEL_PASS_GROUPS:
        raise ConfigError(f"{layer.name or layer}: too large to model: {passes} passes of "
                          f"{tile.groups} crossbar groups, the model takes at most "
                          f"{MAX_MODEL_PASS_GROUPS} passes x groups")
    # A pass takes at least its steps' planes and one cycle per input pixel; with shared
    # ADCs a driven step's planes take the pass's ADC cycles each.
    plane = tile.adc_cycles(min(layer.cout, tile.logical_cols))
    cycles = sum(folds * (steps_per_pass(layer, mode) * tile.in_bits * plane
                          + layer.h * layer.w) for mode in modes)
    if cycles > MAX_MODEL_CYCLES:
        raise ConfigError(f"{layer.name or layer}: too large to model: its timing "
                          f"simulates about {cycles} control cycles, the model takes at "
                          f"most {MAX_MODEL_CYCLES}")


def _taps_in(n_in: int, n_out: int, tap: int, s: int, p: int) -> np.ndarray:
    """Along one axis, the inputs ``i`` whose term with kernel tap ``tap`` lands in
    ``[0, n_out)``, as a boolean vector."""
    out = np.arange(n_in) * s - p + tap
    return (out >= 0) & (out < n_out)


def _driven_steps(layer: LayerSpec, mode: Mode, active: list[tuple[int, int]],
                  rows: list[np.ndarray], cols: list[np.ndarray]) -> np.ndarray:
    """Per step of a pass in issue order, whether one of its groups is driven, given
    the pass's ``active`` (not gated for the pass) kernel pixels and, per tap, the
    inputs whose term lands in the output (``rows``, ``cols``). ZP and PF drive every
    active group in every step; RED drives group ``(kh, kw)`` of block ``q`` when its
    input ``q - k div s`` is such an input (:class:`~red.rtl.tile.RedTile`)."""
    if mode != "red":
        return np.full(steps_per_pass(layer, mode), bool(active))
    s, q0 = layer.s, layer.p // layer.s

    def along(n_in: int, n_blocks: int, taps: np.ndarray, tap: int) -> np.ndarray:
        i = np.arange(n_blocks) + q0 - tap // s
        inside = (i >= 0) & (i < n_in)
        return inside & taps[np.clip(i, 0, n_in - 1)]

    driven = np.zeros((layer.nb_h, layer.nb_w), dtype=bool)
    for kh, kw in active:
        driven |= np.outer(along(layer.h, layer.nb_h, rows[kh], kh),
                           along(layer.w, layer.nb_w, cols[kw], kw))
    return driven.ravel()


def plane_cycles(tile: TileConfig, converted: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Shared ADCs: per step, its planes' cycles (:func:`red.timing.pass_timing`) from
    ``converted[step, plane]``, the logical columns the busiest driven group of the step
    converts in each plane (``TileConfig.adc_cycles``)."""
    table = np.array([tile.adc_cycles(n) for n in range(tile.logical_cols + 1)])
    return tuple(map(tuple, table[converted].tolist()))


def _per_pass_estimate(plan: Schedule, mode: Mode) -> Estimate:
    """:func:`estimate` counted pass by pass and group by group, so that any set of
    groups may be gated (sparse schedules), and step by step with shared ADCs. Without
    gated groups or shared ADCs it equals the closed forms of :func:`_estimate`, which
    the tests check."""
    layer, tile = plan.layer, plan.tile
    K, B, S = tile.kernel, tile.in_bits, tile.slices
    s, p = layer.s, layer.p
    zp = mode == "zp"
    steps = steps_per_pass(layer, mode)
    rows = [_taps_in(layer.h, layer.ho, t, s, p) for t in range(layer.k)]
    cols = [_taps_in(layer.w, layer.wo, t, s, p) for t in range(layer.k)]
    totals = dict.fromkeys(("total_cycles", "load_cycles", "group_activations",
                            "gated_group_steps", "wasted_group_steps", "crossbar_steps",
                            "adc_conversions",
                            "row_drives", "input_buffer_reads", "merge_additions",
                            "psum_additions", "window_reads", "skipped_blocks",
                            "psum_buffer_reads", "psum_buffer_writes",
                            "psum_buffer_accumulations", "compute_cycles"), 0)
    for run in plan:
        cin, cout = len(run.cin), len(run.cout)
        taps = [(run.kh0 + g // K, run.kw0 + g % K) for g in range(K * K)
                if run.kh0 + g // K < layer.k and run.kw0 + g % K < layer.k]
        active = [(kh, kw) for kh, kw in taps if not run.empty[(kh - run.kh0) * K + kw - run.kw0]]
        terms = sum(int(rows[kh].sum()) * int(cols[kw].sum()) for kh, kw in active)
        used = np.zeros((layer.h, layer.w), dtype=bool)          # input pixels read
        covered = np.zeros((layer.ho, layer.wo), dtype=bool)      # outputs with a term
        positions: dict[tuple[int, int], np.ndarray] = {}         # window offset -> pixels
        for kh, kw in active:
            pixels = np.outer(rows[kh], cols[kw])
            used |= pixels
            out_h, out_w = np.flatnonzero(rows[kh]) * s - p + kh, np.flatnonzero(cols[kw]) * s - p + kw
            covered[np.ix_(out_h, out_w)] = True
            key = (kh // s, kw // s)
            positions[key] = positions.get(key, np.zeros_like(pixels)) | pixels
        buffer_values = 0                                         # PF's overlap-add buffer
        if mode == "pf":
            driven = steps * len(active)
            additions = 0
            buffered = layer.h * layer.w
            window_reads = steps if active else 0
            totals["psum_buffer_accumulations"] += cout * terms
            buffer_values = cout * (terms + layer.ho * layer.wo)
        elif zp:
            driven = steps * len(active)
            additions = steps * max(len(active) - 1, 0)
            extent_h, extent_w = (fold_extent(layer.k, K, run.kh0),
                                  fold_extent(layer.k, K, run.kw0))
            buffered = (layer.ho + extent_h - 1) * (layer.wo + extent_w - 1)
            window_reads = terms
        else:
            driven = terms
            additions = terms - int(covered.sum())
            buffered = int(used.sum())
            # A block reads an input pixel once, whichever of its groups use it.
            window_reads = sum(int(pixels.sum()) for pixels in positions.values())
        cycles = None
        if tile.adcs_per_array:
            driven_steps = _driven_steps(layer, mode, active, rows, cols)
            cycles = plane_cycles(tile, np.repeat(np.where(driven_steps, cout, 0)[:, None],
                                                  B, axis=1))
            totals["compute_cycles"] += sum(map(sum, cycles))
        else:
            totals["compute_cycles"] += steps * B
        totals["total_cycles"] += pass_timing(layer, tile, mode, run.kh0, run.kw0,
                                              plane_cycles=cycles).total_cycles
        totals["load_cycles"] += cin
        totals["group_activations"] += driven
        totals["gated_group_steps"] += steps * len(active) - driven
        totals["wasted_group_steps"] += driven - terms
        totals["crossbar_steps"] += B * driven
        totals["adc_conversions"] += B * S * cout * driven
        totals["row_drives"] += B * cin * driven
        totals["input_buffer_reads"] += cin * buffered
        totals["merge_additions"] += cout * additions
        totals["psum_additions"] += layer.ho * layer.wo * cout if run.accumulate else 0
        totals["window_reads"] += window_reads
        totals["skipped_blocks"] += len(taps) - len(active)
        totals["psum_buffer_reads"] += buffer_values
        totals["psum_buffer_writes"] += buffer_values
    passes = len(plan)
    out_buffered = 0 if mode == "pf" else passes * layer.ho * layer.wo
    return Estimate(
        mode=mode, passes=passes, cin_tiles=plan.cin_tiles, cout_tiles=plan.cout_tiles,
        folds=plan.folds, steps=steps,
        fill_drain_cycles=totals["total_cycles"] - totals["compute_cycles"],
        line_buffer_writes=passes * layer.h * layer.w,
        out_buffer_writes=out_buffered, out_buffer_reads=out_buffered,
        skipped_passes=plan.skipped_passes, **totals)


def _estimate(plan: Schedule, mode: Mode) -> Estimate:
    layer, tile = plan.layer, plan.tile
    cin_tiles, cout_tiles, folds = plan.cin_tiles, plan.cout_tiles, plan.folds
    passes = len(plan)
    slices = cin_tiles * cout_tiles                  # passes per fold
    kernel = tile.kernel
    along_h = _fold_terms(layer.h, layer.ho, layer.k, kernel, layer.s, layer.p)
    along_w = _fold_terms(layer.w, layer.wo, layer.k, kernel, layer.s, layer.p)

    def over_folds(quantity) -> int:
        """Sum of a separable per-fold quantity over all (row, column) fold pairs."""
        return sum(map(quantity, along_h)) * sum(map(quantity, along_w))

    terms = over_folds(lambda a: a.terms)            # useful group steps, all folds
    groups = layer.k * layer.k                       # group steps per step, all folds
    steps = steps_per_pass(layer, mode)
    if mode == "red":
        driven = terms                               # each term is one driven group step
        # In a step, the results of a fold that land on one output pixel are added.
        additions = terms - over_folds(lambda a: a.covered)
        buffered_positions = over_folds(lambda a: a.inputs)
        # Window reads are separable: a position is read iff its row offset is read
        # along h and its column offset along w.
        window_reads = over_folds(lambda a: a.block_reads)
        out_buffered = layer.ho * layer.wo           # blocks partition the output map
    elif mode == "zp":
        driven = steps * groups
        additions = driven - steps * folds           # every step adds all its groups
        # A stride-1 correlation with a k-wide window producing Ho outputs reads Ho+k-1;
        # a fold's window is its part of the kernel.
        extents = [fold_extent(layer.k, kernel, start)
                   for start in fold_offsets(layer.k, kernel)]
        buffered_positions = (sum(layer.ho + e - 1 for e in extents)
                              * sum(layer.wo + e - 1 for e in extents))
        # A ZP step's phase fixes one group per window position: one read per term.
        window_reads = terms
        out_buffered = steps
    else:
        driven = steps * groups
        additions = 0                                # PF adds in its overlap-add buffer
        buffered_positions = steps * folds
        window_reads = steps * folds                 # one broadcast read per step
        out_buffered = 0                             # stored in the overlap-add buffer

    # Per pass, the additions count once per output channel of its cout slice.
    merge_additions = cin_tiles * layer.cout * additions
    psum_additions = (cin_tiles * folds - 1) * layer.ho * layer.wo * layer.cout
    # PF: a read-modify-write per kept result, a read and a clear per emitted output.
    accumulations = cin_tiles * layer.cout * terms if mode == "pf" else 0
    psum_buffer = (accumulations + passes // cout_tiles * layer.ho * layer.wo * layer.cout
                   if mode == "pf" else 0)
    compute_cycles = passes * steps * tile.in_bits
    # Timed once per fold: every pass of a fold takes the same cycles.
    runs = Counter((p.kh0, p.kw0) for p in plan)
    fill_drain_cycles = sum(n * pass_timing(layer, tile, mode, kh0, kw0).total_cycles
                            for (kh0, kw0), n in runs.items()) - compute_cycles
    return Estimate(
        mode=mode, passes=passes, cin_tiles=cin_tiles, cout_tiles=cout_tiles, folds=folds,
        steps=steps, compute_cycles=compute_cycles, fill_drain_cycles=fill_drain_cycles,
        total_cycles=compute_cycles + fill_drain_cycles,
        load_cycles=cout_tiles * folds * layer.cin,
        group_activations=slices * driven,
        gated_group_steps=slices * (steps * groups - driven),
        wasted_group_steps=slices * (driven - terms),
        crossbar_steps=tile.in_bits * slices * driven,
        # Summed over passes, the active columns add up to cout once per cin tile and
        # fold, and the active rows to cin once per cout tile and fold.
        adc_conversions=tile.in_bits * tile.slices * layer.cout * cin_tiles * driven,
        row_drives=tile.in_bits * layer.cin * cout_tiles * driven,
        input_buffer_reads=layer.cin * cout_tiles * buffered_positions,
        merge_additions=merge_additions,
        psum_additions=psum_additions,
        psum_buffer_reads=psum_buffer,
        psum_buffer_writes=psum_buffer,
        psum_buffer_accumulations=accumulations,
        line_buffer_writes=passes * layer.h * layer.w,
        window_reads=slices * window_reads,
        out_buffer_writes=passes * out_buffered,
        out_buffer_reads=passes * out_buffered,
    )


def early_estimate(layer: LayerSpec, tile: TileConfig, mode: Mode, early: EarlySpec,
                   outcome) -> Estimate:
    """:func:`estimate` of a RED or ZP run with early termination ``early``.

    Which outputs are decided, and after how many planes, depends on the data: it comes
    from ``outcome``, :func:`red.golden.early_deconv2d` of the same layer, data and flow.
    A step ends once every output that a driven group feeds is decided (at once if there
    is none); its cycles come from the control model with those stops
    (:func:`red.timing.pass_timing`). Early termination runs only in the last pass of
    each cout slice (:func:`red.early.deciding_pass`), which, after other passes, takes
    its partial sums ahead of its steps (``psum``); the other passes run plain. Where
    it does not apply (:func:`red.early.early_applies`), the plain estimate is returned.
    With shared ADCs a plane's cycles follow the columns the step's busiest driven
    group still converts (:func:`plane_cycles`).
    """
    base = estimate(layer, tile, mode)
    if mode not in EARLY_FLOWS or not early_applies(layer, tile, early):
        return base
    B, S = tile.in_bits, tile.slices
    oh, ow = np.arange(layer.ho)[:, None], np.arange(layer.wo)[None, :]
    if mode == "red":
        q0 = layer.p // layer.s
        n_cols = layer.nb_w
        step = ((oh + layer.p) // layer.s - q0) * n_cols + (ow + layer.p) // layer.s - q0
        n_steps = layer.nb_h * n_cols
    else:
        step = oh * layer.wo + ow
        n_steps = layer.ho * layer.wo
    step = np.broadcast_to(step, (layer.ho, layer.wo)).ravel()
    feeders = outcome.feeders.ravel()
    # Driven groups of a step: in RED each feeds one output pixel of the block.
    live = np.bincount(step, weights=feeders, minlength=n_steps).astype(np.int64)
    totals = dict(total_cycles=0, compute_cycles=0, crossbar_steps=0, row_drives=0,
                  adc_conversions=0, decided_outputs=0, skipped_conversions=0,
                  skipped_cycles=0, psum_bank_writes=0, psum_bank_reads=0)
    for run in schedule(layer, tile):
        planes = outcome.planes[run.cout].reshape(len(run.cout), -1)
        decided = outcome.decided[run.cout].reshape(len(run.cout), -1)
        deciding = deciding_pass(run)
        if not deciding:    # early termination is off in this pass
            planes, decided = np.full_like(planes, B), np.zeros_like(decided)
        blocking = np.broadcast_to(feeders > 0, planes.shape)
        pending = np.bincount(step, weights=(blocking & ~decided).sum(axis=0),
                              minlength=n_steps)
        last = np.zeros(n_steps, dtype=np.int64)
        np.maximum.at(last, step, np.where(blocking, planes, 0).max(axis=0))
        last = np.maximum(last, 1)
        finished = (pending == 0) & deciding
        stepped = np.where(finished, last, B)
        stops = tuple(int(n) if done else None for n, done in zip(last, finished))
        psum = deciding and run.accumulate
        cycles = _early_plane_cycles(tile, planes, feeders > 0, step, n_steps)
        totals["total_cycles"] += pass_timing(layer, tile, mode, run.kh0, run.kw0,
                                              stops if deciding else None,
                                              psum=psum, plane_cycles=cycles).total_cycles
        totals["psum_bank_writes"] += psum * layer.ho * layer.wo
        totals["psum_bank_reads"] += psum * layer.ho * layer.wo
        totals["compute_cycles"] += (int(stepped.sum()) if cycles is None else
                                     sum(sum(c[:n]) for c, n in zip(cycles, stepped)))
        totals["crossbar_steps"] += int((live * stepped).sum())
        totals["row_drives"] += len(run.cin) * int((live * stepped).sum())
        totals["adc_conversions"] += S * int((feeders * planes).sum())
        totals["skipped_conversions"] += S * int((feeders * (B - planes)).sum())
        totals["skipped_cycles"] += int((B - last - 1)[finished].sum())
        totals["decided_outputs"] += int(decided.sum())
    return dataclasses.replace(
        base, **totals, fill_drain_cycles=totals["total_cycles"] - totals["compute_cycles"])


def _early_plane_cycles(tile: TileConfig, planes: np.ndarray, fed: np.ndarray,
                        step: np.ndarray, n_steps: int):
    """Shared ADCs under early termination: per step, its planes' cycles
    (:func:`plane_cycles`) from the columns each fed output still converts in each plane
    (``planes[j, o]``: the planes output ``o`` converts in channel ``j``); ``None``
    without shared ADCs."""
    if not tile.adcs_per_array:
        return None
    B = tile.in_bits
    open_columns = (planes[None, :, :] > np.arange(B)[:, None, None]).sum(axis=1)
    busiest = np.zeros((n_steps, B), dtype=np.int64)
    np.maximum.at(busiest, step[fed], open_columns[:, fed].T)
    return plane_cycles(tile, busiest)


def compare(layer: LayerSpec, tile: TileConfig) -> dict:
    """Estimates of all three modes and RED's speed-ups.

    Returns
    -------
    dict
        ``{"red": Estimate, "zp": Estimate, "pf": Estimate, "red_vs_zp": float,
        "red_vs_pf": float}`` with ``red_vs_zp = zp.total_cycles / red.total_cycles``
        and ``red_vs_pf = pf.total_cycles / red.total_cycles``.
    """
    estimates = {mode: estimate(layer, tile, mode) for mode in MODES}
    return {**estimates,
            **speedups({mode: est.total_cycles for mode, est in estimates.items()})}


def speedups(cycles: Mapping[str, int]) -> dict[str, float]:
    """RED's speed-ups from total cycles per mode: ``{"red_vs_zp": zp / red,
    "red_vs_pf": pf / red}``."""
    return {"red_vs_zp": cycles["zp"] / cycles["red"],
            "red_vs_pf": cycles["pf"] / cycles["red"]}


def sum_estimates(estimates: Iterable[Estimate]) -> dict[str, int]:
    """Totals over several layers of every field that adds up across layers.

    ``mode``, ``cin_tiles``, ``cout_tiles`` and ``steps`` describe a single layer and are
    left out.
    """
    totals: dict[str, int] = {}
    for est in estimates:
        for name, value in est.as_dict().items():
            if name not in _PER_LAYER_FIELDS:
                totals[name] = totals.get(name, 0) + value
    return totals
