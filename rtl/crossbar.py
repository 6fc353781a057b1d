"""The ReRAM crossbar with its column ADCs: one port contract, two models.

In a mixed-signal chip the array, its row drivers, sample-and-hold and ADCs form an
analog macro that the digital netlist instantiates as a black box. This module defines
that macro's port contract once (:class:`CrossbarSignature`) and two implementations of
it:

* :class:`CrossbarMacro` (generation option ``crossbar="macro"``, the default of
  ``red gen``): an ``Instance`` of the black box ``red_crossbar``. Simulation uses the
  behavioural Verilog model :data:`MACRO_SOURCE` (cells held in bit-packed memories, a
  column sum is ``cell_bits`` ``$countones``), which ``red gen`` writes beside the tile.
  Synthesis black-boxes it, so the digital periphery gets an area of its own.
* :class:`CrossbarMVM` (``crossbar="ff"``): the same contract in Amaranth, one register
  per cell and an adder tree per column. The Amaranth simulator cannot run a black box,
  so the Amaranth-level tests use this model; it is also a synthesizable stand-in for
  FPGA emulation (it grows as ``rows * cols`` registers, so keep it to small arrays).

Both are tested against :func:`red.golden.crossbar_mvm` with the same stimulus
(``tests/test_rtl_crossbar.py`` and ``tests/test_cocotb_crossbar.py``), clipping
included.
"""

from importlib import resources

from amaranth.hdl import ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from red.config import TileConfig, unsigned_width

from ._arith import tree_sum
from .layouts import require_tile_config

__all__ = ["CrossbarSignature", "CrossbarMVM", "CrossbarMacro", "CROSSBAR_MODELS",
           "DEFAULT_CROSSBAR", "MACRO_NAME", "MACRO_FILE", "macro_source", "crossbar_model"]

#: Module name of the analog macro in the netlist, and the file of its behavioural model.
MACRO_NAME = "red_crossbar"
MACRO_FILE = f"{MACRO_NAME}.v"


def macro_source() -> str:
    """Text of the macro's behavioural Verilog model (package data of ``red.rtl``)."""
    return resources.files(__package__).joinpath(MACRO_FILE).read_text()


class CrossbarSignature(wiring.Signature):
    """Port contract of the crossbar macro: ``rows x cols`` cells of ``cell_bits`` bits
    and one ADC per physical column.

    Members
    -------
    prog_en : Out(1)
        Program physical row ``prog_row`` at this clock edge. Do not step in the same
        cycle.
    prog_row : Out(range(rows))
    prog_cells : Out(cols * cell_bits)
        The row's cell values: bits ``j*cell_bits .. j*cell_bits + cell_bits - 1`` are the
        value (conductance level) of the cell in physical column ``j``.
    step : Out(1)
        Convert one input bit plane at this clock edge.
    plane : Out(rows)
        The plane (1-bit DAC): bit ``r`` drives row ``r``.
    row_en : Out(rows)
        Rows taking part; a disabled row is not driven whatever its plane bit.
    col_en : Out(cols)
        Physical columns converted.
    codes : In(ArrayLayout(code_width, cols))
        After a step, column ``j`` holds ``min(a_j, 2^adc_bits - 1)`` with
        ``a_j = sum_r plane[r] & row_en[r] * cell[r][j]`` if ``col_en[j]``, else 0.
        Codes change only at a step's clock edge (latency 1) and hold otherwise.

    Throughput: one plane per cycle; programming: one row per cycle.
    """

    def __init__(self, config: TileConfig):
        c = require_tile_config(config)
        super().__init__({
            "prog_en": Out(1),
            "prog_row": Out(unsigned_width(c.rows - 1)),
            "prog_cells": Out(c.cols * c.cell_bits),
            "step": Out(1),
            "plane": Out(c.rows),
            "row_en": Out(c.rows),
            "col_en": Out(c.cols),
            "codes": In(data.ArrayLayout(c.code_width, c.cols)),
        })


class _Crossbar(wiring.Component):
    """What both models share: the flipped contract and the configuration."""

    #: Cycles from a step to its codes (the ADC output register).
    latency = 1

    def __init__(self, config: TileConfig):
        self._config = require_tile_config(config)
        super().__init__(CrossbarSignature(config).flip())

    @property
    def config(self) -> TileConfig:
        return self._config


class CrossbarMVM(_Crossbar):
    """Flip-flop model of the crossbar contract (:class:`CrossbarSignature`): a register
    per cell, an adder tree and a saturating code register per physical column.

    Latency 1 cycle; throughput one plane per cycle.

    Parameters
    ----------
    config : TileConfig
    """

    def elaborate(self, platform):
        m = Module()
        c = self._config
        cells = [[Signal(c.cell_bits, name=f"cell_r{r}_c{j}") for j in range(c.cols)]
                 for r in range(c.rows)]
        for r in range(c.rows):
            with m.If(self.prog_en & (self.prog_row == r)):
                m.d.sync += [cells[r][j].eq(self.prog_cells[j * c.cell_bits:
                                                            (j + 1) * c.cell_bits])
                             for j in range(c.cols)]

        drive = Signal(c.rows)
        m.d.comb += drive.eq(self.plane & self.row_en)
        clips = c.code_max < c.rows * c.cell_max
        with m.If(self.step):
            for j in range(c.cols):
                column_sum = tree_sum(Mux(drive[r], cells[r][j], 0) for r in range(c.rows))
                code = Mux(column_sum > c.adc_max, c.adc_max, column_sum) if clips else column_sum
                m.d.sync += self.codes[j].eq(Mux(self.col_en[j], code, 0))
        return m


class CrossbarMacro(_Crossbar):
    """The crossbar as a black box: an ``Instance`` of :data:`MACRO_NAME`.

    The behavioural model (:func:`macro_source`) implements :class:`CrossbarSignature`
    for the parameters passed here. Latency 1 cycle; throughput one plane per cycle.

    Parameters
    ----------
    config : TileConfig
    """

    def elaborate(self, platform):
        m = Module()
        c = self._config
        m.submodules.macro = Instance(
            MACRO_NAME,
            p_ROWS=c.rows, p_COLS=c.cols, p_CELL_BITS=c.cell_bits,
            p_ROW_WIDTH=len(self.prog_row), p_CODE_WIDTH=c.code_width, p_CODE_MAX=c.code_max,
            i_clk=ClockSignal(), i_rst=ResetSignal(),
            i_prog_en=self.prog_en, i_prog_row=self.prog_row, i_prog_cells=self.prog_cells,
            i_step=self.step, i_plane=self.plane, i_row_en=self.row_en, i_col_en=self.col_en,
            o_codes=self.codes.as_value(),
        )
        return m


#: Generation option ``crossbar``: name -> model class.
CROSSBAR_MODELS = {"macro": CrossbarMacro, "ff": CrossbarMVM}

#: The netlist's crossbar: the analog macro.
DEFAULT_CROSSBAR = "macro"


def crossbar_model(name: str) -> type[_Crossbar]:
    """The crossbar class of generation option ``name`` (a key of :data:`CROSSBAR_MODELS`)."""
    if name not in CROSSBAR_MODELS:
        from red.config import ConfigError
        raise ConfigError(f"crossbar={name!r} is invalid: choose one of "
                          f"{', '.join(CROSSBAR_MODELS)}")
    return CROSSBAR_MODELS[name]
