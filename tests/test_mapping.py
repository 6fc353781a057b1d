"""red.mapping.slice_counts against the schedule it summarises."""

import itertools

from red.config import LayerSpec, TileConfig
from red.mapping import schedule, slice_counts


def test_slice_counts_equal_the_schedule():
    """Channels and kernels at, just below and just above multiples of the tile's rows,
    logical columns and kernel: the arithmetic gives the slices and folds that
    ``schedule`` builds one by one."""
    tile = TileConfig(rows=8, cols=16, kernel=3, max_cin=64)
    for cin, cout, k in itertools.product((1, 7, 8, 9, 17), (1, 7, 8, 9), (1, 3, 4, 7)):
        layer = LayerSpec(cin=cin, cout=cout, h=4, w=4, k=k, s=2, p=0, op=0)
        plan = schedule(layer, tile)
        assert slice_counts(layer, tile) == (plan.cin_tiles, plan.cout_tiles, plan.folds), \
            layer
        assert len(plan) == plan.cin_tiles * plan.cout_tiles * plan.folds
