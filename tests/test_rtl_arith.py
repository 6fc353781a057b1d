"""red.rtl._arith.packed against the same view assigned field by field."""

import random

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data

from red.rtl._arith import packed

from _amaranth_sim import simulate

SEED = 7
INNER = data.ArrayLayout(signed(5), 3)
OUTER = data.StructLayout({"lanes": data.ArrayLayout(INNER, 2), "count": 3, "flag": 1})


def test_packed_equals_field_by_field_assignment():
    """Nested arrays of signed values, narrower and wider sources than their fields, a
    missing field (0): the packed value and the field-by-field view agree bit for bit."""
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    narrow = [Signal(signed(3), name=f"n{i}") for i in range(3)]   # sign-extended
    wide = [Signal(signed(8), name=f"w{i}") for i in range(3)]     # truncated
    count = Signal(5)                                              # truncated
    m = Module()
    by_field, whole = Signal(OUTER), Signal(OUTER)
    for lane, sources in enumerate((narrow, wide)):
        for j, source in enumerate(sources):
            m.d.comb += by_field.lanes[lane][j].eq(source)
    m.d.comb += [
        by_field.count.eq(count),
        whole.eq(packed(OUTER, {"lanes": packed(OUTER["lanes"].shape,
                                                [packed(INNER, narrow), packed(INNER, wide)]),
                                "count": count})),
    ]

    async def testbench(ctx):
        for _ in range(200):
            for s in narrow:
                ctx.set(s, rng.randrange(-4, 4))
            for s in wide:
                ctx.set(s, rng.randrange(-128, 128))
            ctx.set(count, rng.randrange(32))
            await ctx.delay(1e-6)
            assert ctx.get(whole.as_value()) == ctx.get(by_field.as_value())

    simulate(m, testbench, clocked=False)
