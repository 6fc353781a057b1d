"""RedTile in the Amaranth simulator: bit-exact layers in both modes, compute cycles,
and total cycles equal to the timing model, for several output beat widths.

The generated Verilog gets the same treatment on Icarus and Verilator in
``test_cocotb_tile.py``; this file keeps a fast check next to the source.
"""

import numpy as np
import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.golden import crossbar_deconv2d
from red.model import estimate
from red.rtl.layouts import layer_fields, weight_beats
from red.rtl.tile import RedTile

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


@pytest.mark.parametrize("out_pixels", [1, 2, 3])
def test_layers_exact_and_timed(out_pixels):
    tile = TileConfig(rows=3, cols=8, cell_bits=2, w_bits=4, in_bits=3, adc_bits=3,
                      kernel=3, max_stride=3, max_in=5, out_pixels=out_pixels)
    seed = SEED + out_pixels
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    dut = RedTile(tile, crossbar="ff")
    problems = []

    async def testbench(ctx):
        for layer in random_layers(tile, rng, 6):
            for mode in ("red", "zp"):
                x = rng.integers(tile.x_min, tile.x_max + 1, (layer.cin, layer.h, layer.w))
                w = rng.integers(tile.w_min, tile.w_max + 1,
                                 (layer.cin, layer.cout, layer.k, layer.k))
                ctx.set(dut.layer, layer_fields(layer, mode))
                ctx.set(dut.start, 1)
                await ctx.tick()
                ctx.set(dut.start, 0)
                weights = weight_beats(tile, w).tolist()
                pixels = [[int(v) for v in x[:, r, c]] + [0] * (tile.rows - layer.cin)
                          for r in range(layer.h) for c in range(layer.w)]
                ctx.set(dut.o.ready, 1)
                outputs = []
                for _ in range(20000):
                    if ctx.get(dut.done):
                        break
                    ctx.set(dut.w.valid, bool(weights))
                    if weights:
                        ctx.set(dut.w.payload, weights[0])
                    ctx.set(dut.i.valid, bool(pixels))
                    if pixels:
                        ctx.set(dut.i.payload, pixels[0])
                    *_, w_ready, i_ready, o_valid, beat = await ctx.tick().sample(
                        dut.w.ready, dut.i.ready, dut.o.valid, dut.o.payload)
                    if weights and w_ready:
                        weights.pop(0)
                    if pixels and i_ready:
                        pixels.pop(0)
                    if o_valid:
                        assert 1 <= beat.count <= out_pixels
                        outputs += [[int(v) for v in beat.pixels[lane]][:layer.cout]
                                    for lane in range(beat.count)]
                want = crossbar_deconv2d(x, w, layer.s, layer.p, layer.op, rows=tile.rows,
                                         cell_bits=tile.cell_bits, w_bits=tile.w_bits,
                                         in_bits=tile.in_bits, adc_bits=tile.adc_bits)
                where = f"{layer} {mode}"
                if len(outputs) != layer.ho * layer.wo:
                    problems.append(f"{where}: {len(outputs)} outputs")
                    continue
                got = np.array(outputs).reshape(layer.ho, layer.wo, layer.cout).transpose(2, 0, 1)
                if not np.array_equal(got, want):
                    problems.append(f"{where}: output differs from golden")
                model = estimate(layer, tile, mode)
                for name in ("compute_cycles", "total_cycles"):
                    if ctx.get(getattr(dut, name)) != getattr(model, name):
                        problems.append(f"{where}: {name} {ctx.get(getattr(dut, name))} != "
                                        f"model {getattr(model, name)}")

    simulate(dut, testbench)
    assert not problems, "\n".join(problems)
