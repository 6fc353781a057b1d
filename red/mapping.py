"""The mapper: how a layer of any size runs on a fixed tile, as a schedule of passes.

A tile holds ``rows`` input channels, ``logical_cols`` output channels and a
``kernel x kernel`` window of kernel pixels (one crossbar group each). A larger layer
runs in passes, one after the other on the same tile:

* **cout slices** of at most ``logical_cols`` output channels (outermost: each slice's
  output map is complete when its passes are done);
* **cin slices** of at most ``rows`` input channels (row tiles);
* **kernel folds** when ``k > kernel``: fold ``(kh0, kw0)`` (multiples of ``kernel``)
  maps the window ``kh0 .. kh0+kernel-1`` of the layer's kernel onto the groups, and
  group ``(gh, gw)`` acts as kernel pixel ``(kh0+gh, kw0+gw)``: it reads input
  ``x[q - (kh0+gh) div s]`` and adds into output phase ``(kh0+gh) mod s`` of block ``q``.

Every pass streams the whole input (its cin slice) and emits the whole output map of its
cout slice. All passes of a cout slice but the first *accumulate*: the tile adds the
previous pass's output (its partial-sum input) to each output pixel before emitting it,
in hardware. The arithmetic of the schedule is the contract's (``../shared/RED_TILE.md``,
"Layers larger than the tile"): ADC clipping is per crossbar, so a layer is the exact sum
of its row tiles' clipped results; cout slices and folds change nothing.

**Sparse blocks.** Given a block mask (:mod:`red.sparsity`: ``mask[cout slice][cin
slice][kh][kw]``, ``True`` where the block holds a non-zero weight), each pass lists the
groups whose block is empty (``Pass.empty``: the tile gates them, they drive and convert
nothing), and a pass whose every block is empty is dropped (``Schedule.skipped_passes``);
the passes left in a cout slice accumulate as before. A cout slice whose every block is
empty keeps its first pass, all gated, to emit its output (0 plus bias).

The RTL driver (:mod:`red.sim.session`), the golden contract model
(:func:`red.golden.crossbar_deconv2d`, through :func:`cin_slices`) and the analytical
model (:mod:`red.model`) all take their passes from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import ConfigError, LayerSpec, TileConfig

__all__ = ["Pass", "Schedule", "schedule", "slice_counts", "cin_slices", "fold_offsets",
           "fold_extent", "fold_rows"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def cin_slices(cin: int, rows: int) -> tuple[range, ...]:
    """Row tiles: input channels ``0 .. cin-1`` in slices of at most ``rows``."""
    return tuple(range(start, min(start + rows, cin)) for start in range(0, cin, rows))


def slice_counts(layer: LayerSpec, tile: TileConfig) -> tuple[int, int, int]:
    """``(cin_tiles, cout_tiles, folds)`` of ``layer`` on ``tile``, by arithmetic alone
    (no schedule is built, so any layer size is cheap): :func:`schedule` makes exactly
    this many slices and folds."""
    return (_ceil_div(layer.cin, tile.rows), _ceil_div(layer.cout, tile.logical_cols),
            _ceil_div(layer.k, tile.kernel) ** 2)


def fold_offsets(k: int, kernel: int) -> tuple[int, ...]:
    """Fold offsets along one axis: ``0, kernel, 2*kernel, ... < k``."""
    return tuple(range(0, k, kernel))


def fold_extent(k: int, kernel: int, offset: int) -> int:
    """Groups of the fold at ``offset`` that lie inside the layer's kernel along one axis,
    ``min(kernel, k - offset)``."""
    return min(kernel, k - offset)


def fold_rows(k: int, kernel: int, s: int, offset: int) -> tuple[int, int]:
    """``(jmin, jmax)``: the input offsets ``(offset+g) div s`` the fold at ``offset``
    reads along one axis, over its groups ``g`` that lie inside the layer's kernel.

    A block ``q`` of that fold reads inputs ``q - jmax .. q - jmin``: the tile waits for
    input ``q - jmin`` and keeps inputs from ``q - jmax`` on (``jmax - jmin < kernel``).
    """
    return offset // s, (offset + fold_extent(k, kernel, offset) - 1) // s


@dataclass(frozen=True)
class Pass:
    """One pass of a layer on the tile.

    Attributes
    ----------
    index : int
        Position in the schedule.
    cin, cout : range
        The input and output channels of the pass.
    kh0, kw0 : int
        The fold: group ``(gh, gw)`` is kernel pixel ``(kh0+gh, kw0+gw)``.
    accumulate : bool
        The pass adds the previous pass's output map (same cout slice) to its own.
    last : bool
        The last pass of its cout slice: its output is the layer's output for ``cout``.
    empty : tuple of bool
        Per tile group ``gh * kernel + gw`` (inside the layer's kernel), whether its
        block is empty in this pass (sparse schedules; otherwise all ``False``).
    """

    index: int
    cin: range
    cout: range
    kh0: int
    kw0: int
    accumulate: bool
    last: bool
    empty: tuple[bool, ...] = ()

    def describe(self) -> dict:
        return {"index": self.index, "cin": [self.cin.start, self.cin.stop],
                "cout": [self.cout.start, self.cout.stop], "kh0": self.kh0, "kw0": self.kw0,
                "accumulate": self.accumulate, "last": self.last,
                "empty_groups": [g for g, empty in enumerate(self.empty) if empty]}


@dataclass(frozen=True)
class Schedule:
    """The passes of ``layer`` on ``tile`` (see the module docstring for the order)."""

    layer: LayerSpec
    tile: TileConfig
    passes: tuple[Pass, ...]
    cin_tiles: int
    cout_tiles: int
    folds: int
    skipped_passes: int = 0
    """Passes dropped because every block was empty (sparse schedules)."""

    @property
    def sparse(self) -> bool:
        """Whether a block mask shaped the schedule (gated groups or dropped passes)."""
        return self.skipped_passes > 0 or any(any(p.empty) for p in self.passes)

    def __len__(self) -> int:
        return len(self.passes)

    def __iter__(self):
        return iter(self.passes)

    def pass_layer(self, p: Pass) -> LayerSpec:
        """The layer as the tile sees it in pass ``p``: its channel slices, the full
        kernel, stride, padding and input size."""
        return dataclasses.replace(self.layer, cin=len(p.cin), cout=len(p.cout))

    def pass_weights(self, p: Pass, w):
        """The weights the tile's groups hold in pass ``p``:
        ``w[cin slice][cout slice][kh0 .. kh0+kernel-1][kw0 .. kw0+kernel-1]``, zero
        where the window runs past the kernel (``[cin][cout][kernel][kernel]``)."""
        import numpy as np
        K = self.tile.kernel
        window = np.zeros((len(p.cin), len(p.cout), K, K), dtype=np.int64)
        part = w[p.cin.start:p.cin.stop, p.cout.start:p.cout.stop,
                 p.kh0:p.kh0 + K, p.kw0:p.kw0 + K]
        window[:, :, :part.shape[2], :part.shape[3]] = part
        return window

    def describe(self) -> dict:
        return {"passes": len(self.passes), "cin_tiles": self.cin_tiles,
                "cout_tiles": self.cout_tiles, "folds": self.folds,
                "skipped_passes": self.skipped_passes,
                "schedule": [p.describe() for p in self.passes]}


def schedule(layer: LayerSpec, tile: TileConfig, blocks=None) -> Schedule:
    """The pass schedule of ``layer`` on ``tile``.

    Order: cout slices, then cin slices, then folds (row-major over ``(kh0, kw0)``).
    ``blocks`` is an optional block mask (module docstring, "Sparse blocks").

    Raises
    ------
    ConfigError
        The layer exceeds what no schedule fixes (``tile.check_layer``), or ``blocks``
        does not have the layer's block shape.
    """
    tile.check_layer(layer)
    K = tile.kernel
    couts = tuple(range(start, min(start + tile.logical_cols, layer.cout))
                  for start in range(0, layer.cout, tile.logical_cols))
    cins = cin_slices(layer.cin, tile.rows)
    offsets = fold_offsets(layer.k, K)
    folds = [(kh0, kw0) for kh0 in offsets for kw0 in offsets]
    if blocks is not None:
        shape = (len(couts), len(cins), layer.k, layer.k)
        if tuple(blocks.shape) != shape:
            raise ConfigError(f"block mask shape {tuple(blocks.shape)} is invalid: the layer "
                              f"on this tile has {shape} blocks (cout, cin slices, k, k)")

    def empty_groups(t: int, r: int, kh0: int, kw0: int) -> tuple[bool, ...]:
        if blocks is None:
            return (False,) * (K * K)
        return tuple(kh0 + g // K < layer.k and kw0 + g % K < layer.k
                     and not blocks[t, r, kh0 + g // K, kw0 + g % K] for g in range(K * K))

    def inside(kh0: int, kw0: int) -> int:
        return fold_extent(layer.k, K, kh0) * fold_extent(layer.k, K, kw0)

    passes, skipped = [], 0
    for t, cout in enumerate(couts):
        inner = [(cin, fold, empty_groups(t, r, *fold))
                 for r, cin in enumerate(cins) for fold in folds]
        kept = [entry for entry in inner if sum(entry[2]) < inside(*entry[1])] or inner[:1]
        skipped += len(inner) - len(kept)
        for n, (cin, (kh0, kw0), empty) in enumerate(kept):
            passes.append(Pass(index=len(passes), cin=cin, cout=cout, kh0=kh0, kw0=kw0,
                               accumulate=n > 0, last=n == len(kept) - 1, empty=empty))
    return Schedule(layer=layer, tile=tile, passes=tuple(passes), cin_tiles=len(cins),
                    cout_tiles=len(couts), folds=len(folds), skipped_passes=skipped)
