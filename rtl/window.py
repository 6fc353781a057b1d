"""The zero-skipping data flow: which raw pixel each crossbar group reads in a step and
whether it is driven."""

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import tree_sum
from .layouts import buffered_pixel_layout, require_tile_config
from .sequencer import position_layout, step_layout

__all__ = ["ZeroSkipWindow"]


class ZeroSkipWindow(wiring.Component):
    """What every crossbar group receives in a step (RED's zero-skipping data flow, and
    the ZP baseline on the same groups).

    The window base is the step's block minus the fold's smallest input offset,
    ``(q_h - jmin_h, q_w - jmin_w)``: the newest input pixel the block reads. Group
    ``g = (gh, gw)`` reads raw pixel ``base - (rel_h[gh], rel_w[gw])`` from the line
    buffer (:class:`~red.rtl.input_buffer.InputBuffer`, ``in_range`` when it lies inside
    the input). ``x[g]`` is that pixel where ``real[g]``, else 0.

    - **RED**: a group is driven (``live``) when it is active, its pixel is inside the
      input and its output, phase ``(phase_h[gh], phase_w[gw])`` of the block, lies
      inside ``[0,Ho) x [0,Wo)`` (``row_ok``/``col_ok``); ``real = live``.
    - **ZP**: every active group is driven (the zero-inserted input is mostly zeros,
      still converted); it gets a raw pixel (``real``) only when the output pixel's
      phase ``(r_h, r_w)`` equals the group's, else 0.
    - **PF**: the step is one input pixel, the window base itself; every active group
      reads it (the fold's offsets are 0) and is driven.

    ``reads``: raw pixels delivered by the step, a pixel shared by several groups
    counted once (``window_reads``). Combinational: latency 0, one step per cycle.

    Members
    -------
    step : In(step_layout)
        The step (:class:`~red.rtl.sequencer.Sequencer`).
    zp, pf : In(1)
    jmin_h, jmin_w : In
        The fold's smallest input offsets (:func:`~red.rtl.layouts.geometry_layout`).
    rel_h, rel_w, phase_h, phase_w, active : In
        The fold (:class:`~red.rtl.geometry.FoldGeometry`).
    base_row, base_col, jh, jw : Out
        The buffer's read addresses (its ``q_h``, ``q_w``, ``jh``, ``jw``).
    in_range, pixels : In
        The buffer's reads.
    live, real : Out(groups)
    x : Out(ArrayLayout(buffered_pixel_layout, groups))
    reads : Out
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        pos = position_layout(c)["q_h"].shape
        offsets = data.ArrayLayout(unsigned_width(c.kernel - 1), c.groups)
        rel = data.ArrayLayout(unsigned_width(c.kernel - 1), c.kernel)
        phase = data.ArrayLayout(unsigned_width(c.max_stride - 1), c.kernel)
        super().__init__({
            "step": In(step_layout(c)),
            "zp": In(1),
            "pf": In(1),
            "jmin_h": In(unsigned_width(c.max_k - 1)),
            "jmin_w": In(unsigned_width(c.max_k - 1)),
            "rel_h": In(rel), "rel_w": In(rel), "phase_h": In(phase), "phase_w": In(phase),
            "active": In(c.groups),
            "base_row": Out(pos),
            "base_col": Out(pos),
            "jh": Out(offsets),
            "jw": Out(offsets),
            "in_range": In(c.groups),
            "pixels": In(data.ArrayLayout(buffered_pixel_layout(c), c.groups)),
            "live": Out(c.groups),
            "real": Out(c.groups),
            "x": Out(data.ArrayLayout(buffered_pixel_layout(c), c.groups)),
            "reads": Out(unsigned_width(c.groups)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        K, G = c.kernel, c.groups
        step, pos = self.step, self.step.pos
        m.d.comb += [self.base_row.eq(pos.q_h - self.jmin_h),
                     self.base_col.eq(pos.q_w - self.jmin_w)]
        for g in range(G):
            gh, gw = g // K, g % K
            rh, rw = self.phase_h[gh], self.phase_w[gw]
            red_live = (self.active[g] & self.in_range[g] & step.row_ok.bit_select(rh, 1) &
                        step.col_ok.bit_select(rw, 1))
            phase_hit = (rh == pos.r_h) & (rw == pos.r_w)
            m.d.comb += [
                self.jh[g].eq(self.rel_h[gh]), self.jw[g].eq(self.rel_w[gw]),
                self.live[g].eq(Mux(self.zp | self.pf, self.active[g], red_live)),
                self.real[g].eq(Mux(self.pf, self.active[g] & self.in_range[g],
                                    Mux(self.zp, self.active[g] & self.in_range[g] & phase_hit,
                                        red_live))),
            ]
            with m.If(self.real[g]):
                m.d.comb += self.x[g].eq(self.pixels[g])
        # A window pixel (a, b) is read once however many groups share it.
        hits = [Cat(self.real[g] & (self.rel_h[g // K] == a) & (self.rel_w[g % K] == b)
                    for g in range(G)).any()
                for a in range(K) for b in range(K)]
        m.d.comb += self.reads.eq(tree_sum(hits))
        return m
