"""Exact digital offset correction for offset-binary weights."""

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, signed_width

from ._arith import tree_sum
from .layouts import require_tile_config

__all__ = ["OffsetCorrection", "offset_correction"]


def offset_correction(x_sum, config: TileConfig):
    """``2^(w_bits-1) * x_sum``: what offset-binary cells add to every column's result."""
    return x_sum << (config.w_bits - 1)


class OffsetCorrection(wiring.Component):
    """The term ``2^(w_bits-1) * sum(x over the active rows)``, and that sum.

    Offset-binary cells hold ``u = w + 2^(Bw-1)``, so the array computes
    ``sum x*w + 2^(Bw-1) sum x``; subtracting this term makes the result exact.

    The tile computes the sum once per input pixel, when its line buffer stores it
    (:class:`~red.rtl.input_buffer.InputBuffer`), and every crossbar group reuses it:
    one adder tree instead of one per group.

    Parameters
    ----------
    config : TileConfig

    Members
    -------
    x : In(ArrayLayout(signed(in_bits), rows))
        The input vector.
    row_en : In(rows)
        Active rows; disabled rows add nothing.
    x_sum : Out(signed(x_sum_width))
        ``sum(x[r] for enabled r)``.
    correction : Out(signed)
        ``2^(w_bits-1) * x_sum``, ``signed_width(*offset_range)`` bits.

    Latency is 0 cycles (combinational).
    """

    latency = 0

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        super().__init__({
            "x": In(data.ArrayLayout(signed(config.in_bits), config.rows)),
            "row_en": In(config.rows),
            "x_sum": Out(signed(config.x_sum_width)),
            "correction": Out(signed(signed_width(*config.offset_range))),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        m.d.comb += [
            self.x_sum.eq(tree_sum(Mux(self.row_en[r], self.x[r], 0) for r in range(c.rows))),
            self.correction.eq(offset_correction(self.x_sum, c)),
        ]
        return m
