"""``red sim``'s inputs as the user gives them, checked and turned into a
:class:`~red.simulate.SimJob`.

:class:`SimRequest` holds the texts and file names of one run; :meth:`SimRequest.job`
reads and checks every one of them before any work, and refuses the first bad one with a
:class:`~red.config.ConfigError` of one line naming the value and its limit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import ConfigError, LayerSpec, TileConfig
from .early import EARLY_FLOWS, EarlySpec, OutputStage
from .inputs import check_seed, config_arg, index_span, load_array, load_sparsity
from .simulate import SimJob

__all__ = ["SimRequest", "trace_window"]


def trace_window(text: str, passes: int) -> tuple[int, int]:
    """``--trace-passes FIRST:LAST`` (or ``N``) of a layer run in ``passes`` passes."""
    window = index_span(text, "--trace-passes", "FIRST:LAST (or N), pass numbers from 0",
                        single=True)
    if not window[0] <= window[1] < passes:
        raise ConfigError(f"--trace-passes {text}: the layer runs in {passes} pass(es), "
                          f"0..{passes - 1}, and FIRST must be <= LAST")
    return window


@dataclass(frozen=True)
class SimRequest:
    """One ``red sim`` run as given on its command line (``red sim --help`` explains
    each field); ``sim`` is already resolved (``--sim``, ``$SIM`` or the default)."""

    layer: str
    sim: str
    tile: str = ""
    mode: str = "red"
    x: str | None = None
    w: str | None = None
    bias: str | None = None
    relu: bool = False
    early: str = "off"
    sparse: bool = False
    sparsity: str | None = None
    seed: int = 0
    stall: float = 0.0
    waves: bool = False
    trace_passes: str | None = None
    vcd: bool = False

    def job(self) -> SimJob:
        """The checked :class:`~red.simulate.SimJob`."""
        from red.sim.session import LayerRun
        layer = config_arg(self.layer, LayerSpec, "layer")
        tile = config_arg(self.tile, TileConfig, "tile")
        tile.check_layer(layer)
        tile.check_generable()
        tile.require_mode(self.mode)
        check_seed(self.seed)
        if not 0.0 <= self.stall < 1.0:
            raise ConfigError(f"--stall {self.stall} is invalid: must be in [0, 1)")
        x, w, reorder, source = self._data(layer, tile)
        bias = None if self.bias is None else load_array(
            self.bias, f"--bias {self.bias}", (layer.cout,), tile.bias_width)
        stage = OutputStage(bias, self.relu, EarlySpec.parse(self.early))
        if stage.early.on and self.mode not in EARLY_FLOWS:
            raise ConfigError(f"--early {self.early} does not run in mode {self.mode}: "
                              f"early termination needs a step to hold an output's whole "
                              f"sum ({' and '.join(EARLY_FLOWS)} only)")
        if reorder is not None and stage.early.on:
            raise ConfigError(f"--early {self.early} and a sparse mapping do not combine: "
                              "run one or the other")
        if stage.early.on:
            tile = dataclasses.replace(tile, early_termination=1)
        job = SimJob(LayerRun(layer, self.mode, x, w, stage, reorder), tile, source,
                     self.sim, self.seed, self.stall)
        return dataclasses.replace(job, waves=self._waves(job))

    def _data(self, layer: LayerSpec, tile: TileConfig):
        """Inputs, weights, sparse channel order and its source (files or random)."""
        from red.sim.session import random_layer_data
        if self.sparsity is not None and self.w is not None:
            raise ConfigError("--sparsity brings its own weights: drop --w")
        if (self.x is None) != (self.w is None) and self.sparsity is None:
            raise ConfigError("--x and --w go together (or neither, for random data)")
        x, w = random_layer_data(layer, tile, np.random.default_rng(self.seed))
        if self.x is not None:
            x = load_array(self.x, f"--x {self.x}", (layer.cin, layer.h, layer.w),
                           tile.in_bits)
        if self.w is not None:
            w = load_array(self.w, f"--w {self.w}", (layer.cin, layer.cout, layer.k, layer.k),
                           tile.w_bits)
        if self.sparsity is not None:
            w, reorder = load_sparsity(self.sparsity, layer, tile)
            return x, w, reorder, f"red sparsify {self.sparsity}"
        if self.sparse:
            from .sparsity import reorder_channels
            return x, w, reorder_channels(w, tile), "red sim --sparse"
        return x, w, None, None

    def _waves(self, job: SimJob):
        """The :class:`~red.sim.runner.Waves` of the trace flags, or ``None``."""
        from red.sim.runner import Waves
        if not self.waves:
            if self.trace_passes is not None or self.vcd:
                raise ConfigError("--trace-passes and --vcd shape the waveform: add --waves")
            return None
        window = None
        if self.trace_passes is not None:
            from .mapping import schedule
            window = trace_window(self.trace_passes,
                                  len(schedule(job.run.layer, job.tile, job.blocks)))
        return Waves("vcd" if self.vcd else "fst", window)
