# amaranth: UnusedElaboratable=no
"""The counter registry (red.counters) against the places that use it: the tile's ports,
the model's mirrored fields and the energy components."""

import dataclasses

from red.config import TileConfig
from red.counters import CYCLE_COUNTERS, ENERGY_COMPONENTS, TILE_COUNTERS
from red.energy import Energy
from red.model import MIRRORED_COUNTERS, Estimate
from red.rtl.tile import RedTile


def test_the_tile_has_one_port_per_counter_in_order():
    members = [name for name in RedTile(TileConfig()).signature.members
               if name in TILE_COUNTERS]
    assert members == list(TILE_COUNTERS)


def test_names_are_unique_and_cycle_counters_count_cycles():
    assert len(set(TILE_COUNTERS)) == len(TILE_COUNTERS)
    assert CYCLE_COUNTERS == ("total_cycles", "compute_cycles", "load_cycles")


def test_mirrored_counters_are_the_model_fields_of_the_same_name():
    fields = {f.name for f in dataclasses.fields(Estimate)}
    # Per-layer figures (steps) are not sums over passes: not compared.
    assert set(MIRRORED_COUNTERS) == (set(TILE_COUNTERS) & fields) - {"steps"}
    # What the model cannot see: weights programmed per group (its load is in cycles).
    assert set(TILE_COUNTERS) - set(MIRRORED_COUNTERS) == {"steps", "weight_writes"}


def test_energy_components_are_the_energy_models():
    # (That every component has a counter is asserted where the registry is defined.)
    assert set(ENERGY_COMPONENTS) == {f.name for f in dataclasses.fields(Energy)}
