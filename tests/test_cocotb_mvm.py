"""The generated MVM unit on Icarus and Verilator, driven by ``red.sim.tb_mvm``.

Configurations cover every value the issue names at least once (a covering set, not the
full product, to keep Verilator builds few): rows x cols 8x16 and 16x32; cell_bits 1, 2,
4; w_bits 4 and 8; in_bits 4 and 8; lossless and clipping ADCs.
"""

import pytest

from red.config import TileConfig
from red.sim import SIMULATORS
from red.sim.pacing import Pacing
from red.sim.runner import failure_messages, run_job

SEED = 424242

#: Input idles and output back-pressure of the random streams: 30% of cycles each.
RANDOM_30 = Pacing("random", 0.3)

CONFIGS = [
    TileConfig(rows=8, cols=16, cell_bits=1, w_bits=4, in_bits=4),                 # lossless
    TileConfig(rows=8, cols=16, cell_bits=2, w_bits=8, in_bits=8, adc_bits=3),     # clipping
    TileConfig(rows=16, cols=32, cell_bits=4, w_bits=8, in_bits=4, adc_bits=5),    # clipping
    TileConfig(rows=16, cols=32, cell_bits=2, w_bits=4, in_bits=8),                # lossless
]


def config_id(cfg: TileConfig) -> str:
    adc = "lossless" if cfg.lossless else f"adc{cfg.adc_bits}"
    return f"{cfg.rows}x{cfg.cols}-c{cfg.cell_bits}-w{cfg.w_bits}-x{cfg.in_bits}-{adc}"


def test_configs_cover_the_matrix():
    assert {(c.rows, c.cols) for c in CONFIGS} == {(8, 16), (16, 32)}
    assert {c.cell_bits for c in CONFIGS} == {1, 2, 4}
    assert {c.w_bits for c in CONFIGS} == {4, 8}
    assert {c.in_bits for c in CONFIGS} == {4, 8}
    assert {c.lossless for c in CONFIGS} == {True, False}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_mvm(cfg, sim, tmp_path):
    seed = SEED + CONFIGS.index(cfg)
    print(f"seed={seed} sim={sim} config={cfg}")
    job = {"seed": seed, "vectors": 40, "idle": RANDOM_30.describe(),
           "backpressure": RANDOM_30.describe(),
           # one cycle per bit plane, then the macro's code and the result register
           "latency": cfg.in_bits + 2}
    result = run_job("mvm", cfg, "red.sim.tb_mvm", job, sim=sim, work_dir=tmp_path)
    assert result.tests == 3, f"expected 3 cocotb tests, ran {result.tests}"
    assert result.failed == 0, "\n".join(failure_messages(result))
