"""Test helpers: a layer's crossbar blocks by direct loops over the tile's slices, and
planted block structure hidden under random channel permutations."""

from __future__ import annotations

import numpy as np


def blocks_by_loop(w, rows: int, cols: int):
    """``{(cout_tile, cin_tile, kh, kw): block}`` by walking the slices one by one."""
    cin, cout, k, _ = w.shape
    return {(b, a, kh, kw): w[ci:ci + rows, co:co + cols, kh, kw]
            for b, co in enumerate(range(0, cout, cols))
            for a, ci in enumerate(range(0, cin, rows))
            for kh in range(k) for kw in range(k)}


def empty_by_loop(w, rows: int, cols: int) -> int:
    return sum(not block.any() for block in blocks_by_loop(w, rows, cols).values())


def planted(rng, cin, cout, k, rows, cols, live_fraction, density):
    """``(w, hidden)``: weights whose non-zeros lie in a random ``live_fraction`` of the
    blocks (each weight of a live block non-zero with probability ``density``), and the
    same weights under random input and output channel permutations."""
    w = np.zeros((cin, cout, k, k), dtype=np.int64)
    for block in blocks_by_loop(w, rows, cols).values():   # views into w
        if rng.random() < live_fraction:
            values = rng.integers(1, 8, block.shape) * rng.choice([-1, 1], block.shape)
            block[...] = np.where(rng.random(block.shape) < density, values, 0)
    hidden = w[rng.permutation(cin)][:, rng.permutation(cout)]
    return w, hidden
