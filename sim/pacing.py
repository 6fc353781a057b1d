"""How a testbench agent paces its stream, cycle by cycle: the input drivers' idle
cycles and the output's back-pressure (:mod:`red.sim.agents`). Without cocotb, so the
session that writes a job can name the pacing."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["PACINGS", "FIXED_PATTERN", "Pacing"]

#: How an agent paces its port: ``none`` never holds off, ``fixed`` follows
#: :data:`FIXED_PATTERN`, ``random`` holds off each cycle with probability ``p``.
PACINGS = ("none", "fixed", "random")

#: Hold-off cycles of the ``fixed`` pacing (1 = hold off): 3 in every 7. Seven is prime,
#: so the pattern slides against the tile's own periods (``in_bits`` cycles per step,
#: the beats of a pass) instead of locking to them.
FIXED_PATTERN = (1, 0, 0, 1, 1, 0, 0)


@dataclass(frozen=True)
class Pacing:
    """A per-cycle hold-off generator: a driver's idle cycles or a receiver's
    back-pressure.

    Parameters
    ----------
    kind : str
        One of :data:`PACINGS`.
    p : float
        Hold-off probability per cycle of ``random`` pacing, ``0 < p < 1``; 0 for the
        other kinds.
    """

    kind: str = "none"
    p: float = 0.0

    def __post_init__(self):
        if self.kind not in PACINGS:
            raise ValueError(f"pacing {self.kind!r} is invalid: must be one of {PACINGS}")
        if self.kind == "random" and not 0 < self.p < 1:
            raise ValueError(f"random pacing p={self.p} is invalid: must be in (0, 1)")
        if self.kind != "random" and self.p:
            raise ValueError(f"{self.kind} pacing takes no probability, got p={self.p}")

    @classmethod
    def random_or_none(cls, p: float) -> "Pacing":
        """``random`` pacing with probability ``p``, or none when ``p`` is 0."""
        return cls("random", p) if p else cls()

    @property
    def holds(self) -> bool:
        """Whether it ever holds off."""
        return self.kind != "none"

    def describe(self) -> dict:
        return {"kind": self.kind, "p": self.p}

    def hold_offs(self, rng: random.Random) -> Iterator[bool]:
        """One item per cycle: True to hold off (``random`` draws from ``rng``)."""
        if self.kind == "none":
            return itertools.repeat(False)
        if self.kind == "fixed":
            return itertools.cycle(bool(bit) for bit in FIXED_PATTERN)
        return (rng.random() < self.p for _ in itertools.count())
