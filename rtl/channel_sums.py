"""The merge's adder trees of one output channel: the sums a step writes to the banks."""

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig

from ._arith import tree_sum
from .layouts import require_tile_config

__all__ = ["ChannelSums"]


class ChannelSums(wiring.Component):
    """Per mask, the sum of the group results it selects for one output channel, plus
    the bias when the pass adds it and the partial sum the step brings, or the value
    early termination decided.

    :class:`~red.rtl.merge.OutputMerge` has one instance per logical column. The
    generated Verilog therefore holds one module per channel, all of the same text, and
    ``red area`` synthesises one of them and multiplies: the merge's adder trees
    (``sums x groups`` terms per channel) are most of its logic, and a flat merge of the
    paper tile took ABC over 20 minutes.

    Latency: 0 cycles (combinational). Depth: ``ceil(log2 groups) + 1`` adders.

    Parameters
    ----------
    config : TileConfig
        The tile.
    sums : int
        How many sums (masks) to form.

    Members
    -------
    results : In(signed(mvm_width)).array(groups)
        Every group's result for this channel.
    masks : In(groups).array(sums)
        Per sum, the groups it adds.
    bias : In(signed(bias_width))
        This channel's bias.
    bias_en : In(1)
        Add the bias to every sum.
    decided : In(1).array(sums)
        Per sum, early termination decided it (only with ``config.early_termination``).
    decided_value : In(signed(step_width)).array(sums)
        Per sum, the decided value (only with ``config.early_termination``).
    psum : In(signed(out_width)).array(sums)
        Per sum, the partial sum of earlier passes, added (only with
        ``config.early_termination``; 0 unless the pass brings them with its steps).
    sums : Out(signed(step_width)).array(sums)
        The sums, wrapped to ``step_width`` bits as the banks hold them.
    """

    def __init__(self, config: TileConfig, sums: int):
        self._config = require_tile_config(config)
        c = config
        members = {
            "results": In(signed(c.mvm_width)).array(c.groups),
            "masks": In(c.groups).array(sums),
            "bias": In(signed(c.bias_width)),
            "bias_en": In(1),
            "sums": Out(signed(c.step_width)).array(sums),
        }
        if c.early_termination:
            members["decided"] = In(1).array(sums)
            members["decided_value"] = In(signed(c.step_width)).array(sums)
            members["psum"] = In(signed(c.out_width)).array(sums)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        c = self._config
        bias = Mux(self.bias_en, self.bias, 0)
        for k, (mask, out) in enumerate(zip(self.masks, self.sums)):
            computed = tree_sum(Mux(mask[g], self.results[g], 0) for g in range(c.groups)) \
                + bias
            if c.early_termination:
                computed = Mux(self.decided[k], self.decided_value[k],
                               computed + self.psum[k])
            m.d.comb += out.eq(computed)
        return m
