"""Cycle measurements from a tile waveform (FST from either simulator, or VCD).

Counting rule: every rising edge of ``clk`` ends one cycle, and a signal's value in
that cycle is its value just before the edge (what the edge samples). A handshake
``valid & ready`` seen that way is a beat taken at that edge.

**Passes.** A pass begins at an edge that samples the tile's ``start`` high while it is
not ``busy`` (the edge at which the tile clears its counters) and ends before the next
such edge. It is *whole* when the tile's ``done`` rises after its beginning. Within a
pass, counting the edges after its beginning:

* ``total_cycles``: from the first edge that takes an input pixel or issues a step
  (crossbar group ``(0, 0)``'s ``i`` is valid: every group is issued together) to the
  last edge that takes an output beat, both included (the ``total_cycles`` counter);
* ``compute_cycles``: edges at which group ``(0, 0)`` steps or, with shared ADCs, holds
  for them (:data:`ADC_HOLD`; the groups step in lockstep, and group ``(0, 0)``
  belongs to every kernel);
* ``load_cycles``: from the first to the last weight beat taken, both included;
* ``input_starved_cycles``: edges of the ``total_cycles`` window at which the tile could
  take a pixel but none was offered; ``output_stalled_cycles``: edges at which an output
  beat waited for the consumer;
* ``group_busy_cycles``: per crossbar group, edges at which it steps or holds (gated
  steps included: the group is occupied either way);
* ``utilization``: ``compute_cycles / total_cycles``.

Each pass carries its number in the run (``pass``): the harness's ``pass_number``
(:mod:`red.gen.harness`) where the dump has it, else its place in the dump.

The layer's figures are the sums over its passes (utilization: their ratio), as the
counters are summed. A dump that does not hold whole passes only, because it was cut
short, begins inside a pass or records a trace window (the harness's ``trace_window``,
``red sim --trace-passes``), is *partial*: it is measured over its whole passes and
says so (``partial``), and it is never compared as if whole. A dump without any whole
pass, a file that is not a regular file, and one the waveform reader cannot parse
(truncated, foreign) are refused with :class:`WaveformError`.
"""

from __future__ import annotations

import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from red.rtl.adc_pacer import PACER_NAME

__all__ = ["WaveMeasurement", "Traces", "measure", "measure_traces", "measure_pass",
           "read_traces", "render_table",
           "WaveformError", "PASS_FIGURES", "SCALAR_FIGURES", "WAVE_CYCLES",
           "window_reason"]

_GROUP = re.compile(r"group_(\d+)_(\d+)$")

#: The tile signals a measurement samples, relative to the tile's scope.
_SIGNALS = ("i__valid", "i__ready", "o__valid", "o__ready", "w__valid", "w__ready", "done",
            "start", "busy", "group_0_0.i__valid")

#: The cycle figures that the tile's counters and the model also give.
#: The shared ADCs' hold (:class:`red.rtl.adc_pacer.ADCPacer`), below the tile's scope.
ADC_HOLD = f"{PACER_NAME}.hold"

WAVE_CYCLES = ("total_cycles", "compute_cycles", "load_cycles")

#: The figures of every pass and of the layer, in ``report.json`` order.
PASS_FIGURES = ("total_cycles", "compute_cycles", "load_cycles", "input_starved_cycles",
                "output_stalled_cycles", "group_busy_cycles", "utilization")

#: The figures of :data:`PASS_FIGURES` that are one number (not one per group).
SCALAR_FIGURES = tuple(key for key in PASS_FIGURES if key != "group_busy_cycles")


class WaveformError(ValueError):
    """The file is not a readable tile waveform."""


@dataclass(frozen=True)
class WaveMeasurement:
    """A layer's figures (the sums over its whole passes) and each pass's (with its
    number in the run, ``pass``); ``window``: the passes a trace window recorded
    (``[first, last]``), else ``None``."""

    total_cycles: int
    compute_cycles: int
    load_cycles: int
    input_starved_cycles: int
    output_stalled_cycles: int
    group_busy_cycles: dict
    utilization: float
    clock_edges: int
    passes: list
    partial: bool
    partial_reason: str | None
    window: list | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Traces:
    """The sampled tile: per clock edge, each of :data:`_SIGNALS` (by its leaf name) and
    each crossbar group's ``stepping`` (``"gh,gw"``), as boolean arrays; the tile's
    scope in the dump and the width of every signal of the dump. Around a harness, also
    per edge its ``pass_number`` and whether it records a ``trace_window``."""

    path: Path
    top: str
    widths: dict
    edges: np.ndarray
    sample: dict
    groups: dict
    pass_numbers: np.ndarray | None = None
    trace_window: np.ndarray | None = None

    def pass_number(self, begin: int, ordinal: int) -> int:
        """The run's number of the pass beginning at edge ``begin``, the ``ordinal``-th
        whole pass of the dump."""
        if self.pass_numbers is None:
            return ordinal
        return int(self.pass_numbers[begin + 1])

    def taken(self, stream: str) -> np.ndarray:
        """Per edge, whether ``stream`` (``i``, ``o`` or ``w``) took a beat."""
        return self.sample[f"{stream}__valid"] & self.sample[f"{stream}__ready"]

    def starved(self) -> np.ndarray:
        """Per edge, whether the tile could take an input pixel and none was offered."""
        return self.sample["i__ready"] & ~self.sample["i__valid"]

    def stalled(self) -> np.ndarray:
        """Per edge, whether an output beat waited for the consumer."""
        return self.sample["o__valid"] & ~self.sample["o__ready"]

    def pass_spans(self) -> tuple[list[tuple[int, int]], str | None]:
        """``(begin, end)`` edge indices of each whole pass (``end`` exclusive), and why
        the dump is partial (``None`` when it holds whole passes only)."""
        s = self.sample
        begins = np.flatnonzero(s["start"] & ~s["busy"])
        ends = [*begins[1:], len(self.edges)]
        activity = self.taken("i") | self.taken("o") | self.taken("w")
        spans, reasons = [], []
        if len(begins) == 0 or activity[:begins[0]].any():
            reasons.append("it begins inside a pass")
        for begin, end in zip(begins, ends):
            if s["done"][begin + 1:end].any():
                spans.append((int(begin), int(end)))
            else:
                reasons.append(f"pass {len(spans)} never finishes in it (the tile's done "
                               "never rises)")
        window = self.window(spans)
        if window is not None:
            reasons.append(window_reason(window))
        return spans, "; ".join(reasons) or None

    def window(self, spans: list[tuple[int, int]]) -> list[int] | None:
        """``[first, last]`` pass of the run the dump records when it is a trace window
        (of its whole passes ``spans``), else ``None``."""
        if self.trace_window is None or not self.trace_window.any() or not spans:
            return None
        return [self.pass_number(spans[0][0], 0),
                self.pass_number(spans[-1][0], len(spans) - 1)]


def window_reason(window) -> str:
    """Why a dump of the trace window ``[first, last]`` is partial (its whole reason when
    nothing else is missing)."""
    return f"a trace window: it records passes {window[0]}..{window[1]} of the run only"


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


def _sampled(changes: list, edges: np.ndarray, dtype=bool) -> np.ndarray:
    """Values of one signal just before each clock edge (unknown values as 0), as
    booleans or as ``dtype``."""
    times = np.array([t for t, _ in changes], dtype=np.int64)
    values = np.array([v if isinstance(v, int) else 0 for _, v in changes], dtype=np.int64)
    index = np.searchsorted(times, edges, side="left") - 1     # strictly before the edge
    return np.where(index >= 0, values[np.maximum(index, 0)], 0).astype(dtype)


def _open(path: Path) -> dict:
    """Every variable of the waveform at ``path`` by its full name."""
    import pywellen
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
        return {var.full_name: var for var in wave.all_vars()}
    except BaseException as exc:
        if _reader_failed(exc):
            raise _unreadable(path, exc) from None
        raise


def read_traces(path: str | Path) -> Traces:
    """Sample the tile in the waveform at ``path`` at every rising clock edge."""
    path = Path(path)
    by_name = _open(path)
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
    sample = {name: _sampled(_changes(path, var(name)), edges) for name in _SIGNALS}
    groups = {}
    for name, v in by_name.items():
        scope, _, leaf = name.rpartition(".")
        match = _GROUP.search(scope)
        if leaf == "stepping" and match and scope.rsplit(".", 1)[0] == top:
            groups[f"{match.group(1)},{match.group(2)}"] = _sampled(_changes(path, v), edges)
    # Shared ADCs: the groups are busy, too, while they hold for the conversions.
    hold = by_name.get(f"{top}.{ADC_HOLD}")
    if hold is not None:
        held = _sampled(_changes(path, hold), edges)
        groups = {name: trace | held for name, trace in groups.items()}
    widths = {name: v.bitwidth for name, v in by_name.items()}
    harness = {}
    for name, dtype in (("pass_number", np.int64), ("trace_window", bool)):
        full = f"{top.rpartition('.')[0]}.{name}"
        if "." in top and full in by_name:
            harness[name] = _sampled(_changes(path, by_name[full]), edges, dtype)
    return Traces(path, top, widths, edges, sample, dict(sorted(groups.items())),
                  harness.get("pass_number"), harness.get("trace_window"))


def _span(hits: np.ndarray) -> tuple[int, int] | None:
    """First and last index of ``hits``, or ``None`` when there is none."""
    found = np.flatnonzero(hits)
    return (int(found[0]), int(found[-1])) if len(found) else None


def measure_pass(traces: Traces, begin: int, end: int) -> dict:
    """The figures (:data:`PASS_FIGURES`) of the pass at edges ``begin .. end - 1``, plus
    ``first_edge``/``last_edge``, its ``total_cycles`` window (``pass``, its number in
    the run, is :func:`measure_traces`')."""
    after = slice(begin + 1, end)                   # the beginning edge clears the counters
    issue = traces.sample["group_0_0.i__valid"][after]
    window = _span(traces.taken("i")[after] | issue)
    outputs = _span(traces.taken("o")[after])
    if window is None or outputs is None:
        raise WaveformError(f"{traces.path}: a pass at edge {begin} takes no input or no "
                            "output beat")
    first, last = window[0], outputs[1]
    inside = slice(begin + 1 + first, begin + 1 + last + 1)
    loads = _span(traces.taken("w")[after])
    compute = int(traces.groups["0,0"][after].sum())
    total = last - first + 1
    return {
        "total_cycles": total, "compute_cycles": compute,
        "load_cycles": 0 if loads is None else loads[1] - loads[0] + 1,
        "input_starved_cycles": int(traces.starved()[inside].sum()),
        "output_stalled_cycles": int(traces.stalled()[inside].sum()),
        "group_busy_cycles": {g: int(trace[after].sum()) for g, trace in traces.groups.items()},
        "utilization": compute / total,
        "first_edge": begin + 1 + first, "last_edge": begin + 1 + last,
    }


def measure(path: str | Path) -> WaveMeasurement:
    """Measure a tile waveform; see the module docstring for the counting rule."""
    return measure_traces(read_traces(path))


def measure_traces(traces: Traces) -> WaveMeasurement:
    """:func:`measure` of a waveform already read."""
    spans, partial = traces.pass_spans()
    if not spans:
        raise WaveformError(f"{traces.path}: the layer never finishes in it (no whole "
                            f"pass: {partial}): a truncated or partial dump")
    passes = [{"pass": traces.pass_number(begin, n), **measure_pass(traces, begin, end)}
              for n, (begin, end) in enumerate(spans)]
    sums = {key: sum(p[key] for p in passes) for key in PASS_FIGURES
            if key not in ("group_busy_cycles", "utilization")}
    return WaveMeasurement(
        **sums,
        group_busy_cycles={g: sum(p["group_busy_cycles"][g] for p in passes)
                           for g in traces.groups},
        utilization=sums["compute_cycles"] / sums["total_cycles"],
        clock_edges=len(traces.edges), passes=passes, partial=partial is not None,
        partial_reason=partial, window=traces.window(spans))


def render_table(result: dict) -> str:
    """``red waves``' table of a measurement (:meth:`WaveMeasurement.as_dict`): the
    layer and each pass."""
    columns = SCALAR_FIGURES
    head = ["", "total", "compute", "load", "starved", "stalled", "utilization"]
    rows = [("layer", result)] + [(f"pass {p['pass']}", p) for p in result["passes"]]
    lines = ["".join(f"{h:>12s}" for h in head)]
    for label, figures in rows:
        lines.append(f"{label:>12s}" + "".join(
            f"{figures[c]:12.4f}" if c == "utilization" else f"{figures[c]:12d}"
            for c in columns))
    busy = result["group_busy_cycles"]
    lines.append("group busy cycles: " + ", ".join(f"({g}) {n}" for g, n in busy.items()))
    lines.append(f"clock edges in the dump: {result['clock_edges']}")
    if result["partial"]:
        lines.append(f"PARTIAL dump ({result['partial_reason']}): the figures cover its "
                     "whole passes only")
    return "\n".join(lines)
