"""Digital stand-in for one analog ReRAM crossbar with its column ADCs."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import tree_sum
from .layouts import require_tile_config

__all__ = ["WeightWriteSignature", "CrossbarMVM"]


class WeightWriteSignature(wiring.Signature):
    """Port that writes one signed weight into one logical column of a crossbar.

    Members
    -------
    valid : Out(1)
        Write strobe.
    row : Out(unsigned)
        Physical row (input channel).
    col : Out(unsigned)
        Logical column (output channel); the weight occupies the physical columns
        ``col*S`` to ``col*S + S - 1``.
    data : Out(signed(w_bits))
        The signed weight. The crossbar stores it offset-binary, ``u = w + 2^(Bw-1)``,
        split into ``S = w_bits / cell_bits`` cell slices, slice ``k`` in column
        ``col*S + k``.
    """

    def __init__(self, config: TileConfig):
        super().__init__({
            "valid": Out(1),
            "row": Out(unsigned_width(config.rows - 1)),
            "col": Out(unsigned_width(config.logical_cols - 1)),
            "data": Out(signed(config.w_bits)),
        })


class CrossbarMVM(wiring.Component):
    """A ``rows x cols`` array of ``cell_bits`` cells and one ADC per physical column.

    Each step applies one input bit plane (one bit per row, the 1-bit DAC) to the rows
    enabled by ``row_en``; every enabled column returns the exact column sum
    ``a = sum_rows plane[r] * cell[r][col]`` saturated to the ADC's ``adc_bits`` range,
    ``min(a, 2^A - 1)``. Disabled columns are not converted and return 0.

    Parameters
    ----------
    config : TileConfig
        Array size (``rows``, ``cols``), ``cell_bits``, ``w_bits`` and ``adc_bits``.

    Members
    -------
    prog : In(WeightWriteSignature)
        Writes one weight (``S`` cells) per cycle. Do not write while stepping.
    step : In(1)
        Convert this cycle's plane.
    plane : In(rows)
        Input bit plane, bit ``r`` drives row ``r``.
    row_en : In(rows)
        Rows taking part in the step.
    col_en : In(cols)
        Physical columns converted by the step.
    codes : Out(ArrayLayout(code_width, cols))
        ADC codes of the last step; updated ``latency`` cycles after ``step``, held otherwise.

    Latency is 1 cycle (the ADC output register); throughput is one plane per cycle.
    """

    latency = 1

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        super().__init__({
            "prog": In(WeightWriteSignature(config)),
            "step": In(1),
            "plane": In(config.rows),
            "row_en": In(config.rows),
            "col_en": In(config.cols),
            "codes": Out(data.ArrayLayout(config.code_width, config.cols)),
        })

    @property
    def config(self) -> TileConfig:
        return self._config

    def elaborate(self, platform):
        m = Module()
        c = self._config
        cells = [[Signal(c.cell_bits, name=f"cell_r{r}_c{j}") for j in range(c.cols)]
                 for r in range(c.rows)]

        # Offset binary: adding 2^(Bw-1) to a two's complement number flips its MSB.
        stored = Signal(c.w_bits)
        m.d.comb += stored.eq(self.prog.data.as_unsigned() ^ (1 << (c.w_bits - 1)))
        for r in range(c.rows):
            for lc in range(c.logical_cols):
                with m.If(self.prog.valid & (self.prog.row == r) & (self.prog.col == lc)):
                    for k in range(c.slices):
                        m.d.sync += cells[r][lc * c.slices + k].eq(
                            stored[k * c.cell_bits:(k + 1) * c.cell_bits])

        drive = Signal(c.rows)
        m.d.comb += drive.eq(self.plane & self.row_en)
        clips = c.code_max < c.rows * c.cell_max
        with m.If(self.step):
            for j in range(c.cols):
                column_sum = tree_sum(Mux(drive[r], cells[r][j], 0) for r in range(c.rows))
                code = Mux(column_sum > c.adc_max, c.adc_max, column_sum) if clips else column_sum
                m.d.sync += self.codes[j].eq(Mux(self.col_en[j], code, 0))
        return m
