"""The sweep part of ``make bench`` (:mod:`red.sim.bench`): the analytical model's time per
(tile, layer, mode) on every report layer, and the speed-up of ``red sweep``'s RTL
verification on 2 local workers over 1.

* model: :func:`red.model.estimate` of every layer of the report's networks on its
  report tile (:data:`red.report.plan.REPORT_TILES`) in every mode, each timed alone in
  this process with the model's caches cleared first (the time a sweep task pays);
* RTL verification: :data:`SPEC` (small layers, ``verify = "all"``) swept on a
  ``LocalCluster`` of 1 and of 2 worker processes into fresh folders, after one run that
  builds the simulator models (cached); the ratio of the two wall times.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

__all__ = ["SPEC", "model_times", "verification_speedup", "render"]

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


def render(model: dict, rtl: dict) -> list[str]:
    return [
        "sweep:",
        f"  model             {model['points']} (report layer, mode) points in "
        f"{model['total_s']:.1f} s; slowest {model['slowest']} {model['slowest_s']:.2f} s; "
        f"{model['over_0_1_s']} over the 0.1 s target",
        f"  RTL verification  {rtl['rtl_points']} points: 1 worker {rtl['one_worker_s']:.1f} s, "
        f"2 workers {rtl['two_workers_s']:.1f} s, speed-up {rtl['speedup']:.2f}x "
        "(target 1.7x on 2 cores)",
        "",
    ]
