"""``red sim`` on a tile with shared ADCs (``adcs_per_array``): exact results, counters
equal to the model, a plane's cycles following the conversions made, and a one-line
refusal of a bad setting."""

import json

import numpy as np
import pytest

from red.config import TileConfig
from red.golden import deconv2d
from red.sim import SIMULATORS

from _early_data import layer_data as early_data, red_sim

# 2 slices per weight, 4 logical columns, 2 ADCs per array: a plane converting n
# logical columns takes ceil(2n / 2) = n cycles (at least 1).
TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=5,kernel=3,max_stride=4,max_in=6"
SHARED = TILE + ",adcs_per_array=2"
LAYER = "cin=5,cout=3,h=4,w=4,k=3,s=2,p=1,op=1"        # two cin slices
SEED = 4242


def layer_data(folder):
    return early_data(folder, LAYER, SEED)


def run(tmp_path, paths, tile, mode, early, sim, *extra):
    out = tmp_path / f"{mode}-{early}-{len(tile)}-{len(extra)}"
    proc = red_sim("--layer", LAYER, "--tile", tile, "--sim", sim, "--mode", mode,
                   "--x", str(paths["x"]), "--w", str(paths["w"]), "--bias",
                   str(paths["bias"]), "--relu", "--early", early, *extra, "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, json.loads((out / "report.json").read_text())


@pytest.mark.parametrize("sim", [pytest.param(sim, marks=() if sim == "verilator" else
                                              pytest.mark.slow) for sim in SIMULATORS])
@pytest.mark.parametrize("mode", ["red", "zp"])
def test_shared_adcs_change_timing_not_results(tmp_path, sim, mode):
    layer, x, w, bias, paths = layer_data(tmp_path)
    expected = deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias, relu=True)
    reports = {}
    for tile in (TILE, SHARED):
        for early in ("off", "negative"):
            out, report = run(tmp_path, paths, tile, mode, early, sim)
            assert np.array_equal(np.load(out / "y.npy"), expected), (tile, early)
            # Every counter and the cycles equal the model.
            assert report["problems"] == [], report["problems"]
            reports[tile == SHARED, early] = report
    shared_off, shared_on = reports[True, "off"], reports[True, "negative"]
    # Nothing skipped: every plane of every step converts all 3 columns of every group,
    # 3 cycles a plane (each step here has a driven group), 1 with an ADC per column.
    steps = shared_off["events"]["steps"]            # over both passes
    assert shared_off["cycles"]["compute"] == 3 * reports[False, "off"]["cycles"]["compute"]
    assert shared_off["cycles"]["compute"] == steps * 5 * 3
    # Early termination: the same conversions skipped on both tiles, and on shared ADCs
    # they give cycles back.
    assert shared_on["events"]["skipped_conversions"] > 0
    for key in ("adc_conversions", "skipped_conversions", "decided_outputs"):
        assert shared_on["events"][key] == reports[False, "negative"]["events"][key]
    assert shared_on["cycles"]["compute"] < shared_off["cycles"]["compute"]
    assert shared_on["cycles"]["total"] < shared_off["cycles"]["total"]


def test_shared_adcs_under_stalls_and_pf(tmp_path):
    """Input gaps and output back-pressure with ADC holds (exact results), and PF on
    the same tile (counters equal to the model and to its waveform)."""
    layer, x, w, bias, paths = layer_data(tmp_path)
    expected = deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias, relu=True)
    out, report = run(tmp_path, paths, SHARED, "red", "negative", "verilator",
                      "--stall", "0.3")
    assert np.array_equal(np.load(out / "y.npy"), expected)
    out, report = run(tmp_path, paths, SHARED, "pf", "off", "verilator", "--waves")
    assert np.array_equal(np.load(out / "y.npy"), expected)
    assert report["problems"] == []
    # The waveform counts the ADC holds as the groups' busy cycles, as the counter does.
    # Every PF step drives its groups: 5 planes of 3 cycles.
    assert report["waveform"]["compute_cycles"] == report["cycles"]["compute"] == \
        report["events"]["steps"] * 5 * 3


def test_bad_adcs_per_array_exits_2_with_one_line(tmp_path):
    proc = red_sim("--layer", LAYER, "--tile", TILE + ",adcs_per_array=3", "--sim", "icarus",
                   "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "adcs_per_array=3" in lines[0] and "power of two" in lines[0]
    assert not (tmp_path / "out").exists()
    assert TileConfig.parse(SHARED).adc_cycles(3) == 3
