"""The ``red`` command, run as a subprocess (``python -m red.cli``).

Expected numbers come from RED_TILE.md: the ISAAC-style default tile (128 rows,
16-bit weights in 2-bit cells -> 16 logical columns, 16-bit inputs) and the first-order
cycle formulas ZP ``Ho*Wo*Bx``, PF ``H*W*Bx``, RED ``Nbh*Nbw*Bx`` per pass.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from red.cli import main

ROOT = Path(__file__).resolve().parents[1]
ISAAC_ROWS, ISAAC_LOGICAL_COLS, ISAAC_IN_BITS = 128, 128 // (16 // 2), 16
LAYER = "cin=64,cout=32,h=4,w=4,k=4,s=2,p=1"
# DCGAN (Radford et al.): Cin->Cout, K5 s2 p2 op1 on inputs 4, 8, 16, 32.
DCGAN = [(1024, 512, 4), (512, 256, 8), (256, 128, 16), (128, 3, 32)]


def run_red(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "red.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def first_order_cycles(cin, cout, h, k, s, p, op=0) -> dict:
    """Cycles of a square layer on the ISAAC tile, from the RED_TILE.md formulas."""
    passes = math.ceil(cin / ISAAC_ROWS) * math.ceil(cout / ISAAC_LOGICAL_COLS)
    ho = (h - 1) * s - 2 * p + k + op
    nb = (ho - 1 + p) // s - p // s + 1
    per_step = passes * ISAAC_IN_BITS
    return {"passes": passes, "red": nb * nb * per_step, "zp": ho * ho * per_step,
            "pf": h * h * per_step}


def table_rows(stdout: str) -> dict[str, list[str]]:
    """Data rows of the table by layer name (skips the title, header and rule)."""
    lines = stdout.splitlines()
    assert lines[1].split()[0] == "layer" and set(lines[2].replace(" ", "")) == {"-"}
    return {line.split()[0]: line.split() for line in lines[3:]}


def assert_fill_drain(total: int, compute: int):
    assert compute < total <= compute + compute // 10 + 200, (total, compute)


def test_model_layer_table():
    # Ho = 3*2 - 2 + 4 = 8, Nb = floor(8/2) + 1 = 5, passes = 1 * 2.
    result = run_red("model", "--layer", LAYER)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = table_rows(result.stdout)
    assert list(rows) == ["layer"]
    cells = rows["layer"]
    assert cells[-6] == "2"
    # Totals are the compute cycles plus a short fill/drain (the exact figure is checked
    # against the RTL in the cocotb tests).
    red, zp, pf = map(int, cells[-5:-2])
    assert_fill_drain(red, 5 * 5 * 16 * 2)
    assert_fill_drain(zp, 8 * 8 * 16 * 2)
    assert_fill_drain(pf, 4 * 4 * 16 * 2)
    assert cells[-2:] == [f"{zp / red:.2f}x", f"{pf / red:.2f}x"]
    assert "64->32" in result.stdout and "4x4->8x8" in result.stdout


def test_model_workload_dcgan_table():
    result = run_red("model", "--workload", "dcgan")
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert list(rows) == [f"dcgan.deconv{i}" for i in range(1, 5)] + ["total"]
    expected = [first_order_cycles(cin, cout, h, k=5, s=2, p=2, op=1)
                for cin, cout, h in DCGAN]
    shown = {}
    for i, cycles in enumerate(expected, start=1):
        row = rows[f"dcgan.deconv{i}"]
        assert row[-6] == str(cycles["passes"])
        shown[i] = dict(zip(("red", "zp", "pf"), map(int, row[-5:-2])))
        assert_fill_drain(shown[i]["red"], cycles["red"])
        assert_fill_drain(shown[i]["zp"], cycles["zp"])
        assert_fill_drain(shown[i]["pf"], cycles["pf"])
    total = {key: sum(c[key] for c in shown.values()) for key in ("red", "zp", "pf")}
    passes = sum(c["passes"] for c in expected)
    assert rows["total"][1:] == [str(passes), str(total["red"]), str(total["zp"]),
                                 str(total["pf"]), f"{total['zp'] / total['red']:.2f}x",
                                 f"{total['pf'] / total['red']:.2f}x"]


def test_model_json():
    result = run_red("model", "--workload", "sngan", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tile"]["rows"] == ISAAC_ROWS and data["mode"] == "all"
    assert [entry["name"] for entry in data["layers"]] == [
        "sngan.deconv1", "sngan.deconv2", "sngan.deconv3"]
    for entry, (cin, cout, h) in zip(data["layers"], [(512, 256, 4), (256, 128, 8),
                                                      (128, 64, 16)]):
        cycles = first_order_cycles(cin, cout, h, k=4, s=2, p=1)
        assert entry["layer"] == {"cin": cin, "cout": cout, "h": h, "w": h, "k": 4, "s": 2,
                                  "p": 1, "op": 0, "name": entry["name"]}
        for mode in ("red", "zp", "pf"):
            assert entry[mode]["compute_cycles"] == cycles[mode]
            assert entry[mode]["total_cycles"] >= cycles[mode]
        assert entry["red_vs_zp"] == pytest.approx(entry["zp"]["total_cycles"] /
                                                   entry["red"]["total_cycles"])
        assert entry["pf"]["psum_buffer_writes"] > 0 == entry["red"]["psum_buffer_writes"]
    for mode in ("red", "zp", "pf"):
        assert data["total"][mode]["total_cycles"] == sum(
            entry[mode]["total_cycles"] for entry in data["layers"])


def test_model_single_mode_lists_events():
    result = run_red("model", "--layer", LAYER, "--mode", "pf", "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["layers"]
    assert set(entry) == {"name", "layer", "pf"}
    assert_fill_drain(entry["pf"]["total_cycles"], 4 * 4 * 16 * 2)
    assert entry["pf"]["psum_buffer_accumulations"] > 0 == entry["pf"]["merge_additions"]
    table = run_red("model", "--layer", LAYER, "--mode", "pf")
    assert "psum writes" in table.stdout.splitlines()[1]


def test_tile_is_read_as_in_every_command():
    # --tile starts from TileConfig's defaults, as in red sim: rows=32 splits cin=64
    # into 2 row tiles, 8 logical columns split cout=32 into 4, kernel 3 folds K4 2x2.
    result = run_red("model", "--layer", LAYER, "--tile", "rows=32", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tile"]["rows"] == 32 and data["tile"]["w_bits"] == 4
    assert data["layers"][0]["zp"]["compute_cycles"] == 8 * 8 * 4 * (2 * 4 * 4)


@pytest.mark.parametrize("args, named", [
    (["model", "--layer", "cin=0,cout=2,h=3,w=3,k=3"], "cin=0"),
    (["model", "--layer", "cin=3,cout=2,h=3,w=3,k=3", "--tile", "rows=abc"], "rows='abc'"),
    (["model", "--layer", "cin=3,cout=2,h=3,w=3,k=3,depth=2"], "'depth'"),
    (["model", "--layer", "cin=3,cout=2"], "h, w, k"),
    (["model", "--layer", "cin=3,cout=2,h=3,w=3,k=5", "--tile", "kernel=3,max_k=4"], "k=5 "),
    (["model", "--layer", "cin=3,cout=2,h=3,w=3,k=5", "--tile", "kernel=3,max_k=4"],
     "max_k=4"),
    (["model", "--workload", "nope"], "'nope'"),
    (["model", "--workload", "dcgan", "--mode", "fast"], "'fast'"),
    (["model", "--workload", "dcgan", "--layer", "cin=1,cout=1,h=1,w=1,k=1"], "--layer"),
    (["model"], "--workload"),
    (["frobnicate"], "'frobnicate'"),
])
def test_bad_arguments_exit_2_with_one_line(args, named):
    result = run_red(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("red: error: ") and named in lines[0]


def test_configs_from_a_toml_file_and_decimal_leading_zeros(tmp_path):
    config = tmp_path / "cfg.toml"
    config.write_text("[tile]\nrows = 32\n[layer]\ncin = 64\ncout = 32\nh = 8\nw = 8\n"
                      "k = 4\ns = 2\np = 1\n")
    from_file = run_red("model", "--layer", str(config), "--tile", str(config), "--json")
    assert from_file.returncode == 0, from_file.stderr
    data = json.loads(from_file.stdout)
    # A file's [tile] is a whole TileConfig (defaults: 16 columns of 4-bit weights in
    # 2-bit cells = 8 outputs, kernel 3): 64/32 row tiles x 32/8 cout x 2x2 folds of K4.
    assert data["tile"]["rows"] == 32 and data["layers"][0]["red"]["passes"] == 2 * 4 * 4
    zeros = run_red("model", "--layer", "cin=64,cout=32,h=08,w=8,k=4,s=2,p=1", "--json")
    assert zeros.returncode == 0 and json.loads(zeros.stdout)["layers"][0]["layer"]["h"] == 8
    no_table = tmp_path / "tile_only.toml"
    no_table.write_text("[tile]\nrows = 4\n")
    result = run_red("model", "--layer", str(no_table))
    assert result.returncode == 2 and "no [layer] table" in result.stderr
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"\xff\xfe[tile]\n")
    result = run_red("model", "--layer", LAYER, "--tile", str(latin))
    assert result.returncode == 2 and "UTF-8" in result.stderr


def test_main_returns_exit_status(capsys):
    assert main(["model", "--workload", "unknown"]) == 2
    assert capsys.readouterr().err.startswith("red: error: unknown workload 'unknown'")
    assert main(["model", "--layer", "cin=1,cout=1,h=2,w=2,k=2,s=2"]) == 0
