"""Shared pytest set-up: one reproducible Hypothesis profile for every test file.

Profiles (choose with ``RED_HYPOTHESIS_PROFILE=<name>``; default ``red``):

* ``red``      -- the fast default: fixed seed (``derandomize=True``), no deadline,
  no example database, so every run tests exactly the same examples.
* ``thorough`` -- same determinism, many more examples (for ``make test-slow`` or a
  bug hunt).
* ``random``   -- a fresh random seed per run (Hypothesis prints it on failure, and
  ``--hypothesis-seed=N`` replays it); for exploratory runs only.

This file deliberately defines no fixtures.
"""

from __future__ import annotations

import red  # noqa: F401  -- first: it limits OpenBLAS's threads before numpy loads

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

settings.register_profile("red", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=1000, derandomize=True, **_COMMON)
settings.register_profile("random", max_examples=200, derandomize=False, **_COMMON)

PROFILE = os.environ.get("RED_HYPOTHESIS_PROFILE", "red")
settings.load_profile(PROFILE)


def pytest_report_header(config):
    s = settings.default
    seed = "fixed (derandomize=True: seeded from each test's own source)" \
        if s.derandomize else "random per run (see --hypothesis-seed)"
    return [f"hypothesis profile: {PROFILE!r}, max_examples={s.max_examples}, "
            f"deadline={s.deadline}, seed: {seed}"]
