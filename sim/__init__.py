"""Simulation (``red.sim``): the cocotb runner, agents and testbenches.

The package itself holds only the simulator names, so that the command line can offer
and check them without importing a simulator's tooling."""

__all__ = ["SIMULATORS", "DEFAULT_SIMULATOR"]

#: The simulators the generated Verilog runs on (``red sim --sim``, ``red report --sim``,
#: ``$SIM``, the tests), the default first.
SIMULATORS = ("verilator", "icarus")

#: The simulator used when neither ``--sim`` nor ``$SIM`` names one.
DEFAULT_SIMULATOR = SIMULATORS[0]
