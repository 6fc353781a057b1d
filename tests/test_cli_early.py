"""``red sim --bias/--relu/--early``: exact results, the report's early section and
events, and one-line refusals of bad settings."""

import json

import numpy as np
import pytest

from red.config import TileConfig
from red.golden import deconv2d
from red.sim import SIMULATORS

from _early_data import layer_data as early_data, red_sim

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=5,kernel=3,max_stride=4,max_in=6"
LAYER = "cin=4,cout=3,h=4,w=4,k=3,s=2,p=1,op=1"
SEED = 1906


def layer_data(folder):
    return early_data(folder, LAYER, SEED)


@pytest.mark.parametrize("sim", [pytest.param(sim, marks=() if sim == "verilator" else
                                              pytest.mark.slow) for sim in SIMULATORS])
def test_negative_is_exact_and_converts_less(tmp_path, sim):
    layer, x, w, bias, paths = layer_data(tmp_path)
    reports = {}
    for early in ("off", "negative"):
        out = tmp_path / early
        proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", sim, "--x", str(paths["x"]),
                       "--w", str(paths["w"]), "--bias", str(paths["bias"]), "--relu",
                       "--early", early, "--out", str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        y = np.load(out / "y.npy")
        assert np.array_equal(y, deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias,
                                          relu=True))
        assert np.array_equal(np.load(out / "bias.npy"), bias)
        reports[early] = json.loads((out / "report.json").read_text())
        assert reports[early]["problems"] == []
    off, negative = reports["off"], reports["negative"]
    assert negative["early"]["applied"] and negative["early"]["mode"] == "negative"
    assert negative["early"]["error_vs_exact"]["outputs_differing"] == 0
    events = negative["events"]
    assert events["decided_outputs"] > 0 and events["skipped_conversions"] > 0
    assert events["adc_conversions"] + events["skipped_conversions"] == \
        off["events"]["adc_conversions"]
    assert off["events"]["decided_outputs"] == off["events"]["skipped_conversions"] == 0
    for key in ("decided_outputs", "skipped_conversions", "skipped_cycles",
                "adc_conversions"):
        assert events[key] == negative["model"][key]
    assert negative["cycles"]["total"] == negative["model"]["total_cycles"]


def test_approx_reports_its_error(tmp_path):
    """The report's error is that of the RTL's output against the exact layer, computed
    here from the definition (the tile's ADC is lossless, so its contract is exact)."""
    layer, x, w, bias, paths = layer_data(tmp_path)
    out = tmp_path / "approx"
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "verilator", "--x",
                   str(paths["x"]), "--w", str(paths["w"]), "--bias", str(paths["bias"]),
                   "--early", "approx:0.5", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["early"]["eps_q"] == 32768 and report["early"]["applied"]
    error = report["early"]["error_vs_exact"]
    exact = deconv2d(x, w, layer.s, layer.p, layer.op, bias=bias)
    diff = np.load(out / "y.npy") - exact
    assert error["outputs_differing"] == np.count_nonzero(diff) > 0
    assert error["max_abs"] == np.abs(diff).max()
    assert error["relative_l2"] == pytest.approx(np.sqrt((diff ** 2).sum() / (exact ** 2).sum()))
    assert 0 < error["relative_l2"] < 1
    assert report["problems"] == []


def test_cin_slices_decide_in_the_last_pass(tmp_path):
    """A layer of two cin slices decides in its last pass; the run equals golden and
    model (``problems`` empty), its partial sums went through the partial-sum bank."""
    out = tmp_path / "passes"
    proc = red_sim("--layer", "cin=5,cout=2,h=2,w=2,k=3,s=2,p=1,op=1", "--tile", TILE,
                   "--sim", "verilator", "--relu", "--early", "negative", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["passes"] == 2 and report["early"]["applied"]
    assert report["problems"] == []
    # One cout slice: its second pass takes the 4 x 4 partial sums once each.
    assert report["events"]["psum_bank_writes"] == report["events"]["psum_bank_reads"] == 16
    assert report["events"]["decided_outputs"] <= 2 * 4 * 4


def test_folded_layer_reports_early_not_applied(tmp_path):
    out = tmp_path / "folds"
    proc = red_sim("--layer", "cin=2,cout=2,h=2,w=2,k=4,s=2,p=1,op=0", "--tile", TILE,
                   "--sim", "verilator", "--relu", "--early", "negative", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["passes"] == 4 and not report["early"]["applied"]
    assert "k=4 <= kernel=3" in report["early"]["reason"]
    assert report["events"]["decided_outputs"] == 0


@pytest.mark.parametrize("args, message", [
    (["--early", "negative"], "needs --relu"),
    (["--early", "approx:2"], "approx:2"),
    (["--early", "sometimes"], "'sometimes'"),
    (["--relu", "--early", "approx:"], "approx:"),
    (["--bias", "{bias_wrong_shape}"], "shape (4,), the layer needs (3)"),
    (["--bias", "{bias_too_wide}"], "outside the"),
    (["--bias", "{missing}"], "cannot read"),
])
def test_bad_settings_exit_2_with_one_line(tmp_path, args, message):
    np.save(tmp_path / "wrong.npy", np.zeros(4, dtype=np.int64))
    width = TileConfig.parse(TILE).bias_width
    np.save(tmp_path / "wide.npy", np.full(3, 1 << width, dtype=np.int64))
    files = {"bias_wrong_shape": tmp_path / "wrong.npy", "bias_too_wide": tmp_path / "wide.npy",
             "missing": tmp_path / "none.npy"}
    args = [a.format(**files) for a in args]
    out = tmp_path / "out"
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus", *args,
                   "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("red: error:") and message in lines[0], \
        proc.stderr
    assert not out.exists()
