"""Energy of a layer from its circuit events: event counts times a per-event table.

The events are the tile's hardware counters (``red.rtl.tile.TILE_COUNTERS``) or the
analytical model's fields of the same name (:class:`red.model.Estimate`), so one rule
turns either into joules:

=========  ==========================================================================
component  events x energy per event
=========  ==========================================================================
adc        ``adc_conversions`` x :attr:`EnergyTable.adc_conversion`
dac        ``row_drives`` x :attr:`EnergyTable.dac_row_drive`
array      ``crossbar_steps`` (one bit plane on one crossbar array) x
           :attr:`EnergyTable.crossbar_step`
buffers    buffered values x :attr:`EnergyTable.buffer_access`; a value is one channel
           of one pixel: input side ``(line_buffer_writes + window_reads)`` pixels times
           the channels of a pass's ``cin`` slice, output side ``(out_buffer_writes +
           out_buffer_reads)`` pixels, and early termination's partial-sum bank's
           ``(psum_bank_writes + psum_bank_reads)``, times its ``cout`` slice, plus, in
           PF, the
           overlap-add buffer's ``psum_buffer_reads + psum_buffer_writes`` (already
           values). PF's buffer is priced as the output banks, the same SRAM class: the
           cheapest reading, and so the strongest PF.
adds       ``merge_additions + psum_additions + psum_buffer_accumulations``
           (group-result merges, partial sums of passes, PF's overlap-adds) x
           :attr:`EnergyTable.digital_add`
=========  ==========================================================================

Pixels are converted to values per pass: a schedule (:func:`red.mapping.schedule`) runs
every cin slice with every cout slice and fold, so ``P`` input-side pixels over all
passes are ``P / cin_tiles * cin`` values (``P / cout_tiles * cout`` on the output
side); for a one-pass layer this is simply ``P * cin``.

What is left out (the same for every mode, or not modelled): weight programming,
shift-add and offset-correction logic, control, leakage, off-chip traffic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .config import ConfigError, LayerSpec, TileConfig
from .counters import COUNTERS, ENERGY_COMPONENTS
from .inputs import read_toml
from .mapping import schedule
from .model import Estimate

__all__ = ["EnergyTable", "DEFAULT_ENERGY", "Events", "Energy", "COMPONENTS",
           "load_energy_table", "events_from_counters", "events_from_estimate",
           "energy_of", "energy_from_counters", "energy_from_estimate"]


def _per_event(picojoules: float, source: str):
    return dataclasses.field(default=picojoules, metadata={"unit": "pJ", "source": source})


@dataclass(frozen=True)
class EnergyTable:
    """Energy per circuit event, in picojoules; each default's source is in its field's
    ``metadata["source"]`` (and in :meth:`describe`)."""

    adc_conversion: float = _per_event(
        1.56, "RED_TILE.md, ISAAC-style defaults: ~1.56 pJ per conversion of the 8-bit "
              "ADC shared by an array's 128 columns")
    """One ADC conversion: one physical column, one bit plane."""
    dac_row_drive: float = _per_event(
        0.39, "RED_TILE.md, ISAAC-style defaults: ~0.39 pJ per 1-bit DAC row drive")
    """One crossbar row driven with one input bit."""
    crossbar_step: float = _per_event(
        30.0, "ISAAC (Shafiee et al., ISCA 2016): 128x128 array 0.3 mW at a 100 ns read "
              "-> 0.3 mW x 100 ns = 30 pJ")
    """One bit plane applied to one 128x128 crossbar array (array read power)."""
    buffer_access: float = _per_event(
        2.5, "Horowitz, ISSCC 2014 (45 nm): 8 KB SRAM, 64-bit read ~10 pJ -> 10/4 = "
             "2.5 pJ per 16-bit value")
    """One value (one channel of one pixel) written to or read from a tile buffer."""
    digital_add: float = _per_event(
        0.1, "Horowitz, ISSCC 2014 (45 nm): 32-bit integer add 0.1 pJ")
    """One two-operand addition of group results or partial sums."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise ConfigError(f"{type(self).__name__}.{field.name}={value!r} is "
                                  "invalid: must be a finite number >= 0 (pJ)")
            object.__setattr__(self, field.name, float(value))
        # Every mode drives crossbars, so a table that prices some per-step event gives
        # every mode a non-zero energy (the report divides by it).
        if not (self.adc_conversion or self.dac_row_drive or self.crossbar_step):
            raise ConfigError(f"{type(self).__name__}: adc_conversion, dac_row_drive and "
                              "crossbar_step are all 0; at least one must be > 0 (pJ)")

    def describe(self) -> dict:
        """``{name: {"pJ": value, "source": text}}``; the source of an overridden value
        says so."""
        return {field.name: {"pJ": getattr(self, field.name),
                             "source": (field.metadata["source"]
                                        if getattr(self, field.name) == field.default
                                        else "overridden (TOML [energy] table)")}
                for field in dataclasses.fields(self)}


#: The table with every default.
DEFAULT_ENERGY = EnergyTable()


def load_energy_table(path: str | Path) -> EnergyTable:
    """Read an ``[energy]`` table of per-event energies (pJ) from a TOML file.

    Keys are the fields of :class:`EnergyTable`; missing keys keep their defaults.

    Raises
    ------
    ConfigError
        Unreadable file, no ``[energy]`` table, another table, an unknown key (named),
        or a value that is not a finite number ``>= 0``.
    """
    path = Path(path)
    data = read_toml(path)
    unknown = set(data) - {"energy"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {sorted(unknown)}; expected [energy]")
    table = data.get("energy")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: needs an [energy] table of key = value (pJ)")
    fields = [field.name for field in dataclasses.fields(EnergyTable)]
    unknown = set(table) - set(fields)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)} in [energy]; "
                          f"known keys: {', '.join(fields)}")
    return EnergyTable(**table)


@dataclass(frozen=True)
class Events:
    """Event counts of one run, in the units the energy table prices.

    Attributes
    ----------
    adc_conversions, row_drives, crossbar_steps, additions : int
        As the hardware counters of the same name (``additions``: ``merge_additions +
        psum_additions + psum_buffer_accumulations``).
    buffer_values : int
        Values written to or read from the input, output and partial-sum buffers.
    """

    adc_conversions: int
    row_drives: int
    crossbar_steps: int
    buffer_values: int
    additions: int


#: Energy components, in the order of :class:`Energy`'s fields.
COMPONENTS = ("adc", "dac", "array", "buffers", "adds")


@dataclass(frozen=True)
class Energy:
    """Energy of a run by component, in picojoules (see the module table)."""

    adc: float
    dac: float
    array: float
    buffers: float
    adds: float

    @property
    def total(self) -> float:
        return sum(getattr(self, name) for name in COMPONENTS)

    def __add__(self, other: "Energy") -> "Energy":
        return Energy(*(getattr(self, name) + getattr(other, name) for name in COMPONENTS))

    def as_dict(self) -> dict[str, float]:
        """Components and ``total``, pJ."""
        return {**{name: getattr(self, name) for name in COMPONENTS}, "total": self.total}


def _values(pixels: int, channels: int, tiles: int) -> int:
    """Values of ``pixels`` counted over all passes, each pass holding its slice of
    ``channels`` (split into ``tiles`` slices); see the module docstring."""
    return pixels * channels // tiles


#: The hardware counters each energy component prices (red.counters, one place).
_PRICED = {component: tuple(c.name for c in COUNTERS if c.energy == component)
           for component in ENERGY_COMPONENTS}
#: Buffer pixels of the input side (``cin`` channels each) and the output side (``cout``).
_INPUT_SIDE = ("line_buffer_writes", "window_reads")
_OUTPUT_SIDE = ("out_buffer_writes", "out_buffer_reads", "psum_bank_writes",
                "psum_bank_reads")
#: Buffer counters that count values already (PF's overlap-add buffer).
_VALUE_SIDE = ("psum_buffer_reads", "psum_buffer_writes")
assert set(_INPUT_SIDE + _OUTPUT_SIDE + _VALUE_SIDE) == set(_PRICED["buffers"])


def events_from_counters(counters: Mapping[str, int], layer: LayerSpec,
                         tile: TileConfig) -> Events:
    """Priced events of a tile run from its hardware counters.

    Parameters
    ----------
    counters : mapping
        At least ``adc_conversions, row_drives, crossbar_steps, line_buffer_writes,
        window_reads, out_buffer_writes, out_buffer_reads, merge_additions,
        psum_additions, psum_buffer_reads, psum_buffer_writes, psum_buffer_accumulations``
        (the keys of ``red.rtl.tile.TILE_COUNTERS``, summed over the layer's passes).
    layer, tile : LayerSpec, TileConfig
        The layer the counters belong to and the tile it ran on.
    """
    plan = schedule(layer, tile)
    cin_tiles, cout_tiles = plan.cin_tiles, plan.cout_tiles

    def total(names):
        return sum(counters[name] for name in names)

    buffer_values = (
        _values(total(_INPUT_SIDE), layer.cin, cin_tiles)
        + _values(total(_OUTPUT_SIDE), layer.cout, cout_tiles)
        + total(_VALUE_SIDE))
    return Events(adc_conversions=total(_PRICED["adc"]), row_drives=total(_PRICED["dac"]),
                  crossbar_steps=total(_PRICED["array"]), buffer_values=buffer_values,
                  additions=total(_PRICED["adds"]))


def events_from_estimate(estimate: Estimate, layer: LayerSpec, tile: TileConfig) -> Events:
    """Priced events of the model's :class:`~red.model.Estimate`: the counters' rule on
    the model fields of the same names."""
    return events_from_counters(estimate.as_dict(), layer, tile)


def energy_of(events: Events, table: EnergyTable = DEFAULT_ENERGY) -> Energy:
    """Price ``events`` with ``table``."""
    return Energy(adc=events.adc_conversions * table.adc_conversion,
                  dac=events.row_drives * table.dac_row_drive,
                  array=events.crossbar_steps * table.crossbar_step,
                  buffers=events.buffer_values * table.buffer_access,
                  adds=events.additions * table.digital_add)


def energy_from_counters(counters: Mapping[str, int], layer: LayerSpec, tile: TileConfig,
                         table: EnergyTable = DEFAULT_ENERGY) -> Energy:
    """Energy of a tile run from its hardware counters; see :func:`events_from_counters`."""
    return energy_of(events_from_counters(counters, layer, tile), table)


def energy_from_estimate(estimate: Estimate, layer: LayerSpec, tile: TileConfig,
                         table: EnergyTable = DEFAULT_ENERGY) -> Energy:
    """Energy of a modelled run; see :func:`events_from_estimate`."""
    return energy_of(events_from_estimate(estimate, layer, tile), table)
