"""RedTile in the Amaranth simulator: bit-exact layers in both modes, in one pass and in
many (cin and cout slices, kernel folds, strides past the kernel), with cycles and every
mirrored event counter equal to the analytical model.

The generated Verilog gets the same treatment on Icarus and Verilator in
``test_cocotb_tile.py``; this file keeps a fast check next to the source.
"""

import numpy as np
import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.golden import crossbar_deconv2d
from red.counters import TILE_COUNTERS
from red.mapping import schedule
from red.model import estimate
from red.rtl.layouts import layer_fields, weight_beats
from red.rtl.tile import RedTile
from red.verdict import model_differences

from _amaranth_sim import simulate

SEED = 77


def random_layers(tile, rng, count):
    layers = []
    while len(layers) < count:
        k = int(rng.integers(1, tile.kernel + 1))
        s = int(rng.integers(1, tile.max_stride + 1))
        try:
            layers.append(LayerSpec(int(rng.integers(1, tile.rows + 1)),
                                    int(rng.integers(1, tile.logical_cols + 1)),
                                    int(rng.integers(1, tile.max_in + 1)),
                                    int(rng.integers(1, tile.max_in + 1)),
                                    k, s, int(rng.integers(0, k)), int(rng.integers(0, s))))
        except ConfigError:
            continue
    return layers


async def run_pass(ctx, dut, tile, plan, run, mode, x, w, psum_beats):
    """One pass of ``plan``: program, stream, collect. The testbench only moves data:
    the partial-sum beats it feeds are the previous pass's output beats, unchanged.
    Returns the pass's output beats (raw) and the tile's counters."""
    layer = plan.pass_layer(run)
    ctx.set(dut.layer, layer_fields(layer, mode, run.kh0, run.kw0, run.accumulate))
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    weights = weight_beats(tile, plan.pass_weights(run, w)).tolist()
    xs = x[run.cin.start:run.cin.stop]
    pixels = [[int(v) for v in xs[:, r, c]] + [0] * (tile.rows - layer.cin)
              for r in range(layer.h) for c in range(layer.w)]
    psums = list(psum_beats)
    ctx.set(dut.o.ready, 1)
    beats = []
    for _ in range(50000):
        if ctx.get(dut.done):
            break
        ctx.set(dut.w.valid, bool(weights))
        if weights:
            ctx.set(dut.w.payload, weights[0])
        ctx.set(dut.i.valid, bool(pixels))
        if pixels:
            ctx.set(dut.i.payload, pixels[0])
        ctx.set(dut.ps.valid, bool(psums))
        if psums:
            ctx.set(dut.ps.payload, psums[0])
        *_, w_ready, i_ready, ps_ready, o_valid, beat = await ctx.tick().sample(
            dut.w.ready, dut.i.ready, dut.ps.ready, dut.o.valid, dut.o.payload)
        if weights and w_ready:
            weights.pop(0)
        if pixels and i_ready:
            pixels.pop(0)
        if psums and ps_ready:
            psums.pop(0)
        if o_valid:
            assert 1 <= beat.count <= tile.out_pixels
            beats.append(beat)
    assert not psums, f"pass {run.index}: {len(psums)} partial-sum beats not taken"
    counters = {name: ctx.get(getattr(dut, name)) for name in TILE_COUNTERS}
    return beats, counters


async def run_layer(ctx, dut, tile, layer, mode, x, w):
    """Every pass of the layer's schedule; returns ``y`` and the counters summed."""
    plan = schedule(layer, tile)
    y = np.zeros((layer.cout, layer.ho, layer.wo), dtype=np.int64)
    totals = dict.fromkeys(TILE_COUNTERS, 0)
    beats = []
    for run in plan:
        beats, counters = await run_pass(ctx, dut, tile, plan, run, mode, x, w,
                                         beats if run.accumulate else [])
        totals = {name: totals[name] + counters[name] for name in TILE_COUNTERS}
        if run.last:
            pixels = [[int(v) for v in beat.pixels[lane]][:len(run.cout)]
                      for beat in beats for lane in range(beat.count)]
            assert len(pixels) == layer.ho * layer.wo, f"{len(pixels)} output pixels"
            y[run.cout.start:run.cout.stop] = \
                np.array(pixels).reshape(layer.ho, layer.wo, -1).transpose(2, 0, 1)
    return y, totals


def check_layers(tile, layers, rng, crossbar="ff"):
    """Run ``layers`` in both modes; return the differences from the golden and the
    analytical model."""
    dut = RedTile(tile, crossbar=crossbar)
    problems = []

    async def testbench(ctx):
        for layer in layers:
            for mode in ("red", "zp"):
                x = rng.integers(tile.x_min, tile.x_max + 1, (layer.cin, layer.h, layer.w))
                w = rng.integers(tile.w_min, tile.w_max + 1,
                                 (layer.cin, layer.cout, layer.k, layer.k))
                y, counters = await run_layer(ctx, dut, tile, layer, mode, x, w)
                want = crossbar_deconv2d(x, w, layer.s, layer.p, layer.op, rows=tile.rows,
                                         cell_bits=tile.cell_bits, w_bits=tile.w_bits,
                                         in_bits=tile.in_bits, adc_bits=tile.adc_bits)
                where = f"{layer} {mode}"
                if not np.array_equal(y, want):
                    problems.append(f"{where}: output differs from golden")
                passes = len(schedule(layer, tile))
                for name, (rtl, model) in model_differences(counters, passes,
                                                       estimate(layer, tile, mode)).items():
                    problems.append(f"{where}: {name} {rtl} != model {model}")

    simulate(dut, testbench)
    return problems


@pytest.mark.parametrize("out_pixels", [1, 2, 3])
def test_layers_exact_and_timed(out_pixels):
    """Layers that fit one pass."""
    tile = TileConfig(rows=3, cols=8, cell_bits=2, w_bits=4, in_bits=3, adc_bits=3,
                      kernel=3, max_stride=3, max_in=5, out_pixels=out_pixels)
    seed = SEED + out_pixels
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    problems = check_layers(tile, random_layers(tile, rng, 6), rng)
    assert not problems, "\n".join(problems)


def test_passes_folds_and_large_strides():
    """Layers larger than the tile: cin over rows (a clipping ADC per row tile), cout
    over the logical columns, k over the kernel (folds), strides past the kernel."""
    tile = TileConfig(rows=3, cols=4, cell_bits=2, w_bits=4, in_bits=3, adc_bits=3,
                      kernel=2, max_stride=6, max_in=3, max_cin=8, max_k=5, out_pixels=4)
    layers = [LayerSpec(cin=4, cout=3, h=3, w=2, k=3, s=2, p=1, op=1),
              LayerSpec(cin=2, cout=1, h=2, w=2, k=5, s=6, p=2, op=3),
              LayerSpec(cin=1, cout=2, h=3, w=2, k=4, s=1, p=2),
              LayerSpec(cin=3, cout=1, h=2, w=1, k=2, s=4, p=0, op=2)]
    print(f"seed={SEED}")
    problems = check_layers(tile, layers, np.random.default_rng(SEED))
    assert not problems, "\n".join(problems)
