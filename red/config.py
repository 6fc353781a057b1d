"""Tile and layer configurations, and every quantity derived from them.

This module is the one place where a width, a count or a size is derived from the
generation parameters (:class:`TileConfig`) or the layer shape (:class:`LayerSpec`).
The golden model, the analytical model, the RTL and the tests all import these
definitions; none of them re-derives a width on its own.

Both classes are frozen dataclasses validated on construction: an invalid value raises
:class:`ConfigError` naming the field, the value and the limit it breaks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from red.modes import RTL_MODES

__all__ = [
    "ConfigError", "TileConfig", "LayerSpec", "signed_width", "unsigned_width",
    "lossless_adc_bits", "parse_kv", "load_toml", "COUNTER_WIDTH", "KERNEL_MAX", "META_FIFO_DEPTH",
    "EXACT_BITS", "PAPER_TILE", "MAX_CIN", "pf_tile",
]

#: Width of every hardware event and cycle counter: 2^48 events outlast any simulation.
COUNTER_WIDTH = 48

#: Widest signed result the golden model's int64 arithmetic holds exactly.
EXACT_BITS = 63

#: Depth of the tile's step-metadata FIFO: steps in flight in the group pipeline (the
#: RTL and the timing model both use it).
META_FIFO_DEPTH = 4

#: Largest kernel a TileConfig accepts (FCN-32s's upscore layer has K=64).
KERNEL_MAX = 64

#: Largest ``max_cin`` a TileConfig accepts.
MAX_CIN = 65536

#: Largest tiles the RTL generator builds (the analytical model takes any TileConfig):
#: crossbar groups (``kernel^2``; a larger layer kernel runs as folds) and crossbar cells
#: over all groups (``kernel^2 * rows * cols``). The paper tile has 25 groups and 409,600
#: cells and generates in about 18 s; generation and build time grow with both.
MAX_RTL_GROUPS = 64
MAX_RTL_CELLS = 1 << 21


class ConfigError(ValueError):
    """An invalid configuration value. The message names the field, value and limit."""


def unsigned_width(maximum: int) -> int:
    """Bits of an unsigned number that holds every value in ``[0, maximum]``."""
    if maximum < 0:
        raise ValueError(f"unsigned_width: maximum={maximum} is negative")
    return max(1, maximum.bit_length())


def signed_width(lo: int, hi: int) -> int:
    """Bits of a two's complement number that holds every value in ``[lo, hi]``."""
    if lo > hi:
        raise ValueError(f"signed_width: lo={lo} > hi={hi}")
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def lossless_adc_bits(rows: int, cell_bits: int) -> int:
    """ADC resolution that never clips: ``ceil(log2(rows*(2^c - 1) + 1))``."""
    return unsigned_width(rows * ((1 << cell_bits) - 1))


def _shown(value, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (an error line echoes it)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text)} characters)"


def _require(cls_name: str, field: str, value, ok: bool, limit: str):
    if not ok:
        raise ConfigError(f"{cls_name}.{field}={_shown(value)} is invalid: {limit}")


def _require_int(cls_name: str, field: str, value, minimum: int | None = None,
                 maximum: int | None = None):
    # bool is an int subclass; `rows=True` is a typo, not a 1.
    _require(cls_name, field, value, isinstance(value, int) and not isinstance(value, bool),
             "must be an integer")
    if minimum is not None:
        _require(cls_name, field, value, value >= minimum, f"must be >= {minimum}")
    if maximum is not None:
        _require(cls_name, field, value, value <= maximum, f"must be <= {maximum}")


@dataclass(frozen=True)
class TileConfig:
    """Generation parameters of a RED tile.

    Parameters
    ----------
    rows, cols : int
        Physical crossbar size. ``rows`` bounds the input channels of one crossbar;
        ``cols`` holds ``cols // slices`` logical (weight) columns.
    cell_bits : int
        Bits per ReRAM cell, ``c``. Must divide ``w_bits``.
    w_bits : int
        Signed weight width ``Bw`` (stored offset-binary as ``Bw/c`` slices).
    in_bits : int
        Signed input width ``Bx``, applied bit-serially (one crossbar step per bit).
    adc_bits : int or None
        ADC resolution ``A``. ``None`` (default) selects the lossless resolution.
    kernel : int
        Largest kernel size ``K`` the tile supports: the tile has ``K*K`` crossbar groups.
    max_stride : int
        Largest stride the tile's runtime configuration accepts.
    max_in : int
        Largest input height and width (sets the line-buffer depth and counter widths).
    max_cin, max_k : int
        Largest layer input channels and kernel the tile runs (in passes,
        :mod:`red.mapping`): they bound how many crossbar results add into one output,
        and so the width of the accumulated output (``out_width``), and ``max_k`` sets
        the layer register and output-size widths. ``max_k >= kernel``.
    out_pixels : int
        Output pixels per output beat (``<= max_stride``). In RED mode a block yields
        ``s*s`` pixels every ``in_bits`` cycles, so the output port binds when
        ``s*s > in_bits * min(out_pixels, s)``.
    early_termination : int
        1 to generate CompRRAE's early-termination hardware (:mod:`red.rtl.early`: the
        bound logic in every MVM unit and the decision unit), 0 (default) to leave it
        out. It costs logic that works every cycle (on Verilator about a third of the
        simulation speed); a tile without it runs every layer with early termination
        off (:func:`red.early.early_applies`).
    adcs_per_array : int
        ADCs per crossbar array (group). 0 (default): one ADC per physical column, a
        plane converts in one cycle. A power of two ``A <= cols``: the macro variant in
        which the array's columns share ``A`` ADCs through sample-and-hold (ISAAC shares
        one per 128 columns); a plane in which the busiest driven group converts ``n``
        logical columns takes :meth:`adc_cycles` ``(n) = max(1, ceil(n * slices / A))``
        cycles, so the columns early termination stops give time back
        (:class:`red.rtl.adc_pacer.ADCPacer`). It changes timing, never results.
    red_mode, zp_mode, pf_mode : int
        1 (default) to generate the hardware of that data flow (:data:`red.modes.RTL_MODES`),
        0 to leave it out: a tile for one data flow, whose area ``red area`` and the
        report compare; at least one is 1. A tile runs only the modes it has
        (:attr:`modes`). PF's hardware is the overlap-add buffer
        (:class:`red.rtl.overlap_add.OverlapAddBuffer`).
    """

    rows: int = 8
    cols: int = 16
    cell_bits: int = 2
    w_bits: int = 4
    in_bits: int = 4
    adc_bits: int | None = None
    kernel: int = 3
    max_stride: int = 4
    max_in: int = 16
    max_cin: int = 4096
    max_k: int = KERNEL_MAX
    out_pixels: int = 1
    early_termination: int = 0
    adcs_per_array: int = 0
    red_mode: int = 1
    zp_mode: int = 1
    pf_mode: int = 1

    def __post_init__(self):
        name = type(self).__name__
        _require_int(name, "rows", self.rows, 1, 1024)
        _require_int(name, "cell_bits", self.cell_bits, 1, 8)
        _require_int(name, "w_bits", self.w_bits, 2, 32)
        _require(name, "cell_bits", self.cell_bits, self.w_bits % self.cell_bits == 0,
                 f"must divide w_bits={self.w_bits}")
        _require_int(name, "cols", self.cols, self.slices, 4096)
        _require_int(name, "in_bits", self.in_bits, 2, 32)
        if self.adc_bits is None:
            object.__setattr__(self, "adc_bits", lossless_adc_bits(self.rows, self.cell_bits))
        _require_int(name, "adc_bits", self.adc_bits, 1, 32)
        _require_int(name, "kernel", self.kernel, 1, KERNEL_MAX)
        _require_int(name, "max_stride", self.max_stride, 1, 64)
        _require_int(name, "max_in", self.max_in, 1, 4096)
        _require_int(name, "max_cin", self.max_cin, 1, MAX_CIN)
        _require_int(name, "max_k", self.max_k, self.kernel, KERNEL_MAX)
        _require_int(name, "out_pixels", self.out_pixels, 1, self.max_stride)
        _require_int(name, "early_termination", self.early_termination, 0, 1)
        _require_int(name, "adcs_per_array", self.adcs_per_array, 0, self.cols)
        _require(name, "adcs_per_array", self.adcs_per_array,
                 self.adcs_per_array & (self.adcs_per_array - 1) == 0,
                 "must be 0 (one ADC per column) or a power of two")
        _require_int(name, "red_mode", self.red_mode, 0, 1)
        _require_int(name, "zp_mode", self.zp_mode, 0, 1)
        _require_int(name, "pf_mode", self.pf_mode, 0, 1)
        _require(name, "red_mode", self.red_mode, self.red_mode or self.zp_mode or self.pf_mode,
                 "a tile needs a data flow: red_mode=1, zp_mode=1 or pf_mode=1")
        _require(name, "w_bits", self.w_bits, self.out_width <= EXACT_BITS,
                 f"with in_bits={self.in_bits}, rows={self.rows}, max_cin={self.max_cin}, "
                 f"max_k={self.max_k} the accumulated output needs {self.out_width} bits; "
                 f"the golden model holds {EXACT_BITS} exactly (int64)")

    @property
    def modes(self) -> tuple[str, ...]:
        """The data flows the tile's hardware runs (of :data:`red.modes.RTL_MODES`)."""
        return tuple(mode for mode in RTL_MODES if getattr(self, f"{mode}_mode"))

    def require_mode(self, mode: str) -> None:
        """:class:`ConfigError` unless the tile runs data flow ``mode``."""
        if mode not in self.modes:
            raise ConfigError(f"mode={mode!r}: this tile was generated for "
                              f"{' and '.join(self.modes)} only ({mode}_mode=0)")

    # -- crossbar --------------------------------------------------------------------
    @property
    def slices(self) -> int:
        """Physical columns per weight, ``S = w_bits / cell_bits``."""
        return self.w_bits // self.cell_bits

    def adc_cycles(self, columns: int) -> int:
        """Cycles of a plane in which the busiest driven group converts ``columns``
        logical columns (:attr:`adcs_per_array`): 1 with one ADC per column, else
        ``max(1, ceil(columns * slices / adcs_per_array))``."""
        if not self.adcs_per_array:
            return 1
        return max(1, -(-columns * self.slices // self.adcs_per_array))

    @property
    def crossbar_params(self) -> dict[str, int]:
        """The crossbar's arithmetic as the keyword arguments of :mod:`red.golden`'s
        crossbar functions (``rows``, ``cell_bits``, ``w_bits``, ``in_bits``,
        ``adc_bits``)."""
        return dict(rows=self.rows, cell_bits=self.cell_bits, w_bits=self.w_bits,
                    in_bits=self.in_bits, adc_bits=self.adc_bits)

    @property
    def logical_cols(self) -> int:
        """Weights (output channels) per crossbar row: ``cols // slices``."""
        return self.cols // self.slices

    @property
    def lossless_adc_bits(self) -> int:
        return lossless_adc_bits(self.rows, self.cell_bits)

    @property
    def lossless(self) -> bool:
        """True when the ADC can never clip a column sum."""
        return self.adc_bits >= self.lossless_adc_bits

    @property
    def cell_max(self) -> int:
        return (1 << self.cell_bits) - 1

    @property
    def adc_max(self) -> int:
        """Largest code the ADC can return (``2^A - 1``)."""
        return (1 << self.adc_bits) - 1

    @property
    def code_max(self) -> int:
        """Largest code an ADC actually returns: its range or the largest column sum."""
        return min(self.adc_max, self.rows * self.cell_max)

    @property
    def code_width(self) -> int:
        """Width of one ADC code register (never wider than the column sum needs)."""
        return unsigned_width(self.code_max)

    @property
    def column_sum_width(self) -> int:
        """Width of an exact (pre-ADC) physical column sum."""
        return unsigned_width(self.rows * self.cell_max)

    @property
    def weight_offset(self) -> int:
        """Offset-binary bias ``2^(Bw-1)``: stored cell value ``u = w + 2^(Bw-1)``."""
        return 1 << (self.w_bits - 1)

    @property
    def plane_max(self) -> int:
        """Largest slice-combined value of one bit plane: ``sum_k 2^(c*k) * code_max``."""
        return sum(self.code_max << (self.cell_bits * k) for k in range(self.slices))

    @property
    def plane_width(self) -> int:
        return unsigned_width(self.plane_max)

    @property
    def positive_sum_width(self) -> int:
        """Width of a column's sum of positive weights ``P`` over the rows (early
        termination's signed bound, :mod:`red.rtl.early`)."""
        return unsigned_width(self.rows * self.w_max)

    @property
    def low_bits_width(self) -> int:
        """Width of ``2^(w_bits-1) * sum(x mod 2^r)`` over the rows, ``r <= in_bits - 1``
        (early termination's signed bound, :mod:`red.rtl.early`)."""
        return self.w_bits - 1 + unsigned_width(self.rows * ((1 << (self.in_bits - 1)) - 1))

    @property
    def span_width(self) -> int:
        """Width of a group column's remaining-planes bound ``(2^r - 1) * U`` for early
        termination (:mod:`red.rtl.early`): ``r <= in_bits - 1``, ``U <= plane_max``."""
        return unsigned_width(((1 << (self.in_bits - 1)) - 1) * self.plane_max)

    @property
    def x_min(self) -> int:
        return -(1 << (self.in_bits - 1))

    @property
    def x_max(self) -> int:
        return (1 << (self.in_bits - 1)) - 1

    @property
    def w_min(self) -> int:
        return -(1 << (self.w_bits - 1))

    @property
    def w_max(self) -> int:
        return (1 << (self.w_bits - 1)) - 1

    @property
    def shift_add_range(self) -> tuple[int, int]:
        """Range of the shift-add result ``P = sum_b g_b 2^b plane_b``.

        The sign plane (weight ``-2^(Bx-1)``) contributes at most ``-2^(Bx-1)*plane_max``;
        the others at most ``(2^(Bx-1) - 1) * plane_max``.
        """
        return (-(1 << (self.in_bits - 1)) * self.plane_max,
                ((1 << (self.in_bits - 1)) - 1) * self.plane_max)

    @property
    def shift_add_width(self) -> int:
        return signed_width(*self.shift_add_range)

    @property
    def x_sum_range(self) -> tuple[int, int]:
        """Range of ``sum(x)`` over at most ``rows`` active rows."""
        return self.rows * self.x_min, self.rows * self.x_max

    @property
    def x_sum_width(self) -> int:
        return signed_width(*self.x_sum_range)

    @property
    def offset_range(self) -> tuple[int, int]:
        """Range of the offset correction ``2^(Bw-1) * sum(x)``."""
        lo, hi = self.x_sum_range
        return lo * self.weight_offset, hi * self.weight_offset

    @property
    def mvm_range(self) -> tuple[int, int]:
        """Range of one corrected MVM result ``P - 2^(Bw-1)*sum(x)``.

        With a lossless ADC the result is the exact dot product; with a clipping ADC it
        can be anything ``P`` and the correction allow, so the bound is taken over both.
        """
        p_lo, p_hi = self.shift_add_range
        o_lo, o_hi = self.offset_range
        return p_lo - o_hi, p_hi - o_lo

    @property
    def mvm_width(self) -> int:
        """Width of one crossbar group's signed result."""
        return signed_width(*self.mvm_range)

    @property
    def groups(self) -> int:
        """Crossbar groups in the tile: one per kernel pixel, ``kernel^2``."""
        return self.kernel * self.kernel

    @property
    def merge_width(self) -> int:
        """Width of one step's merged value: up to ``kernel^2`` group results added (ZP
        mode adds every group)."""
        return signed_width(*self._merge_range)

    @property
    def max_row_tiles(self) -> int:
        """Row tiles (cin slices of at most ``rows`` channels) of a ``max_cin`` layer."""
        return -(-self.max_cin // self.rows)

    @property
    def max_terms(self) -> int:
        """Crossbar results that can add into one output over all passes: one per row
        tile and kernel tap, ``max_row_tiles * max(kernel, max_k)^2`` (a ZP step also
        adds the gated groups' zeros, at most ``kernel^2``)."""
        return self.max_row_tiles * max(self.kernel, self.max_k) ** 2

    @property
    def sum_range(self) -> tuple[int, int]:
        """Range of a layer output before the bias: the sum over all passes
        (:attr:`max_terms` results)."""
        lo, hi = self.mvm_range
        return lo * self.max_terms, hi * self.max_terms

    @property
    def bias_width(self) -> int:
        """Width of a per-output-channel bias: any value a layer output can take before
        it (:attr:`sum_range`), so a bias never dominates the width of the sum."""
        return signed_width(*self.sum_range)

    @property
    def bias_range(self) -> tuple[int, int]:
        """The biases a layer may use: every value of the ``bias_width``-bit register.
        The output banks (:attr:`step_width`) and the emitted output (:attr:`out_width`)
        hold the sum with any of them, so the range a user may give and the widths the
        hardware adds it in are this one fact."""
        return -(1 << (self.bias_width - 1)), (1 << (self.bias_width - 1)) - 1

    @property
    def step_width(self) -> int:
        """Width of one step's output value as the output banks hold it: the merged
        group results (:attr:`merge_width`) plus any bias of :attr:`bias_range`, or an
        early-termination decision (:mod:`red.rtl.early`), which lies between the same
        limits. With early termination a step may also bring the partial sum of earlier
        passes (:class:`red.rtl.psum_bank.PartialSumBank`): then :attr:`out_width`."""
        if self.early_termination:
            return self.out_width
        (m_lo, m_hi), (b_lo, b_hi) = self._merge_range, self.bias_range
        return signed_width(m_lo + b_lo, m_hi + b_hi)

    @property
    def _merge_range(self) -> tuple[int, int]:
        lo, hi = self.mvm_range
        return lo * self.groups, hi * self.groups

    @property
    def out_width(self) -> int:
        """Width of an output pixel channel as emitted: the sum over all passes plus the
        bias (any of :attr:`bias_range`), so accumulating partial sums never
        overflows."""
        (lo, hi), (b_lo, b_hi) = self.sum_range, self.bias_range
        return signed_width(lo + b_lo, hi + b_hi)

    # -- tile buffers --------------------------------------------------------------
    @property
    def line_rows(self) -> int:
        """Rows of the input line buffer: the ``ceil(k/s) <= kernel`` rows a block reads
        plus one row that streams in meanwhile."""
        return self.kernel + 1

    @property
    def max_out(self) -> int:
        """Largest output height/width: ``(max_in-1)*max_stride + max_k + max_stride-1``."""
        return self.out_extent(self.max_stride)

    def out_extent(self, s: int) -> int:
        """Largest output height/width of a layer with stride ``s``:
        ``(max_in-1)*s + max_k + s-1`` (``p = 0``, ``op = s-1``)."""
        return (self.max_in - 1) * s + self.max_k + s - 1

    @property
    def max_blocks(self) -> int:
        """Bound on output blocks per axis, ``floor((Ho-1+p)/s) - floor(p/s) + 1``:
        ``(Ho-1+p)/s <= H-1 + (k+op-p-1)/s`` gives at most ``max_in + max_k``."""
        return self.max_in + self.max_k

    @property
    def slot_banks(self) -> int:
        """Output banks per axis, ``min(max_stride, kernel)``: group ``(gh, gw)`` of a
        step adds into slot ``(gh mod s, gw mod s)``, and there are at most
        ``min(s, kernel)`` distinct values per axis."""
        return min(self.max_stride, self.kernel)

    @property
    def bank_words(self) -> int:
        """Words of one output bank per half (ping-pong): a block row of
        ``max_blocks`` blocks (RED), or an output row spread over ``slot_banks`` banks
        (ZP)."""
        return max(self.max_blocks, -(-self.max_out // self.slot_banks))

    @property
    def out_bank_depth(self) -> int:
        """Words per output bank: two halves (ping-pong) of :attr:`bank_words`."""
        return 2 * self.bank_words

    def beat_pixels(self, s: int, mode: str) -> int:
        """Output pixels per full output beat: ``min(out_pixels, s)`` in RED mode (a
        row's pixels come from the ``s`` phases), ``min(out_pixels, slot_banks)`` in ZP
        mode, ``out_pixels`` in PF mode (the overlap-add buffer has a bank column per
        pixel of a beat, :attr:`pf_bank_cols`)."""
        banks = {"red": s, "zp": self.slot_banks, "pf": self.pf_bank_cols}[mode]
        return min(self.out_pixels, banks)

    @property
    def max_out_beats(self) -> int:
        """Most output beats of one pass: over strides ``s <= max_stride`` and the
        modes, ``Ho * ceil(Wo / beat_pixels)`` at the largest ``Ho = Wo``."""
        return max(self.out_extent(s) * -(-self.out_extent(s) // self.beat_pixels(s, mode))
                   for s in range(1, self.max_stride + 1) for mode in RTL_MODES)

    @property
    def pf_row_slots(self) -> int:
        """Row slots per bank row of PF's overlap-add buffer, ``R = ceil((kernel +
        max_stride) / kernel)``: the buffer holds ``kernel * R >= kernel + s`` output
        rows, the ``kernel`` rows an input row adds into and the ``s`` rows the one
        before it finished, which drain meanwhile."""
        return -(-(self.kernel + self.max_stride) // self.kernel)

    @property
    def pf_rows(self) -> int:
        """Output rows PF's overlap-add buffer holds: ``kernel * pf_row_slots``."""
        return self.kernel * self.pf_row_slots

    @property
    def pf_bank_cols(self) -> int:
        """Bank columns of the overlap-add buffer, ``max(kernel, out_pixels)``: a step's
        ``kernel`` results of one row land in distinct columns, and a beat's
        ``out_pixels`` pixels are read from distinct columns, so PF's output port is as
        wide as RED's."""
        return max(self.kernel, self.out_pixels)

    @property
    def pf_row_words(self) -> int:
        """Words of one output row in one bank column of the overlap-add buffer,
        ``ceil(max_out / pf_bank_cols)``."""
        return -(-self.max_out // self.pf_bank_cols)

    @property
    def pf_bank_depth(self) -> int:
        """Words per bank of the overlap-add buffer (``kernel x pf_bank_cols`` banks):
        ``pf_row_slots * pf_row_words``."""
        return self.pf_row_slots * self.pf_row_words

    def describe(self) -> dict:
        """Parameters and derived widths, for reports and generated metadata."""
        return {
            **dataclasses.asdict(self),
            "slices": self.slices, "logical_cols": self.logical_cols,
            "lossless_adc_bits": self.lossless_adc_bits, "lossless": self.lossless,
            "code_width": self.code_width, "plane_width": self.plane_width,
            "shift_add_width": self.shift_add_width, "x_sum_width": self.x_sum_width,
            "mvm_width": self.mvm_width, "merge_width": self.merge_width,
            "bias_width": self.bias_width, "step_width": self.step_width,
            "out_width": self.out_width,
        }

    @classmethod
    def parse(cls, text: str) -> "TileConfig":
        """Build from ``key=value,...`` (the CLI form)."""
        return _construct(cls, parse_kv(text, cls), repr(text))

    def check_generable(self) -> None:
        """Raise :class:`ConfigError` unless the RTL generator builds this tile
        (:data:`MAX_RTL_GROUPS`, :data:`MAX_RTL_CELLS`)."""
        if self.groups > MAX_RTL_GROUPS:
            raise ConfigError(f"TileConfig.kernel={self.kernel} is too large to generate: "
                              f"{self.groups} crossbar groups, the RTL generator builds at "
                              f"most {MAX_RTL_GROUPS} (kernel <= 8); a larger layer kernel "
                              f"runs as folds on a smaller tile (max_k)")
        cells = self.groups * self.rows * self.cols
        if cells > MAX_RTL_CELLS:
            raise ConfigError(f"TileConfig rows={self.rows}, cols={self.cols}, "
                              f"kernel={self.kernel} is too large to generate: {cells} "
                              f"crossbar cells, the RTL generator builds at most "
                              f"{MAX_RTL_CELLS} (the paper tile has 409600)")

    def check_layer(self, layer: "LayerSpec") -> None:
        """Raise :class:`ConfigError` unless ``layer`` runs on this tile.

        ``cin``, ``cout`` and ``k`` beyond one crossbar group are split into passes
        (:mod:`red.mapping`); what no schedule fixes is checked here: the stride and
        input size (line buffer, output banks) and the ``max_cin``/``max_k`` the
        accumulated output width was derived for.
        """
        limits = [
            ("cin", layer.cin, self.max_cin, "max_cin"),
            ("k", layer.k, self.max_k, "max_k"),
            ("s", layer.s, self.max_stride, "max_stride"),
            ("h", layer.h, self.max_in, "max_in"),
            ("w", layer.w, self.max_in, "max_in"),
        ]
        for field, value, limit, what in limits:
            if value > limit:
                raise ConfigError(
                    f"layer {field}={value} does not fit the tile: exceeds {what}={limit}")


@dataclass(frozen=True)
class LayerSpec:
    """Shape of one transposed-convolution layer (PyTorch ``conv_transpose2d``).

    Parameters
    ----------
    cin, cout : int
        Input and output channels.
    h, w : int
        Input height and width.
    k : int
        Square kernel size.
    s, p, op : int
        Stride, padding (``0 <= p < k``) and output padding (``0 <= op < s``).
    name : str
        Optional label (used by workloads and reports).
    """

    cin: int
    cout: int
    h: int
    w: int
    k: int
    s: int = 1
    p: int = 0
    op: int = 0
    name: str = dataclasses.field(default="", compare=False)

    def __post_init__(self):
        name = type(self).__name__
        for field in ("cin", "cout", "h", "w", "k", "s"):
            _require_int(name, field, getattr(self, field), 1)
        _require_int(name, "p", self.p, 0)
        _require(name, "p", self.p, self.p < self.k, f"must be < k={self.k}")
        _require_int(name, "op", self.op, 0)
        _require(name, "op", self.op, self.op < self.s, f"must be < s={self.s}")
        _require(name, "h", self.h, self.ho >= 1,
                 f"gives an empty output: Ho=(h-1)*s-2p+k+op={self.ho} < 1")
        _require(name, "w", self.w, self.wo >= 1,
                 f"gives an empty output: Wo=(w-1)*s-2p+k+op={self.wo} < 1")

    @staticmethod
    def out_size(n: int, k: int, s: int, p: int, op: int) -> int:
        return (n - 1) * s - 2 * p + k + op

    @staticmethod
    def block_range(n_out: int, s: int, p: int) -> range:
        """Block indices ``q = floor((o+p)/s)`` of the outputs ``o`` in ``[0, n_out)``."""
        return range(p // s, (n_out - 1 + p) // s + 1)

    @property
    def ho(self) -> int:
        return self.out_size(self.h, self.k, self.s, self.p, self.op)

    @property
    def wo(self) -> int:
        return self.out_size(self.w, self.k, self.s, self.p, self.op)

    @property
    def full_h(self) -> int:
        """Height of the uncropped overlap-add map (PF): ``(H-1)s + K + op``."""
        return (self.h - 1) * self.s + self.k + self.op

    @property
    def full_w(self) -> int:
        return (self.w - 1) * self.s + self.k + self.op

    @property
    def zp_h(self) -> int:
        """Height of the zero-inserted, padded input (ZP): ``Ho + K - 1``."""
        return self.ho + self.k - 1

    @property
    def zp_w(self) -> int:
        return self.wo + self.k - 1

    @property
    def taps(self) -> int:
        """Window size ``T = ceil(k/s)``: input pixels per axis one output block reads."""
        return -(-self.k // self.s)

    @property
    def nb_h(self) -> int:
        """Output blocks along the height: ``floor((Ho-1+p)/s) - floor(p/s) + 1``."""
        return len(self.block_range(self.ho, self.s, self.p))

    @property
    def nb_w(self) -> int:
        return len(self.block_range(self.wo, self.s, self.p))

    def describe(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name != "name"}
        if self.name:
            d["name"] = self.name
        return d

    def __str__(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.describe().items() if k != "name")

    @classmethod
    def parse(cls, text: str) -> "LayerSpec":
        """Build from ``key=value,...`` (the CLI form)."""
        return _construct(cls, parse_kv(text, cls), repr(text))


#: The configuration the papers evaluate, generated and simulated at full size: 128x128
#: arrays of 2-bit cells, 16-bit weights and inputs, an 8-bit ADC (which clips at 128
#: rows of 2-bit cells), and the DCGAN generator's K5 s2 layers (up to 1024 input
#: channels, 32x32 inputs). Generated for RED and ZP: PF's overlap-add buffer
#: (``pf_mode=1``) is logic that works every cycle and halves the native simulation speed
#: of this tile's RED runs, so PF runs on a tile of its own (:func:`pf_tile`).
PAPER_TILE = TileConfig(rows=128, cols=128, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8,
                        kernel=5, max_stride=2, max_in=32, max_cin=1024, max_k=5, pf_mode=0)


def pf_tile(tile: TileConfig) -> TileConfig:
    """``tile`` generated for PF alone: the same arrays, the overlap-add buffer instead
    of RED's and ZP's output side."""
    return dataclasses.replace(tile, red_mode=0, zp_mode=0, pf_mode=1)


def parse_kv(text: str, cls) -> dict:
    """Parse ``key=value,key=value`` into keyword arguments of dataclass ``cls``.

    Values are integers (``adc_bits=none`` selects the default where allowed).
    """
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ConfigError(f"{cls.__name__}: {item!r} is not key=value")
        if key not in fields:
            raise ConfigError(f"{cls.__name__}: unknown key {key!r}; "
                              f"known keys: {', '.join(sorted(fields))}")
        if key in kwargs:
            raise ConfigError(f"{cls.__name__}: key {key!r} given twice")
        if key == "name":
            kwargs[key] = value
        elif value.lower() == "none":
            kwargs[key] = None
        else:
            try:
                # Plain digits are decimal (``08`` is 8); 0x/0o/0b prefixes are allowed.
                kwargs[key] = int(value, 10 if value.isdigit() else 0)
            except ValueError:
                raise ConfigError(f"{cls.__name__}.{key}={_shown(value)} is invalid: must "
                                  "be an integer (at most 4300 digits)") from None
    return kwargs


def load_toml(path: str | Path) -> tuple[TileConfig | None, LayerSpec | None]:
    """Read ``[tile]`` and/or ``[layer]`` tables from a TOML file (the file and its keys
    are checked by :func:`red.inputs.toml_tables`)."""
    from .inputs import toml_tables       # red.inputs builds on this module
    tables = toml_tables(path)
    return tuple(None if key not in tables else _construct(cls, tables[key], f"{path} [{key}]")
                 for key, cls in (("tile", TileConfig), ("layer", LayerSpec)))


def _construct(cls, kwargs: dict, where: str):
    """``cls(**kwargs)``, naming missing required keys instead of a TypeError."""
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in kwargs and f.default is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{cls.__name__}: missing key(s) {', '.join(missing)} in {where}")
    return cls(**kwargs)
