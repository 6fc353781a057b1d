"""The report's timing picture (``report.json`` key ``timing``, ``timing.png``): one DCGAN
layer in RED and in ZP, measured from the RTL's waveforms, so a reader sees why RED is
faster.

The layer is DCGAN's deconv4 kernel, stride and padding (K5 s2 p2 op1) on a small tile
and input (:data:`LAYER`, :data:`TILE`) that hold it in one pass: a full-size traced
run of the paper tile writes about 14 kB of FST per cycle (``make bench``). Each mode
runs on Icarus (:data:`SIM`: a run of seconds needs no traced Verilator build) with a
waveform (:func:`red.simulate.simulate`), which holds the
waveform's cycles to the hardware counters and the model; :func:`compute` measures the
pass (:mod:`red.sim.waves`) and :func:`render` draws both timelines on one time axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from red.config import LayerSpec, TileConfig

from .markdown import percent, ratio
from .section import json_fields

__all__ = ["LAYER", "TILE", "FLOWS", "SEED", "SIM", "TimingSection", "compute", "draw", "render"]

#: DCGAN's deconv4 (K5 s2 p2 op1) on an 8x8 input with 8 input channels.
LAYER = LayerSpec(cin=8, cout=3, h=8, w=8, k=5, s=2, p=2, op=1, name="dcgan.deconv4 (8x8x8)")
#: A tile that holds :data:`LAYER` in one pass.
TILE = TileConfig(rows=8, cols=12, cell_bits=2, w_bits=4, in_bits=4, kernel=5, max_stride=2,
                  max_in=8, max_cin=8, max_k=5)
#: The data flows drawn (RED against the zero-insertion baseline).
FLOWS = ("red", "zp")
#: Seed of the layer's data.
SEED = 2019
#: The simulator of the traced runs.
SIM = "icarus"


@dataclass(frozen=True)
class TimingSection:
    """``report.json``'s ``timing``: per data flow the pass's waveform figures."""

    layer: dict
    tile: dict
    sim: str
    modes: dict
    file: str

    to_json = json_fields


def compute(work_dir: Path, progress: Callable[[str], None], sim: str = SIM):
    """Run :data:`LAYER` in each of :data:`FLOWS` with a waveform on ``sim``; the
    section, the timelines to draw (:class:`red.sim.wave_plot.Timeline`) and the
    problems found."""
    from red.sim.session import LayerRun, random_layer_data
    from red.sim.runner import Waves
    from red.sim.wave_plot import timeline
    from red.sim.waves import SCALAR_FIGURES, read_traces
    from red.simulate import SimJob, simulate
    x, w = random_layer_data(LAYER, TILE, np.random.default_rng(SEED))
    modes, lines, problems = {}, {}, []
    for mode in FLOWS:
        progress(f"timing: {LAYER.name} in {mode.upper()} on {sim}, with a waveform")
        folder = work_dir / mode
        folder.mkdir(parents=True, exist_ok=True)
        report = simulate(SimJob(LayerRun(LAYER, mode, x, w), TILE, sim=sim, seed=SEED,
                                 waves=Waves()), folder)
        problems += [f"timing {mode}: {problem}" for problem in report.problems]
        if report.waveform_figures is None:
            continue
        figures = report.waveform_figures["passes"][0]
        modes[mode] = {key: figures[key] for key in SCALAR_FIGURES}
        modes[mode]["equals_counters_and_model"] = not report.problems
        lines[mode] = timeline(read_traces(report.waveform), 0)
    section = TimingSection(LAYER.describe(), TILE.describe(), sim, modes, "timing.png")
    return section, lines, problems


def draw(lines: dict, out: Path) -> None:
    """Both timelines into ``out``, one above the other on the same cycle scale."""
    from red.sim.wave_plot import render
    render([(f"{mode.upper()}: ", line) for mode, line in lines.items()], out)


def render(section: dict) -> list[str]:
    """The section's lines of ``report.md``, from ``report.json``'s ``timing``."""
    modes = section["modes"]
    out = ["## 8. One pass in time, from the waveform", ""]
    if set(modes) != set(FLOWS):
        return out + ["Not drawn: a traced run failed (see Problems).", ""]
    red, zp = modes["red"], modes["zp"]
    agreement = ("equal to the hardware counters and the model" if all(
        m["equals_counters_and_model"] for m in modes.values())
        else "NOT equal to the hardware counters or the model: see Problems")
    out += [f"![timing]({section['file']})", "",
            f"{section['layer']['name']} on a {section['tile']['rows']}x"
            f"{section['tile']['cols']} tile, one pass each, traced on {section['sim']} and "
            f"measured from the waveform (`red.sim.waves`; {agreement}). RED issues one step per block of output pixels, so its groups are "
            f"busy {red['compute_cycles']:,} cycles of its {red['total_cycles']:,} "
            f"({percent(red['utilization'])}); ZP issues a step per output pixel: "
            f"{zp['compute_cycles']:,} busy cycles of {zp['total_cycles']:,}. The pass takes "
            f"{ratio(zp['total_cycles'] / red['total_cycles'])} longer in ZP. Starved and "
            f"stalled cycles: RED {red['input_starved_cycles']} and "
            f"{red['output_stalled_cycles']}, ZP {zp['input_starved_cycles']} and "
            f"{zp['output_stalled_cycles']}.", ""]
    return out
