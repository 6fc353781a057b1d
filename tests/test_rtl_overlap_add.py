"""OverlapAddBuffer in the Amaranth simulator against a naive overlap-add.

Each case draws a layer and a fold, feeds one step per input pixel with random group
results (the groups' role played by the testbench), with random gaps between steps and
random back-pressure on the output (fixed, printed seed), and checks:

* every emitted pixel equals the naive model: ``numpy`` adding each active group's
  result into its output ``(kh0 - p + ih*s + gh, kw0 - p + iw*s + gw)`` of the uncropped
  map, cropped to ``[0,Ho) x [0,Wo)``, plus the bias, with ReLU, in raster order;
* the counters: results kept and cropped, buffer reads and writes;
* a second pass right after the first (the buffer is left all zero by the emitter's
  clearing reads);
* a step that would overwrite a row the emitter has not left waits (stalls).
"""

import random

import numpy as np
import pytest

from red.config import TileConfig
from red.rtl.overlap_add import OverlapAddBuffer

from _amaranth_sim import simulate

SEED = 77

# kernel 3 (3 x 3 banks), strides up to 3: pf_rows = 3 * ceil(6/3) = 6; 2 output
# channels (cols 4 of 2-bit cells for 4-bit weights); up to 2 pixels per beat.
TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=3,
                  max_in=5, max_cin=2, max_k=5, out_pixels=2)
# kernel 2 with 3 pixels per beat: 2 x 3 banks, more bank columns than kernel columns.
WIDE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=2, max_stride=3,
                  max_in=5, max_cin=2, max_k=5, out_pixels=3)
C = TILE.logical_cols


def naive(case: dict, results: np.ndarray, K: int) -> np.ndarray:
    """The cropped map: results[ih][iw][g][c] overlap-added at their outputs."""
    h, w, s, G = case["h"], case["w"], case["s"], K * K
    out = np.zeros((case["ho"], case["wo"], C), dtype=np.int64)
    for ih in range(h):
        for iw in range(w):
            for g in range(G):
                if not case["active"] >> g & 1:
                    continue
                oh = case["base_h"] + ih * s + g // K
                ow = case["base_w"] + iw * s + g % K
                if 0 <= oh < case["ho"] and 0 <= ow < case["wo"]:
                    out[oh, ow] += results[ih, iw, g]
    if case["bias_en"]:
        out += np.array(case["bias"])
    return np.maximum(out, 0) if case["relu"] else out


def draw_case(rng: random.Random, K: int) -> dict:
    """A layer (h, w, k, s, p, op) and a fold whose groups inside the kernel are active."""
    while True:
        k, s = rng.randint(1, 5), rng.randint(1, 3)
        h, w, p, op = rng.randint(1, 5), rng.randint(1, 5), rng.randint(0, k - 1), \
            rng.randint(0, s - 1)
        ho, wo = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
        if ho >= 1 and wo >= 1:
            break
    folds = list(range(0, k, K))
    kh0, kw0 = rng.choice(folds), rng.choice(folds)
    active = sum(1 << (gh * K + gw) for gh in range(K) for gw in range(K)
                 if kh0 + gh < k and kw0 + gw < k and rng.random() > 0.1)
    return {"cout": C, "h": h, "w": w, "s": s, "ho": ho, "wo": wo, "base_h": kh0 - p,
            "base_w": kw0 - p, "rows_in": min(K, k - kh0), "active": active,
            "accumulate": 0, "bias": [rng.randint(-50, 50) for _ in range(C)],
            "bias_en": rng.random() < 0.5, "relu": rng.random() < 0.5}


def run_cases(tile, cases, results, rng):
    """Every case back to back through one buffer; per case the emitted pixels (raster
    order), the counters and the stall cycles (a step offered and not taken)."""
    dut, G = OverlapAddBuffer(tile), tile.groups
    outcome = []

    async def testbench(ctx):
        for case, data in zip(cases, results):
            config = {key: value for key, value in case.items() if key != "w"}
            ctx.set(dut.pass_config, config)
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            ctx.set(dut.run, 1)
            steps = [(ih, iw) for ih in range(case["h"]) for iw in range(case["w"])]
            pixels, stalls = [], 0
            for _ in range(2000):
                offer = bool(steps) and rng.random() < 0.7
                if offer:
                    ih, iw = steps[0]
                    ctx.set(dut.i.payload.last, iw == case["w"] - 1)
                    for g in range(G):
                        ctx.set(dut.results[g], [int(v) for v in data[ih, iw, g]])
                ctx.set(dut.i.valid, offer)
                ctx.set(dut.o.ready, rng.random() < 0.7)
                *_, taken, out_valid, out_ready, beat, done = await ctx.tick().sample(
                    dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload, dut.done)
                if offer and taken:
                    steps.pop(0)
                stalls += offer and not taken
                if out_valid and out_ready:
                    pixels += [list(beat.pixels[n]) for n in range(beat.count)]
                if done and not steps:
                    break
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.run, 0)
            counters = {name: ctx.get(getattr(dut, name)) for name in
                        ("psum_buffer_reads", "psum_buffer_writes",
                         "psum_buffer_accumulations", "cropped_results", "out_reads")}
            outcome.append((pixels, counters, stalls, ctx.get(dut.done)))

    simulate(dut, testbench)
    return outcome


@pytest.mark.parametrize("tile", [TILE, WIDE], ids=["kernel3", "wide-port"])
def test_overlap_add_equals_the_naive_model(tile):
    print(f"seed={SEED}")
    K, G = tile.kernel, tile.groups
    rng = random.Random(SEED)
    cases = [draw_case(rng, K) for _ in range(12)]
    nprng = np.random.default_rng(SEED)
    lo, hi = -(1 << (tile.mvm_width - 1)), 1 << (tile.mvm_width - 1)
    results = [nprng.integers(lo, hi, size=(c["h"], c["w"], G, C)) for c in cases]
    for case, data, (pixels, counters, _, done) in zip(cases, results,
                                                        run_cases(tile, cases, results, rng)):
        assert done, case
        want = naive(case, data, K)
        assert np.array_equal(np.array(pixels).reshape(want.shape), want), case
        kept = sum(1 for ih in range(case["h"]) for iw in range(case["w"]) for g in range(G)
                   if case["active"] >> g & 1
                   and 0 <= case["base_h"] + ih * case["s"] + g // K < case["ho"]
                   and 0 <= case["base_w"] + iw * case["s"] + g % K < case["wo"])
        active = bin(case["active"]).count("1")
        outputs = case["ho"] * case["wo"]
        assert counters == {"psum_buffer_reads": (kept + outputs) * C,
                            "psum_buffer_writes": (kept + outputs) * C,
                            "psum_buffer_accumulations": kept * C,
                            "cropped_results": case["h"] * case["w"] * active - kept,
                            "out_reads": outputs}, case


def test_a_step_waits_for_the_row_it_would_overwrite():
    """k=3, s=3 on 5 input rows: Ho = 15 output rows through pf_rows = 6. With the output
    held back, the steps of input row 2 (output rows 6-8, sharing slots with rows 0-2)
    wait until the emitter has left rows 0-2; the result still equals the naive model."""
    case = {"cout": C, "h": 5, "w": 1, "s": 3, "ho": 15, "wo": 3, "base_h": 0, "base_w": 0,
            "rows_in": 3, "active": (1 << TILE.groups) - 1, "accumulate": 0, "bias": [0] * C,
            "bias_en": 0, "relu": 0}
    data = np.random.default_rng(SEED).integers(-100, 100, size=(5, 1, TILE.groups, C))
    (pixels, _, stalls, done), = run_cases(TILE, [case], [data], random.Random(SEED + 1))
    assert done and stalls > 0
    assert np.array_equal(np.array(pixels).reshape(15, 3, C), naive(case, data, TILE.kernel))
