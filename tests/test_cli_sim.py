"""``red sim``: every exit code, the files it writes, and refusals of bad input."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from red import cli
from red.config import LayerSpec
from red.sim import SIMULATORS

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=4,kernel=3,max_stride=4,max_in=6"
LAYER = "cin=3,cout=2,h=3,w=4,k=3,s=2,p=1,op=1"


def red_sim(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", "sim", *args],
                          capture_output=True, text=True)


def test_match_exits_0_and_writes_everything(tmp_path):
    out = tmp_path / "run"
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--seed", "5",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    layer = LayerSpec.parse(LAYER)
    report = json.loads((out / "report.json").read_text())
    assert report["match"] is True and report["mode"] == "red" and report["sim"] == "icarus"
    assert report["layer"] == layer.describe()
    assert report["cycles"]["compute"] == layer.nb_h * layer.nb_w * 4
    assert report["cycles"]["total"] > report["cycles"]["compute"]
    y = np.load(out / "y.npy")
    assert y.dtype == np.int64 and y.shape == (layer.cout, layer.ho, layer.wo)
    assert np.array_equal(y, np.load(out / "y_golden.npy"))
    x, w = np.load(out / "x.npy"), np.load(out / "w.npy")
    assert x.shape == (3, 3, 4) and w.shape == (3, 2, 3, 3)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_layer_larger_than_the_tile_runs_in_passes(tmp_path, sim):
    """cin over rows, cout over the logical columns, k over the kernel, the largest
    stride: the layer runs in passes, bit-exact, with the model's cycles and events."""
    layer = LayerSpec(cin=5, cout=6, h=2, w=3, k=4, s=4, p=1, op=2)
    out = tmp_path / "run"
    proc = red_sim("--layer", str(layer), "--tile", TILE, "--sim", sim, "--seed", "3",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    # TILE: 4 rows, 8 columns / (4-bit weights / 2-bit cells) = 4 outputs, 3x3 kernel.
    passes = math.ceil(5 / 4) * math.ceil(6 / 4) * math.ceil(4 / 3) ** 2
    assert report["passes"] == passes == len(report["schedule"])
    assert report["match"] is True and report["problems"] == []
    assert report["cycles"]["total"] == report["model"]["total_cycles"]
    assert report["cycles"]["compute"] == passes * layer.nb_h * layer.nb_w * 4
    assert sum(p["cycles"]["total"] for p in report["schedule"]) == report["cycles"]["total"]


def test_given_data_zp_mode(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.integers(-8, 8, (3, 3, 4))
    w = rng.integers(-8, 8, (3, 2, 3, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "run"
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--mode", "zp",
                   "--x", str(tmp_path / "x.npy"), "--w", str(tmp_path / "w.npy"),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert np.array_equal(np.load(out / "x.npy"), x)
    layer = LayerSpec.parse(LAYER)
    assert json.loads((out / "report.json").read_text())["cycles"]["compute"] == \
        layer.ho * layer.wo * 4


def test_mismatch_exits_1_and_still_writes(tmp_path, monkeypatch):
    """The RTL is trusted by the other tests; here a result that differs from the golden
    output is substituted to check the CLI's verdict path."""
    from red.sim import session

    real = session.simulate_layers

    def corrupted(*args, **kwargs):
        results, run = real(*args, **kwargs)
        bad = results[0].y.copy()
        bad[0, 0, 0] += 1
        return [dataclasses.replace(results[0], y=bad)], run

    monkeypatch.setattr(session, "simulate_layers", corrupted)
    out = tmp_path / "run"
    status = cli.main(["sim", "--layer", LAYER, "--tile", TILE, "--sim", "icarus",
                       "--out", str(out)])
    assert status == 1
    report = json.loads((out / "report.json").read_text())
    assert report["match"] is False
    assert "1 outputs differ, first (co=0, oh=0, ow=0)" in report["problems"][0]
    assert not np.array_equal(np.load(out / "y.npy"), np.load(out / "y_golden.npy"))


def _bad_inputs(tmp_path):
    np.save(tmp_path / "x_big.npy", np.full((3, 3, 4), 8))
    np.save(tmp_path / "x_shape.npy", np.zeros((3, 4, 3), dtype=np.int64))
    np.save(tmp_path / "x_float.npy", np.zeros((3, 3, 4)))
    np.save(tmp_path / "w_ok.npy", np.zeros((3, 2, 3, 3), dtype=np.int64))
    with open(tmp_path / "x_zip.npy", "wb") as f:       # an .npz under a .npy name
        np.savez(f, np.zeros((3, 3, 4), dtype=np.int64))
    (tmp_path / "x_empty.npy").write_bytes(b"")
    (tmp_path / "x_text.npy").write_text("1 2 3\n")
    with open(tmp_path / "x_huge.npy", "wb") as f:      # a header, no data
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<i8", "fortran_order": False, "shape": (2_000_000_000, 3, 3)})
    (tmp_path / "a_file").write_text("not a folder")
    npy = [(name, str(tmp_path / f"x_{name}.npy")) for name in ("zip", "empty", "text")]
    return [
        *[(["--layer", LAYER, "--x", path, "--w", str(tmp_path / "w_ok.npy")], "--x",
           "not a .npy array") for _, path in npy],
        (["--layer", LAYER, "--x", str(tmp_path / "x_huge.npy"),
          "--w", str(tmp_path / "w_ok.npy")], "(2000000000, 3, 3)", "(3, 3, 4)"),
        (["--layer", LAYER, "--x", str(tmp_path), "--w", str(tmp_path / "w_ok.npy")],
         "--x", "folder"),
        (["--layer", LAYER, "--seed=-1"], "--seed -1", "[0, 2^32)"),
        (["--layer", LAYER, "--tile", "rows=4,cols=" + "9" * 5000], "cols=", "integer"),
        (["--layer", "cin=5000,cout=2,h=3,w=4,k=3,s=2,p=1"], "cin=5000", "max_cin=4096"),
        (["--layer", "cin=1,cout=1,h=3,w=3,k=70,s=1,p=34"], "k=70", "max_k=64"),
        (["--layer", "cin=1,cout=1,h=7,w=2,k=3,s=1"], "h=7", "max_in=6"),
        (["--layer", "cin=1,cout=1,h=2,w=2,k=3,s=5"], "s=5", "max_stride=4"),
        (["--layer", LAYER, "--x", str(tmp_path / "x_big.npy"),
          "--w", str(tmp_path / "w_ok.npy")], "8", "[-8, 7]"),
        (["--layer", LAYER, "--x", str(tmp_path / "x_shape.npy"),
          "--w", str(tmp_path / "w_ok.npy")], "(3, 4, 3)", "(3, 3, 4)"),
        (["--layer", LAYER, "--x", str(tmp_path / "x_float.npy"),
          "--w", str(tmp_path / "w_ok.npy")], "float64", "integers"),
        (["--layer", LAYER, "--x", str(tmp_path / "x_big.npy")], "--x", "--w"),
        (["--layer", LAYER, "--stall", "1.5"], "1.5", "[0, 1)"),
        (["--layer", LAYER, "--mode", "pf", "--relu", "--early", "negative"], "mode pf",
         "red and zp only"),
    ]


def test_bad_input_exits_2_writes_nothing(tmp_path):
    for args, *needles in _bad_inputs(tmp_path):
        out = tmp_path / "out"
        tile = [] if "--tile" in args else ["--tile", TILE]
        proc = red_sim(*args, *tile, "--sim", "icarus", "--out", str(out))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
        assert not out.exists(), f"{args} wrote {out}"
        assert len(lines[0]) < 300, lines[0]


def test_unusable_output_or_cache_folder_exits_2(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    cases = [(str(a_file / "sub"), {}, "cannot create"), (str(a_file), {}, "not a folder"),
             ("", {}, "give a folder"),
             (str(tmp_path / "out"), {"RED_CACHE_DIR": str(a_file)}, "RED_CACHE_DIR")]
    for out, env, needle in cases:
        proc = subprocess.run([sys.executable, "-m", "red.cli", "sim", "--layer", LAYER,
                               "--tile", TILE, "--sim", "icarus", "--out", out],
                              capture_output=True, text=True, env={**os.environ, **env})
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (out, env, proc.stderr)
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "out").exists()


def test_second_run_into_a_busy_folder_is_refused_and_stale_files_go(tmp_path):
    out = tmp_path / "run"
    earlier = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--waves",
                      "--out", str(out))
    assert earlier.returncode == 0 and (out / "waves.fst").is_file(), earlier.stderr
    first = subprocess.Popen([sys.executable, "-m", "red.cli", "sim", "--layer", LAYER,
                              "--tile", TILE, "--sim", "icarus", "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    for _ in range(100):                          # the first run holds the folder
        if list(out.glob(".red-run-*")):
            second = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus",
                             "--out", str(out))
            break
        time.sleep(0.05)
    assert first.wait(timeout=120) == 0, first.communicate()
    assert second is not None and second.returncode == 2, second
    assert "in use by another red run (pid " in second.stderr
    # The earlier run's waveform was red's own: the run without --waves removed it.
    assert (out / "y.npy").is_file() and not (out / "waves.fst").exists()
    assert json.loads((out / "report.json").read_text())["match"] is True


def test_interrupt_exits_130_and_keeps_nothing(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "red.cli", "sim", "--layer",
                             "cin=9,cout=9,h=6,w=6,k=5,s=2,p=1,op=1", "--tile", TILE,
                             "--sim", "icarus", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(200):                          # wait until the run has started
        if list(out.glob(".red-run-*/sim")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["red: interrupted; nothing of this run was kept"]
    assert [p.name for p in out.iterdir()] == [".red.lock"]
