"""The tile's hardware counters: one registry, importable without Amaranth.

The RTL (:class:`red.rtl.tile.RedTile`) has one output port per counter, in this order;
the harness passes them through; the testbenches, ``red sim``, ``red report`` and the
energy model read them by name. Each entry says what the counter counts, whether it
counts cycles or events, and which energy component (:mod:`red.energy`) prices it. Which
counters the analytical model predicts is derived where the model is
(:data:`red.model.MIRRORED_COUNTERS`: those with an :class:`~red.model.Estimate` field of
the same name).
"""

from dataclasses import dataclass

__all__ = ["Counter", "COUNTERS", "TILE_COUNTERS", "CYCLE_COUNTERS", "ENERGY_COMPONENTS"]


@dataclass(frozen=True)
class Counter:
    """One hardware counter (``COUNTER_WIDTH`` bits, cleared by ``start``: one pass)."""

    name: str
    meaning: str
    cycles: bool = False
    """Counts clock cycles (else events)."""
    energy: str | None = None
    """The :mod:`red.energy` component it prices, if any."""


#: The energy components of :mod:`red.energy` that hardware counters price.
ENERGY_COMPONENTS = ("adc", "dac", "array", "buffers", "adds")

#: Every counter of the tile, in port order.
COUNTERS = (
    Counter("total_cycles", "first input (or step) to last output beat, both included",
            cycles=True),
    Counter("compute_cycles", "cycles in which the crossbar groups apply a plane",
            cycles=True),
    Counter("load_cycles", "first to last weight beat, both included", cycles=True),
    Counter("steps", "steps issued: output blocks (RED) or output pixels (ZP)"),
    Counter("group_activations", "driven (not gated) group steps"),
    Counter("gated_group_steps", "group steps of active groups that were gated"),
    Counter("crossbar_steps", "bit planes applied to a crossbar array", energy="array"),
    Counter("adc_conversions", "ADC conversions made", energy="adc"),
    Counter("row_drives", "DAC row drives", energy="dac"),
    Counter("weight_writes", "weights programmed (cout per active group per beat)"),
    Counter("line_buffer_writes", "raw input pixels written into the line buffer",
            energy="buffers"),
    Counter("window_reads", "raw pixels read out of the line buffer", energy="buffers"),
    Counter("merge_additions", "additions of group results, per output channel",
            energy="adds"),
    Counter("psum_additions", "partial sums added to outputs, per output channel",
            energy="adds"),
    Counter("out_buffer_writes", "output pixels written into the output banks",
            energy="buffers"),
    Counter("out_buffer_reads", "output pixels read out of the output banks",
            energy="buffers"),
    Counter("wasted_group_steps", "driven group steps that add no term: ZP's inserted "
            "zeros and padding, PF's results for the cropped-away border"),
    Counter("psum_buffer_reads", "values read from PF's overlap-add buffer "
            "(read-modify-writes and emission)", energy="buffers"),
    Counter("psum_buffer_writes", "values written into PF's overlap-add buffer "
            "(read-modify-writes and the emitter's clearing writes)", energy="buffers"),
    Counter("psum_buffer_accumulations", "group results added into PF's overlap-add "
            "buffer, per output channel", energy="adds"),
    Counter("psum_bank_writes", "output pixels of earlier passes' partial sums written "
            "into the partial-sum bank (early termination's deciding pass)",
            energy="buffers"),
    Counter("psum_bank_reads", "output pixels' partial sums read from the partial-sum "
            "bank by their steps", energy="buffers"),
    Counter("decided_outputs", "outputs early termination decided before their last plane"),
    Counter("skipped_conversions", "ADC conversions early termination did not make"),
    Counter("skipped_cycles", "plane cycles early termination saved"),
    Counter("skipped_blocks", "groups gated for a pass because their weight block is empty"),
)

#: Counter names in port order.
TILE_COUNTERS = tuple(counter.name for counter in COUNTERS)

#: The counters that count cycles (the rest count events).
CYCLE_COUNTERS = tuple(counter.name for counter in COUNTERS if counter.cycles)

assert {c.energy for c in COUNTERS} - {None} == set(ENERGY_COMPONENTS)
