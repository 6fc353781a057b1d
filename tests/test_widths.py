"""Values the tile stores are accepted exactly over the range its widths hold: the bias
over :attr:`~red.config.TileConfig.bias_range` (bit-exact at both ends on the RTL), and
everything beyond a width refused before any work, with the limit."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from red.config import PAPER_TILE, LayerSpec, TileConfig, signed_width
from red.model import ISAAC_TILE

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=5,kernel=3,max_stride=4,max_in=6"
#: cin=8 on 4 rows: two passes, so the bias travels through the partial sums too.
LAYER = "cin=8,cout=3,h=4,w=4,k=3,s=2,p=1,op=1"
SEED = 1907


def red_sim(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", "sim", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("tile", [TileConfig(), TileConfig.parse(TILE), PAPER_TILE,
                                  ISAAC_TILE, TileConfig(rows=1, kernel=1, max_k=1)])
def test_widths_hold_every_bias_of_the_range(tile):
    b_lo, b_hi = tile.bias_range
    assert (b_lo, b_hi) == (-(1 << (tile.bias_width - 1)), (1 << (tile.bias_width - 1)) - 1)
    # The output banks hold one step's merged groups plus the bias, the output the sum
    # over all passes plus the bias, at either end.
    mvm_lo, mvm_hi = tile.mvm_range
    assert signed_width(mvm_lo * tile.groups + b_lo, mvm_hi * tile.groups + b_hi) \
        <= tile.step_width
    lo, hi = tile.sum_range
    assert signed_width(lo + b_lo, hi + b_hi) <= tile.out_width


def test_extreme_biases_run_bit_exact_and_beyond_is_refused(tmp_path):
    tile, layer = TileConfig.parse(TILE), LayerSpec.parse(LAYER)
    b_lo, b_hi = tile.bias_range
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    x = rng.integers(tile.x_min, tile.x_max + 1, (layer.cin, layer.h, layer.w))
    w = rng.integers(tile.w_min, tile.w_max + 1, (layer.cin, layer.cout, layer.k, layer.k))
    files = {}
    for name, array in (("x", x), ("w", w), ("bias", np.array([b_hi, b_lo, 0])),
                        ("over", np.array([b_hi + 1, 0, 0])),
                        ("under", np.array([0, b_lo - 1, 0]))):
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], array)
    out = tmp_path / "run"
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--x", files["x"],
                   "--w", files["w"], "--bias", files["bias"], "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["match"] and report["passes"] == 2 and report["problems"] == []
    y = np.load(out / "y.npy")
    assert y[0].min() > b_hi - (1 << 16) and y[1].max() < b_lo + (1 << 16)  # the extremes
    for name, value in (("over", b_hi + 1), ("under", b_lo - 1)):
        refused = red_sim("--layer", LAYER, "--tile", TILE, "--sim", "icarus",
                          "--bias", files[name], "--out", tmp_path / name)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1, refused.stderr
        assert f"value {value}" in lines[0] and f"[{b_lo}, {b_hi}]" in lines[0], lines[0]
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name, value, limit", [
    ("x", 16, "[-16, 15]"),          # in_bits=5
    ("x", -17, "[-16, 15]"),
    ("w", 8, "[-8, 7]"),             # w_bits=4
])
def test_data_beyond_its_width_is_refused_with_the_limit(tmp_path, name, value, limit):
    layer = LayerSpec.parse(LAYER)
    arrays = {"x": np.zeros((layer.cin, layer.h, layer.w), dtype=np.int64),
              "w": np.zeros((layer.cin, layer.cout, layer.k, layer.k), dtype=np.int64)}
    arrays[name].flat[-1] = value
    for key, array in arrays.items():
        np.save(tmp_path / f"{key}.npy", array)
    proc = red_sim("--layer", LAYER, "--tile", TILE, "--x", tmp_path / "x.npy",
                   "--w", tmp_path / "w.npy", "--out", tmp_path / "out")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"--{name}" in proc.stderr and f"value {value}" in proc.stderr \
        and limit in proc.stderr


@pytest.mark.parametrize("layer, named", [
    ("cin=8,cout=3,h=7,w=4,k=3,s=2", "max_in=6"),
    ("cin=8,cout=3,h=4,w=4,k=3,s=5", "max_stride=4"),
    ("cin=8,cout=3,h=4,w=4,k=65,s=2", "max_k=64"),
])
def test_layer_fields_beyond_the_tile_are_refused_with_the_limit(tmp_path, layer, named):
    proc = red_sim("--layer", layer, "--tile", TILE, "--out", tmp_path / "out")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert named in proc.stderr
