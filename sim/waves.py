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
which the tile's ``done`` never rises is refused.
"""

from __future__ import annotations

import re
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


class _Trace:
    """Values of one signal sampled just before each clock edge."""

    def __init__(self, var, edges: np.ndarray):
        changes = list(var.signal)
        times = np.array([t for t, _ in changes], dtype=np.int64)
        values = np.array([v if isinstance(v, int) else 0 for _, v in changes],
                          dtype=np.int64)
        index = np.searchsorted(times, edges, side="left") - 1   # strictly before the edge
        self.values = np.where(index >= 0, values[np.maximum(index, 0)], 0)


def measure(path: str | Path) -> WaveMeasurement:
    """Measure a tile waveform; see the module docstring for the counting rule."""
    import pywellen
    path = Path(path)
    if path.is_dir():
        raise WaveformError(f"{path}: is a folder, not a waveform file (FST or VCD)")
    if not path.is_file():
        raise WaveformError(f"{path}: no such file")
    try:
        wave = pywellen.Waveform(str(path))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pywellen's parser panics (a BaseException) on garbage
        raise WaveformError(f"{path}: not a readable FST/VCD waveform ({exc})") from None
    by_name = {var.full_name: var for var in wave.all_vars()}
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

    clk = list(var("clk").signal)
    edges = np.array([t for (t, v), (_, before) in zip(clk[1:], clk) if v == 1 and before == 0],
                     dtype=np.int64)
    if not len(edges):
        raise WaveformError(f"{path}: the clock never rises")
    sample = {name: _Trace(var(name), edges).values.astype(bool)
              for name in ("i__valid", "i__ready", "o__valid", "o__ready", "done")}
    # A dump cut short (a truncated VCD parses) ends before the layer: refuse it
    # rather than measure part of the layer.
    if not sample["done"].any():
        raise WaveformError(f"{path}: the layer never finishes in it (the tile's done "
                            "never rises): a truncated or partial dump")
    groups = {}
    for name, v in by_name.items():
        scope, _, leaf = name.rpartition(".")
        match = _GROUP.search(scope)
        if leaf == "stepping" and match and scope.rsplit(".", 1)[0] == top:
            groups[f"{match.group(1)},{match.group(2)}"] = _Trace(v, edges).values.astype(bool)

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
