"""Tiles generated for one data flow (``red_mode``/``zp_mode``/``pf_mode``): bit-exact in
the mode they have, on both simulators, the others refused with one line."""

import json
import subprocess
import sys

import pytest

from red import cli
from red.config import ConfigError, TileConfig
from red.sim import SIMULATORS

TILE = "rows=8,cols=16,kernel=3"
#: Two cin passes, bias and ReLU on the last.
LAYER = "cin=10,cout=6,h=5,w=5,k=3,s=2,p=1,op=1"
MODES = ("red", "zp", "pf")
#: A tile with only ``mode``: the other data flows' flags off.
ONLY = {mode: ",".join(f"{other}_mode=0" for other in MODES if other != mode) for mode in MODES}


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("mode", MODES)
def test_a_tile_for_one_data_flow_runs_it_bit_exact(sim, mode, tmp_path):
    out = tmp_path / "run"
    status = cli.main(["sim", "--layer", LAYER, "--tile", f"{TILE},{ONLY[mode]}", "--sim", sim,
                       "--mode", mode, "--seed", "5", "--relu", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert status == 0 and report["match"] and report["problems"] == []
    assert [report["tile"][f"{other}_mode"] for other in MODES] == [m == mode for m in MODES]


@pytest.mark.parametrize("mode", MODES)
def test_the_missing_data_flow_is_refused_with_one_line(mode, tmp_path):
    other = MODES[(MODES.index(mode) + 1) % len(MODES)]
    proc = subprocess.run([sys.executable, "-m", "red.cli", "sim", "--layer", LAYER,
                           "--tile", f"{TILE},{ONLY[mode]}", "--mode", other, "--sim", "icarus",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and f"{mode} only" in lines[0]
    assert not (tmp_path / "run").exists()


def test_a_tile_needs_a_data_flow():
    with pytest.raises(ConfigError, match="needs a data flow"):
        TileConfig(red_mode=0, zp_mode=0, pf_mode=0)
    assert TileConfig().modes == MODES and TileConfig(zp_mode=0).modes == ("red", "pf")
