"""cocotb tests of the generated RED tile (``red gen --top tile``) with per-cycle agents.

The job (``$RED_JOB``, written by :mod:`red.sim.session`) lists layers with their data
files; one simulation runs them all, back to back, each as its schedule of passes
(:class:`red.sim.passes.LayerPasses`) through the tile's runtime configuration. Stream
drivers send each pass's weights, input pixels and (when it accumulates) the previous
pass's output beats as partial sums, idling as the job's ``idle`` pacing says; a
back-pressure generator drives the output's ``ready`` as its ``backpressure`` pacing says
(:class:`red.sim.pacing.Pacing`: none, a fixed pattern or random), and a passive monitor
collects the output beats. For each layer the testbench writes the output map the RTL
produced, the tile's hardware counters (summed over the passes) and the cycles the
agents held off; the scoreboard compares the output with the golden model
(:func:`red.sim.passes.golden_output`) in order and names each differing ``(co, oh,
ow)``; with ``fail_on_mismatch`` a difference fails the test.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from red.config import LayerSpec, TileConfig
from red.counters import TILE_COUNTERS
from red.early import OutputStage
from red.sparsity import Reordering
from red.rtl.layouts import out_beat_layout

from .agents import (BackPressure, Scoreboard, StreamDriver, StreamMonitor, load_job,
                     reset, start_clock)
from .job import TileJob
from .pacing import Pacing
from .passes import LayerPasses, golden_output


class LayerRecorder:
    """Per layer: save the RTL's output, compare it with the golden model (the
    scoreboard), keep the counters; at the end write the job's results file and, with
    ``fail_on_mismatch``, fail on any difference."""

    def __init__(self, dut, job: TileJob):
        self.dut, self.job, self.cfg = dut, job, job.config
        self.scoreboard = Scoreboard(dut._log)
        self.results = []

    def record(self, n, layer, mode, x, w, entry, passes: LayerPasses,
               held: dict | None = None):
        """``held``: the agents' hold-off cycles (:func:`run_layer`); none on the harness,
        whose generators are hardware."""
        np.save(entry.y, passes.y)
        # Runs that share their data (RED and ZP of one layer) share the golden output.
        if not Path(entry.y_golden).exists():
            np.save(entry.y_golden, golden_output(self.cfg, layer, x, w, mode,
                                                  passes.stage, passes.reorder))
        golden = np.load(entry.y_golden)
        where = f"layer {n} ({layer}, {mode})"
        differing = np.argwhere(passes.y != golden)
        match = not len(differing)
        self.scoreboard.compare(f"{where}: outputs differing", [len(differing)], [0])
        # In order, each output named by (co, oh, ow): the first ten that differ.
        for co, oh, ow in differing[:10].tolist():
            self.scoreboard.compare(f"{where} output (co={co}, oh={oh}, ow={ow})",
                                    [passes.y[co, oh, ow]], [golden[co, oh, ow]])
        counters = passes.counters
        self.results.append({"match": match, "counters": counters,
                             "pass_counters": passes.pass_counters, "held": held or {}})
        self.dut._log.info("layer %d/%d %s %s: %s, %d passes, total %d cycles, compute %d",
                           n + 1, len(self.job.layers), layer, mode,
                           "match" if match else "MISMATCH", len(passes),
                           counters["total_cycles"], counters["compute_cycles"])

    def passed(self, n: int, layer, mode: str, passes: LayerPasses, words) -> None:
        """One line per pass into the job's progress file (``red.sim.session`` relays
        it while the simulation runs)."""
        counters = passes.pass_counters[-1]
        with open(self.job.progress, "a") as log:
            log.write(f"layer {n + 1}/{len(self.job.layers)} {layer.name or layer} "
                      f"{mode}: pass {words.run.index + 1}/{len(passes)}, "
                      f"{counters['total_cycles']} cycles\n")

    def finish(self):
        Path(self.job.results).write_text(json.dumps(self.results))
        if self.job.fail_on_mismatch:
            self.scoreboard.check()


def load_layers(job: TileJob):
    """Per layer of the job: its shape, mode, data, output stage, sparse channel order
    and job entry."""
    for entry in job.layers:
        yield (entry.layer, entry.mode, np.load(entry.x), np.load(entry.w), entry.stage(),
               entry.reorder(), entry)


def _idle(dut):
    dut.start.value = 0
    for prefix in ("w", "i", "ps"):
        getattr(dut, f"{prefix}__valid").value = 0
    dut.o__ready.value = 0


async def _wait_for(dut, signal: str, value: int, timeout: int):
    for _ in range(timeout):
        await ReadOnly()
        if getattr(dut, signal).value == value:
            await RisingEdge(dut.clk)
            return
        await RisingEdge(dut.clk)
    raise AssertionError(f"timeout: {signal} != {value} after {timeout} cycles")


def _words(text: str) -> list[int]:
    return [int(line, 16) for line in text.split()]


async def run_layer(dut, cfg: TileConfig, layer: LayerSpec, mode: str, x, w,
                    rng: random.Random, idle: Pacing = Pacing(),
                    backpressure: Pacing = Pacing(), recorder: LayerRecorder | None = None,
                    n: int = 0, stage: OutputStage = OutputStage(),
                    reorder: Reordering | None = None) -> tuple[LayerPasses, dict]:
    """Run every pass of one layer with input idles ``idle`` and output back-pressure
    ``backpressure``; return its :class:`LayerPasses` (output, counters) and the cycles
    the agents held off (``idle_cycles``: a driver with a beat to send held it back;
    ``backpressure_cycles``: an output beat was offered and refused)."""
    digits = -(-out_beat_layout(cfg).size // 4)
    passes = LayerPasses(cfg, layer, mode, x, w, stage=stage, reorder=reorder)
    previous: list[int] = []
    held = {"idle_cycles": 0, "backpressure_cycles": 0}
    for words in passes:
        await _wait_for(dut, "busy", 0, words.budget)
        dut.layer.value = words.word
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        streams = [("w", _words(words.weights)), ("i", _words(words.pixels))]
        if words.run.accumulate:
            streams.append(("ps", previous))
        drivers = [StreamDriver(dut, prefix, idle.hold_offs(rng)) for prefix, _ in streams]
        monitor = StreamMonitor(dut, "o")
        pressure = BackPressure(dut, "o", backpressure.hold_offs(rng))
        tasks = [cocotb.start_soon(driver.send(beats))
                 for driver, (_, beats) in zip(drivers, streams)]
        agents = [cocotb.start_soon(monitor.run()), cocotb.start_soon(pressure.run())]
        await _wait_for(dut, "done", 1, words.limit(idle.holds or backpressure.holds))
        for agent in agents:
            agent.cancel()
        dut.o__ready.value = 0
        for task in tasks:
            assert task.done(), "the tile finished before taking every beat it was sent"
        await ReadOnly()
        counters = {name: getattr(dut, name).value.to_unsigned() for name in TILE_COUNTERS}
        await RisingEdge(dut.clk)
        previous = monitor.beats
        passes.take_output(words, [f"{beat:0{digits}x}" for beat in monitor.beats], counters)
        held["idle_cycles"] += sum(driver.idle_cycles for driver in drivers)
        held["backpressure_cycles"] += pressure.held_cycles
        if recorder is not None:
            recorder.passed(n, layer, mode, passes, words)
    return passes, held


@cocotb.test()
async def run_layers(dut):
    """Every layer of the job, back to back in one simulation."""
    job = TileJob.from_json(load_job())
    cfg, seed, idle, backpressure = job.config, job.seed, job.idle, job.backpressure
    dut._log.info("seed=%d idle=%s backpressure=%s layers=%d", seed, idle, backpressure,
                  len(job.layers))
    rng = random.Random(seed)
    start_clock(dut)
    _idle(dut)
    await reset(dut)
    recorder = LayerRecorder(dut, job)
    for n, (layer, mode, x, w, stage, reorder, entry) in enumerate(load_layers(job)):
        passes, held = await run_layer(dut, cfg, layer, mode, x, w, rng, idle, backpressure,
                                       recorder, n, stage, reorder)
        recorder.record(n, layer, mode, x, w, entry, passes, held)
    recorder.finish()


@cocotb.test()
async def reset_mid_layer(dut):
    """Reset in the middle of the first layer, then run every layer cleanly."""
    job = TileJob.from_json(load_job())
    cfg, rng = job.config, random.Random(job.seed)
    start_clock(dut)
    _idle(dut)
    await reset(dut)
    layer, mode, x, w, stage, reorder, _ = next(load_layers(job))
    first = next(iter(LayerPasses(cfg, layer, mode, x, w, stage=stage, reorder=reorder)))
    dut.layer.value = first.word
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    cocotb.start_soon(StreamDriver(dut, "w").send(_words(first.weights)))
    for _ in range(first.layer.cin + 3 * cfg.in_bits):   # weights loaded, steps under way
        await RisingEdge(dut.clk)
    await reset(dut)
    _idle(dut)
    await ReadOnly()
    assert dut.busy.value == 0, "reset left the tile busy"
    await RisingEdge(dut.clk)
    scoreboard = Scoreboard(dut._log)
    for n, (layer, mode, x, w, stage, reorder, _) in enumerate(load_layers(job)):
        passes, _ = await run_layer(dut, cfg, layer, mode, x, w, rng, stage=stage,
                                    reorder=reorder)
        scoreboard.compare(f"layer {n} after reset", [int(np.array_equal(
            passes.y, golden_output(cfg, layer, x, w, mode, stage, reorder)))], [1])
    scoreboard.check()
