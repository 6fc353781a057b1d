"""The flip-flop crossbar model (CrossbarMVM) against the macro contract: programming,
column sums, ADC saturation, enables, codes held between steps. The behavioural Verilog
model of the black box gets the same stimulus in test_cocotb_crossbar.py."""

import pytest

from red.config import TileConfig
from red.rtl.crossbar import CrossbarMVM
from red.sim.agents import pack_values
from red.sim.tb_crossbar import crossbar_stimulus, expected

from _amaranth_sim import simulate

SEED = 20261121

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4),                # lossless
    TileConfig(rows=6, cols=8, cell_bits=2, w_bits=4, in_bits=4, adc_bits=2),    # clipping
    TileConfig(rows=3, cols=8, cell_bits=1, w_bits=4, in_bits=2, adc_bits=1),
    TileConfig(rows=5, cols=6, cell_bits=4, w_bits=8, in_bits=2, adc_bits=3),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_contract(cfg):
    print(f"seed={SEED}")
    cell_sets, sequence = crossbar_stimulus(cfg, SEED)
    dut = CrossbarMVM(cfg)
    assert dut.latency == 1
    problems = []

    async def testbench(ctx):
        for cells in cell_sets:
            for r in range(cfg.rows):
                ctx.set(dut.prog_en, 1)
                ctx.set(dut.prog_row, r)
                ctx.set(dut.prog_cells, pack_values(cells[r], cfg.cell_bits))
                await ctx.tick()
            ctx.set(dut.prog_en, 0)
            for n, (plane, row_en, col_en) in enumerate(sequence):
                ctx.set(dut.step, 1)
                ctx.set(dut.plane, pack_values(plane, 1))
                ctx.set(dut.row_en, pack_values(row_en, 1))
                ctx.set(dut.col_en, pack_values(col_en, 1))
                await ctx.tick()
                ctx.set(dut.step, 0)
                ctx.set(dut.plane, 0)
                got = [int(v) for v in ctx.get(dut.codes)]
                if got != expected(cfg, cells, plane, row_en, col_en):
                    problems.append(f"step {n}: {got}")
                await ctx.tick()
                if [int(v) for v in ctx.get(dut.codes)] != got:
                    problems.append(f"step {n}: codes not held")

    simulate(dut, testbench)
    assert not problems, problems[:5]


def test_stimulus_clips_and_saturates():
    """The shared stimulus reaches the ADC limit on a clipping tile (so the tests above
    and in test_cocotb_crossbar.py exercise saturation) and stays below it losslessly."""
    for cfg, clips in ((CONFIGS[0], False), (CONFIGS[1], True)):
        cell_sets, sequence = crossbar_stimulus(cfg, SEED)
        sums = [(plane & row_en) @ cell_sets[1] for plane, row_en, _ in sequence]
        assert (max(int(s.max()) for s in sums) > cfg.adc_max) == clips
