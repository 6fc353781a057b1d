"""A layer as the tile's streams carry it, pass by pass: what both testbenches send and
how they read the result back.

The schedule is the mapper's (:func:`red.mapping.schedule`). For every pass this gives
the tile's ``layer`` port value and the weight beats and input pixels as hexadecimal
lines (:mod:`red.sim.words`); after the last pass of a cout slice it turns that pass's
output beats into the slice's channels of the output map. The partial sums between
passes are the previous pass's output beats, moved unchanged: the testbench never adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape

from red.config import ConfigError, LayerSpec, TileConfig
from red.early import EarlySpec, OutputStage, deciding_pass, early_applies
from red.golden import crossbar_deconv2d, early_deconv2d
from red.mapping import Pass, schedule
from red.sparsity import (Reordering, apply_permutation, block_mask, permute_input,
                          restore_output)
from red.rtl.layouts import layer_fields, layer_layout, out_beat_layout, weight_beats

from .agents import pack
from .words import bit_fields, hex_bits, hex_lines

__all__ = ["PassWords", "LayerPasses", "golden_output", "layer_word",
           "pass_budget"]


def golden_output(cfg: TileConfig, layer: LayerSpec, x, w, mode: str = "red",
                  stage: OutputStage = OutputStage(), reorder: Reordering | None = None
                  ) -> np.ndarray:
    """The contract's output of ``layer`` in ``mode`` with the output stage ``stage``:
    :func:`red.golden.early_deconv2d` where early termination applies, otherwise
    :func:`red.golden.crossbar_deconv2d` with the bias and ReLU. With ``reorder`` (a
    sparse mapping, :mod:`red.sparsity`), the contract of the reordered layer with its
    empty blocks gated, in the original channel order (with a lossless ADC, the same
    as without)."""
    params = cfg.crossbar_params | {"relu": stage.relu}
    if reorder is not None:
        _refuse_early(stage)
        y = crossbar_deconv2d(permute_input(x, reorder.perm_in),
                              apply_permutation(w, reorder.perm_in, reorder.perm_out),
                              layer.s, layer.p, layer.op,
                              bias=stage.reordered(reorder.perm_out).bias,
                              block_cols=cfg.logical_cols, **params)
        return restore_output(y, reorder.perm_out)
    if early_applies(layer, cfg, stage.early):
        return early_deconv2d(x, w, layer.s, layer.p, layer.op, flow=mode,
                              early=stage.early, bias=stage.bias, **params).y
    return crossbar_deconv2d(x, w, layer.s, layer.p, layer.op, bias=stage.bias, **params)


def _refuse_early(stage: OutputStage) -> None:
    if stage.early.on:
        raise ConfigError("early termination and a sparse mapping do not combine: run "
                          "one or the other")


def layer_word(cfg: TileConfig, layer: LayerSpec, mode: str, run: Pass | None = None,
               stage: OutputStage = OutputStage(), early: bool = False) -> int:
    """The tile's ``layer`` port value that runs pass ``run`` (default: a one-pass
    layer) of ``layer`` in ``mode``; ``layer`` has the pass's channel counts. The pass
    adds ``stage``'s bias (its cout slice) if it is the first of its cout slice,
    applies ReLU if it is the last, and early termination with ``early`` if it decides
    (:func:`red.early.deciding_pass`); a sparse
    pass gates its empty groups. ``stage``'s bias is in ``layer``'s channel order
    (:meth:`red.early.OutputStage.reordered` for a sparse mapping)."""
    first, last = (True, True) if run is None else (not run.accumulate, run.last)
    fold = {} if run is None else {"kh0": run.kh0, "kw0": run.kw0,
                                   "accumulate": run.accumulate, "skip": run.empty}
    cout = range(layer.cout) if run is None else run.cout
    bias = None
    if stage.bias is not None and first:
        bias = stage.bias[cout.start:cout.stop]
    deciding = run is None or deciding_pass(run)
    return pack(layer_layout(cfg), layer_fields(
        layer, mode, **fold, bias=bias, relu=stage.relu and last,
        early=stage.early if early and deciding else EarlySpec()))


def pass_budget(cfg: TileConfig, layer: LayerSpec) -> int:
    """Generous cycle limit of one pass without stalls (a hang fails, not waits)."""
    return 200 + 50 * (layer.cin + layer.h * layer.w + cfg.max_out_beats +
                       (layer.ho * layer.wo + layer.nb_h * layer.nb_w) * cfg.in_bits)


@dataclass(frozen=True)
class PassWords:
    """One pass as the tile's ports take it."""

    run: Pass
    layer: LayerSpec
    """The layer as the tile sees it in this pass (its channel slices)."""
    word: int
    """The ``layer`` port value."""
    weights: str
    """``cin`` weight beats, one hexadecimal line each (or one per memory word)."""
    pixels: str
    """``h*w`` input pixels in raster order, one hexadecimal line each (or one per
    memory word)."""
    budget: int
    """Cycle limit of the pass without stalls (:func:`pass_budget`)."""

    def limit(self, paced: bool) -> int:
        """Cycle limit of the pass, with input idles or output back-pressure when
        ``paced``."""
        return self.budget * (4 if paced else 1)


class LayerPasses:
    """Runs ``layer`` in ``mode`` with data ``x``, ``w``: iterate for the passes, hand
    each pass's output beats to :meth:`take_output`, then read :attr:`y` and
    :attr:`counters` (summed over the passes; :attr:`pass_counters` per pass). With
    ``word_bits`` the weight and pixel lines are split into memory words of that many
    bits (:func:`red.sim.words.hex_lines`)."""

    def __init__(self, cfg: TileConfig, layer: LayerSpec, mode: str, x, w,
                 word_bits: int | None = None, stage: OutputStage = OutputStage(),
                 reorder: Reordering | None = None):
        self.cfg, self.layer, self.mode, self.word_bits = cfg, layer, mode, word_bits
        self.stage, self.early = stage, early_applies(layer, cfg, stage.early)
        self.reorder = reorder
        self.x, self.w = np.asarray(x, dtype=np.int64), np.asarray(w, dtype=np.int64)
        blocks, self._tile_stage = None, stage
        if reorder is not None:
            # The tile's edges: input channels enter in the mapping's order, and the
            # output channels go back to their original places in `y`.
            _refuse_early(stage)
            self.x = permute_input(self.x, reorder.perm_in)
            self.w = apply_permutation(self.w, reorder.perm_in, reorder.perm_out)
            self._tile_stage = stage.reordered(reorder.perm_out)
            blocks = block_mask(self.w, cfg)
        self.plan = schedule(layer, cfg, blocks)
        self._y = np.zeros((layer.cout, layer.ho, layer.wo), dtype=np.int64)
        self.pass_counters: list[dict] = []

    @property
    def y(self) -> np.ndarray:
        """The output map in the layer's channel order."""
        return self._y if self.reorder is None else restore_output(self._y,
                                                                     self.reorder.perm_out)

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self):
        cfg = self.cfg
        for run in self.plan:
            layer = self.plan.pass_layer(run)
            beats = weight_beats(cfg, self.plan.pass_weights(run, self.w))
            pixels = np.zeros((layer.h * layer.w, cfg.rows), dtype=np.int64)
            pixels[:, :layer.cin] = \
                self.x[run.cin.start:run.cin.stop].reshape(layer.cin, -1).T
            yield PassWords(run=run, layer=layer,
                            word=layer_word(cfg, layer, self.mode, run, self._tile_stage,
                                            self.early),
                            weights=hex_lines(beats.reshape(len(beats), -1), cfg.w_bits,
                                              self.word_bits),
                            pixels=hex_lines(pixels, cfg.in_bits, self.word_bits),
                            budget=pass_budget(cfg, layer))

    def take_output(self, words: PassWords, lines: list[str], counters: dict) -> None:
        """Record a pass's counters and, after the last pass of a cout slice, its output
        beats (hexadecimal lines) as those channels of :attr:`y`. Fails unless the beats
        hold exactly ``Ho*Wo`` pixels and channels beyond the slice are 0."""
        self.pass_counters.append(counters)
        if words.run.last:
            cout = words.run.cout
            self._y[cout.start:cout.stop] = output_map(self.cfg, words.layer, lines)

    @property
    def counters(self) -> dict:
        return {name: sum(c[name] for c in self.pass_counters) for name in self.pass_counters[0]}


def output_map(cfg: TileConfig, layer: LayerSpec, lines: list[str]) -> np.ndarray:
    """The output map ``[cout][Ho][Wo]`` in the tile's output beats (hexadecimal lines, in
    order); fails unless they hold exactly ``Ho*Wo`` pixels and channels ``>= cout``
    are 0."""
    layout = out_beat_layout(cfg)
    count_field = layout["count"]
    count_width = Shape.cast(count_field.shape).width
    lanes = cfg.out_pixels * cfg.logical_cols
    pixels = []
    for _, bits in hex_bits(lines):
        values = bit_fields(bits, 0, cfg.out_width, lanes, signed=True)
        counts = bit_fields(bits, count_field.offset, count_width, 1, signed=False)[:, 0]
        lane_values = values.reshape(len(bits), cfg.out_pixels, cfg.logical_cols)
        valid = np.arange(cfg.out_pixels)[None, :] < counts[:, None]
        pixels.append(lane_values[valid])
    pixels = np.concatenate(pixels) if pixels else np.zeros((0, cfg.logical_cols), np.int64)
    expected = layer.ho * layer.wo
    assert len(pixels) == expected, f"{len(pixels)} output pixels, expected {expected}"
    y = pixels.reshape(layer.ho, layer.wo, -1)
    assert not y[:, :, layer.cout:].any(), "output channels beyond cout are not zero"
    return y[:, :, :layer.cout].transpose(2, 0, 1)
