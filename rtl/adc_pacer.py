"""Shared ADCs: a plane lasts as long as its busiest group's conversions.

The macro variant ``TileConfig.adcs_per_array = A`` (RED_TILE.md's crossbar macro with
ISAAC's sharing): each array's physical columns are sampled and held when a plane is
applied, and ``A`` ADCs convert them, ``A`` per cycle. A plane in which group ``g``
converts ``n_g`` logical columns (``slices`` physical columns each; a gated group
converts none) therefore needs ``ceil(n_g * slices / A)`` cycles in that group. The
groups stay in lockstep plane by plane, so early termination decides on the bounds of
the same plane in every group and results do not change with ``A``: the plane lasts
``k = TileConfig.adc_cycles(max_g n_g)`` cycles, the step cycle and ``k - 1`` cycles
in which the groups hold (``hold``) while the ADCs finish. Columns that early
termination stops are neither sampled nor converted, so they give time back once every
driven group has stopped some.

Members
-------
columns : In(ArrayLayout(range(logical_cols + 1), groups))
    Per group, the logical columns it converts in this cycle's step
    (:class:`~red.rtl.mvm.MVMUnit` ``adc_columns``; 0 when not stepping or gated).
stepping : In(1)
    The groups apply a plane in this cycle (all groups step in lockstep).
hold : Out(1)
    The ADCs still convert the plane applied before: the groups neither step nor move
    their pipeline.
more : Out(1)
    The plane applied in this cycle needs more than one cycle (a vector's last plane
    then does not let the next vector in at once).
ending : Out(1)
    No hold in the next cycle: a group with no vector may take the next one now.

Latency: ``hold`` rises the cycle after a step with ``k > 1`` and lasts ``k - 1``
cycles. Throughput: one plane per ``k`` cycles.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from .layouts import require_tile_config

__all__ = ["ADCPacer", "PACER_NAME"]

#: The pacer's instance name in the tile (waveforms read its ``hold`` there).
PACER_NAME = "adc_pacer"


class ADCPacer(wiring.Component):
    __doc__ = __doc__

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        if not c.adcs_per_array:
            raise ValueError("ADCPacer needs a tile with shared ADCs (adcs_per_array > 0)")
        super().__init__({
            "columns": In(data.ArrayLayout(unsigned_width(c.logical_cols), c.groups)),
            "stepping": In(1),
            "hold": Out(1),
            "more": Out(1),
            "ending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        # The largest count, as a tree of named maxima (an expression that used a
        # running maximum twice per group would grow as 2^groups).
        level = list(self.columns)
        while len(level) > 1:
            pairs = []
            for a, b in zip(level[0::2], level[1::2]):
                larger = Signal.like(a, name=f"max{len(level)}_{len(pairs)}")
                m.d.comb += larger.eq(Mux(a > b, a, b))
                pairs.append(larger)
            level = pairs + level[len(pairs) * 2:]
        # The plane's cycles: TileConfig.adc_cycles of the busiest count, as a table.
        most = c.adc_cycles(c.logical_cols)
        cycles = Signal(unsigned_width(most))
        table = Array(Const(c.adc_cycles(n), len(cycles)) for n in range(c.logical_cols + 1))
        m.d.comb += cycles.eq(table[level[0]])
        wait = Signal(unsigned_width(most - 1))
        with m.If(self.stepping):
            m.d.sync += wait.eq(cycles - 1)
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.comb += [
            self.hold.eq(wait != 0),
            self.ending.eq((wait == 0) | (wait == 1)),
            self.more.eq(self.stepping & (cycles > 1)),
        ]
        return m
