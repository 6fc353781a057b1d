"""Regression of the generated RED tile on Icarus and Verilator.

One build per (tile, simulator); every layer of a seeded random set runs in RED and ZP
mode on the same data, back to back in one simulation, with random input gaps and
output back-pressure. Each output is compared bit for bit with ``red.golden``; the
compute-cycle counter must equal the formula, and the event counters the model. On the
``passes`` tile the layers exceed the tile (input channels over its rows, output
channels over its logical columns, kernels over its kernel, strides up to 8) and run in
passes whose partial sums the tile adds.
"""

import math

import numpy as np
import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.model import estimate
from red.modes import MODES
from red.sim import DEFAULT_SIMULATOR, SIMULATORS
from red.sim.pacing import PACINGS, Pacing
from red.sim.session import PATHS, LayerRun, random_layer_data, simulate_layers
from red.verdict import model_differences

from _cases import cases

SEED = 2019

TILES = {
    "lossless": TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3,
                           max_stride=4, max_in=6),
    "clipping": TileConfig(rows=4, cols=12, cell_bits=1, w_bits=3, in_bits=3, adc_bits=2,
                           kernel=3, max_stride=4, max_in=6, out_pixels=2),
    # 2 rows, 2 logical columns, a 2x2 kernel and a clipping ADC: layers in passes.
    "passes": TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=3, adc_bits=2,
                         kernel=2, max_stride=8, max_in=4, max_cin=5, max_k=5,
                         out_pixels=4),
}

#: Largest (cin, cout, k) drawn per tile: one pass on the first two, several on the last.
LIMITS = {"lossless": (4, 4, 3), "clipping": (4, 4, 3), "passes": (5, 5, 5)}


def random_layers(tile: TileConfig, limits: tuple[int, int, int], rng: np.random.Generator,
                  count: int):
    """Valid random layers within ``limits``; the first ones pin the corner cases."""
    cin_max, cout_max, K = limits
    S, M = tile.max_stride, tile.max_in
    pinned = [
        LayerSpec(cin=cin_max, cout=cout_max, h=M, w=M - 1, k=K, s=2, p=K - 1,
                  op=1),                                               # limits, p = k-1
        LayerSpec(cin=1, cout=1, h=1, w=1, k=1, s=1),                  # 1x1, k = 1
        LayerSpec(cin=2, cout=3, h=2, w=3, k=2, s=S, p=1, op=S - 1),   # s > k, op = s-1
        LayerSpec(cin=3, cout=2, h=3, w=1, k=K, s=1, p=1),             # non-square, s = 1
    ]
    layers = list(pinned)
    while len(layers) < count:
        k = int(rng.integers(1, K + 1))
        s = int(rng.integers(1, S + 1))
        try:
            layers.append(LayerSpec(
                cin=int(rng.integers(1, cin_max + 1)),
                cout=int(rng.integers(1, cout_max + 1)),
                h=int(rng.integers(1, M + 1)), w=int(rng.integers(1, M + 1)),
                k=k, s=s, p=int(rng.integers(0, k)), op=int(rng.integers(0, s))))
        except ConfigError:      # empty output: draw again
            continue
    return layers


def make_runs(tile: TileConfig, seed: int, count: int, limits=None):
    """RED, ZP and PF runs of random layers, on the same data; ``limits`` (cin, cout, k)
    default to one pass of ``tile``."""
    limits = limits or (tile.rows, tile.logical_cols, tile.kernel)
    rng = np.random.default_rng(seed)
    runs = []
    for layer in random_layers(tile, limits, rng, count):
        x, w = random_layer_data(layer, tile, rng)
        runs += [LayerRun(layer, mode, x, w) for mode in MODES]
    return runs


# The fast path on Icarus is slow-marked here: the early-termination, sparse, paper-tile,
# waveform and command-line tests run it in the default suite.
@pytest.mark.parametrize("tile_name, sim, path", cases(TILES, {
    (tile, sim, path) for tile in TILES for sim in SIMULATORS for path in PATHS
    if (sim, path) != ("icarus", "harness")}))
def test_tile_regression(tile_name, sim, path, tmp_path):
    """30% input gaps and back-pressure: from cocotb agents per cycle (``agents``), or
    from the harness's hardware generators (``harness``, the fast path)."""
    tile = TILES[tile_name]
    seed = SEED + sorted(TILES).index(tile_name)
    print(f"seed={seed} sim={sim} tile={tile} path={path}")
    runs = make_runs(tile, seed, count=10 if tile_name != "passes" else 6,
                     limits=LIMITS[tile_name])
    results, _ = simulate_layers(tile, runs, sim=sim, work_dir=tmp_path, seed=seed,
                                 stall=0.3, path=path)
    assert len(results) == len(runs)
    problems = []
    for result in results:
        layer, mode = result.run.layer, result.run.mode
        where = f"{layer} {mode}"
        if not result.match:
            diff = np.argwhere(result.y != result.y_golden)
            problems.append(f"{where}: {len(diff)} outputs differ, first at {diff[0].tolist()}")
        counters = result.counters
        passes = _passes_by_hand(layer, tile)
        steps = passes * {"red": layer.nb_h * layer.nb_w, "zp": layer.ho * layer.wo,
                          "pf": layer.h * layer.w}[mode]
        if counters["steps"] != steps or counters["compute_cycles"] != steps * tile.in_bits:
            problems.append(f"{where}: steps {counters['steps']}, compute "
                            f"{counters['compute_cycles']}; expected {steps}, "
                            f"{steps * tile.in_bits}")
        model = estimate(layer, tile, mode)
        # With stalls the events and the compute cycles still equal the model.
        for name, (rtl, modelled) in model_differences(counters, result.passes, model,
                                                  cycles=False).items():
            problems.append(f"{where}: {name} RTL {rtl} != model {modelled}")
        if counters["compute_cycles"] != model.compute_cycles:
            problems.append(f"{where}: compute cycles RTL {counters['compute_cycles']} != "
                            f"model {model.compute_cycles}")
        if counters["total_cycles"] < model.total_cycles:
            problems.append(f"{where}: total {counters['total_cycles']} below the "
                            f"stall-free model's {model.total_cycles}")
        if counters["line_buffer_writes"] != passes * layer.h * layer.w:
            problems.append(f"{where}: {counters['line_buffer_writes']} pixels buffered")
        # Every output pixel leaves the output banks (RED, ZP) once per pass; PF clears
        # each value of its pass's cout slice as it emits it.
        if mode == "pf":
            cout_tiles = -(-layer.cout // tile.logical_cols)
            cleared = counters["psum_buffer_writes"] - counters["psum_buffer_accumulations"]
            if cleared != passes // cout_tiles * layer.ho * layer.wo * layer.cout:
                problems.append(f"{where}: {cleared} output values emitted")
        elif counters["out_buffer_reads"] != passes * layer.ho * layer.wo:
            problems.append(f"{where}: {counters['out_buffer_reads']} pixels emitted")
    # The modes ran on the same data: identical outputs, clipping ADC included.
    for runs in zip(*(results[n::len(MODES)] for n in range(len(MODES)))):
        if any(not np.array_equal(runs[0].y, other.y) for other in runs[1:]):
            problems.append(f"{runs[0].run.layer}: the modes' outputs differ")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("tile_name", sorted(TILES))
def test_total_cycles_equal_model(tile_name, sim, tmp_path):
    """Without input gaps or back-pressure the model predicts total cycles exactly."""
    tile = TILES[tile_name]
    seed = SEED + 100 + sorted(TILES).index(tile_name)
    print(f"seed={seed} sim={sim} tile={tile}")
    runs = make_runs(tile, seed, count=6, limits=LIMITS[tile_name])
    results, _ = simulate_layers(tile, runs, sim=sim,
                                 work_dir=tmp_path, seed=seed, stall=0.0)
    got = [(str(r.run.layer), r.run.mode, r.counters["total_cycles"]) for r in results]
    want = [(str(r.run.layer), r.run.mode,
             estimate(r.run.layer, tile, r.run.mode).total_cycles) for r in results]
    assert got == want
    assert all(r.match for r in results)


@pytest.mark.parametrize("sim", SIMULATORS)
def test_reset_mid_layer(sim, tmp_path):
    tile = TILES["lossless"]
    runs = make_runs(tile, SEED + 7, count=2)[:3]
    simulate_layers(tile, runs, sim=sim, work_dir=tmp_path, seed=SEED,
                    testcase="reset_mid_layer", path="agents")


#: Hold-off probability of the ``random`` pacing in :func:`test_pacing`.
RANDOM_HOLD_OFF = 0.3


def _pacing(kind: str) -> Pacing:
    return Pacing(kind, RANDOM_HOLD_OFF if kind == "random" else 0.0)


@pytest.mark.parametrize("backpressure", PACINGS)
@pytest.mark.parametrize("idle", PACINGS)
def test_pacing(idle, backpressure, tmp_path):
    """The input drivers' idle generator and the output's back-pressure generator,
    crossed (none, the fixed pattern, random), on layers in passes (so the partial-sum
    driver runs too): every output equals the golden model and the events and compute
    cycles the model; total cycles equal the model exactly when neither generator holds
    off and exceed it otherwise; each generator held off exactly when it was meant to."""
    tile, sim = TILES["passes"], DEFAULT_SIMULATOR
    seed = SEED + 200
    print(f"seed={seed} sim={sim} tile={tile} idle={idle} backpressure={backpressure}")
    runs = make_runs(tile, seed, count=2, limits=LIMITS["passes"])
    results, _ = simulate_layers(tile, runs, sim=sim, work_dir=tmp_path, seed=seed,
                                 path="agents", idle=_pacing(idle),
                                 backpressure=_pacing(backpressure))
    assert [r.match for r in results] == [True] * len(runs)
    total, modelled = 0, 0
    for result in results:
        model = estimate(result.run.layer, tile, result.run.mode)
        assert not model_differences(result.counters, result.passes, model, cycles=False)
        assert result.counters["compute_cycles"] == model.compute_cycles
        total += result.counters["total_cycles"]
        modelled += model.total_cycles
    held = {key: sum(r.held[key] for r in results)
            for key in ("idle_cycles", "backpressure_cycles")}
    assert (held["idle_cycles"] > 0) == (idle != "none"), held
    assert (held["backpressure_cycles"] > 0) == (backpressure != "none"), held
    if idle == backpressure == "none":
        assert total == modelled
    else:
        assert total > modelled


def _passes_by_hand(layer, tile) -> int:
    """Passes from the mapping's definition (RED_TILE.md): input channels in slices of
    ``rows``, output channels in slices of the weights a crossbar row holds
    (``cols`` cells of ``w_bits / cell_bits`` each), and the kernel in folds of
    ``kernel x kernel`` taps."""
    weights_per_row = tile.cols // (tile.w_bits // tile.cell_bits)
    return (math.ceil(layer.cin / tile.rows) * math.ceil(layer.cout / weights_per_row)
            * math.ceil(layer.k / tile.kernel) ** 2)
