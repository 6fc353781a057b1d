"""The sweep part of ``make bench`` (:mod:`red.sim.bench`): the analytical model's time per
(tile, layer, mode) on every report layer, and the speed-up of ``red sweep``'s RTL
verification on 2 local workers over 1.

* model: :func:`red.model.estimate` of every layer of the report's networks on its
  report tile (:data:`red.report.plan.REPORT_TILES`) in every mode, each timed alone in
  this process with the model's caches cleared first (the time a sweep task pays);
* a model-only sweep: :data:`MODEL_SPEC`, 48 paper-crossbar variants x DCGAN's and
  FCN-8s's layers x RED, ZP and PF (1,008 points), on 2 local workers;
* RTL verification: :data:`SPEC` (small layers, ``verify = "all"``) swept on a
  ``LocalCluster`` of 1 and of 2 worker processes into fresh folders, after one run that
  builds the simulator models (cached); the ratio of the two wall times.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

__all__ = ["SPEC", "MODEL_SPEC", "model_times", "model_sweep", "verification_speedup",
           "render"]

#: The model-only sweep: 4 x 3 x 2 x 2 tiles x 7 layers x 3 modes = 1,008 points.
MODEL_SPEC = """\
modes = ["red", "zp", "pf"]
[tile]
rows = [32, 64, 128, 256]
cols = [64, 128, 256]
cell_bits = [1, 2]
adc_bits = [6, 8]
w_bits = 16
in_bits = 16
kernel = 5
max_stride = 8
max_in = 70
max_cin = 1024
max_k = 16
[layers]
workloads = ["dcgan", "fcn8s"]
"""

#: The verification sweep: 2 tiles x 3 layers x 2 modes, every point on the RTL.
SPEC = """\
modes = ["red", "zp"]
[tile]
rows = [8, 16]
cols = 16
kernel = 3
w_bits = 8
in_bits = 8
[layers]
shapes = ["cin=32,cout=8,h=16,w=16,k=3,s=2,p=1,op=1", "cin=16,cout=8,h=16,w=16,k=4,s=2,p=1,op=0",
          "cin=24,cout=6,h=16,w=16,k=5,s=2,p=2,op=1"]
[rtl]
verify = "all"
sim = "verilator"
"""


def model_times() -> dict:
    """Seconds of the model per (network, layer, mode), and the largest."""
    from red.model import estimate
    from red.modes import MODES
    from red.report.plan import REPORT_TILES
    from red.timing import _pass_timing
    from red.workloads import get_workload
    times = {}
    for network, tile in REPORT_TILES.items():
        for layer in get_workload(network):
            for mode in MODES:
                _pass_timing.cache_clear()
                start = time.perf_counter()
                estimate(layer, tile, mode)
                times[f"{layer.name} {mode}"] = time.perf_counter() - start
    slowest = max(times, key=times.get)
    return {"seconds": times, "points": len(times), "slowest": slowest,
            "slowest_s": times[slowest], "total_s": sum(times.values()),
            "over_0_1_s": sum(t > 0.1 for t in times.values())}


def _sweep(spec: Path, out: Path, workers: int) -> float:
    from red.sweep import prepare_folder, run_sweep
    from red.sweep_spec import load_spec
    start = time.perf_counter()
    points, _ = run_sweep(load_spec(spec), prepare_folder(out), workers=workers,
                          progress=lambda line: None)
    assert all(p["match"] and p["equals_model"] for p in points if p["source"] == "rtl")
    return time.perf_counter() - start


def model_sweep() -> dict:
    """Wall time of :data:`MODEL_SPEC` on 2 local workers."""
    with tempfile.TemporaryDirectory(prefix="red-bench-sweep-") as folder:
        root = Path(folder)
        spec = root / "spec.toml"
        spec.write_text(MODEL_SPEC)
        from red.sweep_spec import load_spec
        points = len(load_spec(spec).points)
        seconds = _sweep(spec, root / "out", 2)
    return {"points": points, "seconds": seconds}


def verification_speedup() -> dict:
    """Wall time of :data:`SPEC` on 1 and on 2 local workers, builds cached."""
    with tempfile.TemporaryDirectory(prefix="red-bench-sweep-") as folder:
        root = Path(folder)
        spec = root / "spec.toml"
        spec.write_text(SPEC)
        _sweep(spec, root / "warm", 2)                 # builds both tiles' models
        one = _sweep(spec, root / "one", 1)
        two = _sweep(spec, root / "two", 2)
    return {"rtl_points": 12, "one_worker_s": one, "two_workers_s": two,
            "speedup": one / two}


def render(model: dict, sweep: dict, rtl: dict) -> list[str]:
    return [
        "sweep:",
        f"  model-only sweep  {sweep['points']:,} points on 2 workers in {sweep['seconds']:.1f} s "
        "(target 120 s)",
        f"  model             {model['points']} (report layer, mode) points in "
        f"{model['total_s']:.1f} s; slowest {model['slowest']} {model['slowest_s']:.2f} s; "
        f"{model['over_0_1_s']} over the 0.1 s target",
        f"  RTL verification  {rtl['rtl_points']} points: 1 worker {rtl['one_worker_s']:.1f} s, "
        f"2 workers {rtl['two_workers_s']:.1f} s, speed-up {rtl['speedup']:.2f}x "
        "(target 1.7x on 2 cores)",
        "",
    ]
