"""The verdict of an RTL run: does the hardware compute the golden output, and does it do
so in exactly the cycles and events the analytical model says?

This is the project's central claim, judged in one place with one message format by
``red sim``, every section of ``red report`` and the tests: :func:`check` compares the
RTL's output with the golden output element by element, and its counters and pass count
with an :class:`~red.model.Estimate` (:func:`model_differences`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .counters import CYCLE_COUNTERS
from .model import MIRRORED_COUNTERS, Estimate

__all__ = ["Verdict", "check", "model_differences"]


def model_differences(counters: Mapping[str, int], passes: int, est: Estimate, *,
                      cycles: bool = True) -> dict[str, tuple[int, int]]:
    """``{name: (rtl, model)}`` for every figure of an RTL run that differs from the
    model ``est``; empty when the run equals the model.

    Compared: the number of passes and every counter of
    :data:`~red.model.MIRRORED_COUNTERS` (summed over the passes); the cycle counters only
    with ``cycles`` (a run with input gaps or back-pressure takes longer than the
    stall-free model, its events do not change).
    """
    figures = {"passes": (passes, est.passes)}
    figures.update({name: (counters[name], getattr(est, name)) for name in MIRRORED_COUNTERS
                    if cycles or name not in CYCLE_COUNTERS})
    return {name: pair for name, pair in figures.items() if pair[0] != pair[1]}


@dataclass(frozen=True)
class Verdict:
    """The judgement of one RTL run (see :func:`check`)."""

    where: str
    """What was run, prefixed to every problem (e.g. ``"dcgan_l2 RED"``); may be empty."""
    differing_outputs: int
    """How many outputs of the RTL differ from the golden output."""
    first_difference: dict | None
    """The first differing output in ``(co, oh, ow)`` order: its index and both values."""
    model: dict[str, tuple[int, int]] = field(default_factory=dict)
    """:func:`model_differences` of the run."""

    @property
    def golden_match(self) -> bool:
        return self.differing_outputs == 0

    @property
    def model_equal(self) -> bool:
        return not self.model

    @property
    def ok(self) -> bool:
        return self.golden_match and self.model_equal

    @property
    def problems(self) -> list[str]:
        """One line per failed comparison, in one format."""
        prefix = f"{self.where}: " if self.where else ""
        problems = []
        if not self.golden_match:
            d = self.first_difference
            problems.append(f"{prefix}RTL output != golden output: {self.differing_outputs} "
                            f"outputs differ, first (co={d['co']}, oh={d['oh']}, ow={d['ow']}): "
                            f"RTL {d['rtl']}, golden {d['golden']}")
        problems += [f"{prefix}{name} RTL {rtl} != model {modelled}"
                     for name, (rtl, modelled) in self.model.items()]
        return problems


def check(y: np.ndarray, y_golden: np.ndarray, counters: Mapping[str, int], passes: int,
          est: Estimate, *, cycles: bool = True, where: str = "") -> Verdict:
    """Judge an RTL run: its output ``y`` against ``y_golden`` (shape ``(cout, ho, wo)``,
    exact integer equality), and its ``counters`` and ``passes`` against the model
    ``est`` (:func:`model_differences`, cycle counters only with ``cycles``)."""
    if y.shape != y_golden.shape:
        raise ValueError(f"RTL output shape {y.shape} != golden shape {y_golden.shape}")
    differing = np.argwhere(y != y_golden)
    first = None
    if len(differing):
        co, oh, ow = (int(i) for i in differing[0])
        first = {"co": co, "oh": oh, "ow": ow, "rtl": int(y[co, oh, ow]),
                 "golden": int(y_golden[co, oh, ow])}
    return Verdict(where, len(differing), first,
                   model_differences(counters, passes, est, cycles=cycles))
