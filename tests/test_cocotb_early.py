"""Output stage and CompRRAE early termination on the generated tile, Icarus and
Verilator, both testbench paths.

Each layer runs with a bias and ReLU in RED and ZP mode with early termination off,
negative and approx. Every output equals the golden model bit for bit
(``red.golden.early_deconv2d``; with ``negative`` that is ``relu(sum + bias)`` exactly,
on a lossless and on a clipping ADC), every counter (cycles too, without stalls) equals
``red.model.early_estimate``, and ``negative`` converts less than ``off`` on the same
data. On the ``passes`` tile the layers run in several passes: the bias is added once
per output and ReLU after the last pass. A layer with several cin slices decides in the
last pass of each cout slice, on the partial sums of the passes before it (the tile's
partial-sum bank); one with kernel folds, or whose stride exceeds the kernel, decides
nothing.
"""

import dataclasses

import numpy as np
import pytest

from red.config import LayerSpec, TileConfig
from red.early import EarlySpec, OutputStage, early_applies
from red.golden import crossbar_deconv2d, deconv2d, early_deconv2d
from red.model import early_estimate, estimate
from red.sim.session import LayerRun, random_layer_data, simulate_layers
from red.verdict import model_differences

from _cases import cases

SEED = 1906

# Tiles with the early-termination hardware (early_termination=1).
TILES = {
    "lossless": TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=5, kernel=3,
                           max_stride=4, max_in=6, early_termination=1),
    "clipping": TileConfig(rows=4, cols=12, cell_bits=1, w_bits=3, in_bits=4, adc_bits=2,
                           kernel=3, max_stride=4, max_in=6, out_pixels=2,
                           early_termination=1),
    "passes": TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=3, kernel=3,
                         max_stride=4, max_in=4, max_cin=5, max_k=4, early_termination=1),
}

LAYERS = {
    "lossless": [LayerSpec(cin=4, cout=4, h=4, w=5, k=3, s=2, p=1, op=1),
                 LayerSpec(cin=3, cout=2, h=3, w=3, k=2, s=3, p=0),     # s > k: gated steps
                 LayerSpec(cin=2, cout=3, h=3, w=2, k=3, s=1, p=1)],
    "clipping": [LayerSpec(cin=4, cout=4, h=4, w=4, k=3, s=2, p=1, op=1),
                 LayerSpec(cin=3, cout=3, h=2, w=3, k=3, s=3, p=2, op=2)],
    "passes": [LayerSpec(cin=5, cout=3, h=3, w=4, k=3, s=2, p=1, op=1),   # decides
               LayerSpec(cin=4, cout=2, h=3, w=2, k=2, s=1, p=0),         # decides
               LayerSpec(cin=2, cout=4, h=2, w=3, k=4, s=2, p=1),         # folds
               LayerSpec(cin=3, cout=2, h=2, w=2, k=3, s=4, p=0)],        # s > kernel
}

SPECS = (EarlySpec("off"), EarlySpec("negative"), EarlySpec.parse("approx:0.2"))


def layer_runs(tile: TileConfig, rng: np.random.Generator) -> list[LayerRun]:
    """Per layer: ReLU-fed (non-negative) inputs on half the layers, a bias that leans
    negative, every mode and early setting on the same data."""
    runs = []
    for n, layer in enumerate(LAYERS[tile_name_of(tile)]):
        x, w = random_layer_data(layer, tile, rng)
        if n % 2 == 0:
            x = np.abs(x) // 2
        bias = rng.integers(-(1 << (tile.in_bits + tile.w_bits)), 1 << tile.in_bits,
                            layer.cout)
        runs += [LayerRun(layer, mode, x, w, OutputStage(bias, True, spec))
                 for mode in ("red", "zp") for spec in SPECS]
    return runs


def tile_name_of(tile: TileConfig) -> str:
    return next(name for name, t in TILES.items() if t == tile)


# The default suite keeps each tile on one simulator and both simulators on one tile,
# through the fast path.
@pytest.mark.parametrize("tile_name, sim, path", cases(TILES, {
    ("lossless", "verilator", "harness"), ("lossless", "icarus", "harness"),
    ("clipping", "verilator", "harness"), ("passes", "verilator", "harness")}))
def test_early_termination(tile_name, sim, path, tmp_path):
    tile = TILES[tile_name]
    seed = SEED + sorted(TILES).index(tile_name)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    runs = layer_runs(tile, rng)
    if sim == "icarus":
        # Icarus evaluates the bounds' logic event by event, about 17 cycles/s with
        # early termination on the small tile: the first layer's RED runs only.
        runs = [run for run in runs[:len(runs) // len(LAYERS[tile_name])]
                if run.mode == "red"]
    stall = 0.3 if path == "agents" else 0.0
    results, _ = simulate_layers(tile, runs, sim=sim, work_dir=tmp_path, seed=seed,
                                 stall=stall, path=path)
    conversions = {}
    for result in results:
        run, layer = result.run, result.run.layer
        stage = run.stage
        params = tile.crossbar_params
        exact = crossbar_deconv2d(run.x, run.w, layer.s, layer.p, layer.op, bias=stage.bias,
                                  relu=True, **params)
        if tile.lossless:
            assert np.array_equal(exact, deconv2d(run.x, run.w, layer.s, layer.p, layer.op,
                                                  bias=stage.bias, relu=True))
        name = f"{layer} {run.mode} early={stage.early}"
        assert result.match, f"{name}: RTL != golden"
        if stage.early.mode != "approx":
            assert np.array_equal(result.y, exact), f"{name}: not relu(sum + bias)"
        assert result.passes > 1 or tile_name != "passes"
        if early_applies(layer, tile, EarlySpec("negative")):
            outcome = early_deconv2d(run.x, run.w, layer.s, layer.p, layer.op, flow=run.mode,
                                     early=stage.early, bias=stage.bias, relu=True, **params)
            assert np.array_equal(result.y, outcome.y)
            estimate = early_estimate(layer, tile, run.mode, stage.early, outcome)
        else:
            assert tile_name == "passes"
            estimate = early_estimate(layer, tile, run.mode, EarlySpec(), None)
        assert model_differences(result.counters, result.passes, estimate,
                                 cycles=not stall) == {}, name
        conversions[layer, run.mode, stage.early.mode] = result.counters["adc_conversions"]
    decided_somewhere = False
    for layer, mode, early in conversions:
        off = conversions[layer, mode, "off"]
        if not early_applies(layer, tile, EarlySpec("negative")):
            assert conversions[layer, mode, early] == off
        elif early == "negative" and mode == "red":
            assert conversions[layer, mode, early] < off, (layer, mode)
            decided_somewhere |= tile_name == "passes"
    assert decided_somewhere or tile_name != "passes"


def test_tile_without_the_hardware_runs_early_off(tmp_path):
    """A tile generated without early termination (``early_termination=0``) ignores the
    layer's setting: its output is the plain ``relu(sum + bias)``, no output is decided,
    and its counters equal the model of the run with early termination off."""
    with_unit = TILES["lossless"]
    tile = dataclasses.replace(with_unit, early_termination=0)
    print(f"seed={SEED}")
    runs = [run for run in layer_runs(with_unit, np.random.default_rng(SEED))
            if run.stage.early.on][:2]
    assert {run.stage.early.mode for run in runs} == {"negative", "approx"}
    results, _ = simulate_layers(tile, runs, sim="verilator", work_dir=tmp_path, seed=SEED)
    for result in results:
        run, layer = result.run, result.run.layer
        assert not early_applies(layer, tile, run.stage.early)
        assert result.match
        assert np.array_equal(result.y, deconv2d(run.x, run.w, layer.s, layer.p, layer.op,
                                                 bias=run.stage.bias, relu=True))
        assert result.counters["decided_outputs"] == result.counters["skipped_conversions"] \
            == result.counters["skipped_cycles"] == 0
        assert model_differences(result.counters, result.passes,
                            estimate(layer, tile, run.mode)) == {}
