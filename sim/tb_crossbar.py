"""The crossbar macro's contract, checked on either model with one stimulus.

:func:`crossbar_stimulus` draws a seeded programme (cells per row) and a sequence of
steps (plane, row enable, column enable), extremes included: all rows driven into
full-scale cells, which clips whenever the ADC is narrower than lossless. The expected
codes come from :func:`red.golden.column_codes`. The Amaranth test
(``tests/test_rtl_crossbar.py``) drives the flip-flop model with it; the cocotb test
below drives the behavioural Verilog model of the black box (``red gen --top crossbar``).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from red.config import TileConfig
from red.golden import column_codes

from .agents import Scoreboard, load_job, pack_values, reset, start_clock

__all__ = ["crossbar_stimulus", "expected"]


def crossbar_stimulus(cfg: TileConfig, seed: int, steps: int = 40):
    """``(cell_sets, steps)``: two programmes ``[rows][cols]`` of cell values (random with
    a full-scale and an empty row, then all full-scale) and the steps
    ``[(plane, row_en, col_en), ...]`` as 0/1 arrays, the last one driving everything."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, cfg.cell_max + 1, (cfg.rows, cfg.cols))
    cells[0, :] = cfg.cell_max
    cells[-1, :] = 0
    sequence = [(rng.integers(0, 2, cfg.rows), rng.integers(0, 2, cfg.rows),
                 rng.integers(0, 2, cfg.cols)) for _ in range(steps)]
    ones_r, ones_c = np.ones(cfg.rows, np.int64), np.ones(cfg.cols, np.int64)
    full = np.full((cfg.rows, cfg.cols), cfg.cell_max)
    return [cells, full], sequence + [(ones_r, ones_r, ones_c)]


def expected(cfg: TileConfig, cells, plane, row_en, col_en) -> list[int]:
    codes = column_codes(plane & row_en, cells, cfg.adc_bits)
    return [int(v) for v in np.where(col_en == 1, codes, 0)]


@cocotb.test()
async def contract(dut):
    """Program every row, step the sequence twice (two cell sets), compare every code;
    codes hold while not stepping."""
    job = load_job()
    cfg = TileConfig(**job["config"])
    seed = int(job["seed"])
    dut._log.info("seed=%d config=%s", seed, cfg)
    cell_sets, sequence = crossbar_stimulus(cfg, seed)
    start_clock(dut)
    for name in ("prog_en", "step"):
        getattr(dut, name).value = 0
    await reset(dut)
    scoreboard = Scoreboard(dut._log)
    for cells in cell_sets:
        for r in range(cfg.rows):
            dut.prog_en.value = 1
            dut.prog_row.value = r
            dut.prog_cells.value = pack_values(cells[r], cfg.cell_bits)
            await RisingEdge(dut.clk)
        dut.prog_en.value = 0
        for n, (plane, row_en, col_en) in enumerate(sequence):
            dut.step.value = 1
            dut.plane.value = pack_values(plane, 1)
            dut.row_en.value = pack_values(row_en, 1)
            dut.col_en.value = pack_values(col_en, 1)
            await RisingEdge(dut.clk)
            dut.step.value = 0
            dut.plane.value = 0
            await ReadOnly()
            word = dut.codes.value.to_unsigned()
            got = [(word >> (j * cfg.code_width)) & ((1 << cfg.code_width) - 1)
                   for j in range(cfg.cols)]
            scoreboard.compare(f"step {n}", got, expected(cfg, cells, plane, row_en, col_en))
            await RisingEdge(dut.clk)
            await ReadOnly()
            held = dut.codes.value.to_unsigned()
            scoreboard.compare(f"step {n} held", [held], [word])
            await RisingEdge(dut.clk)
    scoreboard.check()
