"""The tile's event and cycle counters (:data:`red.counters.COUNTERS`) that the tile
itself keeps; the merge's and early termination's own counters pass through."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width

from ._arith import tree_sum
from .layouts import require_tile_config

__all__ = ["TileCounters", "KEPT", "GROUP_SUMS"]

#: Tile counter -> the :class:`~red.rtl.mvm.MVMUnit` counter it sums over the active
#: groups.
GROUP_SUMS = {"crossbar_steps": "steps", "adc_conversions": "conversions",
              "row_drives": "row_drives", "skipped_conversions": "skipped_conversions"}

#: The counters :class:`TileCounters` keeps, in :data:`red.counters.TILE_COUNTERS` order.
KEPT = ("total_cycles", "compute_cycles", "load_cycles", "steps", "group_activations",
        "gated_group_steps", "crossbar_steps", "adc_conversions", "row_drives",
        "weight_writes", "line_buffer_writes", "window_reads", "skipped_blocks",
        "skipped_conversions", "wasted_group_steps")


class TileCounters(wiring.Component):
    """Counters of one pass, cleared by ``clear`` (the pass's first cycle).

    - ``total_cycles``: from the first input pixel taken or first step issued
      (``begins``), whichever is earlier, to the last output beat taken (``out_last``),
      both included;
    - ``load_cycles``: from the first weight beat taken to the last, both included;
    - ``compute_cycles``: cycles in which the groups step or hold for shared ADCs
      (``stepping``);
    - per step (``step``): ``steps``, ``group_activations`` (``live`` groups),
      ``gated_group_steps`` (``active`` but not live), ``window_reads`` (``reads``) and
      ``wasted_group_steps``, live groups given no raw pixel (``real`` low: ZP's inserted
      zeros and padding; the tile adds PF's cropped results);
    - ``weight_writes``: ``cout`` per active group and weight beat; ``line_buffer_writes``:
      input pixels taken; ``skipped_blocks``: groups inside the kernel gated for the
      pass (``inside & skip``, counted in the cycle after ``clear``);
    - :data:`GROUP_SUMS`: the groups' own counters summed over the ``active`` groups
      (combinational).

    Every counter is ``COUNTER_WIDTH`` bits; latency 1 cycle (registered), except the
    group sums (combinational).

    Members
    -------
    clear, begins, out_last, stepping, step, i_take : In(1)
    w_take, w_first, w_last : In(1)
        A weight beat taken; the pass's first; its last.
    cout : In
    inside, active, skip, live, real : In(groups)
    reads : In
    steps_in, conversions_in, row_drives_in, skipped_conversions_in :
        In(COUNTER_WIDTH).array(groups): the groups' counters.
    total_cycles, ... : Out(COUNTER_WIDTH)
        The :data:`KEPT` counters.
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        super().__init__({
            **{name: In(1) for name in ("clear", "begins", "out_last", "stepping", "step",
                                        "i_take", "w_take", "w_first", "w_last")},
            "cout": In(unsigned_width(c.logical_cols)),
            **{name: In(c.groups) for name in ("inside", "active", "skip", "live", "real")},
            "reads": In(unsigned_width(c.groups)),
            # One port per group, not one array-shaped port: a packed array would be
            # rebuilt (Icarus: bit by bit) whenever any group's counter changes.
            **{f"{field}_in": In(COUNTER_WIDTH).array(c.groups)
               for field in GROUP_SUMS.values()},
            **{name: Out(COUNTER_WIDTH) for name in KEPT},
        })

    def elaborate(self, platform):
        m = Module()
        G = self._config.groups
        for name, field in GROUP_SUMS.items():
            units = getattr(self, f"{field}_in")
            m.d.comb += getattr(self, name).eq(
                tree_sum(Mux(self.active[g], units[g], 0) for g in range(G)))

        counting, loading, first_cycle = Signal(), Signal(), Signal()
        m.d.sync += first_cycle.eq(self.clear)

        def count_span(counter, inside, first, last):
            """Count the cycles from ``first`` to ``last``, both included."""
            with m.If(first):
                m.d.sync += inside.eq(1)
            with m.If(last):
                m.d.sync += inside.eq(0)
            with m.If(first | inside):
                m.d.sync += counter.eq(counter + 1)

        def add(counter, amount):
            return counter.eq(counter + amount)

        with m.If(self.clear):
            m.d.sync += [getattr(self, name).eq(0) for name in KEPT if name not in GROUP_SUMS]
            m.d.sync += [counting.eq(0), loading.eq(0)]
        with m.Else():
            # Once per pass, in the first cycle the fold's registers hold it.
            with m.If(first_cycle):
                m.d.sync += self.skipped_blocks.eq(
                    tree_sum(self.inside[g] & self.skip[g] for g in range(G)))
            count_span(self.total_cycles, counting,
                       self.begins & (self.total_cycles == 0), self.out_last)
            count_span(self.load_cycles, loading, self.w_first, self.w_last)
            with m.If(self.stepping):
                m.d.sync += add(self.compute_cycles, 1)
            with m.If(self.i_take):
                m.d.sync += add(self.line_buffer_writes, 1)
            with m.If(self.w_take):
                m.d.sync += add(self.weight_writes,
                                self.cout * tree_sum(self.active[g] for g in range(G)))
            with m.If(self.step):
                m.d.sync += [
                    add(self.steps, 1),
                    add(self.group_activations, tree_sum(self.live[g] for g in range(G))),
                    add(self.gated_group_steps,
                        tree_sum(self.active[g] & ~self.live[g] for g in range(G))),
                    add(self.window_reads, self.reads),
                    add(self.wasted_group_steps,
                        tree_sum(self.live[g] & ~self.real[g] for g in range(G))),
                ]
        return m
