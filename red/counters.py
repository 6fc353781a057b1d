"""The tile's hardware counters: one list, importable without Amaranth.

The RTL (:class:`red.rtl.tile.RedTile`) has one output port per name, in this order; the
harness passes them through; the testbenches, ``red sim``, ``red report`` and the
energy model read them by name. What each counts is documented on :class:`RedTile`.
"""

__all__ = ["TILE_COUNTERS", "CYCLE_COUNTERS"]

#: Hardware counters of the tile, in port order (each ``COUNTER_WIDTH`` bits, cleared by
#: ``start``, so they count one pass).
TILE_COUNTERS = (
    "total_cycles", "compute_cycles", "load_cycles", "steps", "group_activations",
    "gated_group_steps", "crossbar_steps", "adc_conversions", "row_drives", "weight_writes",
    "line_buffer_writes", "window_reads", "merge_additions", "psum_additions",
    "out_buffer_writes", "out_buffer_reads", "decided_outputs", "skipped_conversions",
    "skipped_cycles", "skipped_blocks",
)

#: The counters that count cycles (the rest count events).
CYCLE_COUNTERS = ("total_cycles", "compute_cycles", "load_cycles")
