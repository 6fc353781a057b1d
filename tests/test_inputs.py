"""Bad input files (``red.inputs``, ``red.sim.waves``) and the sizes ``red model``
takes: every one ends with exit 2 and one line, in bounded time, before any work."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from red.config import TileConfig
from red.model import ISAAC_TILE, MAX_MODEL_CYCLES, MAX_MODEL_PASS_GROUPS

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=5,kernel=3,max_stride=4,max_in=6"
LAYER = "cin=4,cout=3,h=4,w=4,k=3,s=2,p=1,op=1"
#: A bad input must be refused well within this (a hang or a read of /dev/zero is not).
SECONDS = 30


def red(*args):
    """``red args`` in a fresh process, within :data:`SECONDS`."""
    return subprocess.run([sys.executable, "-m", "red.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=SECONDS)


def refused(proc, *needles):
    """Exit 2, nothing on stdout, one line on stderr naming every needle."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(lines) == 1 and lines[0].startswith("red: error: "), proc.stderr
    assert all(needle in lines[0] for needle in needles), (needles, lines[0])
    return lines[0]


@pytest.fixture
def special(tmp_path):
    """Special files by kind: a FIFO (nobody writes it), a character device, a folder."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"fifo": (fifo, "FIFO"), "device": ("/dev/zero", "device"),
            "folder": (folder, "folder")}


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_files_as_arrays_are_refused(special, kind, tmp_path):
    path, named = special[kind]
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 4, 4), dtype=np.int64))
    refused(red("sim", "--layer", LAYER, "--tile", TILE, "--x", x, "--w", path,
                "--out", tmp_path / "out"), f"--w {path}", named)
    refused(red("sparsify", "--w", path, "--tile", TILE, "--out", tmp_path / "out"), named)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_files_as_toml_are_refused(special, kind, tmp_path):
    path, named = special[kind]
    toml = tmp_path / f"{kind}.toml"          # --tile/--layer take a file by its suffix
    toml.symlink_to(path)
    refused(red("model", "--layer", LAYER, "--tile", toml), str(toml), named)
    refused(red("sim", "--layer", toml, "--tile", TILE, "--out", tmp_path / "out"), named)
    refused(red("report", "--energy", toml, "--out", tmp_path / "out"), named)


def test_special_files_in_a_sparsity_folder_are_refused(tmp_path):
    folder = tmp_path / "sparse"
    folder.mkdir()
    os.mkfifo(folder / "perm_in.npy")
    refused(red("sim", "--layer", LAYER, "--tile", TILE, "--sparsity", folder,
                "--out", tmp_path / "out"), "perm_in.npy", "FIFO")


@pytest.mark.parametrize("text", [
    "[tile]\nrows = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "[layer]\ncin = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n",
], ids=["arrays", "inline-tables"])
def test_deeply_nested_toml_is_refused(tmp_path, text):
    toml = tmp_path / "deep.toml"
    toml.write_text(text)
    refused(red("model", "--layer", toml, "--tile", toml), "deep.toml", "nested too deeply")
    refused(red("report", "--energy", toml, "--out", tmp_path / "out"), "nested too deeply")


def test_oversized_toml_is_refused(tmp_path):
    toml = tmp_path / "big.toml"
    toml.write_text("[tile]\n" + "# padding\n" * 200_000)
    refused(red("model", "--layer", LAYER, "--tile", toml), "big.toml", "1048576 bytes")


def _npy_header_only(path, shape, data_bytes=64):
    """A ``.npy`` file whose header claims ``shape`` of int64 but holds ``data_bytes``."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<i8", "fortran_order": False, "shape": shape})
        f.write(bytes(data_bytes))


def test_huge_header_claims_are_refused_before_allocating(tmp_path):
    huge = tmp_path / "huge.npy"
    # Any cin/cout/k fits sparsify's shape pattern: only the size check stands between
    # this header and a 720 GB allocation.
    _npy_header_only(huge, (100_000, 100_000, 3, 3))
    refused(red("sparsify", "--w", huge, "--tile", TILE, "--out", tmp_path / "out"),
            "(100000, 100000, 3, 3)", "720000000000 bytes", "holds 64")
    # The layer's exact shape, with the data cut short.
    short = tmp_path / "short.npy"
    _npy_header_only(short, (4, 4, 4), data_bytes=8)
    refused(red("sim", "--layer", LAYER, "--tile", TILE, "--x", short, "--w", huge,
                "--out", tmp_path / "out"), "--x", "512 bytes", "holds 8")


# -- red waves -------------------------------------------------------------------------

WAVE_TILE = "rows=2,cols=4,cell_bits=2,w_bits=4,in_bits=3,kernel=3,max_stride=3,max_in=4"
TWO_PASSES = "cin=4,cout=2,h=3,w=4,k=3,s=2,p=1,op=1"      # cin=4 on 2 rows: 2 passes


@pytest.fixture(scope="module")
def two_pass_dump(tmp_path_factory):
    """An Icarus waveform of a 2-pass layer, as ``red sim --waves`` keeps it."""
    out = tmp_path_factory.mktemp("waves") / "run"
    proc = subprocess.run([sys.executable, "-m", "red.cli", "sim", "--layer", TWO_PASSES,
                           "--tile", WAVE_TILE, "--sim", "icarus", "--seed", "3", "--waves",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["passes"] == len(report["waveform"]["passes"]) == 2
    return out / report["files"]["waveform"]


def test_multi_pass_dump_is_measured_pass_by_pass(two_pass_dump):
    done = red("waves", two_pass_dump, "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert len(figures["passes"]) == 2 and not figures["partial"]
    assert figures["total_cycles"] == sum(p["total_cycles"] for p in figures["passes"])


def test_truncated_and_foreign_waveforms_are_refused(two_pass_dump, tmp_path, special):
    data = two_pass_dump.read_bytes()
    for fraction in (0.1, 0.5, 0.9):
        cut = tmp_path / "cut.fst"
        cut.write_bytes(data[:int(len(data) * fraction)])
        refused(red("waves", cut), "cut.fst")
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros(3, dtype=np.int64))
    refused(red("waves", npy), "not a readable FST/VCD waveform")
    # A valid VCD of some other design: no tile in it.
    foreign = tmp_path / "other.vcd"
    foreign.write_text("$timescale 1ns $end\n$scope module top $end\n$var wire 1 ! clk $end\n"
                       "$upscope $end\n$enddefinitions $end\n#0\n0!\n#1\n1!\n")
    refused(red("waves", foreign), "no tile found")
    half = tmp_path / "half.vcd"
    half.write_text(foreign.read_text()[:60])
    refused(red("waves", half), "half.vcd")
    for path, named in special.values():
        refused(red("waves", path), str(path), named)


# -- red model: one tile, bounded sizes --------------------------------------------------

def test_key_value_and_toml_give_the_same_tile(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[tile]\nrows = 256\nkernel = 5\n")
    runs = [red("model", "--layer", "cin=64,cout=32,h=8,w=8,k=4,s=2,p=1", "--tile", tile,
                "--json") for tile in ("rows=256,kernel=5", toml)]
    assert all(proc.returncode == 0 for proc in runs), [proc.stderr for proc in runs]
    kv, from_file = (json.loads(proc.stdout) for proc in runs)
    assert kv == from_file
    assert kv["tile"] == dataclasses.asdict(TileConfig(rows=256, kernel=5))


def test_model_takes_every_tile_red_sim_takes_and_states_its_base():
    # max_stride=4 with the ISAAC tile's out_pixels=32 was once refused.
    proc = red("model", "--layer", LAYER, "--tile", TILE, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tile"] == dataclasses.asdict(TileConfig.parse(TILE))
    default = json.loads(red("model", "--layer", LAYER, "--json").stdout)
    assert default["tile"] == dataclasses.asdict(ISAAC_TILE)
    usage = " ".join(red("model", "--help").stdout.split())
    assert "Without --tile the tile is the ISAAC-style configuration" in usage
    assert "take TileConfig's defaults" in usage


@pytest.mark.parametrize("layer, limit", [
    ("cin=64,cout=1000000000000,h=8,w=8,k=4,s=2,p=1", MAX_MODEL_PASS_GROUPS),
    ("cin=16,cout=16,h=4096,w=4096,k=64,s=32,p=1", MAX_MODEL_CYCLES),
    ("cin=16,cout=16,h=600,w=600,k=4,s=2,p=1", MAX_MODEL_CYCLES),
])
def test_absurd_model_sizes_are_refused_at_once(layer, limit):
    refused(red("model", "--layer", layer), "too large to model", f"at most {limit}")


def test_shared_adcs_count_in_the_model_size():
    """A layer the model takes with one ADC per column is refused at once when a plane
    takes 128 cycles (one ADC for the 16 weights' 128 columns)."""
    layer = "cin=16,cout=16,h=128,w=128,k=4,s=2,p=1"
    tile = ("rows=128,cols=128,cell_bits=2,w_bits=16,in_bits=16,adc_bits=8,kernel=4,"
            "max_stride=2,max_in=128")
    assert red("model", "--layer", layer, "--tile", tile, "--json").returncode == 0
    refused(red("model", "--layer", layer, "--tile", tile + ",adcs_per_array=1"),
            "too large to model", f"at most {MAX_MODEL_CYCLES}")
