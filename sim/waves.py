"""Cycle measurements from a tile waveform (FST from Icarus, VCD from Verilator).

Counting rule: every rising edge of ``clk`` ends one cycle, and a signal's value in
that cycle is its value just before the edge (what the edge samples). A handshake
``valid & ready`` seen that way is a beat taken at that edge.

* ``total_cycles``: edges from the one that takes the first input pixel to the one that
  takes the last output beat, both included (the tile's ``total_cycles`` counter);
* ``compute_cycles``: edges at which crossbar group ``(0, 0)`` steps (every group of a
  layer steps in lockstep; group ``(0, 0)`` belongs to every kernel);
* ``input_starved_cycles``: edges inside that window at which the tile could take a
  pixel but none was offered; ``output_stalled_cycles``: edges at which an output beat
  waited for the consumer;
* ``group_busy_cycles``: per crossbar group, edges at which it steps (gated steps
  included: the group is occupied either way);
* ``utilization``: ``compute_cycles / total_cycles``.

A dump must hold one whole one-pass layer (as ``red sim --waves`` writes it): one in
which the tile's ``done`` never rises is refused, and so is one of a layer in passes
(the tile's ``start`` pulses more than once), whose passes this rule does not yet
separate. A file that is not a regular file, or that the waveform reader cannot parse
(truncated, foreign), is refused with :class:`WaveformError`.
"""

from __future__ import annotations

import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["WaveMeasurement", "measure", "WaveformError"]

_GROUP = re.compile(r"group_(\d+)_(\d+)$")


class WaveformError(ValueError):
    """The file is not a readable tile waveform."""


@dataclass(frozen=True)
class WaveMeasurement:
    total_cycles: int
    compute_cycles: int
    input_starved_cycles: int
    output_stalled_cycles: int
    group_busy_cycles: dict
    utilization: float
    clock_edges: int

    def as_dict(self) -> dict:
        return asdict(self)


def _unreadable(path: Path, exc: BaseException) -> WaveformError:
    """The one-line refusal of a file the reader failed on with ``exc``."""
    return WaveformError(f"{path}: not a readable FST/VCD waveform "
                         f"({' '.join(str(exc).split())})")


def _reader_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is pywellen refusing a file: a RuntimeError or an I/O error, or
    a panic of its Rust parser (pyo3's PanicException, a BaseException whose class is
    not importable)."""
    return isinstance(exc, (RuntimeError, OSError)) or type(exc).__name__ == "PanicException"


def _changes(path: Path, var) -> list:
    """The (time, value) changes of ``var``: pywellen reads a signal's body only now, so
    a truncated file can fail here too."""
    try:
        return list(var.signal)
    except BaseException as exc:
        if _reader_failed(exc):
            raise _unreadable(path, exc) from None
        raise


class _Trace:
    """Values of one signal sampled just before each clock edge."""

    def __init__(self, changes: list, edges: np.ndarray):
        times = np.array([t for t, _ in changes], dtype=np.int64)
        values = np.array([v if isinstance(v, int) else 0 for _, v in changes],
                          dtype=np.int64)
        index = np.searchsorted(times, edges, side="left") - 1   # strictly before the edge
        self.values = np.where(index >= 0, values[np.maximum(index, 0)], 0)


def measure(path: str | Path) -> WaveMeasurement:
    """Measure a tile waveform; see the module docstring for the counting rule."""
    import pywellen
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise WaveformError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise WaveformError(f"{path}: is a folder, not a waveform file (FST or VCD)")
    if not stat.S_ISREG(mode):
        # The reader would block on a FIFO and never finish a device such as /dev/zero.
        raise WaveformError(f"{path}: not a regular file (a FIFO or a device), not a "
                            "waveform file (FST or VCD)")
    try:
        wave = pywellen.Waveform(str(path))
        by_name = {var.full_name: var for var in wave.all_vars()}
    except BaseException as exc:
        if _reader_failed(exc):
            raise _unreadable(path, exc) from None
        raise
    # The tile's scope: the one with stream ports and crossbar groups below it (Verilator
    # also dumps the ports alone under `$rootio`).
    tops = sorted({name.rsplit(".", 1)[0] for name in by_name
                   if name.endswith(".i__valid")
                   and name.rsplit(".", 1)[0] + ".o__valid" in by_name
                   and name.rsplit(".", 1)[0] + ".group_0_0.stepping" in by_name}, key=len)
    if not tops:
        raise WaveformError(f"{path}: no tile found (no scope with i__valid, o__valid "
                            "and group_0_0.stepping)")
    top = tops[0]

    def var(name):
        full = f"{top}.{name}"
        if full not in by_name:
            raise WaveformError(f"{path}: signal {full} is missing")
        return by_name[full]

    clk = _changes(path, var("clk"))
    edges = np.array([t for (t, v), (_, before) in zip(clk[1:], clk) if v == 1 and before == 0],
                     dtype=np.int64)
    if not len(edges):
        raise WaveformError(f"{path}: the clock never rises")
    sample = {name: _Trace(_changes(path, var(name)), edges).values.astype(bool)
              for name in ("i__valid", "i__ready", "o__valid", "o__ready", "done", "start")}
    # A dump cut short (a truncated VCD parses) ends before the layer: refuse it
    # rather than measure part of the layer.
    if not sample["done"].any():
        raise WaveformError(f"{path}: the layer never finishes in it (the tile's done "
                            "never rises): a truncated or partial dump")
    # Each pass begins with a start pulse; until the counting rule separates passes,
    # measuring several as one would report wrong cycles.
    starts = int(np.count_nonzero(sample["start"][1:] & ~sample["start"][:-1])
                 + sample["start"][0])
    if starts > 1:
        raise WaveformError(f"{path}: holds a layer in {starts} passes (the tile's start "
                            f"pulses {starts} times); red waves measures one-pass layers "
                            "only (red sim's report.json has the hardware counters)")
    groups = {}
    for name, v in by_name.items():
        scope, _, leaf = name.rpartition(".")
        match = _GROUP.search(scope)
        if leaf == "stepping" and match and scope.rsplit(".", 1)[0] == top:
            groups[f"{match.group(1)},{match.group(2)}"] = \
                _Trace(_changes(path, v), edges).values.astype(bool)

    taken_in = np.flatnonzero(sample["i__valid"] & sample["i__ready"])
    taken_out = np.flatnonzero(sample["o__valid"] & sample["o__ready"])
    if not len(taken_in) or not len(taken_out):
        raise WaveformError(f"{path}: no input or no output beat was taken")
    first, last = int(taken_in[0]), int(taken_out[-1])
    window = slice(first, last + 1)
    total = last - first + 1
    compute = int(groups["0,0"].sum())
    return WaveMeasurement(
        total_cycles=total,
        compute_cycles=compute,
        input_starved_cycles=int((sample["i__ready"][window] & ~sample["i__valid"][window]).sum()),
        output_stalled_cycles=int((sample["o__valid"][window] & ~sample["o__ready"][window]).sum()),
        group_busy_cycles={key: int(trace.sum()) for key, trace in sorted(groups.items())},
        utilization=compute / total,
        clock_edges=len(edges),
    )
