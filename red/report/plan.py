"""What ``red report`` runs where: the report's tiles, and which runs the RTL simulates.

Every layer of the report's networks is evaluated at full size on its network's tile
(:data:`REPORT_TILES`) in RED, ZP and PF mode, each also on the generated RTL when the
variant asks for it.

Variants (:func:`make_plan`):

* ``"default"`` (``red report``, ``make demo``): every full-size RED, ZP and PF run of
  :data:`RTL_NETWORKS` on the RTL, except runs whose modelled total cycles exceed
  :data:`RTL_CYCLE_BUDGET`; the other networks come from the model.
* ``"full"`` (``red report --full``): every full-size run on the RTL.
* ``"quick"`` (``red report --quick``, the test suite): scaled-down copies of
  :data:`QUICK_SHAPES`'s layers on the small :data:`QUICK_TILE`, small enough for Icarus,
  yet running in passes (cin slices, cout slices and kernel folds) at strides up to 8.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from red.config import PAPER_TILE, LayerSpec, TileConfig, pf_tile
from red.mapping import schedule
from red.model import Estimate
from red.modes import RTL_MODES
from red.workloads import get_workload

__all__ = ["REPORT_WORKLOADS", "REPORT_TILES", "RTL_NETWORKS", "RTL_CYCLE_BUDGET",
           "QUICK_TILE", "QUICK_SHAPES", "VARIANTS", "DEFAULT", "FULL", "QUICK", "PlannedRun",
           "Plan", "make_plan", "rtl_tile_key"]

#: Workloads of the report, in order (see ``red.workloads``).
REPORT_WORKLOADS = ("dcgan", "fcn8s", "fcn16s", "fcn32s")


#: Kernel of the FCN tiles. FCN's K4 layers fit one fold, and its K16, K32 and K64
#: layers fold into 4x4 windows exactly (16, 64 and 256 folds), so no group is idle.
FCN_KERNEL = 4


def _fcn_tile(network: str) -> TileConfig:
    """The paper crossbar (:data:`~red.config.PAPER_TILE`) sized for ``network``'s layers:
    stride, input size, input channels and kernel the largest its layers have, kernel
    :data:`FCN_KERNEL` (larger kernels fold), and ``out_pixels = max_stride``, the widest
    output port the tile allows. RED yields ``s*s`` pixels every ``in_bits`` cycles and
    the port takes ``min(out_pixels, s) = s`` per cycle, so the port does not bind up to
    ``s = in_bits`` (FCN-8s's 8, FCN-16s's 16) and binds beyond (FCN-32s's 32: the report
    shows it as RED's utilization)."""
    layers = get_workload(network)
    stride = max(layer.s for layer in layers)
    return dataclasses.replace(
        PAPER_TILE, kernel=FCN_KERNEL, max_stride=stride,
        max_in=max(max(layer.h, layer.w) for layer in layers),
        max_cin=max(layer.cin for layer in layers), max_k=max(layer.k for layer in layers),
        out_pixels=stride)


#: One tile per network, all with the paper's crossbar parameters (rows=128, cols=128,
#: cell_bits=2, w_bits=16, in_bits=16, adc_bits=8). DCGAN runs on the paper
#: configuration itself (K5 s2, up to 1024 input channels, 32x32 inputs); each FCN
#: network on the tile :func:`_fcn_tile` sizes for it. These are generated for RED and
#: ZP; the RTL runs PF on the same tile generated for PF alone (:func:`rtl_tile_key`).
REPORT_TILES: dict[str, TileConfig] = {
    "dcgan": PAPER_TILE,
    **{network: _fcn_tile(network) for network in ("fcn8s", "fcn16s", "fcn32s")},
}

#: Networks whose full-size layers the default variant simulates.
RTL_NETWORKS = ("dcgan", "fcn8s")

#: Most modelled total cycles of one run the default variant simulates. Every DCGAN and
#: FCN-8s run stays under it but FCN-8s's upscore8 in ZP mode (its K16 s8 zero-inserted
#: map takes about 40 times this); if the fast path simulates the paper-size tiles at
#: about 20k cycles per second, the runs under it keep ``make demo`` within its 10
#: minutes on two cores.
RTL_CYCLE_BUDGET = 4_000_000

#: ``--quick``'s tile: 2 rows and 2 logical columns, so that 3 channels take two slices;
#: kernel 4, so that kernels of 5 and 8 take 2x2 folds; strides up to 8. Each of the
#: layers below then runs in 8 passes, one splitting its input channels, the other its
#: output channels.
QUICK_TILE = TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=4,
                        max_stride=8, max_in=2, max_cin=3, max_k=8, out_pixels=8)

#: ``--quick``'s layers: the full-size layer with these fields replaced (stride, padding
#: and output padding are kept). Icarus simulates a few thousand cycles per second, so
#: FCN-8s's K16 s8 layer keeps its stride and folds with K8 on a 1x1 input (ZP: 64
#: pixels a pass instead of 576 on 2x2 with K16).
QUICK_SHAPES: dict[str, dict[str, int]] = {
    "dcgan.deconv1": {"cin": 3, "cout": 2, "h": 2, "w": 2},
    "fcn8s.upscore8": {"cin": 2, "cout": 3, "h": 1, "w": 1, "k": 8},
}

#: Variants of :func:`make_plan`; ``QUICK`` is also the key of :data:`QUICK_TILE` in
#: :attr:`Plan.tiles`.
VARIANTS = DEFAULT, FULL, QUICK = ("default", "full", "quick")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a full-size layer in one data flow, and where its figures come from.

    Attributes
    ----------
    network : str
    layer : LayerSpec
        The full-size layer.
    mode : str
        ``"red"``, ``"zp"`` or ``"pf"``.
    tile : str
        Key of :attr:`Plan.tiles`: the tile the RTL simulates it on.
    simulated : LayerSpec or None
        The layer the RTL simulates: ``layer`` itself, its scaled copy (``--quick``), or
        ``None`` when the run's figures come from the model.
    reason : str
        Why it is simulated as it is, or left to the model.
    """

    network: str
    layer: LayerSpec
    mode: str
    tile: str
    simulated: LayerSpec | None
    reason: str

    @property
    def source(self) -> str:
        """``"rtl"`` or ``"model"``."""
        return "model" if self.simulated is None else "rtl"

    @property
    def scaled(self) -> bool:
        """The RTL simulates a scaled-down copy, not the layer itself."""
        return self.simulated is not None and self.simulated != self.layer


@dataclass(frozen=True)
class Plan:
    """The report's tiles and runs.

    Attributes
    ----------
    variant : str
        One of :data:`VARIANTS`.
    workloads : tuple of str
    tiles : dict
        Tile key -> tile: one per network (:data:`REPORT_TILES`) and its PF tile
        (:func:`rtl_tile_key`), or ``"quick"`` with ``--quick``.
    runs : tuple of PlannedRun
        In network, layer, mode order.
    """

    variant: str
    workloads: tuple[str, ...]
    tiles: dict[str, TileConfig]
    runs: tuple[PlannedRun, ...]

    def simulated(self) -> dict[str, list[PlannedRun]]:
        """The runs the RTL simulates, grouped by tile key (one simulation per tile)."""
        groups: dict[str, list[PlannedRun]] = {}
        for run in self.runs:
            if run.simulated is not None:
                groups.setdefault(run.tile, []).append(run)
        return groups

    def passes(self, run: PlannedRun) -> int:
        """Passes of the layer the RTL simulates in ``run`` (:func:`red.mapping.schedule`)."""
        return len(schedule(run.simulated, self.tiles[run.tile]))


def make_plan(variant: str, workloads: tuple[str, ...],
              model: Callable[[LayerSpec, TileConfig, str], Estimate]) -> Plan:
    """Which runs of ``workloads`` the RTL simulates in ``variant``.

    ``model(layer, tile, mode)`` is the analytical model; only the default variant
    calls it, for the budget.
    """
    tiles = {network: REPORT_TILES[network] for network in workloads}
    if variant == QUICK:
        tiles[QUICK] = QUICK_TILE
    else:
        tiles.update({rtl_tile_key(network, "pf"): pf_tile(REPORT_TILES[network])
                      for network in workloads})
    runs = []
    for network in workloads:
        for layer in get_workload(network):
            if variant == QUICK and layer.name not in QUICK_SHAPES:
                continue
            for mode in RTL_MODES:
                runs.append(_planned(variant, network, layer, mode, tiles[network], model))
    return Plan(variant=variant, workloads=tuple(workloads), tiles=tiles, runs=tuple(runs))


def rtl_tile_key(network: str, mode: str) -> str:
    """Key of :attr:`Plan.tiles` of the tile the RTL runs ``network``'s layers on in
    ``mode``: the network's own tile for RED and ZP, ``<network>-pf`` (that tile
    generated for PF alone, :func:`red.config.pf_tile`) for PF."""
    return f"{network}-pf" if mode == "pf" else network


def _planned(variant: str, network: str, layer: LayerSpec, mode: str, tile: TileConfig,
             model) -> PlannedRun:
    if variant == QUICK:
        scaled = dataclasses.replace(layer, **QUICK_SHAPES[layer.name])
        return PlannedRun(network, layer, mode, QUICK, scaled,
                          "--quick: a scaled-down copy on the quick tile")
    key = rtl_tile_key(network, mode)
    if variant == FULL:
        return PlannedRun(network, layer, mode, key, layer, "--full: every run on the RTL")
    if network not in RTL_NETWORKS:
        return PlannedRun(network, layer, mode, key, None,
                          f"{network} is modelled by default ('red report --full' "
                          "simulates it)")
    cycles = model(layer, tile, mode).total_cycles
    if cycles > RTL_CYCLE_BUDGET:
        return PlannedRun(network, layer, mode, key, None,
                          f"modelled total cycles {cycles:,} exceed the demo's budget of "
                          f"{RTL_CYCLE_BUDGET:,} per run ('red report --full' simulates it)")
    return PlannedRun(network, layer, mode, key, layer,
                      f"modelled total cycles {cycles:,} within the budget of "
                      f"{RTL_CYCLE_BUDGET:,}")
