"""Run an Amaranth async testbench against a component (shared by the RTL unit tests)."""

from amaranth.sim import Simulator


def simulate(dut, testbench, *, clocked: bool = True):
    """Simulate ``dut`` running ``testbench(ctx)`` to its end; a clocked ``dut`` gets a
    1 MHz ``sync`` clock (a purely combinational one has no ``sync`` domain)."""
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


async def program_weights(ctx, prog, weights, columns):
    """Write ``weights[r]`` (padded to ``columns`` logical columns with zeros) through a
    WeightRowSignature port, one row per cycle."""
    for r, row in enumerate(weights):
        ctx.set(prog.valid, 1)
        ctx.set(prog.row, r)
        ctx.set(prog.data, [int(v) for v in row] + [0] * (columns - len(row)))
        await ctx.tick()
    ctx.set(prog.valid, 0)
