"""cocotb tests of the generated RED tile (``red gen --top tile``).

The job (``$RED_JOB``, written by :mod:`red.sim.session`) lists layers with their data
files; one simulation runs them all, back to back, through the tile's runtime layer
configuration. For each layer the testbench writes the output map the RTL produced and
the tile's hardware counters; with ``fail_on_mismatch`` it also fails on any difference
from :func:`red.golden.crossbar_deconv2d` (the scoreboard).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from amaranth.hdl import Shape
from cocotb.triggers import ReadOnly, RisingEdge

from red.config import LayerSpec, TileConfig
from red.golden import crossbar_deconv2d
from red.rtl.layouts import layer_fields, layer_layout, out_beat_layout, weight_beats
from red.rtl.tile import TILE_COUNTERS

from .agents import (Scoreboard, StreamDriver, StreamSink, load_job, pack, pack_values, reset,
                     start_clock, unpack_values)



def golden_output(cfg: TileConfig, layer: LayerSpec, x, w):
    return crossbar_deconv2d(x, w, layer.s, layer.p, layer.op, rows=cfg.rows,
                             cell_bits=cfg.cell_bits, w_bits=cfg.w_bits,
                             in_bits=cfg.in_bits, adc_bits=cfg.adc_bits)


class LayerRecorder:
    """Per layer: save the RTL's output, compare it with the golden model (the
    scoreboard), keep the counters; at the end write the job's results file and, with
    ``fail_on_mismatch``, fail on any difference."""

    def __init__(self, dut, job: dict, cfg: TileConfig):
        self.dut, self.job, self.cfg = dut, job, cfg
        self.scoreboard = Scoreboard(dut._log)
        self.results = []

    def record(self, n, layer, mode, x, w, entry, y, counters):
        np.save(entry["y"], y)
        match = bool(np.array_equal(y, golden_output(self.cfg, layer, x, w)))
        self.scoreboard.compare(f"layer {n} ({layer}, {mode})", [int(match)], [1])
        self.results.append({"match": match, "counters": counters})
        self.dut._log.info("layer %d/%d %s %s: %s, total %d cycles, compute %d", n + 1,
                           len(self.job["layers"]), layer, mode,
                           "match" if match else "MISMATCH",
                           counters["total_cycles"], counters["compute_cycles"])

    def finish(self):
        Path(self.job["results"]).write_text(json.dumps(self.results, indent=1))
        if self.job.get("fail_on_mismatch", True):
            self.scoreboard.check()


def layer_budget(cfg: TileConfig, layer: LayerSpec, x, w) -> int:
    """Generous cycle limit of one layer without stalls (a hang fails, not waits)."""
    return 200 + 50 * (x.size + w.size +
                       (layer.ho * layer.wo + layer.nb_h * layer.nb_w) * cfg.in_bits)


def _idle(dut):
    dut.start.value = 0
    for prefix in ("w", "i"):
        getattr(dut, f"{prefix}__valid").value = 0
    dut.o__ready.value = 0


async def _start(dut, cfg: TileConfig, layer: LayerSpec, mode: str):
    """Present the layer configuration and pulse ``start`` for one cycle."""
    dut.layer.value = layer_word(cfg, layer, mode)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


def layer_word(cfg: TileConfig, layer: LayerSpec, mode: str) -> int:
    """The tile's ``layer`` port value that runs ``layer`` in ``mode``."""
    return pack(layer_layout(cfg), layer_fields(layer, mode))


def weight_words(cfg: TileConfig, w) -> list[int]:
    """The layer's weight beats (one per input channel), as payload bits."""
    return [pack_values(beat.ravel(), cfg.w_bits) for beat in weight_beats(cfg, w)]


def pixel_words(cfg: TileConfig, x) -> list[int]:
    """The layer's input pixels in raster order, as payload bits."""
    _, h, w = x.shape
    return [pack_values(x[:, r, c], cfg.in_bits) for r in range(h) for c in range(w)]


async def _wait_for(dut, signal: str, value: int, timeout: int):
    for _ in range(timeout):
        await ReadOnly()
        if getattr(dut, signal).value == value:
            await RisingEdge(dut.clk)
            return
        await RisingEdge(dut.clk)
    raise AssertionError(f"timeout: {signal} != {value} after {timeout} cycles")


async def run_layer(dut, cfg: TileConfig, layer: LayerSpec, mode: str, x, w,
                    rng: random.Random, stall: float):
    """Run one layer; return (y [Cout][Ho][Wo], counters)."""
    budget = layer_budget(cfg, layer, x, w)
    await _wait_for(dut, "busy", 0, budget)
    await _start(dut, cfg, layer, mode)
    w_beats = weight_words(cfg, w)
    i_beats = pixel_words(cfg, x)
    sink = StreamSink(dut, "o", rng, stall)
    tasks = [cocotb.start_soon(StreamDriver(dut, "w", rng, stall).send(w_beats)),
             cocotb.start_soon(StreamDriver(dut, "i", rng, stall).send(i_beats)),
             cocotb.start_soon(sink.run())]
    await _wait_for(dut, "done", 1, budget * (4 if stall else 1))
    tasks[-1].cancel()
    dut.o__ready.value = 0
    for task in tasks[:-1]:
        assert task.done(), "the tile finished before taking every weight and pixel"

    await ReadOnly()
    counters = {name: getattr(dut, name).value.to_unsigned() for name in TILE_COUNTERS}
    await RisingEdge(dut.clk)
    return output_map(cfg, layer, sink.beats), counters


def output_map(cfg: TileConfig, layer: LayerSpec, beats: list[int]) -> np.ndarray:
    """The output map ``[cout][Ho][Wo]`` in the tile's output beats (payload bits, in
    order); fails unless they hold exactly ``Ho*Wo`` pixels and channels ``>= cout`` are 0."""
    count_field = out_beat_layout(cfg)["count"]
    count_mask = (1 << Shape.cast(count_field.shape).width) - 1
    lanes = cfg.out_pixels * cfg.logical_cols
    pixels = []
    for bits in beats:
        values = unpack_values(bits, cfg.out_width, lanes, signed=True)
        count = (bits >> count_field.offset) & count_mask
        pixels += [values[lane * cfg.logical_cols:(lane + 1) * cfg.logical_cols]
                   for lane in range(count)]
    expected = layer.ho * layer.wo
    assert len(pixels) == expected, f"{len(pixels)} output pixels, expected {expected}"
    y = np.array(pixels, dtype=np.int64).reshape(layer.ho, layer.wo, -1)
    assert not y[:, :, layer.cout:].any(), "output channels beyond cout are not zero"
    return y[:, :, :layer.cout].transpose(2, 0, 1)


def load_layers(job):
    for entry in job["layers"]:
        yield (LayerSpec(**entry["layer"]), entry["mode"], np.load(entry["x"]),
               np.load(entry["w"]), entry)


@cocotb.test()
async def run_layers(dut):
    """Every layer of the job, back to back in one simulation."""
    job = load_job()
    cfg = TileConfig(**job["config"])
    seed, stall = int(job["seed"]), float(job.get("stall", 0.0))
    dut._log.info("seed=%d stall=%.2f layers=%d", seed, stall, len(job["layers"]))
    rng = random.Random(seed)
    start_clock(dut)
    _idle(dut)
    await reset(dut)
    recorder = LayerRecorder(dut, job, cfg)
    for n, (layer, mode, x, w, entry) in enumerate(load_layers(job)):
        y, counters = await run_layer(dut, cfg, layer, mode, x, w, rng, stall)
        recorder.record(n, layer, mode, x, w, entry, y, counters)
    recorder.finish()


@cocotb.test()
async def reset_mid_layer(dut):
    """Reset in the middle of the first layer, then run every layer cleanly."""
    job = load_job()
    cfg = TileConfig(**job["config"])
    rng = random.Random(int(job["seed"]))
    start_clock(dut)
    _idle(dut)
    await reset(dut)
    layer, mode, x, w, _ = next(load_layers(job))
    await _start(dut, cfg, layer, mode)
    cocotb.start_soon(StreamDriver(dut, "w", rng).send(weight_words(cfg, w)))
    for _ in range(w.size + 3 * cfg.in_bits):   # weights loaded, a few steps under way
        await RisingEdge(dut.clk)
    await reset(dut)
    _idle(dut)
    await ReadOnly()
    assert dut.busy.value == 0, "reset left the tile busy"
    await RisingEdge(dut.clk)
    scoreboard = Scoreboard(dut._log)
    for n, (layer, mode, x, w, _) in enumerate(load_layers(job)):
        y, _ = await run_layer(dut, cfg, layer, mode, x, w, rng, 0.0)
        scoreboard.compare(f"layer {n} after reset", [int(np.array_equal(
            y, golden_output(cfg, layer, x, w)))], [1])
    scoreboard.check()
