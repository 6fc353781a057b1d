"""The behavioural Verilog model of the crossbar macro (``red gen --top crossbar``)
against the contract, on Icarus and Verilator, with the stimulus of
test_rtl_crossbar.py. The 128x128 tile is the papers' array with its 8-bit ADC, which
clips at 128 rows of 2-bit cells. The flip-flop stand-in (``--crossbar ff``) gets the
same test as generated Verilog."""

import pytest

from red.config import TileConfig
from red.gen.verilog import generate
from red.sim import SIMULATORS
from red.sim.runner import run_job

SEED = 20261121

CONFIGS = {
    "clipping": TileConfig(rows=6, cols=8, cell_bits=2, w_bits=4, in_bits=4, adc_bits=2),
    "cell4": TileConfig(rows=5, cols=6, cell_bits=4, w_bits=8, in_bits=2, adc_bits=3),
    "paper": TileConfig(rows=128, cols=128, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8),
}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name, crossbar", [(name, "macro") for name in sorted(CONFIGS)]
                         + [("clipping", "ff")])
def test_macro_contract(name, crossbar, sim, tmp_path):
    cfg = CONFIGS[name]
    print(f"seed={SEED} sim={sim} tile={cfg} crossbar={crossbar}")
    result = run_job("crossbar", cfg, "red.sim.tb_crossbar", {"seed": SEED}, sim=sim,
                     work_dir=tmp_path, generated=generate("crossbar", cfg, crossbar))
    assert result.passed, (tmp_path / "sim.log").read_text()[-3000:]
