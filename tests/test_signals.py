"""Interrupting signals: SIGINT, SIGTERM and SIGHUP end ``red`` as Ctrl-C does (exit
128 + signal, ``--out`` as it was, no scratch, no simulator left running), and a run
after SIGKILL cleans what the killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TILE = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=4,kernel=3,max_stride=4,max_in=6"
#: A layer of many passes: a few seconds of simulation on Icarus.
LONG_LAYER = "cin=9,cout=9,h=6,w=6,k=5,s=2,p=1,op=1"
INTERRUPTED = "red: interrupted; nothing of this run was kept"


def start(out: Path, *command: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "red.cli", *command, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the run never reached the moment to signal"
        time.sleep(0.05)


def working_in(folder: Path) -> list[int]:
    """Processes whose working folder is inside ``folder`` (a simulator runs in the
    run's scratch folder)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            cwd = Path(os.readlink(f"/proc/{entry}/cwd"))
        except (OSError, ValueError):
            continue
        if entry.isdigit() and (cwd == folder or folder in cwd.parents):
            found.append(int(entry))
    return found


def simulating(out: Path):
    return lambda: bool(list(out.glob(".red-run-*/sim/*.hex"))) or \
        bool(list(out.glob(".red-run-*/sim/job.json")))


def sim_command():
    return ("sim", "--layer", LONG_LAYER, "--tile", TILE, "--sim", "icarus")


def assert_left_as_it_was(proc, out: Path, signum: int) -> None:
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == INTERRUPTED, stderr
    assert [p.name for p in out.iterdir()] == [".red.lock"]
    time.sleep(0.2)
    assert working_in(out) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_term_and_hup_during_simulation_stop_everything(signum, tmp_path):
    out = tmp_path / "run"
    proc = start(out, *sim_command())
    wait_for(simulating(out))
    time.sleep(0.5)                                  # the simulator is running
    proc.send_signal(signum)
    assert_left_as_it_was(proc, out, signum)


def test_after_sigkill_the_next_run_cleans_up_and_proceeds(tmp_path):
    out = tmp_path / "run"
    proc = start(out, *sim_command())
    wait_for(simulating(out))
    proc.kill()
    proc.wait(timeout=30)
    for pid in working_in(out):                      # SIGKILL orphans the simulator
        os.kill(pid, signal.SIGKILL)
    assert list(out.glob(".red-run-*"))
    again = subprocess.run([sys.executable, "-m", "red.cli", "sim", "--layer",
                            "cin=3,cout=2,h=3,w=4,k=3,s=2,p=1,op=1", "--tile", TILE,
                            "--sim", "icarus", "--out", str(out)],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "left in" in again.stderr and "by a killed run" in again.stderr
    assert not list(out.glob(".red-run-*"))


@pytest.mark.slow
@pytest.mark.parametrize("moment", [0.3, 1.5])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_at_early_moments_of_red_sim(signum, moment, tmp_path):
    out = tmp_path / "run"
    proc = start(out, *sim_command())
    time.sleep(moment)                                # importing, generating or building
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    # Before Python runs red's first line the signal's default action ends it
    # (-signum: a shell shows 128 + signum); nothing exists yet then.
    assert proc.returncode in (128 + signum, -signum, 0), stderr
    if proc.returncode == 128 + signum:
        assert stderr.strip().splitlines()[-1] == INTERRUPTED, stderr
        assert not out.exists() or [p.name for p in out.iterdir()] in ([], [".red.lock"])


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_report_quick_interrupted_quietly(signum, tmp_path):
    """Worker pools and simulation threads stop without a traceback."""
    out = tmp_path / "report"
    proc = start(out, "report", "--quick", "--sim", "icarus")
    wait_for(lambda: bool(list(out.glob(".red-run-*/sim"))), 120)
    time.sleep(2.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == INTERRUPTED
    assert [p.name for p in out.iterdir()] == [".red.lock"]
    time.sleep(0.5)
    assert working_in(out) == []
