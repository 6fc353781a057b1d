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


async def program_weights(ctx, prog, weights):
    """Write ``weights[r][j]`` through a WeightWriteSignature port, one per cycle."""
    for r in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            ctx.set(prog.valid, 1)
            ctx.set(prog.row, r)
            ctx.set(prog.col, j)
            ctx.set(prog.data, int(weights[r, j]))
            await ctx.tick()
    ctx.set(prog.valid, 0)
