"""``red sparsify``: the files it writes and refusals of bad input.

Expected values are recomputed here from the written files with direct loops over the
tile's slices (``_blocks.blocks_by_loop``), not taken from ``red.sparsity``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from red import cli
from _blocks import blocks_by_loop, planted

#: 8 rows; 16 physical columns of 4-bit weights in 2-bit cells: 8 logical columns.
TILE = "rows=8,cols=16,cell_bits=2,w_bits=4,kernel=3"
ROWS, COLS = 8, 8
FILES = {"w.npy", "perm_in.npy", "perm_out.npy", "block_mask.npy", "sparsity.json"}


def red_sparsify(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", "sparsify", *args],
                          capture_output=True, text=True)


@pytest.fixture
def hidden_weights(tmp_path):
    """Planted block structure under random channel permutations, as a .npy file."""
    seed = 31
    print(f"planted structure seed {seed}")
    w, hidden = planted(np.random.default_rng(seed), 48, 40, 3, ROWS, COLS, 0.4, 0.5)
    path = tmp_path / "w_in.npy"
    np.save(path, hidden)
    return w, hidden, path


def test_writes_permuted_pruned_weights_and_their_figures(tmp_path, hidden_weights):
    planted_w, hidden, path = hidden_weights
    out = tmp_path / "out"
    proc = red_sparsify("--w", str(path), "--tile", TILE, "--prune", "0.8", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == FILES
    w = np.load(out / "w.npy")
    perm_in, perm_out = np.load(out / "perm_in.npy"), np.load(out / "perm_out.npy")
    mask = np.load(out / "block_mask.npy")
    figures = json.loads((out / "sparsity.json").read_text())

    assert sorted(perm_in) == list(range(48)) and sorted(perm_out) == list(range(40))
    # w[i][j] = original[perm_in[i]][perm_out[j]] wherever pruning left the weight.
    for i in range(48):
        for j in range(40):
            kept = w[i, j] != 0
            assert np.array_equal(w[i, j][kept], hidden[perm_in[i], perm_out[j]][kept])
    blocks = blocks_by_loop(w, ROWS, COLS)
    assert mask.dtype == bool and mask.shape == (math.ceil(40 / COLS), 48 // ROWS, 3, 3)
    assert all(mask[index] == block.any() for index, block in blocks.items())

    reordered = hidden[perm_in][:, perm_out]
    reordered_empty = sum(not b.any() for b in blocks_by_loop(reordered, ROWS, COLS).values())
    planted_empty = sum(not b.any() for b in blocks_by_loop(planted_w, ROWS, COLS).values())
    assert figures["blocks_total"] == len(blocks) == 6 * 5 * 9
    assert figures["empty_blocks_dense"] == \
        sum(not b.any() for b in blocks_by_loop(hidden, ROWS, COLS).values())
    assert figures["empty_blocks_reordered"] == reordered_empty >= 0.9 * planted_empty
    assert figures["empty_blocks_pruned"] == sum(not b.any() for b in blocks.values()) \
        == math.ceil(0.8 * len(blocks))
    assert figures["relative_weight_error"] == pytest.approx(
        np.linalg.norm(reordered - w) / np.linalg.norm(hidden))
    assert figures["tile"]["rows"] == ROWS and figures["tile"]["logical_cols"] == COLS
    assert figures["algorithm"]
    assert f"{figures['empty_blocks_pruned']} pruned" in proc.stdout


def test_without_prune_only_reorders(tmp_path, hidden_weights):
    _, hidden, path = hidden_weights
    out = tmp_path / "out"
    assert cli.main(["sparsify", "--w", str(path), "--tile", TILE, "--out", str(out)]) == 0
    figures = json.loads((out / "sparsity.json").read_text())
    perm_in, perm_out = np.load(out / "perm_in.npy"), np.load(out / "perm_out.npy")
    assert np.array_equal(np.load(out / "w.npy"), hidden[perm_in][:, perm_out])
    assert figures["empty_blocks_pruned"] == figures["empty_blocks_reordered"]
    assert figures["relative_weight_error"] == 0


def _bad_inputs(tmp_path):
    def save(name, array):
        np.save(tmp_path / name, array)
        return str(tmp_path / name)

    ok = save("ok.npy", np.zeros((4, 4, 3, 3), dtype=np.int64))
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    return [
        (["--w", str(tmp_path / "missing.npy")], "missing.npy", "cannot read"),
        (["--w", save("three_axes.npy", np.zeros((4, 4, 3), dtype=np.int64))],
         "(4, 4, 3)", "(cin, cout, k, k)"),
        (["--w", save("not_square.npy", np.zeros((4, 4, 3, 2), dtype=np.int64))],
         "(4, 4, 3, 2)", "(cin, cout, k, k)"),
        (["--w", save("float.npy", np.zeros((4, 4, 3, 3)))], "float64", "integers"),
        (["--w", save("big.npy", np.full((4, 4, 3, 3), 8))], "8", "[-8, 7]"),
        (["--w", save("empty_axis.npy", np.zeros((0, 4, 3, 3), dtype=np.int64))],
         "(0, 4, 3, 3)", "empty axis"),
        (["--w", ok, "--tile", TILE + ",max_cin=2"], "cin=4", "max_cin=2"),
        (["--w", ok, "--prune", "abc"], "--prune 'abc'", "[0, 1]"),
        (["--w", ok, "--prune", "1.5"], "1.5", "[0, 1]"),
        (["--w", ok, "--prune", "-0.1"], "-0.1", "[0, 1]"),
        (["--w", ok, "--prune", "nan"], "nan", "[0, 1]"),
        (["--w", ok, "--tile", "rows=0"], "rows=0", ">= 1"),
        (["--w", ok, "--out", str(a_file)], str(a_file), "not a folder"),
        (["--w", ok, "--out", str(a_file / "sub")], "sub", "cannot create"),
    ]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    for args, *needles in _bad_inputs(tmp_path):
        out = tmp_path / "out"
        tile = [] if "--tile" in args else ["--tile", TILE]
        destination = [] if "--out" in args else ["--out", str(out)]
        status = cli.main(["sparsify", *args, *tile, *destination])
        err = capsys.readouterr().err
        assert status == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("red: error: "), err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
        assert not out.exists(), f"{args} wrote {out}"


def test_bad_input_as_a_process_has_no_traceback(tmp_path):
    proc = red_sparsify("--w", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("red: error: --w ")


def test_a_refused_run_leaves_the_previous_results(tmp_path, hidden_weights):
    _, _, path = hidden_weights
    out = tmp_path / "out"
    assert cli.main(["sparsify", "--w", str(path), "--tile", TILE, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in FILES}
    assert cli.main(["sparsify", "--w", str(path), "--tile", TILE, "--prune", "2",
                     "--out", str(out)]) == 2
    assert {name: (out / name).read_bytes() for name in FILES} == before
