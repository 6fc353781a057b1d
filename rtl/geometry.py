"""Per-fold geometry: which kernel pixel each crossbar group stands for in a pass, its
output phase, its slot in the merge and its offset into the input window."""

from amaranth.hdl import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from .layouts import layer_layout, require_tile_config, runs

__all__ = ["FoldGeometry"]


class FoldGeometry(wiring.Component):
    """The fold of a pass: group ``(gh, gw)`` is kernel pixel ``(kh0 + gh, kw0 + gw)``.

    Per group row ``gh`` (columns alike, ``w`` for ``h``), registered when ``start``
    is high from the incoming ``layer`` and fixed for the pass:

    - ``rel_h[gh] = floor((kh0+gh)/s) - floor(kh0/s)``: its input offset relative to
      the fold's smallest, ``jmin_h = floor(kh0/s)``; a block ``q_h`` reads input row
      ``q_h - jmin_h - rel_h[gh]``;
    - ``phase_h[gh] = (kh0+gh) mod s``: the output phase it produces (RED);
    - ``slot_h[gh] = gh mod s``: its slot in the merge (:class:`~red.rtl.merge.OutputMerge`);
    - ``jmax_h``: the largest input offset of a row inside the kernel,
      ``floor((min(kh0+kernel, k) - 1)/s)`` (how far back the line buffer must keep
      rows).

    No divider: each row's values step from its neighbour's (the phase wraps at ``s``
    and then moves the offset on), starting from ``kh0 mod s`` that the host gives
    (:func:`~red.rtl.layouts.geometry_layout`). ``inside[g]``: group ``g`` lies inside
    the layer's kernel; ``active[g]``: and its weight block is not empty (``skip``).

    In PF mode every group reads the step's own input pixel: ``rel`` and ``jmax_h`` are 0.

    Latency: 1 cycle (every output is valid from the cycle after ``start``); a chain of
    ``kernel`` increment-and-wrap steps per axis, evaluated once per pass.

    Members
    -------
    layer : In(layer_layout)
        The pass, read when ``start`` is high.
    start : In(1)
    rel_h, rel_w, phase_h, phase_w, slot_h, slot_w : Out(ArrayLayout(..., kernel))
    inside, active : Out(groups)
    jmax_h : Out
    """

    def __init__(self, config: TileConfig):
        self._config = c = require_tile_config(config)
        K = c.kernel
        rel = data.ArrayLayout(unsigned_width(K - 1), K)
        phase = data.ArrayLayout(unsigned_width(c.max_stride - 1), K)
        super().__init__({
            "layer": In(layer_layout(c)),
            "start": In(1),
            "rel_h": Out(rel), "rel_w": Out(rel),
            "phase_h": Out(phase), "phase_w": Out(phase),
            "slot_h": Out(phase), "slot_w": Out(phase),
            "inside": Out(c.groups),
            "active": Out(c.groups),
            "jmax_h": Out(unsigned_width(c.max_k - 1)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        K, G = c.kernel, c.groups
        layer = self.layer
        s, k = layer.s, layer.k
        pf = runs(c, layer.mode, "pf")
        for axis, offset, rot in (("h", layer.kh0, layer.geometry.rot_h),
                                  ("w", layer.kw0, layer.geometry.rot_w)):
            rel, phase, slot = (getattr(self, f"{name}_{axis}") for name in
                                ("rel", "phase", "slot"))
            rel_i, phase_i, slot_i = 0, rot, 0
            with m.If(self.start):
                for i in range(K):
                    m.d.sync += [rel[i].eq(Mux(pf, 0, rel_i)), phase[i].eq(phase_i),
                                 slot[i].eq(slot_i)]
                    if axis == "h":
                        # Rows inside the kernel are a prefix: the last one wins.
                        with m.If(offset + i < k):
                            m.d.sync += self.jmax_h.eq(Mux(pf, 0, layer.geometry.jmin_h + rel_i))
                    wrap = phase_i == s - 1
                    rel_i = Mux(wrap, rel_i + 1, rel_i)
                    phase_i = Mux(wrap, 0, phase_i + 1)
                    slot_i = Mux(slot_i == s - 1, 0, slot_i + 1)
        with m.If(self.start):
            for g in range(G):
                here = (layer.kh0 + g // K < k) & (layer.kw0 + g % K < k)
                m.d.sync += [self.inside[g].eq(here), self.active[g].eq(here & ~layer.skip[g])]
        return m
