"""cocotb test of the tile through its simulation harness (``red gen --top harness``):
the fast path, in which no Python runs per clock cycle.

The job (``$RED_JOB``, written by :mod:`red.sim.session`) lists layers with their data
files, as for :mod:`red.sim.tb_tile`. Per layer the test writes the weight beats and
input pixels as ``$readmemh`` files, pulses ``load`` and ``start``, waits for the
harness's ``finished`` (a value-change trigger, not a per-cycle poll), then reads the
hardware counters and the output beats the harness wrote, and compares the output map
with :func:`red.golden.crossbar_deconv2d` (the scoreboard). Idle cycles and
back-pressure come from the harness's own generators, seeded per layer from the job's
seed (``seed + layer index``); the seed is logged.
"""

from __future__ import annotations

from pathlib import Path

import cocotb
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from red.config import TileConfig
from red.gen.harness import stall_threshold
from red.rtl.tile import TILE_COUNTERS

from .agents import CLOCK_PERIOD_NS, load_job, reset
from .tb_tile import (LayerRecorder, layer_budget, layer_word, load_layers, output_map,
                      pixel_words, weight_words)

__all__ = ["HARNESS_FILES", "run_layers"]

#: The harness's data files, by plusarg (see red.gen.harness).
HARNESS_FILES = {"red_w": "w.hex", "red_i": "i.hex", "red_o": "o.hex"}


def _write_hex(path: Path, words) -> None:
    path.write_text("".join(f"{word:x}\n" for word in words))


@cocotb.test()
async def run_layers(dut):
    """Every layer of the job, back to back in one simulation."""
    job = load_job()
    cfg = TileConfig(**job["config"])
    seed, stall = int(job["seed"]), float(job.get("stall", 0.0))
    folder = Path(job["harness_dir"])
    threshold = stall_threshold(stall)
    dut._log.info("seed=%d stall=%.2f (threshold %d/256) layers=%d", seed, stall, threshold,
                  len(job["layers"]))
    for name in ("load", "start"):   # the harness generates its own clock
        getattr(dut, name).value = 0
    await reset(dut)
    recorder = LayerRecorder(dut, job, cfg)
    for n, (layer, mode, x, w, entry) in enumerate(load_layers(job)):
        _write_hex(folder / HARNESS_FILES["red_w"], weight_words(cfg, w))
        _write_hex(folder / HARNESS_FILES["red_i"], pixel_words(cfg, x))
        dut.layer.value = layer_word(cfg, layer, mode)
        dut.n_w.value = layer.cin
        dut.n_i.value = layer.h * layer.w
        dut.seed.value = (seed + n) & 0xFFFFFFFF
        dut.idle.value = threshold
        dut.stall.value = threshold
        dut.load.value = 1
        await RisingEdge(dut.clk)
        dut.load.value = 0
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        budget = layer_budget(cfg, layer, x, w) * (4 if stall else 1)
        timeout = Timer(budget * CLOCK_PERIOD_NS, unit="ns")
        if await First(RisingEdge(dut.finished), timeout) is timeout:
            raise AssertionError(f"layer {n} ({layer}, {mode}): not finished after "
                                 f"{budget} cycles")
        await ReadOnly()
        counters = {name: getattr(dut, name).value.to_unsigned() for name in TILE_COUNTERS}
        beats = dut.out_beats.value.to_unsigned()
        await RisingEdge(dut.clk)
        lines = (folder / HARNESS_FILES["red_o"]).read_text().split()
        assert len(lines) == beats, f"{len(lines)} beats in the file, harness counted {beats}"
        y = output_map(cfg, layer, [int(line, 16) for line in lines])
        recorder.record(n, layer, mode, x, w, entry, y, counters)
    recorder.finish()
