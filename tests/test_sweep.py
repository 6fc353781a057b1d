"""``red sweep``: a tiny sweep on a LocalCluster and on a real ``dask scheduler`` with two
``dask worker`` processes (identical points), a worker killed mid-sweep, an interrupted
sweep resumed without recomputing, the RTL points bit-exact and equal to the model."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from red import cli  # noqa: E402
from red.config import ConfigError  # noqa: E402
from red.sweep_spec import load_spec  # noqa: E402

RED = [sys.executable, "-m", "red.cli"]

SPEC = """\
modes = ["red", "zp", "pf"]

[tile]
rows = [4, 8]
cols = 8
kernel = 3
w_bits = 4
in_bits = 4
max_in = 8

[[tile.only]]
rows = 0

[layers]
shapes = ["cin=3,cout=2,h=3,w=3,k=3,s=2,p=1,op=1", "cin=5,cout=3,h=4,w=4,k=4,s=2,p=1,op=0",
          "cin=2,cout=2,h=12,w=12,k=3,s=2,p=1,op=1"]

[rtl]
verify = {verify}
sim = "verilator"
seed = 7
"""

#: 3 tiles (one invalid) x 3 layers (one over max_in) x 3 modes.
POINTS = 27


def _spec(tmp_path, verify="3"):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(verify=verify))
    return path


def _points(out: Path) -> list[dict]:
    return json.loads((out / "sweep.json").read_text())["points"]


def test_spec_points_and_invalid_reasons(tmp_path):
    spec = load_spec(_spec(tmp_path))
    assert len(spec.points) == POINTS and spec.verify == 3 and spec.seed == 7
    reasons = {p.invalid.split(":")[0] for p in spec.points if p.invalid}
    assert reasons == {"tile", "layer"}
    assert sum(p.invalid is None for p in spec.points) == 2 * 2 * 3


@pytest.mark.parametrize("text, message", [
    ("[tile]\nrowz = 4\n[layers]\nshapes=['cin=1,cout=1,h=2,w=2,k=3,s=2,p=1,op=0']",
     "unknown tile key 'rowz'"),
    ("[layers]\nworkloads=['nope']", "unknown workload"),
    ("modes=['xx']\n[layers]\nshapes=['cin=1,cout=1,h=2,w=2,k=3,s=2,p=1,op=0']", "modes"),
    ("[rtl]\nverify='some'\n[layers]\nshapes=['cin=1,cout=1,h=2,w=2,k=3,s=2,p=1,op=0']",
     "verify = 'some'"),
    ("[layers]\n", "names no layer"),
])
def test_bad_specs_are_refused_with_one_line(text, message, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_sweep_verifies_resumes_survives_a_dead_worker_and_matches_a_real_cluster(
        tmp_path):
    """One spec three ways: on a LocalCluster (and rerun: nothing recomputed); on a
    cluster started outside red, one of whose two workers is killed mid-sweep; and
    interrupted there after its first RTL result, then resumed. Every way gives the same
    points."""
    spec = _spec(tmp_path, verify="2")
    local = tmp_path / "local"
    assert cli.main(["sweep", str(spec), "--out", str(local), "--workers", "2"]) == 0
    points = _points(local)
    assert len(points) == POINTS
    invalid = [p for p in points if not p["valid"]]
    assert len(invalid) == POINTS - 12 and all(p["reason"] for p in invalid)
    rtl = [p for p in points if p["source"] == "rtl"]
    assert len(rtl) == 2
    for p in rtl:
        assert p["match"] and p["equals_model"] and p["total_cycles"] == p["model_total_cycles"]
    header = (local / "sweep.csv").read_text().splitlines()[0]
    assert header.startswith("key,workload,layer,mode,tile,valid,total_cycles,energy_pj")
    assert (local / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "Pareto front" in (local / "sweep.md").read_text()
    # A rerun into the same folder recomputes nothing.
    stamps = {f: f.stat().st_mtime_ns for f in (local / "points").iterdir()}
    assert cli.main(["sweep", str(spec), "--out", str(local), "--workers", "1"]) == 0
    assert json.loads((local / "sweep.json").read_text())["computed"] == {"points": 0, "rtl": 0,
                                                                      "area": 0}
    assert stamps == {f: f.stat().st_mtime_ns for f in (local / "points").iterdir()}
    assert _points(local) == points
    with _cluster(tmp_path) as address:
        remote = tmp_path / "remote"
        proc = subprocess.Popen([*RED, "sweep", str(spec), "--out", str(remote),
                                 "--scheduler", address], stderr=subprocess.PIPE, text=True)
        _progress_until(proc, "to simulate")
        os.kill(_worker_pid(address), signal.SIGKILL)       # one of the two workers dies
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert _points(remote) == points
        # Interrupted after its first RTL result, a sweep keeps it; a rerun runs only the
        # rest.
        again = tmp_path / "again"
        proc = subprocess.Popen([*RED, "sweep", str(spec), "--out", str(again),
                                 "--scheduler", address], stderr=subprocess.PIPE, text=True)
        _progress_until(proc, "rtl: ")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
        assert proc.returncode != 0
        kept = len(list((again / "rtl").glob("*.json")))
        assert kept == 1
        assert cli.main(["sweep", str(spec), "--out", str(again), "--scheduler", address]) == 0
    computed = json.loads((again / "sweep.json").read_text())["computed"]
    assert computed == {"points": 0, "rtl": 2 - kept, "area": 0}
    assert _points(again) == points


class _cluster:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, tmp_path: Path):
        self.file = tmp_path / "scheduler.json"
        self.procs = []

    def _start(self, *args):
        self.procs.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), *args], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
        return self.procs[-1]

    def __enter__(self) -> str:
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(self.file))
        for _ in range(2):
            self._start("worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                        "--nworkers", "1", "--no-dashboard", "--no-nanny")
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(self.file.read_text())["address"]
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        return address

    def __exit__(self, *exc):
        # The test's own processes: no graceful shutdown needed (it takes seconds each).
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def _progress_until(proc, needle: str, timeout: float = 120) -> None:
    """Read ``proc``'s stderr until a line holds ``needle``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if needle in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} before {needle!r}")
    raise AssertionError(f"no {needle!r} in {timeout} s")


def _worker_pid(address: str) -> int:
    from distributed import Client
    with Client(address, timeout="30s") as client:
        return next(iter(client.run(os.getpid).values()))


def test_an_onnx_model_brings_its_conv_transpose_layers(tmp_path):
    onnx = pytest.importorskip("onnx")
    from red.onnx_models import dcgan_generator
    onnx.save(dcgan_generator(latent=8, channels=(12, 6, 3), base=3, seed=1),
              str(tmp_path / "gen.onnx"))
    spec = tmp_path / "spec.toml"
    spec.write_text('modes = ["red"]\n[tile]\nrows = 8\n[layers]\nonnx = ["gen.onnx"]\n')
    points = load_spec(spec).points
    # Latent -> 12 x 3 x 3, then K4 s2 p1 twice: 3 -> 6 -> 12.
    assert [(p.workload, str(p.layer)) for p in points] == [
        ("gen.onnx", "cin=12,cout=6,h=3,w=3,k=4,s=2,p=1,op=0"),
        ("gen.onnx", "cin=6,cout=3,h=6,w=6,k=4,s=2,p=1,op=0")]
    missing = tmp_path / "missing.toml"
    missing.write_text('[layers]\nonnx = ["nope.onnx"]\n')
    with pytest.raises(ConfigError, match="nope.onnx"):
        load_spec(missing)


def test_area_from_synthesis_joins_the_points(tmp_path):
    """``[area] synthesise``: each valid tile synthesised once, its area on its points."""
    from red.gen.area import SynthesisError, find_toolchain
    try:
        find_toolchain()
    except SynthesisError as exc:
        pytest.skip(str(exc))
    spec = tmp_path / "spec.toml"
    spec.write_text('modes = ["red", "zp"]\n[tile]\nrows = [2, 0]\ncols = 4\nkernel = 2\n'
                    'w_bits = 4\nin_bits = 2\nmax_stride = 2\nmax_in = 4\nmax_cin = 4\n'
                    'max_k = 2\n[layers]\nshapes = ["cin=2,cout=2,h=3,w=3,k=2,s=2,p=0,op=0"]\n'
                    '[area]\nsynthesise = true\n')
    out = tmp_path / "out"
    assert cli.main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 0
    data = json.loads((out / "sweep.json").read_text())
    valid = [p for p in data["points"] if p["valid"]]
    assert len(valid) == 2 and valid[0]["area_mm2"] == valid[1]["area_mm2"] > 0
    assert all(p["area_mm2"] is None for p in data["points"] if not p["valid"])
    assert data["computed"]["area"] == 1
    assert "Fewest cycles x area" in (out / "sweep.md").read_text()
