"""cocotb tests of the generated MVM unit (``red gen --top mvm``).

The job (``$RED_JOB``) gives the tile configuration, a seed and the stream
randomization. Reference model: :func:`red.golden.crossbar_mvm`.
"""

from __future__ import annotations

import random

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from red.config import TileConfig
from red.golden import crossbar_mvm
from red.rtl.mvm import mvm_input_layout, mvm_output_layout

from .agents import (BackPressure, Scoreboard, StreamDriver, StreamMonitor, load_job,
                     pack, pack_values, reset, start_clock, unpack)
from .pacing import Pacing


def _setup():
    job = load_job()
    cfg = TileConfig(**job["config"])
    seed = int(job["seed"])
    return job, cfg, seed


def _extreme_biased(rng: np.random.Generator, lo: int, hi: int, shape) -> np.ndarray:
    """Uniform integers in [lo, hi] with a quarter of the entries at an extreme."""
    values = rng.integers(lo, hi + 1, shape)
    pick = rng.random(shape)
    values[pick < 0.125] = lo
    values[(pick >= 0.125) & (pick < 0.25)] = hi
    return values


async def _program(dut, cfg: TileConfig, weights: np.ndarray):
    """One crossbar row (all logical columns) per cycle."""
    for r, row in enumerate(weights):
        dut.prog__valid.value = 1
        dut.prog__row.value = r
        dut.prog__data.value = pack_values(row, cfg.w_bits)
        await RisingEdge(dut.clk)
    dut.prog__valid.value = 0


async def _counters(dut) -> dict:
    await ReadOnly()
    counts = {name: getattr(dut, name).value.to_unsigned()
              for name in ("steps", "gated_steps", "conversions", "row_drives")}
    await RisingEdge(dut.clk)
    return counts


def _no_early_termination(dut) -> None:
    """The early-termination inputs at rest: these tests check the plain unit (the tile
    tests drive them)."""
    for name in ("stop", "finish", "bounds_en"):
        getattr(dut, name).value = 0


async def _run_vectors(dut, cfg, weights, vectors, gates, active_rows, active_cols,
                       rng, idle: Pacing, backpressure: Pacing, what):
    """Stream ``vectors`` through a freshly reset unit; check results and counters."""
    dut.prog__valid.value = 0
    dut.clear.value = 0
    _no_early_termination(dut)
    await reset(dut)
    dut.active_rows.value = active_rows
    dut.active_cols.value = active_cols
    full = np.zeros((cfg.rows, cfg.logical_cols), dtype=np.int64)
    full[:weights.shape[0], :weights.shape[1]] = weights
    await _program(dut, cfg, full)

    in_layout, out_layout = mvm_input_layout(cfg), mvm_output_layout(cfg)
    driver = StreamDriver(dut, "i", idle.hold_offs(rng))
    monitor = StreamMonitor(dut, "o")
    agents = [cocotb.start_soon(monitor.run()),
              cocotb.start_soon(BackPressure(dut, "o", backpressure.hold_offs(rng)).run())]
    beats = []
    for x, gate in zip(vectors, gates):
        padded = np.zeros(cfg.rows, dtype=np.int64)
        padded[:active_rows] = x[:active_rows]
        # x_sum is part of the input vector (the tile's line buffer computes it).
        beats.append(pack(in_layout, {"x": [int(v) for v in padded],
                                      "x_sum": int(padded.sum()), "gate": int(gate)}))
    await driver.send(beats)
    await monitor.wait_for(len(vectors), timeout_cycles=len(vectors) * cfg.in_bits * 50 + 100)
    # A few more cycles: a spurious extra result would show up here.
    for _ in range(cfg.in_bits + 4):
        await RisingEdge(dut.clk)
    for agent in agents:
        agent.cancel()

    expected = crossbar_mvm(vectors[:, :active_rows], weights[:active_rows, :active_cols],
                            **cfg.crossbar_params)
    scoreboard = Scoreboard(dut._log)
    for n, bits in enumerate(monitor.beats):
        got = list(unpack(out_layout, bits))
        want = [0] * cfg.logical_cols
        if not gates[n]:
            want[:active_cols] = [int(v) for v in expected[n]]
        scoreboard.compare(f"{what} vector {n}", got, want)
    scoreboard.check()
    assert len(monitor.beats) == len(vectors), f"{len(monitor.beats)} results for {len(vectors)} vectors"

    counts = await _counters(dut)
    live = int(np.count_nonzero(~gates))
    expected_counts = {
        "steps": live * cfg.in_bits,
        "gated_steps": (len(vectors) - live) * cfg.in_bits,
        "conversions": live * cfg.in_bits * active_cols * cfg.slices,
        "row_drives": live * cfg.in_bits * active_rows,
    }
    assert counts == expected_counts, f"{what}: counters {counts} != {expected_counts}"


@cocotb.test()
async def random_streams(dut):
    """Random weights and vectors (extremes over-represented), random gating, partial
    active rows/columns, random input idles and output back-pressure."""
    job, cfg, seed = _setup()
    dut._log.info("seed=%d config=%s", seed, cfg)
    nrng = np.random.default_rng(seed)
    rng = random.Random(seed)
    n = int(job["vectors"])
    start_clock(dut)
    for active_rows, active_cols in ((cfg.rows, cfg.logical_cols),
                                     (max(1, cfg.rows // 2 + 1), max(1, cfg.logical_cols - 1))):
        weights = _extreme_biased(nrng, cfg.w_min, cfg.w_max, (cfg.rows, cfg.logical_cols))
        vectors = _extreme_biased(nrng, cfg.x_min, cfg.x_max, (n, cfg.rows))
        gates = nrng.random(n) < 0.15
        await _run_vectors(dut, cfg, weights, vectors, gates, active_rows, active_cols, rng,
                           Pacing(**job["idle"]), Pacing(**job["backpressure"]),
                           f"rows={active_rows},cols={active_cols}")


@cocotb.test()
async def extremes(dut):
    """All-minimum and all-maximum weights against all-minimum and all-maximum inputs:
    the largest magnitudes the shift-add and offset correction must hold."""
    job, cfg, seed = _setup()
    rng = random.Random(seed)
    vectors = np.array([[cfg.x_min] * cfg.rows, [cfg.x_max] * cfg.rows,
                        [cfg.x_min, cfg.x_max] * (cfg.rows // 2) + [cfg.x_min] * (cfg.rows % 2)])
    gates = np.zeros(len(vectors), dtype=bool)
    start_clock(dut)
    for w_value in (cfg.w_min, cfg.w_max):
        weights = np.full((cfg.rows, cfg.logical_cols), w_value)
        await _run_vectors(dut, cfg, weights, vectors, gates, cfg.rows, cfg.logical_cols, rng,
                           Pacing(), Pacing(), f"w={w_value}")


@cocotb.test()
async def back_to_back(dut):
    """Without idles or back-pressure, vectors are accepted every ``in_bits`` cycles and
    the last result appears ``latency`` cycles after the last vector is accepted."""
    job, cfg, seed = _setup()
    nrng = np.random.default_rng(seed + 1)
    n = 8
    start_clock(dut)
    dut.clear.value = 0
    _no_early_termination(dut)
    await reset(dut)
    dut.active_rows.value = cfg.rows
    dut.active_cols.value = cfg.logical_cols
    await _program(dut, cfg, nrng.integers(cfg.w_min, cfg.w_max + 1,
                                           (cfg.rows, cfg.logical_cols)))
    layout = mvm_input_layout(cfg)
    dut.o__ready.value = 1
    accepted, first_valid, results = [], [], 0
    cycle = 0
    sent = 0
    while results < n:
        if sent < n:
            dut.i__valid.value = 1
            dut.i__payload.value = pack(layout, {"x": [int(v) for v in nrng.integers(
                cfg.x_min, cfg.x_max + 1, cfg.rows)], "gate": 0})
        else:
            dut.i__valid.value = 0
        await ReadOnly()
        if sent < n and dut.i__ready.value == 1:
            accepted.append(cycle)
            sent += 1
        if dut.o__valid.value == 1:
            first_valid.append(cycle)
            results += 1
        await RisingEdge(dut.clk)
        cycle += 1
        assert cycle < 1000, "timeout"
    intervals = {b - a for a, b in zip(accepted, accepted[1:])}
    assert intervals == {cfg.in_bits}, f"accept intervals {intervals}, expected {cfg.in_bits}"
    latencies = [v - a for a, v in zip(accepted, first_valid)]
    expected_latency = job["latency"]
    assert set(latencies) == {expected_latency}, \
        f"latencies {latencies}, expected {expected_latency}"
