"""The cache (red.cache): every entry is checked against its content hash before use; a
tampered, truncated, incomplete or half-deleted entry is rebuilt and says so in one line;
concurrent builders build an entry once; a cache path with spaces and non-ASCII
characters works on both simulators."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from red.cache import MANIFEST, entry, entry_problem
from red.config import TileConfig
from red.gen.verilog import Generated, generate
from red.sim.runner import _announce, build, run_job

#: The smallest tile and layer of the tests: a cold ``red sim`` of them is quick.
TILE = "rows=2,cols=4,cell_bits=2,w_bits=4,in_bits=3,kernel=2,max_stride=2,max_in=4"
LAYER = "cin=2,cout=2,h=2,w=2,k=2,s=1,p=0,op=0"
SEED = 1
#: A small crossbar: its top builds in seconds on both simulators.
CROSSBAR = TileConfig(rows=6, cols=8, cell_bits=2, w_bits=4, in_bits=4, adc_bits=2)
#: A cache folder name no build tool takes as it is.
ODD_NAME = "cache with späces ü"


def red(cache, *args):
    return subprocess.run([sys.executable, "-m", "red.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "RED_CACHE_DIR": str(cache)})


def only_entry(cache, kind, prefix):
    """The one entry folder of ``kind`` whose name starts with ``prefix``."""
    (found,) = [path for path in (cache / kind).glob(f"{prefix}*") if path.is_dir()]
    return found


def assert_rebuilt(stderr, folder, reason):
    """``stderr`` says, in exactly one line, that ``folder`` is rebuilt for ``reason``."""
    lines = [line for line in stderr.splitlines() if line.startswith("red: cache")]
    assert lines == [f"red: cache entry {folder} is {reason}; rebuilding"], stderr
    assert entry_problem(folder) is None


def test_tampered_verilog_entry_is_never_used(tmp_path):
    cache = tmp_path / "cache"
    gen = ("gen", "--top", "crossbar", "--tile", TILE, "--out")
    first = red(cache, *gen, str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    folder = only_entry(cache, "verilog", "crossbar-")
    saved_file = folder / "generated.json"
    saved = json.loads(saved_file.read_text())
    name = next(iter(saved["sources"]))
    saved["sources"][name] += "// tampered\n"
    saved_file.write_text(json.dumps(saved))

    second = red(cache, *gen, str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    assert_rebuilt(second.stderr, folder, "corrupt (generated.json changed)")
    fresh = {path.name: path.read_bytes() for path in (tmp_path / "a").glob("*.v")}
    again = {path.name: path.read_bytes() for path in (tmp_path / "b").glob("*.v")}
    assert again == fresh and b"tampered" not in again[name]


def run_crossbar(tmp_path, sim):
    """Build (or take from the cache) and run the crossbar top's test on ``sim``."""
    print(f"seed={SEED}")
    result = run_job("crossbar", CROSSBAR, "red.sim.tb_crossbar", {"seed": SEED}, sim=sim,
                     work_dir=tmp_path / "run", generated=generate("crossbar", CROSSBAR))
    assert result.passed, (tmp_path / "run" / "sim.log").read_text()[-3000:]
    return result


@pytest.mark.parametrize("damage, reason", [
    ("truncate", "corrupt (sim.vvp changed)"),
    ("delete", "corrupt (sim.vvp is missing)"),
    ("no manifest", "incomplete (no manifest)"),
])
def test_damaged_icarus_build_is_rebuilt_and_runs(tmp_path, monkeypatch, capsys, damage,
                                                  reason):
    monkeypatch.setenv("RED_CACHE_DIR", str(tmp_path / "cache"))
    folder = build(generate("crossbar", CROSSBAR), "icarus")
    vvp = folder / "sim.vvp"
    if damage == "truncate":
        vvp.write_bytes(vvp.read_bytes()[:1000])
    elif damage == "delete":
        vvp.unlink()
    else:
        (folder / MANIFEST).unlink()
    capsys.readouterr()
    assert run_crossbar(tmp_path, "icarus").build_dir == folder
    assert_rebuilt(capsys.readouterr().err, folder, reason)


def test_odd_cache_path_works_on_icarus(tmp_path):
    """End to end: ``red sim`` with such a cache."""
    cache = tmp_path / ODD_NAME
    print(f"seed={SEED}")
    proc = red(cache, "sim", "--layer", LAYER, "--tile", TILE, "--sim", "icarus",
               "--seed", str(SEED), "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "run" / "report.json").read_text())["match"] is True
    assert entry_problem(only_entry(cache, "builds", "red_harness-icarus-")) is None


def test_odd_cache_path_works_on_verilator(tmp_path, monkeypatch):
    """GNU make cannot build under a path with a space: the build runs in a plain
    temporary folder and moves into the cache."""
    cache = tmp_path / ODD_NAME
    monkeypatch.setenv("RED_CACHE_DIR", str(cache))
    result = run_crossbar(tmp_path, "verilator")
    assert result.build_dir.parent == cache / "builds"
    assert entry_problem(result.build_dir) is None


def test_unusable_cache_subfolder_exits_2(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "verilog").write_text("not a folder")
    proc = red(cache, "gen", "--top", "crossbar", "--tile", TILE, "--out", str(tmp_path / "a"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert str(cache / "verilog") in lines[0] and "not a folder" in lines[0]


def test_extra_file_or_damaged_manifest_is_corrupt(tmp_path):
    folder = entry(tmp_path / "e", lambda f: (f / "data").write_text("x"))
    assert entry_problem(folder) is None
    (folder / "extra").write_text("y")
    assert entry_problem(folder) == "corrupt (extra is not in its manifest)"
    (folder / "extra").unlink()
    (folder / MANIFEST).write_text("garbage\n")
    assert entry_problem(folder) == "corrupt (its manifest is damaged)"


def test_failed_build_leaves_nothing(tmp_path):
    def fail(folder):
        (folder / "half").write_text("half a build")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        entry(tmp_path / "e", fail)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["e.lock"]


def test_concurrent_builders_build_once(tmp_path):
    """Three processes want the same entry at once: one builds it, the others wait for
    it and use it."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from red.cache import entry

        def build(folder):
            with open({str(tmp_path / "builds.txt")!r}, "a") as log:
                log.write("built\\n")
            time.sleep(0.5)
            (folder / "data").write_text("done")

        print((entry(Path({str(tmp_path / "e")!r}), build) / "data").read_text())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert [out for out, _ in outputs] == ["done\n"] * 3
    assert (tmp_path / "builds.txt").read_text() == "built\n"


def test_long_build_is_announced_short_one_is_not(capsys):
    tile = {"config": {"rows": 128, "cols": 128}}
    _announce(Generated("red_harness", {"red_harness.v": "x" * 3_000_000}, tile), "verilator")
    _announce(Generated("red_harness", {"red_harness.v": "x" * 500_000}, tile), "icarus")
    assert capsys.readouterr().err.splitlines() == [
        "red: building the Verilator model of red_harness (128x128 tile), "
        "about 4 min cold; cached afterwards"]
