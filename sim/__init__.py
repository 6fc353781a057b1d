"""Simulation (``red.sim``): the cocotb runner, agents and testbenches.

The package itself holds only the simulator names, so that the command line can offer
and check them without importing a simulator's tooling."""

__all__ = ["SIMULATORS", "DEFAULT_SIMULATOR", "expected_seconds", "human_duration"]

#: The simulators the generated Verilog runs on (``red sim --sim``, ``red report --sim``,
#: ``$SIM``, the tests), the default first.
SIMULATORS = ("verilator", "icarus")

#: The simulator used when neither ``--sim`` nor ``$SIM`` names one.
DEFAULT_SIMULATOR = SIMULATORS[0]

#: Rough speed of a simulation, cycles per second, at two tile sizes (crossbar rows x
#: columns): Verilator from ``make bench`` (the 16x32 tile and the 128x128 paper tile),
#: Icarus from a timed ``red sim`` of a 4x8 tile; between and beyond, a power law.
#: Only for telling the user beforehand how long a run will take.
_SPEED = {"verilator": ((512, 150_000.0), (16_384, 26_000.0)),
          "icarus": ((32, 500.0), (16_384, 22.0))}


def expected_seconds(sim: str, rows: int, cols: int, cycles: int) -> float:
    """Roughly how long ``sim`` takes to simulate ``cycles`` cycles of a ``rows`` x
    ``cols`` tile (start-up and builds not included)."""
    import math
    (small, fast), (large, slow) = _SPEED[sim]
    exponent = math.log(slow / fast) / math.log(large / small)
    return cycles / (fast * (rows * cols / small) ** exponent)


def human_duration(seconds: float) -> str:
    """``seconds`` as a short English duration: ``"40 s"``, ``"12 min"``, ``"3.5 h"``."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
