"""CompRRAE-style early termination: the modes, the bound and the decision rule.

The tile applies input bit planes most significant (sign) plane first, so after ``n`` of
the ``Bx`` planes of a step every output's final value lies in an interval ``[lo, hi]``
that the hardware can compute (derivation in :mod:`red.rtl.early`):

* ``lo`` = bias + the sum, over the groups that feed the output, of the group's exact
  partial result so far (planes not yet applied taken as 0, offset correction applied);
* ``hi`` = ``lo`` + the sum over the same groups of the most the ``r = Bx - n`` planes
  still to come can add to the group's column, ``min((2^r - 1) * U,
  (2^r - 1) * P + 2^(Bw-1) * sum(x mod 2^r))`` (:func:`red.golden.group_bounds`, the
  ``signed`` bound). ``U`` is the largest value one plane can add (the column's cell
  sums, each clipped by the ADC, weighted by slice), ``P`` the sum of the column's
  positive weights and ``x`` the group's input vector. The planes still to come all have
  the positive weight ``+2^b``; with offset-binary cells ``u = w + 2^(Bw-1)`` a plane's
  lossless value is ``sum_i x_ib * w_i + 2^(Bw-1) * sum_i x_ib``, at most
  ``P + 2^(Bw-1) * sum_i x_ib``, and a clipping ADC only lowers it (each slice's code is
  at most its lossless sum), so both terms bound it from above, clipping or not. They add
  at least 0 (codes are non-negative): ``lo`` needs no lower term. The ``offset`` bound,
  ``(2^r - 1) * U`` alone, counts every weight as ``w + 2^(Bw-1)``; it is kept for
  comparison (:data:`BOUNDS`).

The rule, applied after planes ``n = 1 .. Bx-1`` to each output not yet decided
(:func:`decide`), first match wins:

* ``negative`` (exact; needs ReLU): ``hi < 0``. The output is 0 after ReLU whatever the
  remaining planes hold; it is decided as 0.
* ``approx:EPS`` (CompRRAE's adaptive termination; includes the negative rule when ReLU
  is on): ``(hi - lo) * 2^F <= eps_q * |lo|`` with ``eps_q = round(EPS * 2^F)``,
  ``F = EPS_FRAC_BITS``. The output is decided as the interval midpoint rounded toward
  minus infinity, ``floor((lo + hi) / 2)`` (then ReLU, if on).

A decided output's columns stop converting; a step whose outputs are all decided ends.
Decisions need the whole sum of an output, so they are made only in the last pass of
each cout slice (:func:`deciding_pass`), which adds the partial sums of the passes
before it to the bounds (the tile's :class:`red.rtl.psum_bank.PartialSumBank` brings
them to the step). That pass must then hold every group of the kernel and, with several
passes, give every output phase its own slot: ``k <= kernel`` and, if ``cin > rows``,
``s <= kernel`` (:func:`decides`, :func:`early_applies`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import ConfigError, LayerSpec, TileConfig
from .mapping import Pass, slice_counts

__all__ = ["EARLY_MODES", "EARLY_FLOWS", "BOUNDS", "EPS_FRAC_BITS", "EarlySpec", "OutputStage",
           "decide", "decides", "decides_condition", "deciding_pass", "early_applies",
           "not_applied_reason",
           "output_error"]

#: Early-termination modes, in the order of their layer-register codes.
EARLY_MODES = ("off", "negative", "approx")

#: The data flows early termination runs in: a step there computes each output's whole
#: sum (of its pass). PF adds every output over several steps (its overlap-add), so no
#: step holds a sum to bound.
EARLY_FLOWS = ("red", "zp")

#: The bounds on what a step's planes still to come add (module docstring); the tile
#: computes the first.
BOUNDS = ("signed", "offset")

#: Fraction bits of the approximation threshold ``eps_q`` (``EPS = eps_q / 2^F``, < 1).
EPS_FRAC_BITS = 16


@dataclass(frozen=True)
class EarlySpec:
    """One early-termination setting: ``mode`` in :data:`EARLY_MODES` and, for
    ``approx``, the threshold ``eps_q / 2^EPS_FRAC_BITS``."""

    mode: str = "off"
    eps_q: int = 0

    def __post_init__(self):
        if self.mode not in EARLY_MODES:
            raise ConfigError(f"early mode {self.mode!r} is invalid: must be one of "
                              f"{', '.join(EARLY_MODES)}")
        limit = 1 << EPS_FRAC_BITS
        if self.mode == "approx" and not 1 <= self.eps_q < limit:
            raise ConfigError(f"eps_q={self.eps_q} is invalid: must be in [1, {limit - 1}]")
        if self.mode != "approx" and self.eps_q:
            raise ConfigError(f"eps_q={self.eps_q} is only meaningful with mode approx")

    @classmethod
    def parse(cls, text: str) -> "EarlySpec":
        """``off``, ``negative`` or ``approx:EPS`` with ``0 < EPS < 1`` (rounded to a
        multiple of ``2^-EPS_FRAC_BITS``, at least one)."""
        name, _, eps = str(text).partition(":")
        if name == "approx":
            try:
                value = float(eps)
            except ValueError:
                raise ConfigError(f"--early approx:{eps[:40]}: EPS must be a number in "
                                  f"(0, 1)") from None
            if not (math.isfinite(value) and 0 < value < 1):
                raise ConfigError(f"--early approx:{eps[:40]}: EPS must be in (0, 1)")
            eps_q = round(value * (1 << EPS_FRAC_BITS))
            if eps_q < 1:
                raise ConfigError(f"--early approx:{eps[:40]}: EPS must be at least "
                                  f"2^-{EPS_FRAC_BITS}")
            return cls("approx", min(eps_q, (1 << EPS_FRAC_BITS) - 1))
        if eps or name not in EARLY_MODES or name == "approx":
            raise ConfigError(f"--early {str(text)[:40]!r} is invalid: must be off, negative "
                              f"or approx:EPS with 0 < EPS < 1")
        return cls(name)

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @property
    def code(self) -> int:
        """The layer register's ``early`` field."""
        return EARLY_MODES.index(self.mode)

    @property
    def eps(self) -> float:
        return self.eps_q / (1 << EPS_FRAC_BITS)

    def describe(self) -> dict:
        return {"mode": self.mode, "eps": self.eps, "eps_q": self.eps_q,
                "eps_frac_bits": EPS_FRAC_BITS, "bound": BOUNDS[0]}

    def __str__(self) -> str:
        return f"approx:{self.eps:g}" if self.mode == "approx" else self.mode


def decide(lo: np.ndarray, hi: np.ndarray, spec: EarlySpec, relu: bool):
    """The decision rule on bounds ``lo <= hi`` (int64 arrays): ``(decided, value)``,
    where ``value`` is the output's decided value before ReLU (0 for a negative
    decision)."""
    negative = (hi < 0) if relu and spec.on else np.zeros(lo.shape, dtype=bool)
    if spec.mode == "approx":
        close = (hi - lo) << EPS_FRAC_BITS <= spec.eps_q * np.abs(lo)
    else:
        close = np.zeros(lo.shape, dtype=bool)
    value = np.where(negative, 0, (lo + hi) >> 1)
    return negative | close, value


def decides(layer: LayerSpec, tile: TileConfig) -> bool:
    """Whether the last pass of each cout slice of ``layer`` on ``tile`` can decide its
    outputs on their whole sum (module docstring): one kernel fold and, with several cin
    slices (their partial sums come from the tile's partial-sum bank, placed as the
    output banks), every output phase in a slot. The condition, as text:
    :func:`decides_condition`."""
    cin_tiles, _, folds = slice_counts(layer, tile)
    return folds == 1 and (cin_tiles == 1 or layer.s <= tile.slot_banks)


def decides_condition(layer: LayerSpec, tile: TileConfig) -> str:
    """:func:`decides`'s condition with ``layer``'s and ``tile``'s values, for messages
    and reports."""
    return (f"k={layer.k} <= kernel={tile.kernel} and, with cin={layer.cin} > "
            f"rows={tile.rows}, s={layer.s} <= kernel={tile.kernel}")


def deciding_pass(run: Pass) -> bool:
    """Whether early termination runs in pass ``run`` of a layer it applies to: the last
    pass of its cout slice, the first with the outputs' whole sum."""
    return run.last


def early_applies(layer: LayerSpec, tile: TileConfig, early: EarlySpec) -> bool:
    """Whether the tile applies ``early`` to ``layer``: it is on, the tile has the
    early-termination hardware (``TileConfig.early_termination``) and the layer's
    deciding passes see their outputs' whole sum (:func:`decides`). Why not, as text:
    :func:`not_applied_reason`."""
    return early.on and bool(tile.early_termination) and decides(layer, tile)


def not_applied_reason(layer: LayerSpec, tile: TileConfig) -> str:
    """Why the tile does not apply early termination to ``layer`` (when
    :func:`early_applies` is false for a setting that is on)."""
    if not tile.early_termination:
        return "the tile has no early-termination hardware (early_termination=0)"
    return ("early termination needs the last pass of a cout slice to see its outputs' "
            f"whole sum: {decides_condition(layer, tile)}")


def output_error(y: np.ndarray, exact: np.ndarray) -> dict:
    """``y`` (an early-terminated output) against ``exact``: ``outputs_differing``,
    ``changed`` (their fraction), ``max_abs``, ``max_abs_relative`` (over the largest
    exact magnitude) and ``relative_l2``. The norms are integers' norms, so at least 1
    unless ``exact`` is all zeros; then the errors are absolute, never hidden."""
    diff = (np.asarray(y) - np.asarray(exact)).astype(np.float64)
    differing = int(np.count_nonzero(diff))
    return {"outputs_differing": differing,
            "changed": differing / diff.size if diff.size else 0.0,
            "max_abs": int(np.abs(diff).max(initial=0)),
            "max_abs_relative": float(np.abs(diff).max(initial=0)
                                      / max(float(np.abs(exact).max(initial=0)), 1.0)),
            "relative_l2": float(np.linalg.norm(diff) / max(np.linalg.norm(exact), 1.0))}


@dataclass(frozen=True, eq=False)
class OutputStage:
    """A layer's output stage and early-termination setting: ``bias`` (int64 ``[cout]``
    or ``None``), ``relu`` and ``early``. The bias is added once per output pixel
    (the first pass of each cout slice), ReLU after the last pass."""

    bias: np.ndarray | None = None
    relu: bool = False
    early: EarlySpec = EarlySpec()

    def __post_init__(self):
        if self.early.mode == "negative" and not self.relu:
            raise ConfigError("--early negative decides outputs that ReLU makes 0: it "
                              "needs --relu")

    @property
    def plain(self) -> bool:
        """No bias, no ReLU, no early termination: the layer's sum as it is."""
        return self.bias is None and not self.relu and not self.early.on

    def reordered(self, perm_out: np.ndarray) -> "OutputStage":
        """This stage for a layer whose output channels are in the order ``perm_out``
        (a sparse mapping's, :mod:`red.sparsity`): the bias follows its channels."""
        bias = None if self.bias is None else self.bias[perm_out]
        return OutputStage(bias, self.relu, self.early)

    def describe(self) -> dict:
        return {"bias": self.bias is not None, "relu": self.relu,
                "early": self.early.describe()}
