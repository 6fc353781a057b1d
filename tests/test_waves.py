"""Waveform measurements (``red.sim.waves``, ``red waves``) against the hardware
counters and the model, on both simulators."""

import json

import pytest

from red import cli
from red.config import LayerSpec
from red.sim import SIMULATORS
from red.sim.waves import WaveformError, measure

# A small tile keeps the tracing Verilator build short.
TILE = "rows=2,cols=4,cell_bits=2,w_bits=4,in_bits=3,kernel=3,max_stride=3,max_in=4"
LAYER = "cin=2,cout=2,h=3,w=4,k=3,s=2,p=1,op=1"


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("mode, stall", [("red", 0.0), ("zp", 0.0), ("red", 0.3)])
def test_waveform_equals_counters_and_model(sim, mode, stall, tmp_path):
    out = tmp_path / "run"
    status = cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", sim, "--mode", mode,
                       "--stall", str(stall), "--seed", "3", "--waves", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert status == 0, report["problems"]
    wave, model, counters = report["waveform"], report["model"], report["cycles"]
    assert (wave["total_cycles"], wave["compute_cycles"]) == (counters["total"],
                                                             counters["compute"])
    layer = LayerSpec.parse(LAYER)
    steps = layer.nb_h * layer.nb_w if mode == "red" else layer.ho * layer.wo
    assert wave["compute_cycles"] == steps * 3
    assert set(wave["group_busy_cycles"].values()) == {steps * 3}
    if stall:
        assert wave["total_cycles"] > model["total_cycles"]
        assert wave["input_starved_cycles"] + wave["output_stalled_cycles"] > 0
    else:
        assert wave["total_cycles"] == model["total_cycles"]
        assert wave["input_starved_cycles"] == wave["output_stalled_cycles"] == 0
    assert (out / report["files"]["waveform"]).exists()
    assert measure(out / report["files"]["waveform"]).as_dict() == wave
    if sim == "verilator" and mode == "red" and not stall:
        # Cut at a line boundary, a VCD still parses; the cut layer must be refused.
        lines = (out / "dump.vcd").read_text().splitlines(keepends=True)
        cut = tmp_path / "cut.vcd"
        cut.write_text("".join(lines[:len(lines) * 3 // 4]))
        with pytest.raises(WaveformError, match="never finishes"):
            measure(cut)


def test_unreadable_waveform_is_refused(tmp_path, capsys):
    bogus = tmp_path / "bogus.vcd"
    bogus.write_text("not a waveform\n")
    with pytest.raises(WaveformError, match="bogus.vcd"):
        measure(bogus)
    assert cli.main(["waves", str(tmp_path / "missing.fst")]) == 2
    assert "missing.fst" in capsys.readouterr().err
    assert cli.main(["waves", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
