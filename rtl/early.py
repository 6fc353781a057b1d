"""CompRRAE early termination: decide outputs from runtime bounds while a step runs.

**The bound.** One crossbar group's result for logical column ``j`` is
``R = sum_b g_b 2^b A_b - 2^(Bw-1) sum(x)``, where ``A_b = sum_k 2^(c*k) code(b, k)``
is plane ``b``'s slice-combined ADC code, ``g_b = -1`` for the sign plane
``b = Bx-1`` and ``+1`` for the others. The planes are applied sign plane first. After
``n`` planes, with ``r = Bx - n`` planes to come, write ``acc`` for the shift-add
accumulator (Horner's rule, :class:`~red.rtl.shift_add.ShiftAdd`); then

    R = acc * 2^r - 2^(Bw-1) sum(x) + sum_{b < r} 2^b A_b.

The offset term is known when the vector is accepted (the input is digital), and every
plane still to come has ``g_b = +1`` (the sign plane went first), so the last sum lies
in ``[0, T]`` for any ``T >= sum_{b < r} 2^b A_b``. Offset-binary cells are
non-negative, so ``code(b, k) <= min(colsum_k, 2^A - 1)``, where ``colsum_k`` sums the
column's cells over the programmed rows: ``U = sum_k 2^(c*k) min(colsum_k, 2^A - 1)``
bounds every ``A_b``, and ``T_U = (2^r - 1) * U``. Also ``code(b, k)`` is at most the
slice's lossless sum, so ``A_b <= sum_i x_ib (w_i + 2^(Bw-1)) <= P + 2^(Bw-1) sum_i
x_ib`` with ``P`` the column's positive weights, and ``T_P = (2^r - 1) * P +
2^(Bw-1) * sum_i (x_i mod 2^r)``. Both hold for a clipping ADC too (clipping only lowers
a code), so ``span = min(T_U, T_P)`` (:func:`red.golden.group_bounds`, the ``signed``
bound of :mod:`red.early`). ``U`` and ``P`` are built per column as the weights load,
``2^(Bw-1) * sum(x mod 2^r)`` per vector from its planes' popcounts
(:class:`~red.rtl.mvm.MVMUnit`). Each group thus gives ``R in [lo, lo + span]``,
``lo = acc * 2^r - offset``; a gated group gives ``[0, 0]``.

An output of a step is the sum of the groups that feed it (RED: the groups of its slot;
ZP: every group), plus the bias when the pass adds it and, in the last pass of a
multi-pass cout slice, the partial sum of the passes before (``psum``, from the
:class:`~red.rtl.psum_bank.PartialSumBank`), so it lies in ``[L, H] = [bias + psum +
sum lo, bias + psum + sum lo + sum span]``. The rule of :mod:`red.early` decides it
(``negative``: ``H < 0`` with ReLU, value 0; ``approx``: also ``(H - L) * 2^F <= eps *
|L|``, value ``floor((L + H) / 2)``). Only passes that end a cout slice enable the unit
(the layer driver's choice, :func:`red.early.deciding_pass`): before them, with partial
sums still to come, ``[L, H]`` would not bound the output.

**Timing.** The bounds of plane ``n`` appear in the cycle the groups' sequencers hold
plane ``n + 1`` of the same vector. A decision in that cycle stops the output's columns
in every group that feeds it from that plane on (``stop``); when every output fed by a
driven group is decided (at once if there is none), ``finish`` ends the step.

Parameters
----------
config : TileConfig

Members
-------
lo, span : In(ArrayLayout, groups)
    Every group's bounds (:class:`~red.rtl.mvm.MVMUnit`), valid with ``bound_valid``.
bound_valid, producing : In(1)
    From the groups (all in lockstep): bounds after a plane but the last; a step's
    results are being registered (the decisions travel with them).
members : In(ArrayLayout(groups, slot_banks^2))
    The groups feeding each output slot ``u * slot_banks + v`` (ZP: slot 0, every
    active group).
live : In(groups)
    Groups driven (not gated) in the step being computed.
cout : In
    Active logical columns.
bias, bias_en, relu, mode, eps : In
    The pass's output stage and early-termination setting (:mod:`red.early`).
psum, psum_en : In
    The step's partial sums per output slot, added to the bounds with ``psum_en``.
stop : Out(ArrayLayout(logical_cols, groups)), finish : Out(1)
    To the groups.
decided : Out(ArrayLayout(logical_cols, slot_banks^2)), value : Out(ArrayLayout)
    The decisions and decided values of the step whose results the groups hold, for the
    merge (held from ``producing`` until the next one).
psum_held : Out(ArrayLayout(out_pixel_layout, slot_banks^2))
    That step's partial sums (0 without ``psum_en``), for the merge to add, held alike.
clear : In(1)
    Zero the counter (start of a pass).
decided_outputs : Out(COUNTER_WIDTH)
    Outputs (slot and channel of a step) decided before their last plane.

Latency: 0 cycles (``stop`` and ``finish`` act on the plane after the bounds').
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, unsigned_width
from red.early import EARLY_MODES, EPS_FRAC_BITS

from ._arith import first_ones, tree_or, tree_sum
from .layouts import merged_pixel_layout, out_pixel_layout, require_tile_config

__all__ = ["EarlyDecision", "MODE_WIDTH"]

#: Width of the layer register's ``early`` field.
MODE_WIDTH = unsigned_width(len(EARLY_MODES) - 1)


class EarlyDecision(wiring.Component):
    __doc__ = __doc__

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        c = config
        outputs = c.slot_banks ** 2
        super().__init__({
            "lo": In(data.ArrayLayout(data.ArrayLayout(signed(c.mvm_width), c.logical_cols),
                                      c.groups)),
            "span": In(data.ArrayLayout(data.ArrayLayout(c.span_width, c.logical_cols),
                                        c.groups)),
            "bound_valid": In(1),
            "producing": In(1),
            "members": In(data.ArrayLayout(c.groups, outputs)),
            "live": In(c.groups),
            "cout": In(unsigned_width(c.logical_cols)),
            "bias": In(data.ArrayLayout(signed(c.bias_width), c.logical_cols)),
            "bias_en": In(1),
            "relu": In(1),
            "mode": In(MODE_WIDTH),
            "eps": In(EPS_FRAC_BITS),
            "stop": Out(data.ArrayLayout(c.logical_cols, c.groups)),
            "finish": Out(1),
            "psum": In(data.ArrayLayout(out_pixel_layout(c), outputs)),
            "psum_en": In(1),
            "decided": Out(data.ArrayLayout(c.logical_cols, outputs)),
            "value": Out(data.ArrayLayout(merged_pixel_layout(c), outputs)),
            "psum_held": Out(data.ArrayLayout(out_pixel_layout(c), outputs)),
            "clear": In(1),
            "decided_outputs": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._config
        G, J, outputs = c.groups, c.logical_cols, c.slot_banks ** 2
        on = self.mode != EARLY_MODES.index("off")
        approx = self.mode == EARLY_MODES.index("approx")
        columns = Signal(J)
        m.d.comb += columns.eq(first_ones(J, self.cout))

        decided_reg = [Signal(J, name=f"decided_reg{o}") for o in range(outputs)]
        value_reg = [Signal(merged_pixel_layout(c), name=f"value_reg{o}") for o in range(outputs)]
        decided = []     # this cycle: earlier decisions and new ones
        value = []
        open_outputs = []   # (output, column) pairs fed by a driven group, not decided
        for o in range(outputs):
            member = self.members[o]
            blocking = Signal(name=f"blocking{o}")
            m.d.comb += blocking.eq((member & self.live).any())
            now = Signal(J, name=f"now{o}")
            both = Signal(J, name=f"decided{o}")
            word = Signal(merged_pixel_layout(c), name=f"value{o}")
            for j in range(J):
                low = Signal(signed(c.step_width + 1), name=f"lo{o}_{j}")
                span = Signal(unsigned_width(G * ((1 << c.span_width) - 1)), name=f"span{o}_{j}")
                high = Signal.like(low, name=f"hi{o}_{j}")
                m.d.comb += [
                    low.eq(tree_sum(Mux(member[g], self.lo[g][j], 0) for g in range(G))
                           + Mux(self.bias_en, self.bias[j], 0)
                           + Mux(self.psum_en, self.psum[o][j], 0)),
                    span.eq(tree_sum(Mux(member[g], self.span[g][j], 0) for g in range(G))),
                    high.eq(low + span),
                ]
                negative = self.relu & on & (high < 0)
                magnitude = Mux(low < 0, -low, low)
                close = approx & ((span << EPS_FRAC_BITS) <= self.eps * magnitude)
                m.d.comb += [
                    now[j].eq(self.bound_valid & blocking & columns[j] & ~decided_reg[o][j]
                              & (negative | close)),
                    word[j].eq(Mux(now[j], Mux(negative, 0, (low + high) >> 1),
                                   value_reg[o][j])),
                ]
            m.d.comb += both.eq(decided_reg[o] | now)
            decided.append(both)
            value.append(word)
            open_outputs.append(Mux(blocking, columns & ~both, 0))

        # A group stops the columns whose output (its slot's) is decided.
        for g in range(G):
            m.d.comb += self.stop[g].eq(Mux(self.bound_valid, tree_or(
                Mux(self.members[o][g], decided[o], 0) for o in range(outputs)), 0))
        m.d.comb += self.finish.eq(self.bound_valid & on & ~Cat(open_outputs).any())

        with m.If(self.producing):
            m.d.sync += [reg.eq(0) for reg in decided_reg]
            for o in range(outputs):
                m.d.sync += [self.decided[o].eq(decided[o]), self.value[o].eq(value[o]),
                             self.psum_held[o].eq(Mux(self.psum_en, self.psum[o].as_value(), 0))]
        with m.Elif(self.bound_valid):
            for o in range(outputs):
                m.d.sync += [decided_reg[o].eq(decided[o]), value_reg[o].eq(value[o])]

        count = tree_sum(decided[o][j] for o in range(outputs) for j in range(J))
        with m.If(self.clear):
            m.d.sync += self.decided_outputs.eq(0)
        with m.Elif(self.producing):
            m.d.sync += self.decided_outputs.eq(self.decided_outputs + count)
        return m
