"""``red sweep``: a design-space sweep on Dask's ``distributed``, resumable, with RTL
verification of chosen points.

Every point of the specification (:mod:`red.sweep_spec`) is one task on the cluster: its
model figures (cycles, events, energy: :func:`red.model.estimate`,
:mod:`red.energy`). The points chosen for verification (``[rtl] verify``) are one more
task each: the layer on the RTL with seeded data (:func:`red.simulate.simulate`),
bit-exact against the golden model and with cycles equal to the model. The cluster is a
``LocalCluster`` of ``workers`` processes, or an existing one at ``scheduler`` (for
example from ``dask-jobqueue``); a task whose worker dies is run again elsewhere
(``retries``), and the simulator builds are cached per configuration and safe when
several workers build one at once (:func:`red.cache.entry`).

**Resumable.** Each finished task is written at once, atomically, by this process (never
by a worker), to ``DIR/points/KEY.json`` or ``DIR/rtl/KEY.json``, ``KEY`` a content hash of
the point (tile, workload, layer, mode) and of red's source. A rerun of the same
specification into the same folder computes only what is missing (a file that does not
read back as its point's is computed again); Ctrl-C keeps every finished point.

``verify = "pareto"`` verifies, per layer, the points on the Pareto front of cycles and
energy among that layer's valid RTL-mode points; an integer ``N`` a sample of ``N`` of
them drawn with ``[rtl] seed``. With ``[area] synthesise = true`` every valid tile is
synthesised once (a task, :func:`tile_area_task`, ``DIR/area/KEY.json``) and its points
carry ``area_mm2``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .config import ConfigError, TileConfig
from .modes import RTL_MODES
from .sweep_spec import Point, SweepSpec

__all__ = ["SweepRun", "run_sweep", "point_key", "source_version", "model_point",
           "verify_point", "tile_area_task", "pareto_front", "FOLDER_MARK", "ClusterError"]

#: The file that marks a folder as a sweep's (a rerun may add to it).
FOLDER_MARK = ".red-sweep"

#: Times a task is run again when its worker dies.
RETRIES = 3


def source_version() -> str:
    """A hash of red's source (every module and Verilog file of its packages)."""
    import red
    from red import gen, rtl, sim
    digest = hashlib.sha256()
    for package in (red, rtl, gen, sim):
        root = Path(package.__file__).parent
        for path in sorted(root.glob("*")):
            if path.suffix in (".py", ".v", ".vlt") and path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def content_key(content: dict, version: str) -> str:
    """The hash naming a task's file: of what it computes and of red's source."""
    text = json.dumps({**content, "version": version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def point_key(point: Point, version: str) -> str:
    """The content hash naming the point's files."""
    return content_key(point.describe(), version)


def model_point(point: Point) -> dict:
    """The model figures of ``point`` (a task: runs on a worker)."""
    from .energy import energy_from_estimate
    from .model import estimate
    entry = point.describe()
    if point.invalid is not None:
        return entry | {"valid": False, "reason": point.invalid}
    tile, layer = TileConfig(**point.tile), point.layer
    started = time.perf_counter()
    model = estimate(layer, tile, point.mode)
    energy = energy_from_estimate(model, layer, tile)
    return entry | {"valid": True, "total_cycles": model.total_cycles,
                    "compute_cycles": model.compute_cycles,
                    "events": {k: v for k, v in model.as_dict().items()
                               if isinstance(v, int) and not k.endswith("_cycles")},
                    "energy_pj": energy.total, "energy": energy.as_dict(),
                    "model_seconds": time.perf_counter() - started}


def verify_point(point: Point, sim: str, seed: int) -> dict:
    """``point`` on the RTL with data seeded by ``seed`` (a task: runs on a worker, in
    a temporary folder of its own)."""
    from .simulate import SimJob, simulate
    from red.sim.session import LayerRun, random_layer_data
    tile, layer = TileConfig(**point.tile), point.layer
    try:
        tile.check_generable()
    except ConfigError as exc:
        return {"verified": False, "reason": f"not generable: {exc}"}
    x, w = random_layer_data(layer, tile, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory(prefix="red-sweep-") as folder:
        report = simulate(SimJob(LayerRun(layer, point.mode, x, w), tile, sim=sim, seed=seed),
                          Path(folder))
    counters = report.counters
    return {"verified": True, "match": report.verdict.golden_match, "sim": sim, "seed": seed,
            "total_cycles": counters["total_cycles"],
            "compute_cycles": counters["compute_cycles"],
            "model_total_cycles": report.estimate.total_cycles,
            "equals_model": not report.problems, "problems": report.problems}


def tile_area_task(tile: dict) -> dict:
    """The synthesised area of ``tile`` (a task: one Yosys process on a worker, cached
    per module like ``red area``), or why there is none."""
    from red.gen.area import SynthesisError, tile_area
    config = TileConfig(**tile)
    try:
        config.check_generable()
        area = tile_area(config, "macro", jobs=1)
    except (ConfigError, SynthesisError) as exc:
        return {"area_mm2": None, "reason": " ".join(str(exc).split())}
    return {"area_mm2": area["total_um2"] / 1e6, "logic_mm2": area["logic_um2"] / 1e6,
            "macro_mm2": area["macro_um2"] / 1e6}


def pareto_front(values: list[tuple[float, float]]) -> list[bool]:
    """Whether each ``(cost, cost)`` pair is on the Pareto front (no other pair is at
    most as large in both and smaller in one)."""
    return [not any(a2 <= a and b2 <= b and (a2, b2) != (a, b) for a2, b2 in values)
            for a, b in values]


class _Store:
    """The sweep's folder: one JSON file per finished task, written atomically."""

    def __init__(self, out: Path):
        self.out = out
        for sub in ("points", "rtl", "area"):
            (out / sub).mkdir(exist_ok=True)

    def path(self, kind: str, key: str) -> Path:
        return self.out / kind / f"{key}.json"

    def read(self, kind: str, key: str) -> dict | None:
        """The stored result, or ``None`` when missing or not this key's (corrupt)."""
        try:
            data = json.loads(self.path(kind, key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("key") == key else None

    def write(self, kind: str, key: str, data: dict) -> None:
        write_atomically(self.path(kind, key), json.dumps({**data, "key": key}, indent=1))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prepare_folder(out: str | Path) -> Path:
    """``out`` as a sweep folder: new, empty, or an earlier sweep's (marked)."""
    from .outdir import check_writable_folder
    folder = check_writable_folder(out, "--out")
    mark = folder / FOLDER_MARK
    if not mark.exists():
        if any(folder.iterdir()):
            raise ConfigError(f"--out {folder}: not empty and not a red sweep's folder "
                              f"(no {FOLDER_MARK}); give a new or empty folder")
        mark.write_text("red sweep results: a rerun computes only what is missing\n")
    return folder


class SweepRun:
    """One execution of a specification into a folder (see the module docstring)."""

    def __init__(self, spec: SweepSpec, out: Path, client,
                 progress: Callable[[str], None]):
        self.spec, self.client, self.progress = spec, client, progress
        self.store = _Store(out)
        self.version = source_version()
        self.keys = [point_key(point, self.version) for point in spec.points]
        self.computed = {"points": 0, "rtl": 0, "area": 0}

    def _gather(self, kind: str, jobs: dict[str, tuple], what: str,
                verb: str) -> dict[str, dict]:
        """The result of every job (key -> (function, *args)) of ``kind``: stored ones
        read, the rest run on the cluster and stored as each arrives, with a progress line
        at most every second (``what`` names the jobs, ``verb`` what running does)."""
        from distributed import as_completed
        results, tasks = {}, {}
        for key, job in jobs.items():
            stored = self.store.read(kind, key)
            if stored is not None:
                results[key] = stored
            else:
                tasks[key] = job
        self.progress(f"{len(jobs)} {what}: {len(results)} already in the folder, "
                      f"{len(tasks)} to {verb}")
        futures = {self.client.submit(fn, *args, pure=False, retries=RETRIES,
                                      key=f"red-{kind}-{key}"): key
                   for key, (fn, *args) in tasks.items()}
        started, last, done = time.monotonic(), 0.0, 0
        for future in as_completed(futures):
            key = futures[future]
            results[key] = future.result()
            self.store.write(kind, key, results[key])
            self.computed[kind] += 1
            done += 1
            now = time.monotonic()
            if now - last >= 1 or done == len(futures):
                left = (now - started) / done * (len(futures) - done)
                running = len(futures) - done
                self.progress(f"{kind}: {done}/{len(futures)} done, "
                              f"{running if kind == 'rtl' else 0} RTL run(s) in flight, "
                              f"about {left:.0f} s left")
                last = now
        return results

    def models(self) -> dict[str, dict]:
        """Every point's model figures."""
        return self._gather("points", {key: (model_point, point) for key, point
                                       in zip(self.keys, self.spec.points)}, "points", "model")

    def chosen(self, models: dict[str, dict]) -> list[str]:
        """The keys of the points to verify on the RTL (``[rtl] verify``)."""
        verify = self.spec.verify
        candidates = [key for key, point in zip(self.keys, self.spec.points)
                      if models[key]["valid"] and point.mode in RTL_MODES]
        if verify == "none":
            return []
        if verify == "all":
            return candidates
        if verify == "pareto":
            chosen = []
            by_layer: dict[str, list[str]] = {}
            for key in candidates:
                entry = models[key]
                layer_id = json.dumps([entry["workload"], entry["layer"]], sort_keys=True)
                by_layer.setdefault(layer_id, []).append(key)
            for keys in by_layer.values():
                front = pareto_front([(models[k]["total_cycles"], models[k]["energy_pj"])
                                      for k in keys])
                chosen += [k for k, on in zip(keys, front) if on]
            return chosen
        rng = np.random.default_rng(self.spec.seed)
        picked = rng.choice(len(candidates), size=min(verify, len(candidates)), replace=False)
        return [candidates[i] for i in sorted(picked)]

    def verifications(self, keys: list[str]) -> dict[str, dict]:
        """The RTL result of every chosen point."""
        points = dict(zip(self.keys, self.spec.points))
        return self._gather("rtl", {
            key: (verify_point, points[key], self.spec.sim,
                  (self.spec.seed + int(key[:8], 16)) % (1 << 32)) for key in keys},
            "point(s) to verify on the RTL", f"simulate on {self.spec.sim}")

    def areas(self) -> dict[str, dict]:
        """Per tile key, its synthesised area (``[area] synthesise``), one task per valid
        tile."""
        return self._gather("area", {
            self.tile_key(point.tile): (tile_area_task, point.tile)
            for point in self.spec.points
            if point.invalid is None or point.invalid.startswith("layer")},
            "tile(s) to price in area", "synthesise")

    def tile_key(self, tile: dict) -> str:
        return content_key({"tile": tile}, self.version)

    def execute(self) -> list[dict]:
        """Model every point, verify the chosen ones, price the tiles' area when asked;
        the points of ``sweep.json``."""
        models = self.models()
        rtl = self.verifications(self.chosen(models))
        areas = self.areas() if self.spec.area else {}
        points = []
        for key, point in zip(self.keys, self.spec.points):
            entry = {k: v for k, v in models[key].items() if k != "model_seconds"}
            entry["source"] = "model"
            if self.spec.area:
                area = areas.get(self.tile_key(point.tile), {"area_mm2": None})
                entry["area_mm2"] = area["area_mm2"]
            if key in rtl and rtl[key].get("verified"):
                run = rtl[key]
                entry |= {"source": "rtl", "match": run["match"],
                          "model_total_cycles": entry["total_cycles"],
                          "total_cycles": run["total_cycles"],
                          "equals_model": run["equals_model"], "rtl_problems": run["problems"]}
            elif key in rtl:
                entry["rtl_skipped"] = rtl[key]["reason"]
            points.append(entry | {"key": key})
        return points


def make_client(workers: int | None, scheduler: str | None):
    """A Dask client: on the cluster at ``scheduler``, else on a new ``LocalCluster`` of
    ``workers`` single-threaded processes (default: the cores)."""
    from distributed import Client, LocalCluster
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect "
                              f"({' '.join(str(exc).split())[:160]})") from None
    try:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                               threads_per_worker=1, processes=True, dashboard_address=None)
    except RuntimeError as exc:       # a worker process that cannot start
        raise ClusterError(f"cannot start a local Dask cluster of {workers} worker(s): "
                           f"{' '.join(str(exc).split())[:160]}") from None
    return Client(cluster)


class ClusterError(RuntimeError):
    """The Dask cluster could not be reached or started."""


def run_sweep(spec: SweepSpec, out: Path, *, workers: int | None = None,
              scheduler: str | None = None,
              progress: Callable[[str], None] = lambda line: print(
                  f"red sweep: {line}", file=sys.stderr, flush=True)) -> tuple[list, dict]:
    """Execute ``spec`` into the sweep folder ``out`` (:func:`prepare_folder`); the
    points and how many tasks ran (the rest were in the folder)."""
    client = make_client(workers, scheduler)
    try:
        run = SweepRun(spec, out, client, progress)
        points = run.execute()
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None and scheduler is None:
            cluster.close()
    return points, run.computed
