"""A picture of a tile waveform's timing (``red waves FILE --plot timing.png``): one pass,
or a window of clock cycles, as a timeline.

Rows, top to bottom: each crossbar group's steps, then the cycles at which the tile took
an input pixel, waited for one (input-starved), took a weight beat, emitted an output
beat, and held one back (output-stalled); below, the utilization (cycles in which the
groups step, over a sliding window). Cycles are the waveform's rising clock edges
(:mod:`red.sim.waves`), counted from the first edge of the dump.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .waves import Traces, WaveformError, measure_pass

__all__ = ["Timeline", "timeline", "render", "plot_target"]

#: The PNG text chunk that marks a picture red drew (so a later run may replace it).
SOFTWARE = "red waves"


@dataclass(frozen=True)
class Timeline:
    """What :func:`render` draws: ``rows`` (label, per-cycle booleans) from cycle
    ``start``; the groups' utilization over ``window`` cycles; a title."""

    start: int
    rows: list
    utilization: np.ndarray
    window: int
    title: str


def timeline(traces: Traces, pass_index: int | None = None,
             cycles: tuple[int, int] | None = None) -> Timeline:
    """The timeline of pass ``pass_index`` of the run (default: the dump's first whole
    pass) in ``traces``, from its start pulse (weights load first) to its last output
    beat, or of the clock cycles ``cycles = (first, last)`` (edge indices, both
    included)."""
    spans, partial = traces.pass_spans()
    if cycles is not None:
        lo, hi = cycles
        if not 0 <= lo <= hi < len(traces.edges):
            raise WaveformError(f"{traces.path}: cycles {lo}:{hi} are outside the dump "
                                f"(0:{len(traces.edges) - 1})")
        title = f"cycles {lo}..{hi}"
    else:
        numbers = [traces.pass_number(begin, n) for n, (begin, _) in enumerate(spans)]
        index = numbers[0] if pass_index is None and numbers else pass_index or 0
        if index not in numbers:
            raise WaveformError(f"{traces.path}: pass {index} is not a whole pass of the "
                                f"dump ({len(spans)} whole pass(es)"
                                f"{': ' + ', '.join(map(str, numbers)) if numbers else ''})")
        span = spans[numbers.index(index)]
        figures = measure_pass(traces, *span)
        lo, hi = span[0], figures["last_edge"]       # from the start pulse
        title = (f"pass {index}: {figures['total_cycles']} cycles, "
                 f"{figures['compute_cycles']} computing ({figures['utilization']:.0%})")
    if partial:
        title += " (partial dump)"
    part = slice(lo, hi + 1)
    rows = [(f"group {g}", steps[part]) for g, steps in traces.groups.items()]
    rows += [("input taken", traces.taken("i")[part]),
             ("input starved", traces.starved()[part]),
             ("weights taken", traces.taken("w")[part]),
             ("output taken", traces.taken("o")[part]),
             ("output stalled", traces.stalled()[part])]
    stepping = traces.groups["0,0"][part].astype(float)
    window = max(1, len(stepping) // 50)
    utilization = np.convolve(stepping, np.ones(window) / window, mode="same")
    return Timeline(lo, rows, utilization, window, f"{traces.path.name}: {title}")


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of every run of True in ``flags``."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b - a)) for a, b in zip(starts, ends)]


def plot_target(path: str | Path) -> Path:
    """``path`` as a place for the picture, or :class:`~red.config.ConfigError`: a
    ``.png`` name in an existing folder, not a file red did not draw."""
    from red.config import ConfigError
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"--plot {path}: the picture is a PNG; name it *.png")
    if not path.parent.is_dir():
        raise ConfigError(f"--plot {path}: folder {path.parent} does not exist")
    if path.exists() or path.is_symlink():
        head = b""
        if path.is_file():
            with open(path, "rb") as existing:
                head = existing.read(4096)
        if SOFTWARE.encode() not in head:
            raise ConfigError(f"--plot {path}: exists and red did not draw it; choose "
                              "another name")
    return path


def _draw(top, bottom, line: Timeline, prefix: str) -> None:
    """One timeline: its rows on ``top``, its utilization on ``bottom``."""
    n = len(line.rows)
    for y, (label, flags) in enumerate(line.rows):
        colour = "tab:red" if "starved" in label or "stalled" in label else \
            "tab:blue" if label.startswith("group") else "tab:green"
        top.broken_barh([(line.start + a, w) for a, w in _runs(flags)], (n - 1 - y, 0.8),
                        color=colour)
    top.set_yticks([n - 1 - y + 0.4 for y in range(n)], [label for label, _ in line.rows])
    top.set_title(prefix + line.title, fontsize=10)
    cycles = np.arange(line.start, line.start + len(line.utilization))
    bottom.plot(cycles, line.utilization, color="tab:blue")
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel(f"utilization\n({line.window}-cycle mean)")


def render(lines: list[tuple[str, Timeline]], out: Path) -> None:
    """Draw each ``(title prefix, timeline)`` of ``lines``, one above the other on one
    cycle axis, into the PNG file ``out`` (written whole, then renamed into place)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ratios = []
    for _, line in lines:
        ratios += [max(len(line.rows), 4), 2]
    fig, axes = plt.subplots(len(ratios), 1, sharex=True,
                             figsize=(12, 1 + 0.3 * sum(ratios)),
                             gridspec_kw={"height_ratios": ratios})
    for index, (prefix, line) in enumerate(lines):
        _draw(axes[2 * index], axes[2 * index + 1], line, prefix)
    axes[-1].set_xlabel("clock cycle (rising edges from the start of the dump)")
    fig.tight_layout()
    scratch = out.with_name(f".{out.name}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(scratch, dpi=100, metadata={"Software": SOFTWARE})
        os.replace(scratch, out)
    finally:
        plt.close(fig)
        scratch.unlink(missing_ok=True)
