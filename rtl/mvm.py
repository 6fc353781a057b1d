"""One crossbar group: a bit-serial, offset-corrected matrix-vector multiply unit."""

from types import SimpleNamespace

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from red.config import COUNTER_WIDTH, TileConfig, signed_width, unsigned_width

from ._arith import first_ones, popcount
from .crossbar import DEFAULT_CROSSBAR, CrossbarMacro, crossbar_model
from .offset import offset_correction
from .shift_add import ShiftAdd
from .layouts import require_tile_config

__all__ = ["MVMUnit", "MVMInstance", "mvm_signature", "MVM_MODULE", "WeightRowSignature",
           "mvm_input_layout", "mvm_output_layout"]

#: Module name of the generated MVM unit (``red gen --top mvm``).
MVM_MODULE = "red_mvm"


class WeightRowSignature(wiring.Signature):
    """Port that programs one crossbar row: the weights of one input channel.

    Members
    -------
    valid : Out(1)
        Write strobe (one row per cycle).
    row : Out(unsigned)
        Physical row (input channel).
    data : Out(ArrayLayout(signed(w_bits), logical_cols))
        The row's signed weights, one per logical column (output channel). The crossbar
        stores weight ``j`` offset-binary, ``u = w + 2^(Bw-1)``, as ``S = w_bits /
        cell_bits`` cell slices, slice ``k`` in physical column ``j*S + k``.
    """

    def __init__(self, config: TileConfig):
        super().__init__({
            "valid": Out(1),
            "row": Out(unsigned_width(config.rows - 1)),
            "data": Out(data.ArrayLayout(signed(config.w_bits), config.logical_cols)),
        })


def mvm_input_layout(config: TileConfig) -> data.StructLayout:
    """Payload of an MVM input beat: the signed vector, its sum and a gate flag.

    ``x_sum`` is ``sum(x[r] for r < active_rows)`` (:class:`~red.rtl.offset.OffsetCorrection`),
    as the tile's line buffer stores it with every pixel: the offset correction then
    needs no adder tree per group. A gated vector (an input read from outside the
    feature map) drives no row and is counted as a gated step instead of a crossbar
    step; its result is 0.
    """
    return data.StructLayout({
        "x": data.ArrayLayout(signed(config.in_bits), config.rows),
        "x_sum": signed(config.x_sum_width),
        "gate": 1,
    })


def mvm_output_layout(config: TileConfig) -> data.ArrayLayout:
    """Payload of an MVM output beat: one signed result per logical column."""
    return data.ArrayLayout(signed(config.mvm_width), config.logical_cols)


def mvm_signature(config: TileConfig) -> wiring.Signature:
    """Ports of :class:`MVMUnit` (and of :class:`MVMInstance`), as seen from inside;
    the shared ADCs' ports only with ``config.adcs_per_array``."""
    shared = {
        "adc_columns": Out(unsigned_width(config.logical_cols)),
        "adc_hold": In(1),
        "adc_more": In(1),
        "adc_ending": In(1),
    } if config.adcs_per_array else {}
    return wiring.Signature({
        "prog": In(WeightRowSignature(config)),
        "active_rows": In(unsigned_width(config.rows)),
        "active_cols": In(unsigned_width(config.logical_cols)),
        "i": In(stream.Signature(mvm_input_layout(config))),
        "o": Out(stream.Signature(mvm_output_layout(config))),
        "clear": In(1),
        "stepping": Out(1),
        "lo": Out(data.ArrayLayout(signed(config.mvm_width), config.logical_cols)),
        "span": Out(data.ArrayLayout(config.span_width, config.logical_cols)),
        "bounds_en": In(1),
        "bound_valid": Out(1),
        "producing": Out(1),
        "stop": In(config.logical_cols),
        "finish": In(1),
        "steps": Out(COUNTER_WIDTH),
        "gated_steps": Out(COUNTER_WIDTH),
        "conversions": Out(COUNTER_WIDTH),
        "row_drives": Out(COUNTER_WIDTH),
        "skipped_conversions": Out(COUNTER_WIDTH),
        "skipped_cycles": Out(COUNTER_WIDTH),
        **shared,
    })


class MVMUnit(wiring.Component):
    """A crossbar group: ``y[j] = sum_r x[r] * w[r][j]`` under the crossbar contract.

    Composes a crossbar (:mod:`red.rtl.crossbar`) and a :class:`ShiftAdd`, and subtracts
    the offset correction ``2^(Bw-1) * x_sum`` (:class:`~red.rtl.offset.OffsetCorrection`
    computes ``x_sum`` where the vector is produced). Each accepted vector is applied
    bit-serially, most significant (sign) plane first, one crossbar step per cycle; the
    result of the
    ``in_bits`` steps is ``P - 2^(Bw-1) * sum(x)``, bit-exact with
    :func:`red.golden.crossbar_mvm` (including a clipping ADC).

    Pipeline: sequencer (``in_bits`` steps per vector) -> crossbar/ADC register ->
    shift-add and offset correction -> output register.

    * Latency: :attr:`latency` ``= in_bits + 2`` cycles from the cycle a vector is
      accepted (``i.valid & i.ready``) to the first cycle its result is valid.
    * Throughput: one vector every ``in_bits`` cycles, back to back without bubbles,
      while ``o`` is not back-pressured. While a result waits on ``o`` the whole
      pipeline holds (no step, no count).

    **Early termination** (:mod:`red.rtl.early` decides). After each plane ``n`` but the
    last (``bound_valid``), ``lo`` and ``span`` bound every column's final result:
    ``lo = acc * 2^r - offset`` (the planes so far, the ``r = in_bits - n`` planes to
    come taken as 0) and ``span = min((2^r - 1) * U, (2^r - 1) * P + 2^(Bw-1) *
    sum(x mod 2^r))`` (0 for a gated vector; derived in :mod:`red.rtl.early`), where
    ``U`` is the column's largest plane value, ``sum_k 2^(c*k) min(colsum_k, 2^A - 1)``,
    and ``P`` the sum of its positive weights, both over the rows programmed since
    ``clear``, and ``x`` the vector's driven rows. In that cycle the next plane of the same
    vector is in the sequencer: ``stop`` keeps columns from converting it (and the
    rest of the vector's planes), and ``finish`` cancels it and ends the vector, whose
    result is emitted at once (``producing``) and the next vector may start in the same
    cycle. A vector stopped after ``n`` planes takes ``n + 1`` cycles. The bound logic
    is generated only with ``config.early_termination`` (``lo`` and ``span`` stay 0).

    **Shared ADCs** (``config.adcs_per_array``, :class:`~red.rtl.adc_pacer.ADCPacer`).
    ``adc_columns`` gives the logical columns a step converts (0 for a gated vector);
    while ``adc_hold`` the unit neither steps nor moves its pipeline (the ADCs still
    convert the plane before), and a vector's last plane lets the next vector in at once
    only without ``adc_more``, else in the last cycle of the hold (``adc_ending``). A
    plane then takes the pacer's ``k`` cycles instead of 1; results do not change.

    Parameters
    ----------
    config : TileConfig
    crossbar : str
        Crossbar model, a key of :data:`red.rtl.crossbar.CROSSBAR_MODELS`: ``"macro"``
        (the analog black box, default) or ``"ff"`` (flip-flop model, needed by the
        Amaranth simulator).

    Members
    -------
    prog : In(WeightRowSignature)
        Weight programming port, one row per cycle; write only while the unit is idle.
    active_rows : In(range(rows + 1))
        Rows ``0 .. active_rows-1`` take part (the layer's input channels).
    active_cols : In(range(logical_cols + 1))
        Logical columns ``0 .. active_cols-1`` are converted; the rest output 0.
        ``active_rows`` and ``active_cols`` must be held while vectors are in flight.
    i : In(stream.Signature(mvm_input_layout))
        Input vectors.
    o : Out(stream.Signature(mvm_output_layout))
        Results, in input order.
    clear : In(1)
        Zero the event counters (start of a layer).
    stepping : Out(1)
        High in every cycle in which the unit applies a plane (a crossbar step or a
        gated step): the "group busy" signal waveforms and counters use.
    lo, span, bound_valid, stop, finish :
        Early termination, above; ``lo`` and ``span`` are 0 unless ``bounds_en``.
        ``producing`` is high in the cycle a result is registered for ``o``.
    steps, gated_steps, conversions, row_drives : Out(COUNTER_WIDTH)
        Event counters since reset: crossbar steps (one plane of a non-gated vector),
        planes of gated vectors, ADC conversions (``S`` per active, not stopped column
        per step) and DAC row drives (``active_rows`` per step).
    skipped_conversions, skipped_cycles : Out(COUNTER_WIDTH)
        Conversions of non-gated vectors not made because of ``stop`` or ``finish``,
        and the plane cycles ``finish`` saved (``r - 1`` for the plane it cancels).
    """

    def __init__(self, config: TileConfig, crossbar: str = DEFAULT_CROSSBAR):
        self._config = require_tile_config(config)
        self._crossbar = crossbar_model(crossbar)
        super().__init__(mvm_signature(config))

    @property
    def config(self) -> TileConfig:
        return self._config

    @staticmethod
    def latency_of(config: TileConfig) -> int:
        """Cycles from accepting a vector to its result being valid: ``in_bits + 2``
        (the planes, the ADC register, the output register)."""
        return config.in_bits + CrossbarMacro.latency + 1

    @property
    def latency(self) -> int:
        return self.latency_of(self._config)

    @property
    def interval(self) -> int:
        """Cycles between back-to-back vectors in steady state: ``in_bits``."""
        return self._config.in_bits

    def elaborate(self, platform):
        m = Module()
        c = self._config
        m.submodules.crossbar = crossbar = self._crossbar(c)
        m.submodules.shift_add = shift_add = ShiftAdd(c)
        cells = self._program(m, crossbar)
        # Everything advances together unless a finished result is still waiting on `o`
        # or shared ADCs still convert a plane (`run`: the pipeline moves).
        advance, run = Signal(), Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            run.eq(advance & ~self.adc_hold if c.adcs_per_array else advance),
        ]
        # Rows 0 .. active_rows-1 and logical columns 0 .. active_cols-1, as shifts.
        col_mask = Signal(c.logical_cols)
        m.d.comb += col_mask.eq(first_ones(c.logical_cols, self.active_cols))
        vector = self._sequence_planes(m, crossbar, advance, run, col_mask)
        s1 = self._stage1(m, vector, run)
        self._result(m, shift_add, crossbar, cells, s1, run, col_mask)
        self._count_events(m, vector, run, col_mask)
        return m

    def _program(self, m, crossbar) -> Signal:
        """Programming: offset binary (adding 2^(Bw-1) to a two's complement weight flips
        its MSB); the S slices of u are its bits in order, so the row's cells are the u
        of every logical column side by side (unused physical columns hold 0). Returns
        the row's cells."""
        c = self._config
        msb = 1 << (c.w_bits - 1)
        cells = Signal(c.cols * c.cell_bits)
        m.d.comb += [
            cells.eq(Cat(self.prog.data[j].as_unsigned() ^ msb
                         for j in range(c.logical_cols))),
            crossbar.prog_en.eq(self.prog.valid),
            crossbar.prog_row.eq(self.prog.row),
            crossbar.prog_cells.eq(cells),
        ]
        return cells

    def _sequence_planes(self, m, crossbar, advance, run, col_mask) -> SimpleNamespace:
        """Stage 0, the bit-serial sequencer: one plane of the held vector per step.

        The vector is held as one word that shifts left once per step, so the MSB of
        every element is the current plane of its row (sign plane first); bits leaving an
        element enter the next one's LSBs, which are not read before the vector ends. One
        wide register and a fixed bit gather instead of ``rows`` shift registers keep the
        unit cheap to simulate. Returns the vector's registers (``offset``, ``gate``,
        ``bit``: the plane, counting down, ``busy``), the plane's bits (``plane``) and
        the rows driven (``row_en``)."""
        c = self._config
        x_bits = Signal(c.rows * c.in_bits)
        offset = Signal(signed(signed_width(*c.offset_range)))
        gate = Signal()
        bit = Signal(range(c.in_bits))
        busy = Signal()
        stepping = self.stepping
        m.d.comb += stepping.eq(busy & run & ~self.finish)
        if c.adcs_per_array:
            m.d.comb += self.i.ready.eq(advance & (
                (~busy & self.adc_ending)
                | (~self.adc_hold & (((bit == 0) & ~self.adc_more) | self.finish))))
        else:
            m.d.comb += self.i.ready.eq(advance & (~busy | (bit == 0) | self.finish))
        row_mask = Signal(c.rows)
        m.d.comb += row_mask.eq(first_ones(c.rows, self.active_rows))
        row_en = Signal(c.rows)
        m.d.comb += row_en.eq(Mux(gate, 0, row_mask))
        # The plane being applied: every element's MSB.
        plane = Cat(x_bits[r * c.in_bits + c.in_bits - 1] for r in range(c.rows))

        with m.If(run & busy):
            m.d.sync += [bit.eq(bit - 1), x_bits.eq(x_bits << 1)]
            with m.If((bit == 0) | self.finish):
                m.d.sync += busy.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                x_bits.eq(self.i.payload.x.as_value()),
                offset.eq(offset_correction(self.i.payload.x_sum, c)),
                gate.eq(self.i.payload.gate),
                bit.eq(c.in_bits - 1),
                busy.eq(1),
            ]

        m.d.comb += [
            crossbar.step.eq(stepping),
            crossbar.plane.eq(plane),
            crossbar.row_en.eq(row_en),
            crossbar.col_en.eq(Cat((col_mask[j] & ~self.stop[j]).replicate(c.slices)
                                   for j in range(c.logical_cols))),
        ]
        return SimpleNamespace(offset=offset, gate=gate, bit=bit, busy=busy, plane=plane,
                               row_en=row_en)

    def _stage1(self, m, vector, run) -> SimpleNamespace:
        """Stage 1: flags travelling beside the crossbar's code register."""
        c = self._config
        s1 = SimpleNamespace(
            valid=Signal(name="s1_valid"), first=Signal(name="s1_first"),
            last=Signal(name="s1_last"), offset=Signal.like(vector.offset, name="s1_offset"),
            # planes of the vector after this one
            remaining=Signal.like(vector.bit, name="s1_remaining"),
            gate=Signal(name="s1_gate"))
        with m.If(run):
            m.d.sync += s1.valid.eq(self.stepping)
            with m.If(self.stepping):
                m.d.sync += [
                    s1.first.eq(vector.bit == c.in_bits - 1),
                    s1.last.eq(vector.bit == 0),
                    s1.offset.eq(Mux(vector.gate, 0, vector.offset)),
                    s1.remaining.eq(vector.bit),
                    s1.gate.eq(vector.gate),
                ]
        if c.early_termination:
            s1.low = self._low_bits(m, vector)
        return s1

    def _low_bits(self, m, vector) -> Signal:
        """Stage 1's ``2^(Bw-1) * sum(x mod 2^r)`` over the driven rows, ``r`` the planes
        after the one it holds (early termination's signed bound). The sign plane's is
        ``offset + 2^(Bw-1) * 2^(Bx-1) * pop``, as ``sum(x) + 2^Bx * pop`` is
        ``sum(x mod 2^Bx)``; each later plane ``b`` takes ``2^(Bw-1) * 2^b * pop`` off,
        ``pop`` being the plane's driven ones."""
        c = self._config
        low = Signal(c.low_bits_width, name="s1_low")
        pop = Signal(unsigned_width(c.rows), name="plane_ones")
        m.d.comb += pop.eq(popcount(vector.plane & vector.row_en, c.rows))
        with m.If(self.stepping):
            with m.If(vector.bit == c.in_bits - 1):
                m.d.sync += low.eq(vector.offset + (pop << (c.w_bits + c.in_bits - 2)))
            with m.Else():
                m.d.sync += low.eq(low - ((pop << (c.w_bits - 1)) << vector.bit))
        return low

    def _result(self, m, shift_add, crossbar, cells, s1, run, col_mask):
        """Stage 2: shift-add; on the last plane, correct the offset into the output
        register. Early termination's bounds after every other plane."""
        c = self._config
        m.d.comb += [
            shift_add.codes.eq(crossbar.codes),
            shift_add.en.eq(run & s1.valid),
            shift_add.first.eq(s1.first),
        ]
        # The bounds after this plane (the last plane's are the result itself).
        m.d.comb += [
            self.bound_valid.eq(run & s1.valid & ~s1.last),
            self.producing.eq(run & s1.valid & (s1.last | self.finish)),
        ]
        # Held at 0 unless enabled: the bounds then cause no activity downstream (an
        # event-driven simulator re-evaluates the decision logic on every change). Not
        # generated at all without early termination: Verilator evaluates it every cycle.
        if c.early_termination:
            plane_bound, positive = self._plane_bounds(m, cells)
            with m.If(self.bounds_en):
                for j in range(c.logical_cols):
                    unsigned_rest = (plane_bound[j] << s1.remaining) - plane_bound[j]
                    signed_rest = (positive[j] << s1.remaining) - positive[j] + s1.low
                    m.d.comb += [
                        self.lo[j].eq((shift_add.value[j] << s1.remaining) - s1.offset),
                        self.span[j].eq(Mux(s1.gate, 0, Mux(signed_rest < unsigned_rest,
                                                            signed_rest, unsigned_rest))),
                    ]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.producing):
            m.d.sync += self.o.valid.eq(1)
            for j in range(c.logical_cols):
                m.d.sync += self.o.payload[j].eq(
                    Mux(col_mask[j], shift_add.value[j] - s1.offset, 0))

    def _count_events(self, m, vector, run, col_mask):
        """The event counters (the members' list), and the columns a step converts for
        shared ADCs."""
        c = self._config
        gate, bit = vector.gate, vector.bit
        converted = popcount(col_mask & ~self.stop, c.logical_cols)
        if c.adcs_per_array:
            m.d.comb += self.adc_columns.eq(Mux(self.stepping & ~gate, converted, 0))
        stopped = popcount(col_mask & self.stop, c.logical_cols)
        counters = (self.steps, self.gated_steps, self.conversions, self.row_drives,
                    self.skipped_conversions, self.skipped_cycles)
        with m.If(self.clear):
            m.d.sync += [counter.eq(0) for counter in counters]
        with m.Elif(self.stepping):
            with m.If(gate):
                m.d.sync += self.gated_steps.eq(self.gated_steps + 1)
            with m.Else():
                m.d.sync += [
                    self.steps.eq(self.steps + 1),
                    self.conversions.eq(self.conversions + converted * c.slices),
                    self.skipped_conversions.eq(self.skipped_conversions + stopped * c.slices),
                    self.row_drives.eq(self.row_drives + self.active_rows),
                ]
        with m.Elif(run & vector.busy & self.finish):
            # This plane and the `bit` after it are not applied.
            m.d.sync += self.skipped_cycles.eq(self.skipped_cycles + bit)
            with m.If(~gate):
                m.d.sync += self.skipped_conversions.eq(
                    self.skipped_conversions
                    + (bit + 1) * popcount(col_mask, c.logical_cols) * c.slices)

    def _plane_bounds(self, m, cells) -> tuple[list[Signal], list[Signal]]:
        """Per logical column, the early-termination bound of one plane's value,
        ``U_j = sum_k 2^(c*k) * min(colsum_(j,k), 2^A - 1)``, from each physical column's
        cell sum over the rows programmed since ``clear``, and ``P_j``, the sum of the
        column's positive weights: both built as the weights load."""
        c = self._config
        column_sums = [Signal(c.column_sum_width, name=f"colsum{i}") for i in range(c.cols)]
        positive = [Signal(c.positive_sum_width, name=f"positive{j}")
                    for j in range(c.logical_cols)]
        with m.If(self.clear):
            m.d.sync += [total.eq(0) for total in (*column_sums, *positive)]
        with m.Elif(self.prog.valid):
            m.d.sync += [total.eq(total + cells[i * c.cell_bits:(i + 1) * c.cell_bits])
                         for i, total in enumerate(column_sums)]
            m.d.sync += [total.eq(total + Mux(w[-1], 0, w.as_unsigned()))
                         for total, w in zip(positive, self.prog.data)]
        plane_bound = []
        for j in range(c.logical_cols):
            bound = Signal(c.plane_width, name=f"plane_bound{j}")
            clipped = [total if c.lossless else Mux(total > c.adc_max, c.adc_max, total)
                       for total in column_sums[j * c.slices:(j + 1) * c.slices]]
            m.d.comb += bound.eq(sum(code << (c.cell_bits * k) for k, code in enumerate(clipped)))
            plane_bound.append(bound)
        return plane_bound, positive


class MVMInstance(wiring.Component):
    """An :class:`MVMUnit` instantiated as the separately generated module
    :data:`MVM_MODULE` (same signature, latency and throughput).

    A tile has ``kernel^2`` identical groups; Amaranth would emit one copy of the unit's
    Verilog per group, so the macro netlist generates the unit once and instantiates it.

    Parameters
    ----------
    config : TileConfig
    """

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        super().__init__(mvm_signature(config))

    @property
    def config(self) -> TileConfig:
        return self._config

    @property
    def latency(self) -> int:
        return MVMUnit.latency_of(self._config)

    def elaborate(self, platform):
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for path, member, value in self.signature.flatten(self):
            direction = "i" if member.flow == In else "o"
            ports[f"{direction}_{'__'.join(str(part) for part in path)}"] = value
        return Instance(MVM_MODULE, **ports)
