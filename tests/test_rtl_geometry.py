"""FoldGeometry in the Amaranth simulator: every group's input offset, phase, merge slot
and kernel membership, stepped without a divider, equal the definitions (computed here
with Python's ``//`` and ``%``) over every fold of every stride and kernel of a small
tile; the host-side geometry fields equal LayerSpec's; the mode codes are red.modes' RTL modes."""

from red.config import LayerSpec, TileConfig
from red.modes import RTL_MODES
from red.rtl.geometry import FoldGeometry
from red.rtl.layouts import MODE_CODES, geometry_fields, layer_fields

from _amaranth_sim import simulate

TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=4,
                  max_in=4, max_k=7)


def folds():
    """(layer, kh0, kw0, skip) for every k, s, fold origin of the tile (p = 0, op = 0)."""
    K = TILE.kernel
    for k in range(1, TILE.max_k + 1):
        for s in range(1, TILE.max_stride + 1):
            layer = LayerSpec(1, 1, 2, 2, k, s)
            for kh0 in range(0, k, K):
                for kw0 in range(0, k, K):
                    yield layer, kh0, kw0, (kh0 + 2 * kw0 + k) % TILE.groups


def test_geometry_equals_the_definitions():
    dut = FoldGeometry(TILE)
    K = TILE.kernel
    problems = []

    async def bench(ctx):
        for layer, kh0, kw0, skipped in folds():
            skip = [g == skipped for g in range(TILE.groups)]
            ctx.set(dut.layer, layer_fields(layer, "red", kh0, kw0, skip=skip))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            s, k = layer.s, layer.k
            want = {
                "rel_h": [(kh0 + i) // s - kh0 // s for i in range(K)],
                "rel_w": [(kw0 + i) // s - kw0 // s for i in range(K)],
                "phase_h": [(kh0 + i) % s for i in range(K)],
                "phase_w": [(kw0 + i) % s for i in range(K)],
                "slot_h": [i % s for i in range(K)],
                "slot_w": [i % s for i in range(K)],
            }
            got = {name: [int(v) for v in ctx.get(getattr(dut, name))] for name in want}
            inside = [kh0 + g // K < k and kw0 + g % K < k for g in range(TILE.groups)]
            want["inside"] = sum(1 << g for g, x in enumerate(inside) if x)
            want["active"] = sum(1 << g for g, x in enumerate(inside) if x and not skip[g])
            want["jmax_h"] = (min(kh0 + K, k) - 1) // s
            for name in ("inside", "active", "jmax_h"):
                got[name] = ctx.get(getattr(dut, name))
            if got != want:
                problems.append((layer, kh0, kw0, got, want))

    simulate(dut, bench)
    assert not problems, problems[:3]


def test_host_geometry_is_the_layers():
    layer = LayerSpec(3, 2, 5, 4, 5, 3, 4, 2)
    g = geometry_fields(layer, 3, 0)
    assert (g["ho"], g["wo"], g["nb_h"], g["nb_w"]) == (layer.ho, layer.wo, layer.nb_h,
                                                         layer.nb_w)
    assert g["outputs"] == layer.ho * layer.wo
    # p = 4, s = 3: first block 1, phase 1; fold (3, 0): offsets 1 and 0, phases 0 and 0.
    assert (g["q0"], g["r0"], g["jmin_h"], g["jmin_w"], g["rot_h"], g["rot_w"]) == \
        (1, 1, 1, 0, 0, 0)


def test_mode_codes_are_the_rtl_modes():
    assert tuple(MODE_CODES) == RTL_MODES
    assert [code.value for code in MODE_CODES.values()] == [0, 1, 2]
