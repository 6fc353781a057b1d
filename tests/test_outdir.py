"""Output folders: red replaces only what it wrote (its manifest), refuses a user's files,
source trees and unusable paths with one line, and cleans up after a killed run.

Every command is run as a user runs it, in a subprocess, so that what survives on disk is
what is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from red.outdir import MANIFEST, OutputFolder

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=4,kernel=3,max_stride=4,max_in=6"
LAYER = "cin=3,cout=2,h=3,w=4,k=3,s=2,p=1,op=1"
SPARSIFY_TILE = "rows=8,cols=16,cell_bits=2,w_bits=4,kernel=3"


def red(*args):
    return subprocess.run([sys.executable, "-m", "red.cli", *args], capture_output=True,
                          text=True)


def tree(folder):
    """Every file below ``folder`` with its content, for before/after comparisons."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def one_line_refusal(proc, needle):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]


def commands(tmp_path):
    """Each output-writing command with a name it writes into ``--out``."""
    weights = tmp_path / "w_in.npy"
    np.save(weights, np.ones((4, 4, 3, 3), dtype=np.int64))
    return {
        "sim": (["sim", "--layer", LAYER, "--tile", TILE, "--sim", "icarus"], "sim"),
        "gen": (["gen", "--tile", TILE], "red_tile.v"),
        "sparsify": (["sparsify", "--w", str(weights), "--tile", SPARSIFY_TILE],
                     "perm_in.npy"),
        "report": (["report", "--quick", "--sim", "icarus"], "report.md"),
    }


@pytest.mark.parametrize("command", ["sim", "gen", "sparsify", "report"])
def test_a_users_file_with_a_name_red_uses_survives(command, tmp_path):
    args, name = commands(tmp_path)[command]
    out = tmp_path / "out"
    target = out / name
    if name == "sim":                         # the data-loss case: a user's folder sim/
        (target / "notes").mkdir(parents=True)
        (target / "notes" / "mine.txt").write_text("the user's")
    else:
        out.mkdir()
        target.write_text("the user's")
    before = tree(out)
    proc = red(*args, "--out", str(out))
    one_line_refusal(proc, f"'{name}', which red did not write")
    assert tree(out) == before


def test_a_source_tree_is_refused_not_emptied(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "sim").mkdir(parents=True)
    (checkout / "sim" / "__init__.py").write_text("# a package")
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    before = tree(checkout)
    for out in (checkout, checkout / "sim"):
        proc = red("sim", "--layer", LAYER, "--tile", TILE, "--sim", "icarus", "--out",
                   str(out))
        one_line_refusal(proc, "is a source tree")
    assert tree(checkout) == before


def test_red_replaces_its_own_files_and_refuses_them_once_changed(tmp_path):
    out = tmp_path / "out"
    first = red("gen", "--tile", TILE, "--top", "mvm", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert (out / "red_mvm.json").is_file()
    # Another top replaces red's own files and drops the earlier top's own ones.
    second = red("gen", "--tile", TILE, "--out", str(out))
    assert second.returncode == 0, second.stderr
    written = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert written == {line.rsplit("/", 1)[1] for line in second.stdout.split()}
    assert "red_mvm.json" not in written
    manifest = json.loads((out / MANIFEST).read_text())["entries"]
    assert set(manifest) == written and {r["command"] for r in manifest.values()} == {"gen"}
    # Once the user edits one, it is theirs.
    (out / "red_tile.v").write_text("// edited by hand\n")
    proc = red("gen", "--tile", TILE, "--out", str(out))
    one_line_refusal(proc, "'red_tile.v' changed since red wrote it")
    assert (out / "red_tile.v").read_text() == "// edited by hand\n"


def test_a_changed_stale_entry_is_left_to_the_user(tmp_path):
    out = tmp_path / "out"
    assert red("gen", "--tile", TILE, "--top", "mvm", "--out", str(out)).returncode == 0
    (out / "red_mvm.json").write_text("{}\n")           # the user's now
    proc = red("gen", "--tile", TILE, "--top", "crossbar", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "red_mvm.json").read_text() == "{}\n"
    assert "red_mvm.json" not in json.loads((out / MANIFEST).read_text())["entries"]


def test_a_killed_runs_scratch_is_removed_and_said(tmp_path):
    out = tmp_path / "out"
    stale = out / ".red-run-killed"
    (stale / "sim").mkdir(parents=True)
    proc = red("gen", "--tile", TILE, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert proc.stderr.strip().splitlines() == [
        f"red: removed .red-run-killed, left in {out} by a killed run"]


@pytest.mark.parametrize("path, needle", [
    ("a\nb", "line break"),
    ("x" * 5000, "at most"),
    ("/proc/red-out", "cannot create"),
])
def test_unusable_paths_are_refused_with_one_line(path, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "red.cli", "gen", "--tile", TILE, "--out",
                           path], capture_output=True, text=True, cwd=tmp_path)
    one_line_refusal(proc, needle)


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_unicode_and_spaces_in_the_output_path(sim, tmp_path):
    out = tmp_path / "résumé x" / "o ut"
    proc = red("sim", "--layer", LAYER, "--tile", TILE, "--sim", sim, "--waves", "--out",
               str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["match"] is True and (out / report["files"]["waveform"]).is_file()


def test_commit_records_fingerprints_and_an_unreadable_manifest_vouches_for_nothing(tmp_path):
    with OutputFolder(tmp_path / "o", "test", owned=("a",)) as folder:
        (folder.scratch / "a").write_text("1")
        folder.commit()
    entries = json.loads((tmp_path / "o" / MANIFEST).read_text())["entries"]
    assert set(entries) == {"a"} and entries["a"]["command"] == "test"
    (tmp_path / "o" / MANIFEST).write_text("not json")       # vouches for nothing now
    with pytest.raises(Exception, match="which red did not write"):
        with OutputFolder(tmp_path / "o", "test", owned=("a",)):
            pass
