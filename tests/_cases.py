"""Test helper: which (tile, simulator, testbench path) cases of a cocotb test run in
the default suite and which only behind the ``slow`` marker."""

from __future__ import annotations

import pytest

from red.sim import SIMULATORS
from red.sim.session import PATHS


def cases(tiles, default: set[tuple[str, str, str]]):
    """Every (tile name of ``tiles``, simulator, path) as a ``pytest.param``; those not
    in ``default`` are marked slow (``make test-slow``)."""
    return [pytest.param(*case, marks=() if case in default else pytest.mark.slow)
            for case in ((t, s, p) for t in sorted(tiles) for s in SIMULATORS
                         for p in sorted(PATHS))]
