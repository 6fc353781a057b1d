"""``red sim --sparse`` and ``--sparsity DIR``: identical results, fewer conversions,
hardware-counted skipped blocks equal to the model, and one-line refusals."""

import json
import subprocess
import sys

import numpy as np
import pytest

from red.golden import deconv2d

TILE = "rows=2,cols=4,cell_bits=2,w_bits=4,in_bits=3,kernel=3,max_in=6,max_cin=8"
LAYER = "cin=6,cout=4,h=3,w=3,k=3,s=2,p=1,op=1"
SEED = 2019


def red(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", *args], capture_output=True,
                          text=True)


def sparse_weights(folder):
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    x = rng.integers(-4, 4, (6, 3, 3))
    w = rng.integers(-8, 8, (6, 4, 3, 3))
    w[rng.random(w.shape) < 0.75] = 0
    np.save(folder / "x.npy", x)
    np.save(folder / "w.npy", w)
    return x, w


def test_sparse_and_sparsity_folder_equal_dense(tmp_path):
    x, w = sparse_weights(tmp_path)
    data = ["--x", str(tmp_path / "x.npy")]
    runs = {}
    for name, extra in (("dense", ["--w", str(tmp_path / "w.npy")]),
                        ("sparse", ["--w", str(tmp_path / "w.npy"), "--sparse"])):
        proc = red("sim", "--sim", "verilator", "--tile", TILE, "--layer", LAYER, *data, *extra,
                   "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[name] = json.loads((tmp_path / name / "report.json").read_text())
    proc = red("sparsify", "--w", str(tmp_path / "w.npy"), "--tile", TILE, "--out",
               str(tmp_path / "mapping"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = red("sim", "--sim", "verilator", "--tile", TILE, "--layer", LAYER, *data,
               "--sparsity", str(tmp_path / "mapping"), "--out", str(tmp_path / "given"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs["given"] = json.loads((tmp_path / "given" / "report.json").read_text())
    expected = deconv2d(x, w, 2, 1, 1)
    for name in runs:
        assert runs[name]["problems"] == [] and runs[name]["match"]
        assert np.array_equal(np.load(tmp_path / name / "y.npy"), expected), name
    dense, sparse = runs["dense"]["events"], runs["sparse"]["events"]
    assert sparse["adc_conversions"] < dense["adc_conversions"]
    assert sparse["skipped_blocks"] + sparse["skipped_passes"] > 0
    assert dense["skipped_blocks"] == dense["skipped_passes"] == 0
    assert sparse["skipped_blocks"] == runs["sparse"]["model"]["skipped_blocks"]
    assert runs["given"]["events"] == sparse
    assert runs["sparse"]["sparsity"]["source"] == "red sim --sparse"


@pytest.mark.parametrize("args, message", [
    (["--sparse", "--relu", "--early", "negative"], "do not combine"),
    (["--sparse", "--sparsity", "{folder}"], "not allowed with"),
    (["--sparsity", "{missing}"], "not a folder"),
    (["--sparsity", "{folder}", "--w", "{w}"], "drop --w"),
    (["--sparsity", "{other_tile}"], "does not match w.npy"),
])
def test_bad_sparse_settings_exit_2(tmp_path, args, message):
    sparse_weights(tmp_path)
    for name, tile in (("folder", TILE), ("other_tile", TILE.replace("rows=2", "rows=3"))):
        assert red("sparsify", "--w", str(tmp_path / "w.npy"), "--tile", tile, "--out",
                   str(tmp_path / name)).returncode == 0
    files = {"folder": tmp_path / "folder", "missing": tmp_path / "none",
             "other_tile": tmp_path / "other_tile", "w": tmp_path / "w.npy"}
    proc = red("sim", "--sim", "icarus", "--tile", TILE, "--layer", LAYER,
               *[a.format(**files) for a in args], "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
