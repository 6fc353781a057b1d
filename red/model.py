"""First-order analytical model of one RED tile running a deconvolution layer.

The model counts crossbar steps, cycles and circuit events for the three data flows the
tile supports (see ``../shared/RED_TILE.md``):

* ``"red"`` -- pixel-wise mapping with the zero-skipping data flow: one step per output
  block ``(qh, qw)``; group ``(kh, kw)`` reads input ``(qh - kh div s, qw - kw div s)``
  and produces output ``(qh*s + kh mod s - p, qw*s + kw mod s - p)``;
* ``"zp"`` -- zero insertion on the same arrays: one step per output pixel; every group
  is driven with its window value of the zero-inserted, padded input;
* ``"pf"`` -- padding-free: one step per input pixel; every group is driven and its
  result is overlap-added into a partial-sum buffer holding the uncropped map.

Assumptions
-----------
* One tile with one copy of the weights. A layer larger than the tile is split into
  ``passes = cin_tiles * cout_tiles`` passes (``cin_tiles = ceil(cin / rows)``,
  ``cout_tiles = ceil(cout / logical_cols)``) that run one after the other; each pass
  repeats the whole step sequence. The partial sums of the ``cin_tiles`` passes of an
  output channel are added digitally (counted in ``merge_additions``).
* The kernel is never split: the layer needs ``k <= tile.kernel``, and the stride and
  input size must also fit the tile (``tile.check_layer``); otherwise
  :class:`~red.config.ConfigError` is raised.
* A crossbar step takes ``in_bits`` cycles (one bit plane per cycle). Only the layer's
  ``k*k`` groups are counted; the tile's remaining groups are idle.
* Every per-event rule is stated on :class:`Estimate`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, get_args

from .config import KERNEL_MAX, ConfigError, LayerSpec, TileConfig
from .timing import pass_timing

__all__ = ["Mode", "MODES", "ISAAC_TILE", "Estimate", "estimate", "compare", "speedups",
           "sum_estimates", "pass_split"]

Mode = Literal["red", "zp", "pf"]
MODES: tuple[Mode, ...] = get_args(Mode)

#: ISAAC-style circuit defaults of RED_TILE.md (128x128 arrays, 2-bit cells, 16-bit
#: weights and inputs, 1-bit DAC, 8-bit ADC). ``kernel=KERNEL_MAX`` covers FCN-32s;
#: ``max_stride`` and ``max_in`` cover the evaluation workloads and ordinary ``--layer``
#: shapes. The output port carries up to ``max_stride`` pixels per beat (``min(32, s)``
#: per cycle), so it binds only where ``s*s/min(32, s) > in_bits``: FCN-32s (s=32).
ISAAC_TILE = TileConfig(rows=128, cols=128, cell_bits=2, w_bits=16, in_bits=16,
                        adc_bits=8, kernel=KERNEL_MAX, max_stride=32, max_in=4096,
                        out_pixels=32)

#: Fields of :class:`Estimate` that describe one layer and do not add across layers.
_PER_LAYER_FIELDS = ("mode", "cin_tiles", "cout_tiles", "steps")


@dataclass(frozen=True)
class Estimate:
    """Cycles and event counts of one layer on one tile in one mode.

    Event counts are totals over all passes. A *group step* is one crossbar group taking
    part in one step; it is *driven* when it is not gated.

    Attributes
    ----------
    mode : str
        ``"red"``, ``"zp"`` or ``"pf"``.
    passes, cin_tiles, cout_tiles : int
        ``passes = cin_tiles * cout_tiles``; see the module assumptions.
    steps : int
        Crossbar steps of one group in one pass: output blocks ``nb_h * nb_w`` (RED),
        output pixels ``Ho * Wo`` (ZP), input pixels ``H * W`` (PF).
    compute_cycles : int
        ``passes * steps * in_bits``.
    fill_drain_cycles : int
        RED and ZP: the tile's cycles beyond ``compute_cycles`` when input is offered
        every cycle and output always taken (pipeline fill, waits for input, output
        banks and port, drain), from the cycle-exact control model
        :func:`red.timing.pass_timing`, times ``passes`` (passes run back to back, each
        timed alone). PF has no RTL here: 0, first order.
    total_cycles : int
        ``compute_cycles + fill_drain_cycles``.
    load_cycles : int
        Weight programming, not part of ``total_cycles``: the tile programs one
        crossbar row of every group per cycle, so a pass takes the rows of its ``cin``
        slice; summed over passes ``cout_tiles * cin``. (One cycle per row is the
        digital port's rate; a physical ReRAM write takes longer per row.)
    group_activations : int
        Driven group steps. RED: a group step is gated, and not driven, when its input
        pixel lies outside ``[0,H) x [0,W)`` or its output pixel outside
        ``[0,Ho) x [0,Wo)``. ZP and PF gate nothing: ``steps * k*k`` per pass (ZP drives
        and converts inserted zeros and padding too).
    gated_group_steps : int
        ``passes * steps * k*k - group_activations`` (non-zero in RED mode only).
    wasted_group_steps : int
        Driven group steps that contribute no term of the deconvolution: ZP steps whose
        window value is an inserted zero or padding, PF steps whose result lands in the
        cropped-away border. 0 in RED mode, whose driven steps are exactly the terms.
    adc_conversions : int
        Per driven group step, ``in_bits`` planes times the pass's active physical
        columns ``active_cout * slices``; gated group steps convert nothing.
    row_drives : int
        DAC row drives: per driven group step, ``in_bits`` planes times the pass's
        active rows (its ``cin`` slice).
    input_buffer_reads : int
        Input values (one channel of one pixel) fetched from the input buffer. Each pass
        reads its ``cin`` slice of every buffered position once: the ``H * W`` raw pixels
        in RED (reused across blocks by the ``T x T`` window) and PF (broadcast to all
        groups); the ``(Ho+k-1) x (Wo+k-1)`` zero-inserted, padded map in ZP.
    merge_additions : int
        Two-operand additions that combine group results: a value that receives
        ``n >= 1`` results (from all groups and all ``cin_tiles`` passes) costs
        ``n - 1``, one with none costs nothing; counted per output channel. The
        shift-add and offset correction inside a group are not counted. The values are the output pixels in RED and ZP (ZP adds all
        ``k*k`` groups), and the positions of the uncropped
        ``((H-1)s+k+op) x ((W-1)s+k+op)`` map in PF (the overlap-add, including the
        positions cropped away).
    psum_buffer_reads, psum_buffer_writes : int
        PF only (0 otherwise), per output channel value of the uncropped map: every
        group result is written once; a read precedes every accumulating write (one per
        merge addition) and each of the ``Ho * Wo`` kept outputs is read once when the
        cropped map is emitted.
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
        themselves. PF (first order, no RTL): one read per step, broadcast to all
        groups, ``H * W``.
    out_buffer_writes, out_buffer_reads : int
        Output pixels (all channels of the pass's ``cout`` slice) inside
        ``[0,Ho) x [0,Wo)`` written into the output banks and read out of them:
        ``Ho * Wo`` each per pass in RED and ZP (one write per merged pixel, one read
        when it is emitted). PF (first order): 0, because PF's output storage is the
        partial-sum buffer, whose traffic ``psum_buffer_reads``/``psum_buffer_writes``
        already counts, the emitting read included.
    """

    mode: Mode
    passes: int
    cin_tiles: int
    cout_tiles: int
    steps: int
    compute_cycles: int
    fill_drain_cycles: int
    total_cycles: int
    load_cycles: int
    group_activations: int
    gated_group_steps: int
    wasted_group_steps: int
    adc_conversions: int
    row_drives: int
    input_buffer_reads: int
    merge_additions: int
    psum_buffer_reads: int
    psum_buffer_writes: int
    line_buffer_writes: int
    window_reads: int
    out_buffer_writes: int
    out_buffer_reads: int

    def as_dict(self) -> dict:
        """All fields, by name."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _AxisTerms:
    """Deconvolution terms along one axis; the 2-D counts are products of two axes."""

    terms: int
    """Pairs (input index ``i``, tap ``kh``) whose output ``i*s - p + kh`` is kept."""
    covered: int
    """Kept outputs that receive at least one term."""
    block_reads: int
    """Distinct pairs (input index ``i``, output block ``q = floor((o+p)/s)``) among the
    kept terms: in RED mode block ``q`` reads input ``i`` at window offset
    ``q - i = tap div s`` exactly when one of its driven groups needs it."""


def _axis_terms(n_in: int, n_out: int, k: int, s: int, p: int) -> _AxisTerms:
    """Count the terms that land in ``[0, n_out)`` along one axis."""
    kept = [(i, i * s - p + tap) for i in range(n_in) for tap in range(k)
            if 0 <= i * s - p + tap < n_out]
    return _AxisTerms(terms=len(kept), covered=len({o for _, o in kept}),
                      block_reads=len({(i, (o + p) // s) for i, o in kept}))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def pass_split(layer: LayerSpec, tile: TileConfig) -> tuple[int, int]:
    """``(cin_tiles, cout_tiles)``: how ``layer`` splits into passes on ``tile``.

    ``cin_tiles = ceil(cin / rows)`` and ``cout_tiles = ceil(cout / logical_cols)``; a
    layer runs in ``cin_tiles * cout_tiles`` passes (see the module assumptions).
    """
    return _ceil_div(layer.cin, tile.rows), _ceil_div(layer.cout, tile.logical_cols)


def _check_fits(layer: LayerSpec, tile: TileConfig) -> None:
    """Raise :class:`ConfigError` unless one pass of ``layer`` runs on ``tile``."""
    one_pass = dataclasses.replace(layer, cin=min(layer.cin, tile.rows),
                                   cout=min(layer.cout, tile.logical_cols))
    try:
        tile.check_layer(one_pass)
    except ConfigError as exc:
        raise ConfigError(f"{layer.name or layer}: {exc}") from None


def estimate(layer: LayerSpec, tile: TileConfig, mode: Mode) -> Estimate:
    """Estimate cycles and events of ``layer`` on ``tile`` in ``mode``.

    Parameters
    ----------
    layer : LayerSpec
        The deconvolution layer.
    tile : TileConfig
        The tile; the layer is split into passes over ``cin`` and ``cout``.
    mode : {"red", "zp", "pf"}
        The data flow.

    Returns
    -------
    Estimate
        Counts under the rules documented on :class:`Estimate`.

    Raises
    ------
    ConfigError
        Unknown ``mode``, or a kernel, stride or input size the tile cannot run.
    """
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is invalid: must be one of {', '.join(MODES)}")
    _check_fits(layer, tile)
    cin_tiles, cout_tiles = pass_split(layer, tile)
    passes = cin_tiles * cout_tiles
    groups = layer.k * layer.k
    along_h = _axis_terms(layer.h, layer.ho, layer.k, layer.s, layer.p)
    along_w = _axis_terms(layer.w, layer.wo, layer.k, layer.s, layer.p)
    terms = along_h.terms * along_w.terms            # useful group steps per pass

    if mode == "red":
        steps = layer.nb_h * layer.nb_w
        driven = terms                               # each term is one driven group step
        merged_values = along_h.covered * along_w.covered
        buffered_positions = layer.h * layer.w
        # Window reads are separable: a position is read iff its row offset is read
        # along h and its column offset along w.
        window_reads = along_h.block_reads * along_w.block_reads
        out_buffered = layer.ho * layer.wo           # blocks partition the output map
    elif mode == "zp":
        steps = layer.ho * layer.wo
        driven = steps * groups
        merged_values = steps
        # A stride-1 correlation with a k-wide window producing Ho outputs reads Ho+k-1.
        buffered_positions = layer.zp_h * layer.zp_w
        # A ZP step's phase fixes one group per window position: one read per term.
        window_reads = terms
        out_buffered = steps
    else:
        steps = layer.h * layer.w
        driven = steps * groups
        # The uncropped map is the output of the same layer without padding.
        full_h, full_w = (_axis_terms(n_in, n_full, layer.k, layer.s, 0)
                          for n_in, n_full in ((layer.h, layer.full_h), (layer.w, layer.full_w)))
        merged_values = full_h.covered * full_w.covered
        buffered_positions = steps
        window_reads = steps                         # one broadcast read per step
        out_buffered = 0                             # stored in the psum buffer instead

    results_per_channel = cin_tiles * driven
    merge_additions = layer.cout * (results_per_channel - merged_values)
    if mode == "pf":
        psum_buffer_writes = layer.cout * results_per_channel
        psum_buffer_reads = merge_additions + layer.cout * layer.ho * layer.wo
    else:
        psum_buffer_writes = psum_buffer_reads = 0

    compute_cycles = passes * steps * tile.in_bits
    if mode == "pf":
        fill_drain_cycles = 0                        # no RTL for PF: first order only
    else:
        fill_drain_cycles = passes * pass_timing(layer, tile, mode).total_cycles - compute_cycles
    return Estimate(
        mode=mode, passes=passes, cin_tiles=cin_tiles, cout_tiles=cout_tiles, steps=steps,
        compute_cycles=compute_cycles, fill_drain_cycles=fill_drain_cycles,
        total_cycles=compute_cycles + fill_drain_cycles,
        load_cycles=cout_tiles * layer.cin,
        group_activations=passes * driven,
        gated_group_steps=passes * (steps * groups - driven),
        wasted_group_steps=passes * (driven - terms),
        # Summed over passes, the active columns add up to cout once per cin tile and
        # the active rows to cin once per cout tile.
        adc_conversions=tile.in_bits * tile.slices * layer.cout * cin_tiles * driven,
        row_drives=tile.in_bits * layer.cin * cout_tiles * driven,
        input_buffer_reads=layer.cin * cout_tiles * buffered_positions,
        merge_additions=merge_additions,
        psum_buffer_reads=psum_buffer_reads,
        psum_buffer_writes=psum_buffer_writes,
        line_buffer_writes=passes * layer.h * layer.w,
        window_reads=passes * window_reads,
        out_buffer_writes=passes * out_buffered,
        out_buffer_reads=passes * out_buffered,
    )


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
