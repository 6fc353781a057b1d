"""MVMUnit in the Amaranth simulator: bit-exact results, latency, counters, back-pressure.

The same unit is exercised as generated Verilog on Icarus and Verilator by
``test_cocotb_mvm.py``; this file keeps the fast checks close to the source.
"""

import random

import numpy as np
import pytest

from red.config import TileConfig
from red.golden import crossbar_mvm
from red.rtl.mvm import MVMUnit

from _amaranth_sim import program_weights, simulate

SEED = 1234

CONFIGS = [
    TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, adc_bits=3),
    TileConfig(rows=5, cols=8, cell_bits=4, w_bits=8, in_bits=3),
]


def run_stream(cfg, weights, vectors, gates, *, idle=0.0, stall=0.0, seed=SEED):
    """Program, stream vectors with random idles/back-pressure; return the results, the
    cycles vectors were accepted and results taken, and the counters."""
    dut = MVMUnit(cfg, crossbar="ff")
    rng = random.Random(seed)
    out = {"results": [], "accepted": [], "taken": [], "counters": None}

    async def testbench(ctx):
        await program_weights(ctx, dut.prog, weights, cfg.logical_cols)
        ctx.set(dut.active_rows, cfg.rows)
        ctx.set(dut.active_cols, cfg.logical_cols)
        sent = cycle = 0
        while len(out["results"]) < len(vectors):
            offer = sent < len(vectors) and rng.random() >= idle
            ctx.set(dut.i.valid, offer)
            if offer:
                # x_sum is part of the input vector (the tile's line buffer computes it).
                ctx.set(dut.i.payload, {"x": [int(v) for v in vectors[sent]],
                                        "x_sum": int(vectors[sent].sum()),
                                        "gate": int(gates[sent])})
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, ready)
            _, _, i_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            if offer and i_ready:
                out["accepted"].append(cycle)
                sent += 1
            if o_valid and ready:
                out["results"].append([int(v) for v in o_payload])
                out["taken"].append(cycle)
            cycle += 1
            assert cycle < 100 * len(vectors) * cfg.in_bits, "timeout"
        out["counters"] = {name: ctx.get(getattr(dut, name))
                           for name in ("steps", "gated_steps", "conversions", "row_drives")}

    simulate(dut, testbench)
    return dut, out


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("idle,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_results_and_counters(cfg, idle, stall):
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    weights = rng.integers(cfg.w_min, cfg.w_max + 1, (cfg.rows, cfg.logical_cols))
    vectors = rng.integers(cfg.x_min, cfg.x_max + 1, (24, cfg.rows))
    vectors[0] = cfg.x_min
    vectors[1] = cfg.x_max
    gates = rng.random(len(vectors)) < 0.2
    _, out = run_stream(cfg, weights, vectors, gates, idle=idle, stall=stall)
    want = crossbar_mvm(vectors, weights, **cfg.crossbar_params)
    want[gates] = 0
    assert out["results"] == want.tolist()
    live = int((~gates).sum())
    assert out["counters"] == {
        "steps": live * cfg.in_bits,
        "gated_steps": int(gates.sum()) * cfg.in_bits,
        "conversions": live * cfg.in_bits * cfg.cols // cfg.slices * cfg.slices,
        "row_drives": live * cfg.in_bits * cfg.rows,
    }


# (config, latency, interval), counted by hand: one cycle per bit plane (in_bits), then
# the crossbar's code register and the output register; a new vector every in_bits
# cycles.
TIMINGS = [(CONFIGS[0], 4 + 1 + 1, 4), (CONFIGS[1], 3 + 1 + 1, 3)]


@pytest.mark.parametrize("cfg, latency, interval", TIMINGS,
                         ids=[f"in_bits={cfg.in_bits}" for cfg, *_ in TIMINGS])
def test_latency_and_interval(cfg, latency, interval):
    """Back to back, vectors are taken every ``interval`` cycles and each result is valid
    ``latency`` cycles after its vector was taken (no back-pressure: results are taken
    in their first valid cycle); the unit's ``latency``/``interval`` say the same."""
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    weights = rng.integers(cfg.w_min, cfg.w_max + 1, (cfg.rows, cfg.logical_cols))
    vectors = rng.integers(cfg.x_min, cfg.x_max + 1, (6, cfg.rows))
    dut, out = run_stream(cfg, weights, vectors, np.zeros(6, bool))
    assert np.diff(out["accepted"]).tolist() == [interval] * 5
    assert [t - a for a, t in zip(out["accepted"], out["taken"])] == [latency] * 6
    assert (dut.latency, dut.interval) == (latency, interval)
