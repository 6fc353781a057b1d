"""Shift-add: combine a logical column's slice codes and accumulate bit planes."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig
from ._arith import packed
from .layouts import require_tile_config

__all__ = ["ShiftAdd"]


class ShiftAdd(wiring.Component):
    """Accumulates ``P = sum_b g_b 2^b sum_k 2^(c*k) code(b, k)`` for every logical column.

    Planes arrive most significant first (the order that lets a later design stop early),
    so the accumulation is Horner's rule: the first plane is the sign plane (``g = -1``),
    ``acc = -plane``; every later plane ``acc = 2*acc + plane``. After the ``in_bits``
    planes of one input vector, ``value`` holds ``P`` in the same cycle as the last plane.

    Every intermediate ``acc`` is the final value of a shorter input, so it lies inside
    ``TileConfig.shift_add_range`` and ``shift_add_width`` bits never overflow.

    Parameters
    ----------
    config : TileConfig

    Members
    -------
    codes : In(ArrayLayout(code_width, cols))
        ADC codes of one plane; slice ``k`` of logical column ``j`` is ``codes[j*S + k]``.
    en : In(1)
        Accumulate ``codes`` this cycle.
    first : In(1)
        ``codes`` belong to the sign plane (restart the accumulation).
    value : Out(ArrayLayout(signed(shift_add_width), logical_cols))
        Accumulator including this cycle's plane (combinational).

    Latency is 0 cycles (``value``); throughput is one plane per cycle.
    """

    latency = 0

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        super().__init__({
            "codes": In(data.ArrayLayout(config.code_width, config.cols)),
            "en": In(1),
            "first": In(1),
            "value": Out(data.ArrayLayout(signed(config.shift_add_width), config.logical_cols)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        columns = []
        for j in range(c.logical_cols):
            acc = Signal(signed(c.shift_add_width), name=f"acc{j}")
            plane = sum(self.codes[j * c.slices + k] << (c.cell_bits * k)
                        for k in range(c.slices))
            columns.append(Mux(self.first, -plane, (acc << 1) + plane))
            with m.If(self.en):
                m.d.sync += acc.eq(self.value[j])
        m.d.comb += self.value.eq(packed(self.value.shape(), columns))
        return m
