"""cocotb test of the tile through its simulation harness (``red gen --top harness``):
the fast path, in which no Python runs per clock cycle.

The job (``$RED_JOB``, written by :mod:`red.sim.session`) lists layers with their data
files, as for :mod:`red.sim.tb_tile`. Each layer runs as its schedule of passes
(:class:`red.sim.passes.LayerPasses`); per pass the test writes the weight beats and
input pixels as ``$readmemh`` files, pulses ``load`` and ``start``, waits for the
harness's ``finished`` (a value-change trigger, not a per-cycle poll) and reads the
hardware counters. The partial sums between passes stay in the harness's output memory;
after the last pass of a cout slice the test reads the output beats the harness wrote.
The output map is compared with :func:`red.golden.crossbar_deconv2d` (the scoreboard).
Idle cycles and back-pressure come from the harness's own generators, seeded per pass
from the job's seed (``seed + layer index * 65536 + pass index``); the seed is logged.
"""

from __future__ import annotations

from pathlib import Path

import cocotb
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from red.counters import TILE_COUNTERS
from red.gen.harness import CLOCK_PERIOD_NS, MEMORY_WORD_BITS, stall_threshold

from .agents import load_job, reset
from .job import TileJob
from .passes import LayerPasses
from .tb_tile import LayerRecorder, load_layers

__all__ = ["HARNESS_FILES", "run_layers"]

#: The harness's data files, by plusarg (see red.gen.harness).
HARNESS_FILES = {"red_w": "w.hex", "red_i": "i.hex", "red_o": "o.hex"}

#: Passes per layer the per-pass seeds keep apart.
_SEED_STRIDE = 1 << 16


@cocotb.test()
async def run_layers(dut):
    """Every layer of the job, back to back in one simulation."""
    job = TileJob.from_json(load_job())
    cfg, seed, stall, folder = job.config, job.seed, job.stall, Path(job.work_dir)
    threshold = stall_threshold(stall)
    dut._log.info("seed=%d stall=%.2f (threshold %d/256) layers=%d", seed, stall, threshold,
                  len(job.layers))
    for name in ("load", "start"):   # the harness generates its own clock
        getattr(dut, name).value = 0
    await reset(dut)
    recorder = LayerRecorder(dut, job)
    for n, (layer, mode, x, w, stage, reorder, entry) in enumerate(load_layers(job)):
        passes = LayerPasses(cfg, layer, mode, x, w, word_bits=MEMORY_WORD_BITS, stage=stage,
                             reorder=reorder)
        for words in passes:
            (folder / HARNESS_FILES["red_w"]).write_text(words.weights)
            (folder / HARNESS_FILES["red_i"]).write_text(words.pixels)
            dut.layer.value = words.word
            dut.n_w.value = words.layer.cin
            dut.n_i.value = words.layer.h * words.layer.w
            dut.seed.value = (seed + n * _SEED_STRIDE + words.run.index) & 0xFFFFFFFF
            dut.idle.value = threshold
            dut.stall.value = threshold
            dut.write_out.value = int(words.run.last)
            dut.load.value = 1
            await RisingEdge(dut.clk)
            dut.load.value = 0
            dut.start.value = 1
            await RisingEdge(dut.clk)
            dut.start.value = 0
            budget = words.limit(stall > 0)
            timeout = Timer(budget * CLOCK_PERIOD_NS, unit="ns")
            if await First(RisingEdge(dut.finished), timeout) is timeout:
                raise AssertionError(f"layer {n} ({layer}, {mode}) pass {words.run.index}: "
                                     f"not finished after {budget} cycles")
            await ReadOnly()
            counters = {name: getattr(dut, name).value.to_unsigned() for name in TILE_COUNTERS}
            beats = dut.out_beats.value.to_unsigned()
            await RisingEdge(dut.clk)
            lines = []
            if words.run.last:
                lines = (folder / HARNESS_FILES["red_o"]).read_text().split()
                assert len(lines) == beats, \
                    f"{len(lines)} beats in the file, harness counted {beats}"
            passes.take_output(words, lines, counters)
            recorder.passed(n, layer, mode, passes, words)
        recorder.record(n, layer, mode, x, w, entry, passes)
    recorder.finish()
