"""The job file between the host (:mod:`red.sim.session`) and the tile testbenches
(:mod:`red.sim.tb_tile`, :mod:`red.sim.tb_harness`), which run inside the simulator.

Typed and cocotb-free: the host builds a :class:`TileJob`, :func:`red.sim.runner.run_job`
writes its :meth:`TileJob.to_json` as ``job.json``, and the testbench reads it back with
:meth:`TileJob.from_json`. The defaults are in one place, here. Arrays travel as ``.npy``
files, named in the job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from red.config import LayerSpec, TileConfig
from red.early import EarlySpec, OutputStage
from red.sparsity import Reordering

from .pacing import Pacing

__all__ = ["LayerEntry", "TileJob"]


@dataclass(frozen=True)
class LayerEntry:
    """One layer of a job: its shape and mode, and the files of its data, output stage,
    sparse channel order, RTL output and golden output."""

    layer: LayerSpec
    mode: str
    x: str
    w: str
    y: str
    """Where the testbench writes the RTL's output."""
    y_golden: str
    """The golden output; written by the testbench when absent (runs that share their
    data share it)."""
    relu: bool = False
    early: EarlySpec = EarlySpec()
    bias: str | None = None
    perm_in: str | None = None
    perm_out: str | None = None

    def stage(self) -> OutputStage:
        bias = None if self.bias is None else np.load(self.bias)
        return OutputStage(bias, self.relu, self.early)

    def reorder(self) -> Reordering | None:
        if self.perm_in is None:
            return None
        return Reordering(np.load(self.perm_in), np.load(self.perm_out))

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"layer": self.layer.describe() | {
            "name": self.layer.name}}

    @classmethod
    def from_json(cls, data: dict) -> "LayerEntry":
        return cls(**data | {"layer": LayerSpec(**data["layer"]),
                            "early": EarlySpec(**data["early"])})


@dataclass(frozen=True)
class TileJob:
    """Every layer of one simulation of the tile, and how to run them."""

    config: TileConfig
    layers: tuple[LayerEntry, ...]
    results: str
    """Where the testbench writes each layer's match and counters (JSON)."""
    progress: str
    """Where the testbench appends one line per pass, relayed while it runs."""
    work_dir: str
    """The simulator's working folder (the harness's data files live there)."""
    seed: int = 0
    stall: float = 0.0
    """The harness's hold-off probability of its hardware generators."""
    idle: Pacing = Pacing()
    backpressure: Pacing = Pacing()
    fail_on_mismatch: bool = False
    """Fail the cocotb test on a difference (the host judges the results otherwise)."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {
            "layers": [entry.to_json() for entry in self.layers]}

    @classmethod
    def from_json(cls, data: dict) -> "TileJob":
        return cls(**data | {"config": TileConfig(**data["config"]),
                            "layers": tuple(map(LayerEntry.from_json, data["layers"])),
                            "idle": Pacing(**data["idle"]),
                            "backpressure": Pacing(**data["backpressure"])})
