"""``red report`` (red.report): files, RTL == model, and failures that must show.

Expected shapes and cycle counts come from RED_TILE.md (workload table, first-order
cycle formulas, ISAAC-style tile) and the papers' ranges quoted there.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from red.config import LayerSpec
from red.model import ISAAC_TILE

ROOT = Path(__file__).resolve().parents[1]

# DCGAN (Radford et al.): Cin->Cout, K5 s2 p2 op1 on inputs 4, 8, 16, 32.
DCGAN = [(1024, 512, 4), (512, 256, 8), (256, 128, 16), (128, 3, 32)]
ALL_LAYERS = ([f"dcgan.deconv{i}" for i in range(1, 5)]
              + ["fcn8s.upscore2", "fcn8s.upscore_pool4", "fcn8s.upscore8",
                 "fcn16s.upscore2", "fcn16s.upscore16", "fcn32s.upscore"])
# 16-bit inputs; 128 rows; 128 columns / (16-bit weights / 2-bit cells) = 16 logical.
ROWS, LOGICAL_COLS, IN_BITS = 128, 16, 16


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = subprocess.run(
        [sys.executable, "-m", "red.cli", "report", "--quick", "--sim", "icarus",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return out, result


def test_quick_report_files_and_exit(quick_report):
    out, result = quick_report
    assert result.returncode == 0, result.stderr
    for name in ("report.md", "report.json", "speedup.png", "energy.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("speedup.png", "energy.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Progress on stderr, one line per step.
    lines = result.stderr.splitlines()
    assert len(lines) > 10 and all(line.startswith("red report: ") for line in lines)


def test_quick_report_rtl_equals_model(quick_report):
    out, _ = quick_report
    data = json.loads((out / "report.json").read_text())
    assert {"rtl", "model", "summary", "energy_table", "problems", "rtl_equals_model",
            "files", "quick"} <= set(data)
    assert data["quick"] is True and data["problems"] == [] and data["rtl_equals_model"]
    rtl = data["rtl"]
    assert rtl["sim"] == "icarus" and rtl["error"] is None
    runs = {(entry["name"], entry["mode"]): entry for entry in rtl["runs"]}
    assert set(runs) == {(name, mode) for name in ("dcgan.deconv1", "fcn8s.upscore8")
                         for mode in ("red", "zp")}
    for entry in runs.values():
        assert entry["golden_match"] is True
        assert entry["cycles_equal"] is True and entry["events_equal"] is True
        assert entry["rtl"] == entry["model"]
        assert entry["energy_pj"]["rtl_counters"] == pytest.approx(
            entry["energy_pj"]["model"])
    # Scaling (quick tile: 2 rows, 2 logical columns, 4x4 inputs): DCGAN's inputs
    # 4..32 shrink by 8 (4 -> 1); FCN-8s's 16..70 by ceil(70/4) = 18 (70 -> 4), and
    # K16 s8 is divided by 4 to K4 s2 (K/s kept).
    shape = ("cin", "cout", "h", "w", "k", "s", "p", "op")
    scaled = {name: tuple(runs[name, "red"]["scaled"][key] for key in shape)
              for name in ("dcgan.deconv1", "fcn8s.upscore8")}
    assert scaled == {"dcgan.deconv1": (2, 2, 1, 1, 5, 2, 2, 1),
                      "fcn8s.upscore8": (2, 2, 4, 4, 4, 2, 0, 0)}
    assert "K16 s8 to K4 s2" in runs["fcn8s.upscore8", "red"]["scaling"]
    # RED steps once per output block, ZP once per output pixel (in_bits=4 cycles each).
    # dcgan.deconv1 scaled: Ho = 0*2 - 4 + 5 + 1 = 2, blocks floor((o+2)/2) of o = 0, 1:
    # just block 1.
    assert runs["dcgan.deconv1", "red"]["rtl"]["compute_cycles"] == 1 * 4
    assert runs["dcgan.deconv1", "zp"]["rtl"]["compute_cycles"] == 2 * 2 * 4


def first_order(cin, cout, h, k, s, p, op):
    passes = math.ceil(cin / ROWS) * math.ceil(cout / LOGICAL_COLS)
    ho = (h - 1) * s - 2 * p + k + op
    nb = (ho - 1 + p) // s - p // s + 1
    return {"red": passes * nb * nb * IN_BITS, "zp": passes * ho * ho * IN_BITS,
            "pf": passes * h * h * IN_BITS}


def test_quick_report_model_part(quick_report):
    out, _ = quick_report
    data = json.loads((out / "report.json").read_text())
    model = data["model"]
    assert model["tile"]["rows"] == ISAAC_TILE.rows
    assert [entry["name"] for entry in model["layers"]] == ALL_LAYERS
    assert list(model["networks"]) == ["dcgan", "fcn8s", "fcn16s", "fcn32s"]
    layers = {entry["name"]: entry for entry in model["layers"]}
    for i, (cin, cout, h) in enumerate(DCGAN, start=1):
        entry = layers[f"dcgan.deconv{i}"]
        assert entry["compute_cycles"] == first_order(cin, cout, h, 5, 2, 2, 1)
    # FCN-32s upscore: K64 s32 on 16x16, 21 channels -> 2 passes (21 > 16 columns).
    assert layers["fcn32s.upscore"]["compute_cycles"] == first_order(21, 21, 16, 64, 32, 0, 0)
    for entry in [*model["layers"], *model["networks"].values()]:
        cycles, energy = entry["cycles"], entry["energy_pj"]
        assert entry["speedup"]["red_vs_zp"] == pytest.approx(cycles["zp"] / cycles["red"])
        assert entry["speedup"]["red_vs_pf"] == pytest.approx(cycles["pf"] / cycles["red"])
        assert entry["energy_reduction"]["red_vs_zp"] == pytest.approx(
            1 - energy["red"]["total"] / energy["zp"]["total"])
        for mode in ("red", "zp", "pf"):
            assert 0 < entry["utilization"][mode] <= 1
            parts = sum(energy[mode][c] for c in ("adc", "dac", "array", "buffers", "adds"))
            assert energy[mode]["total"] == pytest.approx(parts)
    # Networks are the sums of their layers.
    fcn8s = model["networks"]["fcn8s"]
    assert fcn8s["cycles"]["zp"] == sum(layers[name]["cycles"]["zp"] for name in
                                        ("fcn8s.upscore2", "fcn8s.upscore_pool4",
                                         "fcn8s.upscore8"))
    # The papers' ranges (RED_TILE.md) stand beside ours.
    papers = data["summary"]["papers"]
    assert papers["DATE 2019"]["speedup_vs_zp"] == [3.69, 31.15]
    assert papers["DATE 2019"]["energy_reduction_vs_zp"] == [0.08, 0.8836]
    assert papers["TCAD 2020"]["speedup"] == [4.0, 56.16]
    ours = data["summary"]["ours"]["layers"]["speedup_vs_zp"]
    assert ours == [min(e["speedup"]["red_vs_zp"] for e in model["layers"]),
                    max(e["speedup"]["red_vs_zp"] for e in model["layers"])]
    text = (out / "report.md").read_text()
    for needle in ("3.69x - 31.15x", "8.0% - 88.4%", "4.00x - 56.16x", "fcn32s.upscore",
                   "speedup.png", "energy.png", "RTL == golden"):
        assert needle in text, needle


def test_mismatch_is_flagged_and_exits_1(tmp_path, monkeypatch):
    """A (faked) RTL whose total cycles are one more than the model's in ZP mode must
    fail the report: exit 1, listed in report.md and report.json."""
    import red.report
    import red.sim.session as session
    from red.cli import main
    from red.model import estimate
    from red.rtl.tile import TILE_COUNTERS

    def fake_simulate_layers(tile, runs, **kwargs):
        results = []
        for run in runs:
            est = estimate(run.layer, tile, run.mode)
            counters = {name: getattr(est, name, 0) for name in TILE_COUNTERS}
            counters["crossbar_steps"] = est.group_activations * tile.in_bits
            counters["total_cycles"] += run.mode == "zp"
            y = session.golden(tile, run)
            results.append(session.LayerResult(run=run, y=y, y_golden=y, counters=counters))
        return results, None

    monkeypatch.setattr(session, "simulate_layers", fake_simulate_layers)
    monkeypatch.setattr(red.report, "REPORT_WORKLOADS", ("dcgan",))   # keep it fast
    status = main(["report", "--quick", "--sim", "icarus", "--out", str(tmp_path)])
    assert status == 1
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["rtl_equals_model"] is False
    flagged = {(e["name"], e["mode"]) for e in data["rtl"]["runs"] if not e["ok"]}
    assert flagged == {("dcgan.deconv1", "zp")}
    assert any("total_cycles" in problem for problem in data["problems"])
    text = (tmp_path / "report.md").read_text()
    assert "## Problems" in text and "**DIFFER**" in text


def test_bad_energy_file_exits_2(tmp_path):
    bad = tmp_path / "energy.toml"
    bad.write_text("[energy]\nadc = 1.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "red.cli", "report", "--quick", "--out", str(tmp_path / "r"),
         "--energy", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("red: error: ") and "'adc'" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_scaling_keeps_kernel_to_stride_ratio():
    from red.report import FULL_PLAN, scale_layer
    layer = LayerSpec(cin=21, cout=21, h=34, w=34, k=32, s=16, name="fcn16s.upscore16")
    scaled, note = scale_layer(layer, FULL_PLAN.tile, kernel_cap=5, size_factor=5)
    assert (scaled.cin, scaled.cout, scaled.h, scaled.k, scaled.s) == (8, 8, 7, 4, 2)
    assert "divided by 8" in note and scaled.name == layer.name
