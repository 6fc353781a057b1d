"""``red report`` (red.report): tiles and plan, files, RTL == model, sources of the
figures, the pass schedule's cost, and failures that must show.

Expected shapes, passes and cycle counts come from RED_TILE.md (workload table, paper
crossbar, first-order cycle formulas) and the issue's tile choices, never from the code
under test. The simulated runs use the report's fixed seed (``red.report.rtl.SEED``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# The paper crossbar (RED_TILE.md): 128x128 arrays of 2-bit cells, 16-bit weights and
# inputs, 8-bit ADC: 128 columns / (16 / 2) slices = 16 logical columns.
PAPER = dict(rows=128, cols=128, cell_bits=2, w_bits=16, in_bits=16, adc_bits=8)
ROWS, LOGICAL_COLS, IN_BITS = 128, 16, 16

# Workloads (RED_TILE.md): name -> (cin, cout, input size, k, s, p, op).
LAYERS = {
    "dcgan.deconv1": (1024, 512, 4, 5, 2, 2, 1),
    "dcgan.deconv2": (512, 256, 8, 5, 2, 2, 1),
    "dcgan.deconv3": (256, 128, 16, 5, 2, 2, 1),
    "dcgan.deconv4": (128, 3, 32, 5, 2, 2, 1),
    "fcn8s.upscore2": (21, 21, 16, 4, 2, 0, 0),
    "fcn8s.upscore_pool4": (21, 21, 34, 4, 2, 0, 0),
    "fcn8s.upscore8": (21, 21, 70, 16, 8, 0, 0),
    "fcn16s.upscore2": (21, 21, 16, 4, 2, 0, 0),
    "fcn16s.upscore16": (21, 21, 34, 32, 16, 0, 0),
    "fcn32s.upscore": (21, 21, 16, 64, 32, 0, 0),
}
NETWORKS = ["dcgan", "fcn8s", "fcn16s", "fcn32s"]
# The issue's tiles: DCGAN on the paper tile (kernel 5); FCN on kernel-4 tiles.
TILES = {
    "dcgan": dict(PAPER, kernel=5, max_stride=2, max_in=32, max_cin=1024, max_k=5),
    "fcn8s": dict(PAPER, kernel=4, max_stride=8, max_in=70, max_cin=21, max_k=16,
                  out_pixels=8),
    "fcn16s": dict(PAPER, kernel=4, max_stride=16, max_in=34, max_cin=21, max_k=32,
                   out_pixels=16),
    "fcn32s": dict(PAPER, kernel=4, max_stride=32, max_in=16, max_cin=21, max_k=64,
                   out_pixels=32),
}


def network(name: str) -> str:
    return name.split(".")[0]


def schedule_of(shape: dict, tile: dict) -> tuple[int, int, int]:
    """(cin slices, cout slices, folds) of a layer on a tile (RED_TILE.md, passes)."""
    logical = tile["cols"] // (tile["w_bits"] // tile["cell_bits"])
    return (math.ceil(shape["cin"] / tile["rows"]), math.ceil(shape["cout"] / logical),
            math.ceil(shape["k"] / tile["kernel"]) ** 2)


def first_order(shape: dict, in_bits: int, passes: int) -> dict[str, int]:
    """Compute cycles per mode (RED_TILE.md): ZP Ho*Wo, PF H*W, RED Nbh*Nbw steps of
    ``in_bits`` cycles, once per pass."""
    h, k, s, p, op = shape["h"], shape["k"], shape["s"], shape["p"], shape["op"]
    ho = (h - 1) * s - 2 * p + k + op
    nb = (ho - 1 + p) // s - p // s + 1
    return {"red": passes * nb * nb * in_bits, "zp": passes * ho * ho * in_bits,
            "pf": passes * h * h * in_bits}


def shape_of(name: str) -> dict:
    cin, cout, size, k, s, p, op = LAYERS[name]
    return dict(cin=cin, cout=cout, h=size, w=size, k=k, s=s, p=p, op=op)


# -- tiles and plan (no simulation) ----------------------------------------------------

def test_report_tiles_are_the_issues():
    from red.report.plan import REPORT_TILES
    assert list(REPORT_TILES) == NETWORKS
    for name, want in TILES.items():
        tile = dataclasses.asdict(REPORT_TILES[name])
        assert {key: tile[key] for key in want} == want, name
    for name, (cin, cout, size, k, s, _, _) in LAYERS.items():
        tile = TILES[network(name)]
        assert cin <= tile["max_cin"] and size <= tile["max_in"] and k <= tile["max_k"]
        assert s <= tile["max_stride"]


class FirstOrderModel:
    """A stand-in analytical model with RED_TILE.md's first-order cycles, so that the plan
    test needs no slow cycle-exact timing."""

    def __init__(self):
        self.calls = []

    def __call__(self, layer, tile, mode):
        self.calls.append((layer.name, mode))
        shape = dataclasses.asdict(layer)
        passes = math.prod(schedule_of(shape, dataclasses.asdict(tile)))
        return SimpleNamespace(total_cycles=first_order(shape, tile.in_bits, passes)[mode])


def test_default_plan_simulates_dcgan_and_fcn8s_within_the_budget():
    from red.report.plan import RTL_CYCLE_BUDGET, make_plan
    model = FirstOrderModel()
    plan = make_plan("default", tuple(NETWORKS), model)
    # Only the simulated networks are modelled to decide; FCN-16s/32s are not.
    assert {network(name) for name, _ in model.calls} == {"dcgan", "fcn8s"}
    runs = {(run.layer.name, run.mode): run for run in plan.runs}
    assert set(runs) == {(name, mode) for name in LAYERS for mode in ("red", "zp", "pf")}
    # fcn8s.upscore8 ZP: 1 x 2 x 16 = 32 passes of 568 x 568 pixels x 16 bit planes.
    assert 32 * 568 * 568 * 16 > RTL_CYCLE_BUDGET
    for (name, mode), run in runs.items():
        over = model(run.layer, plan.tiles[run.tile], mode).total_cycles > RTL_CYCLE_BUDGET
        want = "rtl" if network(name) in ("dcgan", "fcn8s") and not over else "model"
        assert run.source == want, (name, mode)
        assert run.simulated in (None, run.layer) and not run.scaled
        assert run.tile == network(name) + ("-pf" if mode == "pf" else "")
        assert plan.tiles[run.tile].modes == (("pf",) if mode == "pf" else ("red", "zp"))
    assert [key for key, run in runs.items()
            if run.source == "model" and network(key[0]) in ("dcgan", "fcn8s")] == \
        [("fcn8s.upscore8", "zp")]


def test_full_plan_simulates_everything():
    from red.report.plan import make_plan

    def no_model(*args):
        raise AssertionError("--full needs no budget")
    plan = make_plan("full", tuple(NETWORKS), no_model)
    assert {(run.layer.name, run.mode, run.source) for run in plan.runs} == \
        {(name, mode, "rtl") for name in LAYERS for mode in ("red", "zp", "pf")}
    assert all(run.simulated == run.layer for run in plan.runs)


def test_quick_and_full_together_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "red.cli", "report", "--quick", "--full", "--out",
         str(tmp_path / "r")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("red: error: ") and len(result.stderr.splitlines()) == 1
    assert "--quick" in result.stderr and "--full" in result.stderr
    assert not (tmp_path / "r").exists()


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


# -- the quick report on Icarus ---------------------------------------------------------

def test_quick_report(tmp_path):
    """``red report --quick`` on Icarus: every output, the scaled RTL runs in passes
    equal to golden and model, and the full-size figures with their sources and the
    cost of their passes. One report, checked part by part (it takes tens of seconds)."""
    result = subprocess.run(
        [sys.executable, "-m", "red.cli", "report", "--quick", "--sim", "icarus",
         "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("report.md", "report.json", "speedup.png", "energy.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    for name in ("speedup.png", "energy.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = result.stderr.splitlines()
    assert len(lines) > 10 and all(line.startswith("red report: ") for line in lines)
    assert any("pass" in line and line.startswith("red report: RTL quick: ")
               for line in lines)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["variant"] == "quick" and data["problems"] == [] and data["rtl_equals_model"]
    check_quick_rtl(data)
    check_model_part(data)
    check_pass_cost(data)
    check_markdown(data, (tmp_path / "report.md").read_text())
    # The CompRRAE section is there (tests/test_report_comprrae.py checks its figures),
    # with RED + negative's conversions skipped on the RTL in its prose.
    early = data["comprrae"]
    assert [entry["name"] for entry in early["layers"]] == \
        [f"dcgan.deconv{n}" for n in range(1, 5)]
    text = (tmp_path / "report.md").read_text()
    assert "## 6. CompRRAE early termination" in text
    counters = next(check["counters"] for entry in early["layers"] if entry["applies"]
                    for check in entry["sets"]["report"]["checks"]
                    if (check["mode"], check["early"]) == ("red", "negative"))
    skipped = counters["skipped_conversions"]
    assert f"| {100 * skipped / (skipped + counters['adc_conversions']):.1f}% |" in text
    check_area(data["area"], text)
    check_timing(data["timing"], tmp_path)


def check_timing(section: dict, folder) -> None:
    """The timing picture: both data flows traced, equal to counters and model, drawn."""
    assert set(section["modes"]) == {"red", "zp"}
    assert all(m["equals_counters_and_model"] for m in section["modes"].values())
    assert section["modes"]["zp"]["total_cycles"] > section["modes"]["red"]["total_cycles"]
    assert (folder / section["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_area(section: dict, text: str) -> None:
    """The area section holds ``red area``'s figures of the paper tile generated for
    both data flows and for each alone (cached, so this is quick), and per-layer figures
    that follow from them."""
    import dataclasses
    from red.config import PAPER_TILE
    from red.gen.area import tile_area
    tiles = {"red+zp": dataclasses.replace(PAPER_TILE, pf_mode=0),
             "red": dataclasses.replace(PAPER_TILE, zp_mode=0, pf_mode=0),
             "zp": dataclasses.replace(PAPER_TILE, red_mode=0, pf_mode=0)}
    for key, tile in tiles.items():
        own = tile_area(tile, "macro")
        assert section["tiles"][key]["total_um2"] == own["total_um2"]
        assert section["tiles"][key]["components"] == own["components"]
    both = section["tiles"]["red+zp"]["total_um2"]
    for flow, other in (("red", "zp"), ("zp", "red")):
        assert section["tiles"][flow]["total_um2"] < both
        assert section["own_um2"][flow] == both - section["tiles"][other]["total_um2"]
    assert [layer["name"] for layer in section["layers"]] == \
        [f"dcgan.deconv{n}" for n in range(1, 5)]
    assert "## 7. Area" in text


def check_quick_rtl(data):
    rtl = data["rtl"]
    assert rtl["sim"] == "icarus" and rtl["errors"] == {} and rtl["seed"] == 2019
    tile = data["plan"]["tiles"]["quick"]
    runs = {(entry["name"], entry["mode"]): entry for entry in rtl["runs"]}
    assert set(runs) == {(name, mode) for name in ("dcgan.deconv1", "fcn8s.upscore8")
                         for mode in ("red", "zp", "pf")}
    slices_seen, strides = set(), set()
    for (name, mode), entry in runs.items():
        assert entry["source"] == "rtl" and entry["tile"] == "quick"
        assert entry["full_size"] == {**shape_of(name), "name": name}
        scaled = entry["scaled"]
        # Scaled: stride, padding and output padding kept; smaller than the full size.
        assert {key: scaled[key] for key in ("s", "p", "op")} == \
            {key: shape_of(name)[key] for key in ("s", "p", "op")}
        assert all(scaled[key] <= shape_of(name)[key] for key in ("cin", "cout", "h", "k"))
        cin_tiles, cout_tiles, folds = schedule_of(scaled, tile)
        passes = cin_tiles * cout_tiles * folds
        slices_seen |= {("cin", cin_tiles > 1), ("cout", cout_tiles > 1),
                        ("folds", folds > 1)}
        strides.add(scaled["s"])
        assert entry["passes"] == {"rtl": passes, "model": passes}
        assert entry["golden_match"] and entry["cycles_equal"] and entry["events_equal"]
        assert entry["ok"] and entry["rtl"] == entry["model"]
        assert entry["rtl"]["compute_cycles"] == \
            first_order(scaled, tile["in_bits"], passes)[mode]
        # Weights: one crossbar row of every group per cycle, each pass its cin slice.
        assert entry["rtl"]["load_cycles"] == cout_tiles * folds * scaled["cin"]
        assert entry["energy_pj"]["rtl_counters"] == pytest.approx(entry["energy_pj"]["model"])
    # The quick runs exercise every kind of pass and a stride of 8.
    assert {("cin", True), ("cout", True), ("folds", True)} <= slices_seen
    assert max(strides) == 8


def check_model_part(data):
    model = data["model"]
    for name, want in TILES.items():
        assert {key: data["plan"]["tiles"][name][key] for key in want} == want
    assert [entry["name"] for entry in model["layers"]] == list(LAYERS)
    assert list(model["networks"]) == NETWORKS
    layers = {entry["name"]: entry for entry in model["layers"]}
    for name, entry in layers.items():
        shape, tile = shape_of(name), TILES[network(name)]
        cin_tiles, cout_tiles, folds = schedule_of(shape, tile)
        passes = cin_tiles * cout_tiles * folds
        assert entry["schedule"] == {"passes": passes, "cin_tiles": cin_tiles,
                                     "cout_tiles": cout_tiles, "folds": folds}
        for mode in ("red", "zp", "pf"):
            figure = entry["modes"][mode]
            # --quick simulates scaled copies only: every full-size figure is modelled.
            assert figure["source"] == "model"
            assert figure["passes"] == passes
            assert figure["compute_cycles"] == first_order(shape, IN_BITS, passes)[mode]
            assert figure["load_cycles"] == cout_tiles * folds * shape["cin"]
            assert entry["cycles"][mode] == figure["total_cycles"]
            assert 0 < entry["utilization"][mode] <= 1
            energy = figure["energy_pj"]
            assert energy["total"] == pytest.approx(
                sum(energy[c] for c in ("adc", "dac", "array", "buffers", "adds")))
        cycles, energy = entry["cycles"], entry["energy_pj"]
        assert entry["speedup"]["red_vs_zp"] == pytest.approx(cycles["zp"] / cycles["red"])
        assert entry["speedup"]["red_vs_pf"] == pytest.approx(cycles["pf"] / cycles["red"])
        assert entry["energy_reduction"]["red_vs_zp"] == pytest.approx(
            1 - energy["red"]["total"] / energy["zp"]["total"])
    # The issue's examples: 8 x 32 x 1 and 1 x 2 x 16 passes.
    assert layers["dcgan.deconv1"]["schedule"]["passes"] == 256
    assert layers["fcn8s.upscore8"]["schedule"]["passes"] == 32
    # Networks are the sums of their layers.
    for name, net in model["networks"].items():
        mine = [entry for entry in model["layers"] if entry["network"] == name]
        assert net["layers"] == [entry["name"] for entry in mine]
        for mode in ("red", "zp", "pf"):
            assert net["cycles"][mode] == sum(entry["cycles"][mode] for entry in mine)
            assert net["modes"][mode]["sources"] == ["model"]
    papers = data["summary"]["papers"]
    assert papers["DATE 2019"]["speedup_vs_zp"] == [3.69, 31.15]
    assert papers["DATE 2019"]["energy_reduction_vs_zp"] == [0.08, 0.8836]
    assert papers["TCAD 2020"]["speedup"] == [4.0, 56.16]
    ours = data["summary"]["ours"]["layers"]["speedup_vs_zp"]
    assert ours == [min(e["speedup"]["red_vs_zp"] for e in model["layers"]),
                    max(e["speedup"]["red_vs_zp"] for e in model["layers"])]


def check_pass_cost(data):
    cost = data["pass_cost"]
    assert "NVSim" in cost["source"] and "https://" in cost["source"]
    per_row, per_cell = set(), set()
    for entry in data["model"]["layers"]:
        shape, tile = shape_of(entry["name"]), TILES[entry["network"]]
        rep, res, sched = entry["reprogramming"], entry["resident"], entry["schedule"]
        assert rep["rows"] == entry["modes"]["red"]["load_cycles"]
        # Every pass writes its cin x cout slice into every group (kernel^2), each weight
        # as w_bits / cell_bits = 8 cells: over the passes, cin x cout x folds weights.
        assert rep["cells"] == (shape["cin"] * shape["cout"] * sched["folds"]
                                * tile["kernel"] ** 2 * 8)
        per_row.add(round(rep["time_ns"] / rep["rows"], 9))
        per_cell.add(round(rep["energy_pj"] / rep["cells"], 9))
        for mode in ("red", "zp"):
            run_ns = entry["cycles"][mode] * cost["array_read_ns"]
            assert rep["time_vs_compute"][mode] == pytest.approx(rep["time_ns"] / run_ns)
            # Resident weights: one tile per pass; the longest pass is at least the
            # average pass and at most the whole one-tile run.
            assert res["tiles"] == sched["passes"]
            total = entry["cycles"][mode]
            assert total / sched["passes"] <= res["cycles"][mode] <= total
            assert res["speedup"][mode] == pytest.approx(total / res["cycles"][mode])
    # One price per row and per cell, the named constants'.
    assert per_row == {cost["reset_pulse_ns"] + cost["set_pulse_ns"]}
    assert per_cell == {cost["cell_write_pj"]}


def check_markdown(data, text):
    for needle in ("3.69x - 31.15x", "8.0% - 88.4%", "4.00x - 56.16x", "fcn32s.upscore",
                   "speedup.png", "energy.png", "RTL == golden", "passes = cin x cout x folds",
                   "resident", "NVSim", "| layer | tile | RED | ZP | PF |"):
        assert needle in text, needle
    # Every layer's per-mode sources appear in the source table.
    for entry in data["model"]["layers"]:
        row = f"| {entry['name']} | {entry['network']} | " + " | ".join(
            entry["modes"][mode]["source"] for mode in ("red", "zp", "pf")) + " |"
        assert row in text, row
    # Numbers in the prose come from the data, e.g. the s=8 compute ratio.
    s8 = data["model"]["layers"][list(LAYERS).index("fcn8s.upscore8")]
    assert f"{s8['compute_speedup']['red_vs_zp']:.2f}x at s=8" in text


# -- failures and sources with a faked RTL --------------------------------------------

def fake_rtl(tweak):
    """A simulator for :func:`red.report.build_report` whose counts are the analytical
    model's, changed by ``tweak(run, counters)``; the RTL's output is the golden's
    (full-size goldens are slow, so their output is skipped as equal). It tests the
    report's judgement and plumbing; the real RTL's figures are tested by
    :func:`test_quick_report`."""
    import red.sim.session as session
    from red.counters import TILE_COUNTERS
    from red.model import estimate

    def fake_simulate_layers(tile, runs, **kwargs):
        results = []
        for run in runs:
            est = estimate(run.layer, tile, run.mode)
            counters = {name: getattr(est, name, 0) for name in TILE_COUNTERS}
            counters["crossbar_steps"] = est.group_activations * tile.in_bits
            tweak(run, counters)
            y = np.zeros((1, 1, 1), dtype=np.int64)
            results.append(session.LayerResult(run=run, y=y, y_golden=y, counters=counters,
                                               pass_counters=[{}] * est.passes))
        return results, None

    return fake_simulate_layers


def test_mismatch_is_flagged_and_exits_1(tmp_path):
    """A (faked) RTL whose total cycles are one more than the model's in ZP mode must
    fail the report: exit 1, listed in report.md and report.json."""
    from red.report import EXIT_FAILED, build_report

    def one_more_in_zp(run, counters):
        counters["total_cycles"] += run.mode == "zp"
    # early=False: the faked RTL does not model early termination; the area and timing
    # sections, checked by test_quick_report, are left out here.
    status = build_report(tmp_path, quick=True, sim="icarus", workloads=("dcgan",),
                          early=False, area_section=False, timing_section=False,
                          progress=lambda line: None, simulate_layers=fake_rtl(one_more_in_zp))
    assert status == EXIT_FAILED == 1
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["rtl_equals_model"] is False
    flagged = {(e["name"], e["mode"]) for e in data["rtl"]["runs"] if not e["ok"]}
    assert flagged == {("dcgan.deconv1", "zp")}
    assert len(data["problems"]) == 1 and "total_cycles" in data["problems"][0]
    text = (tmp_path / "report.md").read_text()
    assert "## Problems" in text and "**DIFFER**" in text


def test_default_figures_come_from_the_rtl_counters(tmp_path):
    """Where the RTL runs a full-size layer, report.json's figure is the RTL's counters
    (faked here as the model's plus a marker), marked ``rtl``, in every mode."""
    from red.model import estimate
    from red.report import EXIT_FAILED, build_report
    from red.report.plan import REPORT_TILES

    marker = 7

    def marked(run, counters):
        counters["adc_conversions"] += marker
    status = build_report(tmp_path, quick=False, sim="icarus", workloads=("dcgan",),
                          early=False, area_section=False, timing_section=False,
                          progress=lambda line: None, simulate_layers=fake_rtl(marked))
    data = json.loads((tmp_path / "report.json").read_text())
    assert status == EXIT_FAILED            # the marker differs from the model
    assert {(e["name"], e["mode"], e["source"], e["scaled"]) for e in data["rtl"]["runs"]} \
        == {(name, mode, "rtl", None) for name in LAYERS if network(name) == "dcgan"
            for mode in ("red", "zp", "pf")}
    for entry in data["model"]["layers"]:
        layer = next(run["full_size"] for run in data["rtl"]["runs"]
                     if run["name"] == entry["name"])
        for mode in ("red", "zp", "pf"):
            figure = entry["modes"][mode]
            modelled = estimate(_layer(layer), REPORT_TILES["dcgan"], mode)
            assert figure["source"] == "rtl"
            assert figure["events"]["adc_conversions"] == modelled.adc_conversions + marker
    assert len(data["problems"]) == 12 and all("adc_conversions" in p for p in data["problems"])
    # The PF section compares those figures: RED's and PF's, both from the RTL.
    for entry in data["pf"]["layers"]:
        assert entry["sources"] == {"red": "rtl", "pf": "rtl"}
        figures = next(e for e in data["model"]["layers"] if e["name"] == entry["name"])
        assert entry["cycles"]["pf"] / entry["cycles"]["red"] == pytest.approx(
            figures["modes"]["pf"]["total_cycles"] / figures["modes"]["red"]["total_cycles"])
        assert entry["red_vs_pf"]["cycles"] == pytest.approx(
            entry["cycles"]["pf"] / entry["cycles"]["red"])


def _layer(described: dict):
    from red.config import LayerSpec
    return LayerSpec(**described)


def test_folder_in_use_exits_2_and_is_left_alone(tmp_path):
    """A report into a folder another red run holds is refused before any work."""
    import fcntl
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("an earlier report\n")
    with open(out / ".red.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [sys.executable, "-m", "red.cli", "report", "--quick", "--sim", "icarus",
             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "in use by another red run" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert (out / "report.md").read_text() == "an earlier report\n"
    assert sorted(p.name for p in out.iterdir()) == [".red.lock", "report.md"]
