"""Small cocotb agents shared by the testbenches: clock/reset, a stream driver with its
idle generator, a back-pressure generator and a passive monitor for a stream's receiving
end, payload packing and a scoreboard.

The idle and back-pressure generators are separate pieces, as in cocotbext-axi: a
:class:`~red.sim.pacing.Pacing` (none, a fixed pattern or random) yields, cycle by cycle,
whether an agent holds off; tests cross the two by parametrisation.

Every agent works on whole clock cycles: it drives right after a rising edge and samples
the settled values in the ``ReadOnly`` phase before the next one, so it behaves the same
on Icarus and Verilator.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import cocotb
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["load_job", "start_clock", "reset", "pack", "pack_values", "unpack",
           "StreamDriver", "BackPressure",
           "StreamMonitor", "Scoreboard"]

from red.gen.harness import CLOCK_PERIOD_NS


def load_job() -> dict:
    """The job the runner handed over in ``$RED_JOB`` (a JSON file)."""
    path = os.environ.get("RED_JOB")
    if not path:
        raise RuntimeError("RED_JOB is not set: run this module through red.sim.runner")
    return json.loads(Path(path).read_text())


def start_clock(dut):
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())


async def reset(dut, cycles: int = 2):
    """Hold Amaranth's synchronous ``rst`` for ``cycles`` rising edges."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


def pack(layout, value) -> int:
    """Bits of ``value`` (a list/dict matching the Amaranth ``layout``)."""
    return layout.const(value).as_bits()


def pack_values(values, width: int) -> int:
    """Bits of an ``ArrayLayout`` of ``width``-bit elements holding ``values`` (element 0
    in the low bits; negative values in two's complement; missing elements are 0).

    The same bits as :func:`pack`, without building an Amaranth constant: wide beats
    (a weight beat of the paper tile has 6,400 bits) pack in microseconds.
    """
    mask = (1 << width) - 1
    word = 0
    for v in reversed([int(v) for v in values]):
        word = (word << width) | (v & mask)
    return word


def unpack(layout, bits: int):
    """Amaranth ``data.Const`` view of ``bits`` laid out as ``layout``."""
    return data.Const(layout, bits)


class _StreamAgent:
    """Handles on one Amaranth ``lib.stream`` port: ``<prefix>__valid/ready/payload``."""

    def __init__(self, dut, prefix: str):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")


class StreamDriver(_StreamAgent):
    """Drives an Amaranth ``lib.stream`` sink (``<prefix>__valid/ready/payload``).

    Before each beat it idles while ``idle`` (a :meth:`~red.sim.pacing.Pacing.hold_offs` generator, by
    default never) yields True, one cycle per item; :attr:`idle_cycles` counts them.
    """

    def __init__(self, dut, prefix: str, idle: Iterator[bool] | None = None):
        super().__init__(dut, prefix)
        self.idle = itertools.repeat(False) if idle is None else idle
        self.idle_cycles = 0
        self.valid.value = 0

    async def send(self, beats):
        """Send every ``beats`` item (payload bits), in order; returns when all accepted."""
        for bits in beats:
            while next(self.idle):
                self.valid.value = 0
                self.idle_cycles += 1
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = bits
            while True:
                await ReadOnly()
                accepted = bool(self.ready.value)
                await RisingEdge(self.clk)
                if accepted:
                    break
            self.valid.value = 0


class BackPressure(_StreamAgent):
    """Drives ``<prefix>__ready`` of an Amaranth ``lib.stream`` source: low in the cycles
    where ``hold_offs`` (a :meth:`~red.sim.pacing.Pacing.hold_offs` generator) yields True.
    :attr:`held_cycles` counts the cycles it refused an offered beat."""

    def __init__(self, dut, prefix: str, hold_offs: Iterator[bool]):
        super().__init__(dut, prefix)
        self.hold_offs = hold_offs
        self.held_cycles = 0
        self.ready.value = 0

    async def run(self):
        while True:
            ready = not next(self.hold_offs)
            self.ready.value = int(ready)
            await ReadOnly()
            if not ready and self.valid.value == 1:
                self.held_cycles += 1
            await RisingEdge(self.clk)


class StreamMonitor(_StreamAgent):
    """Watches an Amaranth ``lib.stream`` port without driving it: the payload bits of
    every beat transferred (``valid`` and ``ready`` high at a rising edge), in order, in
    :attr:`beats`."""

    def __init__(self, dut, prefix: str):
        super().__init__(dut, prefix)
        self.beats: list[int] = []

    async def run(self):
        while True:
            await ReadOnly()
            if self.valid.value == 1 and self.ready.value == 1:
                self.beats.append(self.payload.value.to_unsigned())
            await RisingEdge(self.clk)

    async def wait_for(self, count: int, timeout_cycles: int):
        """Wait until ``count`` beats arrived; fail after ``timeout_cycles`` edges."""
        for _ in range(timeout_cycles):
            if len(self.beats) >= count:
                return
            await RisingEdge(self.clk)
        raise AssertionError(f"timeout: {len(self.beats)} of {count} beats after "
                             f"{timeout_cycles} cycles")


class Scoreboard:
    """Compares results with the reference model, exactly, and reports every mismatch."""

    def __init__(self, log):
        self.log = log
        self.mismatches: list[str] = []
        self.compared = 0

    def compare(self, what: str, got, expected):
        self.compared += 1
        got, expected = list(map(int, got)), list(map(int, expected))
        if got != expected:
            self.mismatches.append(f"{what}: got {got}, expected {expected}")

    def check(self):
        assert self.compared > 0, "scoreboard compared nothing"
        if self.mismatches:
            shown = "\n".join(self.mismatches[:10])
            raise AssertionError(f"{len(self.mismatches)} of {self.compared} results differ "
                                 f"from the golden model:\n{shown}")
        self.log.info("scoreboard: %d results bit-exact", self.compared)
