"""Waveform measurements (``red.sim.waves``, ``red waves``) against the hardware
counters and the model, pass by pass, on both simulators; partial and foreign dumps;
the GTKWave save file and the timing picture."""

import json

import numpy as np
import pytest

from red import cli
from red.config import LayerSpec, TileConfig
from red.mapping import schedule
from red.sim import SIMULATORS
from red.sim.runner import Waves
from red.sim.waves import Traces, WaveformError, measure, measure_traces

# A small tile keeps the tracing Verilator build short.
TILE = "rows=2,cols=4,cell_bits=2,w_bits=4,in_bits=3,kernel=3,max_stride=3,max_in=4"
#: In passes every way: cin 3 over 2 rows, cout 3 over 2 logical columns, K4 over K3
#: (4 folds): 2 x 2 x 4 = 16 passes.
LAYER = "cin=3,cout=3,h=3,w=4,k=4,s=2,p=1,op=1"
PASSES = 16


def test_the_layer_runs_in_passes_every_way():
    plan = schedule(LayerSpec.parse(LAYER), TileConfig.parse(TILE))
    assert (plan.cin_tiles, plan.cout_tiles, plan.folds, len(plan)) == (2, 2, 4, PASSES)


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("mode, stall", [("red", 0.0), ("zp", 0.0), ("red", 0.3)])
def test_waveform_equals_counters_and_model_pass_by_pass(sim, mode, stall, tmp_path):
    out = tmp_path / "run"
    status = cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", sim, "--mode", mode,
                       "--stall", str(stall), "--seed", "3", "--waves", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert status == 0, report["problems"]
    wave, model, counters = report["waveform"], report["model"], report["cycles"]
    assert report["files"]["waveform"] == ("waves.fst" if sim == "icarus" else "dump.fst")
    assert not wave["partial"] and len(wave["passes"]) == report["passes"] == PASSES
    for entry, figures in zip(report["schedule"], wave["passes"]):
        assert (figures["total_cycles"], figures["compute_cycles"], figures["load_cycles"]) \
            == (entry["cycles"]["total"], entry["cycles"]["compute"], entry["cycles"]["load"])
        start, stop = entry["cin"]
        assert figures["load_cycles"] == stop - start            # a weight row per cycle
    for key in ("total", "compute", "load"):
        assert wave[f"{key}_cycles"] == counters[key] == sum(
            p[f"{key}_cycles"] for p in wave["passes"])
    if stall:
        assert wave["total_cycles"] > model["total_cycles"]
        assert wave["input_starved_cycles"] + wave["output_stalled_cycles"] > 0
    else:
        assert (wave["total_cycles"], wave["compute_cycles"], wave["load_cycles"]) == \
            (model["total_cycles"], model["compute_cycles"], model["load_cycles"])
    assert measure(out / report["files"]["waveform"]).as_dict() == wave
    gtkw = (out / report["files"]["gtkw"]).read_text()
    assert f'[dumpfile] "{report["files"]["waveform"]}"' in gtkw
    for title in ("-streams", "-pass and step state", "-groups: step and gate",
                  "-output banks", "-counters"):
        assert title in gtkw
    assert gtkw.count(".stepping") == 9 and "total_cycles[" in gtkw



@pytest.mark.parametrize("sim", SIMULATORS)
def test_a_trace_window_records_its_passes_each_equal_to_its_counters(sim, tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", sim, "--stall", "0.3",
                       "--seed", "3", "--waves", "--trace-passes", "5:9", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert status == 0 and report["problems"] == []
    wave = report["waveform"]
    assert wave["partial"] and wave["window"] == [5, 9] and "trace window" in wave["partial_reason"]
    assert [p["pass"] for p in wave["passes"]] == [5, 6, 7, 8, 9]
    for entry, figures in zip(report["schedule"][5:10], wave["passes"]):
        assert (figures["total_cycles"], figures["compute_cycles"], figures["load_cycles"]) \
            == (entry["cycles"]["total"], entry["cycles"]["compute"], entry["cycles"]["load"])
    # The simulator recorded the window only, not the whole run.
    assert wave["clock_edges"] < report["cycles"]["total"] / 2
    dump = out / report["files"]["waveform"]
    capsys.readouterr()
    assert cli.main(["waves", str(dump), "--plot", str(tmp_path / "t.png"), "--pass", "7"]) == 0
    assert "PARTIAL dump (a trace window: it records passes 5..9" in capsys.readouterr().out
    assert cli.main(["waves", str(dump), "--plot", str(tmp_path / "t.png"), "--pass", "4"]) == 2
    assert "whole pass(es): 5, 6, 7, 8, 9" in capsys.readouterr().err


@pytest.mark.parametrize("sim", SIMULATORS)
def test_vcd_on_request_measures_as_fst_does(sim, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", sim, "--seed", "3",
                     "--waves", "--vcd", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    dump = out / report["files"]["waveform"]
    assert dump.name == ("waves.vcd" if sim == "icarus" else "dump.vcd")
    assert dump.read_bytes().lstrip().startswith(b"$")          # VCD text, not FST
    wave = report["waveform"]
    assert not wave["partial"] and len(wave["passes"]) == PASSES
    assert (wave["total_cycles"], wave["compute_cycles"], wave["load_cycles"]) == \
        (report["model"]["total_cycles"], report["model"]["compute_cycles"],
         report["model"]["load_cycles"])


@pytest.mark.parametrize("flags, message", [
    (["--trace-passes", "3"], "add --waves"),
    (["--vcd"], "add --waves"),
    (["--waves", "--trace-passes", "3:16"], "runs in 16 pass(es), 0..15"),
    (["--waves", "--trace-passes", "9:3"], "FIRST must be <= LAST"),
    (["--waves", "--trace-passes", "a:b"], "expected FIRST:LAST"),
])
def test_bad_trace_flags_are_refused_before_any_work(flags, message, tmp_path, capsys):
    assert cli.main(["sim", "--layer", LAYER, "--tile", TILE, *flags,
                     "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "run").exists()

def _traces(start, busy, done, i_take, o_take, step) -> Traces:
    """A made-up sampled tile (one group); ``*_take`` valid and ready together."""
    n = len(start)
    flags = lambda values: np.array(values, dtype=bool)
    sample = {"start": flags(start), "busy": flags(busy), "done": flags(done),
              "i__valid": flags(i_take), "i__ready": flags(i_take),
              "o__valid": flags(o_take), "o__ready": flags(o_take),
              "w__valid": np.zeros(n, bool), "w__ready": np.zeros(n, bool),
              "group_0_0.i__valid": flags(step)}
    return Traces(path=__import__("pathlib").Path("made-up.fst"), top="t", widths={},
                  edges=np.arange(n), sample=sample, groups={"0,0": flags(step)})


def test_a_pass_that_never_finishes_makes_the_dump_partial():
    #        pass 0 (whole)     pass 1 (cut before done)
    start = [1, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    busy = [0, 1, 1, 1, 0, 0, 0, 1, 1, 1]
    done = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    i_take = [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    step = [0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    o_take = [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    result = measure_traces(_traces(start, busy, done, i_take, o_take, step))
    assert result.partial and "pass 1 never finishes" in result.partial_reason
    assert len(result.passes) == 1 and result.total_cycles == 3 and result.compute_cycles == 1
    # Cut before its first start pulse, the dump begins inside a pass (an output beat
    # of it is taken at edge 1); the next pass is whole.
    late = measure_traces(_traces(start=[0, 0, 0, 0, 1, 0, 0, 0], busy=[1, 1, 0, 0, 0, 1, 1, 1],
                                  done=[0, 0, 1, 1, 0, 0, 0, 1], i_take=[0, 0, 0, 0, 0, 1, 0, 0],
                                  o_take=[0, 1, 0, 0, 0, 0, 0, 1], step=[1, 0, 0, 0, 0, 0, 1, 0]))
    assert late.partial and late.partial_reason == "it begins inside a pass"
    assert len(late.passes) == 1 and late.total_cycles == 3
    with pytest.raises(WaveformError, match="never finishes"):
        measure_traces(_traces(start[:4], busy[:4], [0] * 4, i_take[:4], o_take[:4], step[:4]))


def test_red_waves_measures_plots_and_refuses_bad_dumps(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--waves",
                     "--out", str(out)]) == 0
    dump = out / "waves.fst"
    capsys.readouterr()
    picture = tmp_path / "timing.png"
    assert cli.main(["waves", str(dump), "--plot", str(picture), "--pass", "3"]) == 0
    table = capsys.readouterr().out
    assert "pass 15" in table and "PARTIAL" not in table
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["waves", str(dump), "--plot", str(picture), "--cycles", "0:40"]) == 0
    users = tmp_path / "mine.png"
    users.write_bytes(b"\x89PNG\r\n\x1a\nnot red's")
    assert cli.main(["waves", str(dump), "--plot", str(users)]) == 2
    assert users.read_bytes().endswith(b"not red's")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "red did not draw it" in err[0]
    assert cli.main(["waves", str(dump), "--plot", str(picture), "--pass", "16"]) == 2
    assert "pass 16 is not a whole pass" in capsys.readouterr().err
    cut = tmp_path / "cut.fst"
    cut.write_bytes(dump.read_bytes()[:dump.stat().st_size // 2])
    assert cli.main(["waves", str(cut)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cut.fst" in err[0]


def test_unreadable_waveform_is_refused(tmp_path, capsys):
    bogus = tmp_path / "bogus.vcd"
    bogus.write_text("not a waveform\n")
    with pytest.raises(WaveformError, match="bogus.vcd"):
        measure(bogus)
    assert cli.main(["waves", str(tmp_path / "missing.fst")]) == 2
    assert "missing.fst" in capsys.readouterr().err
    assert cli.main(["waves", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_waveform_that_differs_from_a_pass_counter_is_reported(tmp_path):
    """The comparison can fail: one pass's counter, made one cycle longer, is named."""
    from red.sim.session import LayerRun, random_layer_data, simulate_layers
    from red.simulate import SimJob, simulate
    tile, layer = TileConfig.parse(TILE), LayerSpec.parse(LAYER)
    print("seed=3")
    x, w = random_layer_data(layer, tile, np.random.default_rng(3))

    def one_pass_longer(*args, **kwargs):
        results, run = simulate_layers(*args, **kwargs)
        results[0].pass_counters[1]["total_cycles"] += 1
        return results, run

    job = SimJob(LayerRun(layer, "red", x, w), tile, sim="icarus", seed=3, waves=Waves())
    report = simulate(job, tmp_path, simulate_layers=one_pass_longer)
    measured = report.waveform_figures["passes"][1]["total_cycles"]
    assert report.problems == [f"waveform pass 1 total_cycles {measured} != hardware "
                               f"counter {measured + 1}"]
    assert report.exit_status == 1
