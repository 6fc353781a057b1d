"""A GTKWave save file that opens a tile waveform ready to read.

``gtkwave waves.fst waves.gtkw`` shows, in named groups: the input, weight, output and
partial-sum streams; the pass and step state (start, busy, done, the sequencer's state,
its weight row and step position, the step handshake); every crossbar group's step and
gate (the groups inside the kernel, the live ones, each group's ``stepping``); the
output banks (steps written, rows complete, the row being emitted, beats taken); and the
hardware counters. Only signals the dump holds are listed, under the dump's own scope
names (Icarus and Verilator name the top differently).
"""

from __future__ import annotations

from pathlib import Path

from red.counters import TILE_COUNTERS

__all__ = ["GROUPS", "save_file"]

#: Signal groups: (title, names relative to the tile's scope). ``group_*`` expands to
#: every crossbar group.
GROUPS = (
    ("streams", ("i__valid", "i__ready", "i__payload", "w__valid", "w__ready",
                 "o__valid", "o__ready", "o__payload", "ps__valid", "ps__ready")),
    ("pass and step state", ("start", "busy", "done", "sequencer.fsm_state", "sequencer.ci",
                             "sequencer.loading", "sequencer.running", "sequencer.row",
                             "sequencer.col", "step__valid", "step__ready")),
    ("groups: step and gate", ("active", "live", "group_*.stepping")),
    ("output banks", ("merge.take", "merge.rows_done", "merge.emit_row", "merge.out_take",
                      "merge.remaining")),
    ("counters", TILE_COUNTERS),
)

#: GTKWave trace flags: binary, hexadecimal, decimal; a group's opening and closing.
_BINARY, _HEX, _DECIMAL, _OPEN, _CLOSE = "@28", "@22", "@24", "@800200", "@1000200"


def _entries(widths: dict, top: str, names) -> list[tuple[str, int]]:
    """``(full name, width)`` of ``names`` that the dump holds, ``group_*`` expanded."""
    found = []
    for name in names:
        if name.startswith("group_*"):
            leaf = name.split(".", 1)[1]
            found += sorted((full, w) for full, w in widths.items()
                            if full.startswith(f"{top}.group_") and full.endswith("." + leaf)
                            and full.count(".") == top.count(".") + 2)
        elif f"{top}.{name}" in widths:
            found.append((f"{top}.{name}", widths[f"{top}.{name}"]))
    return found


def save_file(dump: Path, top: str, widths: dict) -> str:
    """The save file's text for the waveform ``dump`` whose tile scope is ``top``;
    ``widths`` maps each full signal name of the dump to its width."""
    lines = [f"[*] red: {dump.name}", f'[dumpfile] "{dump.name}"', "[timestart] 0",
             "[size] 1600 1000", "[sst_expanded] 1", "@28", f"{top}.clk"]
    for title, names in GROUPS:
        entries = _entries(widths, top, names)
        if not entries:
            continue
        lines += [_OPEN, f"-{title}"]
        for full, width in entries:
            flag = _BINARY if width == 1 else _DECIMAL if title == "counters" else _HEX
            lines += [flag, full if width == 1 else f"{full}[{width - 1}:0]"]
        lines += [_CLOSE, f"-{title}"]
    return "\n".join(lines) + "\n"
