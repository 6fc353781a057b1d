"""Tests of red/config.py: validation messages, parsing, TOML loading and every derived
quantity, each checked against a brute-force or independently written computation."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import red.config
from red.config import (
    ConfigError, LayerSpec, TileConfig, load_toml, lossless_adc_bits, signed_width,
    unsigned_width,
)
from red.golden import crossbar_mvm

# Largest kernel a tile accepts.
KERNEL_MAX = red.config.KERNEL_MAX


def mentions(msg: str, n) -> bool:
    """True if ``msg`` contains ``n`` as a whole token (``8`` not inside ``-8``/``18``)."""
    return re.search(r"(?<![\w.-])" + re.escape(str(n)) + r"(?![\w.])", msg) is not None


def fits_signed(v: int, width: int) -> bool:
    return -(2 ** (width - 1)) <= v <= 2 ** (width - 1) - 1


def fits_unsigned(v: int, width: int) -> bool:
    return 0 <= v <= 2 ** width - 1


# ---------------------------------------------------------------------------------------
# TileConfig validation
# ---------------------------------------------------------------------------------------

# (overrides, field, bad value, things the message must name about the limit)
TILE_BAD = [
    (dict(rows=0), "rows", 0, ["1"]),
    (dict(rows=-3), "rows", -3, ["1"]),
    (dict(rows=1025), "rows", 1025, ["1024"]),
    (dict(cell_bits=0), "cell_bits", 0, ["1"]),
    (dict(cell_bits=9, w_bits=18, cols=64), "cell_bits", 9, ["8"]),
    (dict(cell_bits=3, w_bits=4), "cell_bits", 3, ["w_bits", "4"]),
    (dict(cell_bits=4, w_bits=6, cols=8), "cell_bits", 4, ["w_bits", "6"]),
    (dict(w_bits=1, cell_bits=1), "w_bits", 1, ["2"]),
    (dict(w_bits=33, cell_bits=1), "w_bits", 33, ["32"]),
    (dict(cols=3, cell_bits=2, w_bits=8), "cols", 3, ["4"]),          # slices = 4
    (dict(cols=7, cell_bits=1, w_bits=8), "cols", 7, ["8"]),          # slices = 8
    (dict(cols=4097), "cols", 4097, ["4096"]),
    (dict(in_bits=1), "in_bits", 1, ["2"]),
    (dict(in_bits=33), "in_bits", 33, ["32"]),
    (dict(adc_bits=0), "adc_bits", 0, ["1"]),
    (dict(adc_bits=-1), "adc_bits", -1, ["1"]),
    (dict(adc_bits=33), "adc_bits", 33, ["32"]),
    (dict(kernel=0), "kernel", 0, ["1"]),
    (dict(kernel=KERNEL_MAX + 1), "kernel", KERNEL_MAX + 1, [str(KERNEL_MAX)]),
    (dict(max_stride=0), "max_stride", 0, ["1"]),
    (dict(max_in=0), "max_in", 0, ["1"]),
    (dict(adcs_per_array=-1), "adcs_per_array", -1, ["0"]),
    (dict(adcs_per_array=32), "adcs_per_array", 32, ["16"]),         # cols = 16
    (dict(adcs_per_array=6), "adcs_per_array", 6, ["power of two"]),
]


@pytest.mark.parametrize("over, field, value, limit", TILE_BAD,
                         ids=[f"{f}={v}" for _, f, v, _ in TILE_BAD])
def test_tile_invalid_value_message(over, field, value, limit):
    with pytest.raises(ConfigError) as ei:
        TileConfig(**over)
    msg = str(ei.value)
    assert re.search(rf"\b{field}\b", msg), msg
    assert mentions(msg, value), msg
    for part in limit:
        assert mentions(msg, part), (part, msg)


NON_INTEGERS = [8.0, 2.5, "8", None, True, False, [8], np.float64(3.0)]


@pytest.mark.parametrize("field, value", [
    (f, v) for f in ["rows", "cols", "cell_bits", "w_bits", "in_bits", "adc_bits", "kernel",
                     "max_stride", "max_in"]
    for v in NON_INTEGERS
    if not (f == "adc_bits" and v is None)          # adc_bits=None means "lossless"
], ids=repr)
def test_tile_non_integer_refused(field, value):
    with pytest.raises(ConfigError) as ei:
        TileConfig(**{field: value})
    msg = str(ei.value)
    assert re.search(rf"\b{field}\b", msg), msg
    assert repr(value) in msg, msg
    assert "integer" in msg, msg


def test_adc_cycles_by_hand():
    """A plane's cycles with shared ADCs: ceil(columns * slices / A), at least 1."""
    tile = TileConfig(rows=8, cols=16, cell_bits=2, w_bits=4)        # 2 slices, 8 columns
    assert [tile.adc_cycles(n) for n in (0, 1, 8)] == [1, 1, 1]
    shared = dataclasses.replace(tile, adcs_per_array=4)
    assert [shared.adc_cycles(n) for n in range(9)] == [1, 1, 1, 2, 2, 3, 3, 4, 4]
    one = dataclasses.replace(tile, adcs_per_array=1)
    assert [one.adc_cycles(n) for n in (0, 1, 8)] == [1, 2, 16]
    assert dataclasses.replace(tile, adcs_per_array=16).adc_cycles(8) == 1


def test_tile_valid_edges_accepted():
    TileConfig(rows=1, cols=2, cell_bits=1, w_bits=2, in_bits=2, kernel=1, max_stride=1,
               max_in=1, adc_bits=1)
    TileConfig(rows=1024, cols=4096, cell_bits=8, w_bits=16, in_bits=16, adc_bits=32,
               kernel=KERNEL_MAX, max_stride=64, max_in=4096)


def test_tile_too_wide_for_exact_golden_refused():
    with pytest.raises(ConfigError) as info:
        TileConfig(rows=2, cols=32, cell_bits=1, w_bits=32, in_bits=32)
    msg = str(info.value)
    assert "w_bits=32" in msg and "63" in msg, msg
    t = TileConfig(cols=2, cell_bits=2, w_bits=4)                     # cols == slices
    assert t.logical_cols == 1
    assert TileConfig(cell_bits=3, w_bits=6, cols=2).slices == 2


def test_tile_is_frozen():
    t = TileConfig()
    with pytest.raises(Exception):
        t.rows = 4                                                    # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# LayerSpec validation
# ---------------------------------------------------------------------------------------

GOOD_LAYER = dict(cin=2, cout=3, h=4, w=5, k=3, s=2, p=1, op=1)

LAYER_BAD = [
    (dict(cin=0), "cin", 0, ["1"]),
    (dict(cout=0), "cout", 0, ["1"]),
    (dict(h=0), "h", 0, ["1"]),
    (dict(w=-1), "w", -1, ["1"]),
    (dict(k=0, p=0), "k", 0, ["1"]),
    (dict(s=0, op=0), "s", 0, ["1"]),
    (dict(p=-1), "p", -1, ["0"]),
    (dict(k=3, p=3), "p", 3, ["k=3"]),                                # p >= k
    (dict(k=1, p=5), "p", 5, ["k=1"]),
    (dict(s=2, op=2), "op", 2, ["s=2"]),                              # op >= s
    (dict(s=1, op=1), "op", 1, ["s=1"]),
    (dict(s=3, op=-1), "op", -1, ["0"]),
    # empty outputs (p < k holds, so only a small input can do it):
    # Ho = (1-1)*1 - 2*2 + 3 + 0 = -1
    (dict(h=1, w=3, k=3, s=1, p=2, op=0), "h", 1, ["-1"]),
    # Ho = (1-1)*1 - 2*1 + 2 + 0 = 0
    (dict(h=1, w=2, k=2, s=1, p=1, op=0), "h", 1, ["0"]),
    # Wo = (1-1)*2 - 2*3 + 4 + 1 = -1, Ho = (2-1)*2 - 6 + 4 + 1 = 1
    (dict(h=2, w=1, k=4, s=2, p=3, op=1), "w", 1, ["-1"]),
]


@pytest.mark.parametrize("over, field, value, limit", LAYER_BAD,
                         ids=[f"{f}={v}-{i}" for i, (_, f, v, _) in enumerate(LAYER_BAD)])
def test_layer_invalid_value_message(over, field, value, limit):
    with pytest.raises(ConfigError) as ei:
        LayerSpec(**{**GOOD_LAYER, **over})
    msg = str(ei.value)
    assert re.search(rf"\b{field}\b", msg), msg
    assert mentions(msg, value), msg
    for part in limit:
        assert part in msg if "=" in part else mentions(msg, part), (part, msg)


@pytest.mark.parametrize("field", ["cin", "cout", "h", "w", "k", "s", "p", "op"])
@pytest.mark.parametrize("value", [2.0, "2", None, True, False], ids=repr)
def test_layer_non_integer_refused(field, value):
    with pytest.raises(ConfigError) as ei:
        LayerSpec(**{**GOOD_LAYER, field: value})
    msg = str(ei.value)
    assert re.search(rf"\b{field}\b", msg), msg
    assert repr(value) in msg, msg
    assert "integer" in msg, msg


def test_layer_valid_edges_accepted():
    LayerSpec(cin=1, cout=1, h=1, w=1, k=1)                          # Ho = 1
    LayerSpec(cin=1, cout=1, h=1, w=1, k=3, s=1, p=1)                # Ho = 1
    LayerSpec(cin=1, cout=1, h=2, w=2, k=3, s=2, p=2, op=1)          # p = k-1, op = s-1
    LayerSpec(cin=1, cout=1, h=3, w=3, k=2, s=5, p=1)                # s > k
    assert LayerSpec(cin=1, cout=1, h=1, w=1, k=2, s=1, p=0, op=0, name="x").name == "x"


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------

def test_tile_parse():
    t = TileConfig.parse("rows=8,cols=16,cell_bits=2,w_bits=4,in_bits=4,kernel=3")
    assert (t.rows, t.cols, t.cell_bits, t.w_bits, t.in_bits, t.kernel) == (8, 16, 2, 4, 4, 3)
    assert t == TileConfig(rows=8, cols=16, cell_bits=2, w_bits=4, in_bits=4, kernel=3)
    # ADC defaults to lossless: 8 rows of 2-bit cells sum to at most 24 -> 5 bits
    assert t.adc_bits == 5
    assert TileConfig.parse(" rows = 4 , adc_bits = 3 ,").adc_bits == 3
    assert TileConfig.parse("rows=4,adc_bits=none").adc_bits == 4  # 4*3=12 -> 4 bits
    assert TileConfig.parse("rows=0x10").rows == 16
    assert TileConfig.parse("") == TileConfig()


def test_layer_parse_and_str_round_trip():
    layer = LayerSpec.parse("cin=3,cout=5,h=4,w=4,k=4,s=2,p=1,op=0")
    assert layer == LayerSpec(cin=3, cout=5, h=4, w=4, k=4, s=2, p=1, op=0)
    assert (layer.cin, layer.cout, layer.h, layer.w, layer.k, layer.s, layer.p, layer.op) \
        == (3, 5, 4, 4, 4, 2, 1, 0)
    assert LayerSpec.parse(str(layer)) == layer
    named = LayerSpec.parse("cin=1,cout=1,h=2,w=2,k=2,name=up1")
    assert named.name == "up1" and named.s == 1 and named.p == 0 and named.op == 0


@pytest.mark.parametrize("cls, text, needles", [
    (TileConfig, "rowz=8", ["rowz", "rows"]),                       # unknown (and lists known)
    (LayerSpec, "cin=1,cout=1,h=1,w=1,k=1,stride=2", ["stride"]),
    (TileConfig, "rows=8,rows=9", ["rows"]),                        # duplicate
    (LayerSpec, "cin=1,cin=1,cout=1,h=1,w=1,k=1", ["cin"]),
    (TileConfig, "rows8", ["rows8"]),                               # missing '='
    (TileConfig, "rows=8,cols", ["cols"]),
    (TileConfig, "=8", ["=8"]),
    (TileConfig, "rows=eight", ["rows", "eight", "integer"]),       # non-integer
    (TileConfig, "rows=8.0", ["rows", "8.0", "integer"]),
    (TileConfig, "rows=", ["rows", "integer"]),
    (LayerSpec, "cin=1,cout=1,h=1,w=1,k=x", ["k", "'x'", "integer"]),
    (TileConfig, "rows=0", ["rows", "0", "1"]),                     # parsed, then invalid
    (LayerSpec, "cin=1,cout=1,h=1,w=1,k=3,p=3", ["p", "k=3"]),
])
def test_parse_errors(cls, text, needles):
    with pytest.raises(ConfigError) as ei:
        cls.parse(text)
    msg = str(ei.value)
    for n in needles:
        assert n in msg, (n, msg)


def test_parse_duplicate_key_message_says_so():
    with pytest.raises(ConfigError, match=r"(?i)twice|duplicate|more than once"):
        TileConfig.parse("rows=8,rows=8")


def test_parse_unknown_key_lists_known_keys():
    with pytest.raises(ConfigError) as ei:
        LayerSpec.parse("cin=1,cout=1,h=1,w=1,k=1,q=2")
    for key in ("cin", "cout", "h", "w", "k", "s", "p", "op"):
        assert re.search(rf"\b{key}\b", str(ei.value))


@pytest.mark.parametrize("text, missing", [
    ("cin=3", ["cout", "h", "w", "k"]),
    ("", ["cin", "cout", "h", "w", "k"]),
    ("cin=1,cout=1,h=1,w=1,s=2", ["k"]),
])
def test_layer_parse_missing_required_key_is_config_error(text, missing):
    with pytest.raises(ConfigError) as ei:
        LayerSpec.parse(text)
    for key in missing:
        assert re.search(rf"\b{key}\b", str(ei.value)), (key, str(ei.value))


# ---------------------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------------------

def _write(tmp_path, text):
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return path


def test_load_toml_both_tables(tmp_path):
    path = _write(tmp_path, """
        [tile]
        rows = 16
        cols = 32
        cell_bits = 2
        w_bits = 8
        in_bits = 8
        adc_bits = 4
        kernel = 4

        [layer]
        cin = 3
        cout = 5
        h = 4
        w = 6
        k = 4
        s = 2
        p = 1
        op = 1
        name = "up"
    """)
    tile, layer = load_toml(path)
    assert tile == TileConfig(rows=16, cols=32, cell_bits=2, w_bits=8, in_bits=8,
                              adc_bits=4, kernel=4)
    assert layer == LayerSpec(cin=3, cout=5, h=4, w=6, k=4, s=2, p=1, op=1)
    assert layer.name == "up"
    assert load_toml(str(path)) == (tile, layer)                     # str path too


def test_load_toml_single_tables(tmp_path):
    assert load_toml(_write(tmp_path, "[tile]\nrows = 4\n")) == (TileConfig(rows=4), None)
    assert load_toml(_write(tmp_path, "[layer]\ncin=1\ncout=1\nh=1\nw=1\nk=1\n")) == \
        (None, LayerSpec(cin=1, cout=1, h=1, w=1, k=1))
    assert load_toml(_write(tmp_path, "")) == (None, None)
    # lossless default when adc_bits is left out: 4 rows * 3 = 12 -> 4 bits
    assert load_toml(_write(tmp_path, "[tile]\nrows = 4\n"))[0].adc_bits == 4


@pytest.mark.parametrize("text, needles", [
    ("[tiles]\nrows = 4\n", ["tiles"]),                              # unknown table
    ("[tile]\nrows = 4\n[model]\nx = 1\n", ["model"]),
    ("[tile]\nrowz = 4\n", ["rowz", "TileConfig"]),                  # unknown key
    ("[layer]\ncin=1\ncout=1\nh=1\nw=1\nk=1\nstride=2\n", ["stride", "LayerSpec"]),
    ("[tile]\nrows = 0\n", ["rows", "0"]),                           # invalid value
    ("[tile]\nrows = 8.0\n", ["rows", "8.0", "integer"]),            # float
    ("[tile]\nrows = true\n", ["rows", "True", "integer"]),          # bool
    ("[tile]\nrows = \"8\"\n", ["rows", "'8'", "integer"]),          # string
    ("[layer]\ncin=1\ncout=1\nh=1\nw=3\nk=3\np=2\n", ["h", "-1"]),   # empty output
    ("[tile\nrows = 4\n", ["cfg.toml"]),                              # bad TOML syntax
    ("[tile]\nrows = 4\nrows = 5\n", ["cfg.toml"]),                  # duplicate TOML key
])
def test_load_toml_errors(tmp_path, text, needles):
    with pytest.raises(ConfigError) as ei:
        load_toml(_write(tmp_path, text))
    msg = str(ei.value)
    for n in needles:
        assert n in msg, (n, msg)


def test_load_toml_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        load_toml(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["tile = 3\n", "layer = [[1]]\n"])
def test_load_toml_non_table_is_config_error(tmp_path, text):
    with pytest.raises(ConfigError):
        load_toml(_write(tmp_path, text))


def test_load_toml_layer_missing_key_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="k"):
        load_toml(_write(tmp_path, "[layer]\ncin=1\ncout=1\nh=1\nw=1\n"))


# ---------------------------------------------------------------------------------------
# Derived layer quantities
# ---------------------------------------------------------------------------------------

@st.composite
def layers(draw):
    k = draw(st.integers(1, 16))
    s = draw(st.integers(1, 16))
    p = draw(st.integers(0, k - 1))
    op = draw(st.integers(0, s - 1))
    need = 1 - k + 2 * p - op                      # (n-1)*s >= need for a non-empty output
    n0 = max(1, 1 - (-need // s))
    h = draw(st.integers(n0, n0 + 12))
    w = draw(st.integers(n0, n0 + 12))
    return LayerSpec(cin=1, cout=1, h=h, w=w, k=k, s=s, p=p, op=op)


@given(layer=layers())
@example(layer=LayerSpec(cin=1, cout=1, h=1, w=1, k=4, s=1, p=0))   # DCGAN 1x1
@example(layer=LayerSpec(cin=1, cout=1, h=4, w=4, k=5, s=2, p=2, op=1))
@example(layer=LayerSpec(cin=1, cout=1, h=70, w=70, k=16, s=8, p=0))  # FCN upscore8
@example(layer=LayerSpec(cin=1, cout=1, h=3, w=2, k=2, s=7, p=1, op=6))  # s > k
@example(layer=LayerSpec(cin=1, cout=1, h=16, w=5, k=64, s=32, p=0))   # FCN-32s upscore
@example(layer=LayerSpec(cin=1, cout=1, h=2, w=3, k=64, s=32, p=63, op=31))
def test_layer_output_size_blocks_and_taps(layer):
    L = layer
    for n, got_o, got_nb in ((L.h, L.ho, L.nb_h), (L.w, L.wo, L.nb_w)):
        # Output size: the uncropped scatter covers indices 0 .. (n-1)s + k - 1; crop p
        # at both ends, then add op at the far end.
        full = max(i * L.s + kk for i in range(n) for kk in range(L.k)) + 1
        assert got_o == full - 2 * L.p + L.op
        # Blocks: distinct q = floor((o+p)/s) over the outputs.
        blocks = sorted({(o + L.p) // L.s for o in range(got_o)})
        assert got_nb == len(blocks)
        assert list(L.block_range(got_o, L.s, L.p)) == blocks
        # Every output reaches at most `taps` input pixels along the axis.
        reach = [0] * got_o
        for i in range(n):
            for kk in range(L.k):
                if 0 <= i * L.s - L.p + kk < got_o:
                    reach[i * L.s - L.p + kk] += 1
        assert max(reach) <= L.taps
    # taps = the largest number of kernel taps sharing one phase = ceil(k/s)
    assert L.taps == max(len(range(r, L.k, L.s)) for r in range(L.s))
    # Buffer sizes of the baselines: PF's uncropped map holds every scatter index plus
    # op; ZP's padded, zero-inserted input is (n-1)s+1 samples, K-1-p padding each side,
    # op more at the far side.
    for n, full, zp in ((L.h, L.full_h, L.zp_h), (L.w, L.full_w, L.zp_w)):
        assert full == (n - 1) * L.s + L.k - 1 + 1 + L.op
        assert zp == (n - 1) * L.s + 1 + 2 * (L.k - 1 - L.p) + L.op


def test_layer_sizes_known_workloads():
    # DCGAN (PyTorch): 1x1 -> 4x4; K4 s2 p1 doubles; DCGAN original K5 s2 p2 op1 doubles;
    # FCN-8s upscore8 70x70 K16 s8 p0 -> 568.
    assert LayerSpec(cin=100, cout=512, h=1, w=1, k=4, s=1, p=0).ho == 4
    assert LayerSpec(cin=512, cout=256, h=4, w=4, k=4, s=2, p=1).ho == 8
    assert LayerSpec(cin=1024, cout=512, h=4, w=4, k=5, s=2, p=2, op=1).ho == 8
    assert LayerSpec(cin=21, cout=21, h=70, w=70, k=16, s=8, p=0).ho == 568
    l_ = LayerSpec(cin=21, cout=21, h=70, w=70, k=16, s=8, p=0)
    assert (l_.nb_h, l_.taps) == (71, 2)                              # (568-1)//8 + 1 = 71


# ---------------------------------------------------------------------------------------
# Widths and ADC resolution
# ---------------------------------------------------------------------------------------

@given(rows=st.integers(1, 1024), c=st.integers(1, 8))
@example(rows=1, c=1)
@example(rows=1, c=2)          # 3 -> exactly 2 bits (log2(4) = 2)
@example(rows=5, c=2)          # 15 -> log2(16) = 4
@example(rows=1024, c=8)
def test_lossless_adc_bits(rows, c):
    expected = math.ceil(math.log2(rows * (2 ** c - 1) + 1))
    assert lossless_adc_bits(rows, c) == expected
    # and it is lossless and minimal: the largest column sum fits, not with one bit less
    assert rows * (2 ** c - 1) <= 2 ** expected - 1
    assert expected == 1 or rows * (2 ** c - 1) > 2 ** (expected - 1) - 1


def test_lossless_adc_bits_exhaustive_small():
    for rows in range(1, 300):
        for c in range(1, 9):
            assert lossless_adc_bits(rows, c) == math.ceil(math.log2(rows * (2 ** c - 1) + 1))


@given(lo=st.integers(-(2 ** 70), 2 ** 70), span=st.integers(0, 2 ** 70))
@example(lo=-1, span=0)
@example(lo=0, span=0)
@example(lo=-128, span=255)
@example(lo=-129, span=0)
@example(lo=128, span=0)
def test_signed_width_minimal(lo, span):
    hi = lo + span
    width = signed_width(lo, hi)
    assert fits_signed(lo, width) and fits_signed(hi, width)
    assert width == 1 or not (fits_signed(lo, width - 1) and fits_signed(hi, width - 1))


@given(m=st.integers(0, 2 ** 70))
@example(m=0)
@example(m=1)
@example(m=255)
@example(m=256)
def test_unsigned_width_minimal(m):
    width = unsigned_width(m)
    assert fits_unsigned(m, width)
    assert width == 1 or not fits_unsigned(m, width - 1)


def test_width_helpers_refuse_bad_ranges():
    with pytest.raises(ValueError):
        unsigned_width(-1)
    with pytest.raises(ValueError):
        signed_width(1, 0)


@pytest.mark.parametrize("rows, c, bw", [(8, 2, 4), (1, 1, 2), (3, 4, 8), (128, 2, 16)])
def test_tile_basic_derived(rows, c, bw):
    t = TileConfig(rows=rows, cell_bits=c, w_bits=bw, cols=64, in_bits=6)
    assert t.slices == bw // c
    assert t.logical_cols == 64 // (bw // c)
    assert t.adc_bits == math.ceil(math.log2(rows * (2 ** c - 1) + 1))
    assert t.lossless
    assert t.weight_offset == 2 ** (bw - 1)
    assert (t.w_min, t.w_max) == (-(2 ** (bw - 1)), 2 ** (bw - 1) - 1)
    assert (t.x_min, t.x_max) == (-32, 31)
    assert t.cell_max == 2 ** c - 1
    assert t.groups == t.kernel ** 2
    if t.adc_bits > 1:
        assert not TileConfig(rows=rows, cell_bits=c, w_bits=bw, cols=64,
                              adc_bits=t.adc_bits - 1).lossless
    assert TileConfig(rows=rows, cell_bits=c, w_bits=bw, cols=64,
                      adc_bits=t.adc_bits + 1).lossless


def _enumerate_extremes(t: TileConfig, exhaustive: bool):
    """Brute force over inputs and weights with the golden crossbar_mvm.

    Returns the extremes of the corrected MVM result, of the shift-add value
    ``P = result + 2^(Bw-1) * sum(x)``, of ``sum(x)`` and of a physical column sum
    after the ADC (computed here from the contract's definition of slices and planes).
    """
    n = t.rows
    x_lo, x_hi = -(2 ** (t.in_bits - 1)), 2 ** (t.in_bits - 1) - 1
    w_lo, w_hi = -(2 ** (t.w_bits - 1)), 2 ** (t.w_bits - 1) - 1
    if exhaustive:
        xs = np.array(list(itertools.product(range(x_lo, x_hi + 1), repeat=n)))
        ws = np.array(list(itertools.product(range(w_lo, w_hi + 1), repeat=n))).T
    else:
        xv = sorted({x_lo, x_hi, -1, 0, 1, x_lo + 1})
        wv = sorted({w_lo, w_hi, -1, 0, 1, w_lo + 1})
        xs = np.array([[v] * n for v in xv])
        ws = np.array([[v] * n for v in wv]).T
    res = crossbar_mvm(xs, ws, cell_bits=t.cell_bits, w_bits=t.w_bits, in_bits=t.in_bits,
                       adc_bits=t.adc_bits, rows=t.rows)
    xsum = xs.sum(axis=1, keepdims=True)
    shift_add = res + 2 ** (t.w_bits - 1) * xsum
    # column sums after the ADC, from the contract directly
    c = t.cell_bits
    u = ws + 2 ** (t.w_bits - 1)
    codes_max = 0
    for b in range(t.in_bits):
        plane = ((xs % 2 ** t.in_bits) >> b) & 1
        for k in range(t.w_bits // c):
            sl = (u >> (c * k)) & (2 ** c - 1)
            codes_max = max(codes_max, int(np.minimum(plane @ sl, 2 ** t.adc_bits - 1).max()))
    return ((int(res.min()), int(res.max())), (int(shift_add.min()), int(shift_add.max())),
            (int(xsum.min()), int(xsum.max())), codes_max)


SMALL_TILES = [
    dict(rows=1, cell_bits=1, w_bits=2, in_bits=2),
    dict(rows=2, cell_bits=1, w_bits=2, in_bits=2),
    dict(rows=2, cell_bits=2, w_bits=2, in_bits=3),
    dict(rows=2, cell_bits=1, w_bits=4, in_bits=2),
    dict(rows=3, cell_bits=2, w_bits=4, in_bits=2),
    dict(rows=3, cell_bits=1, w_bits=2, in_bits=3),
    dict(rows=2, cell_bits=2, w_bits=4, in_bits=4),
]


def _adc_choices(rows, c):
    lossless = math.ceil(math.log2(rows * (2 ** c - 1) + 1))
    return [None] + sorted({1, max(1, lossless - 1), lossless, lossless + 2})


@pytest.mark.parametrize("params", SMALL_TILES, ids=lambda d: ",".join(
    f"{k}={v}" for k, v in d.items()))
def test_widths_hold_brute_force_extremes_small(params):
    for adc in _adc_choices(params["rows"], params["cell_bits"]):
        t = TileConfig(cols=64, adc_bits=adc, **params)
        _check_widths(t, *_enumerate_extremes(t, exhaustive=True), tight=True)


@pytest.mark.parametrize("params", [
    dict(rows=8, cell_bits=2, w_bits=4, in_bits=4),
    dict(rows=16, cell_bits=1, w_bits=8, in_bits=8),
    dict(rows=128, cell_bits=2, w_bits=16, in_bits=16),             # ISAAC-like
    dict(rows=100, cell_bits=4, w_bits=8, in_bits=6),
], ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_widths_hold_extremes_at_all_min_all_max(params):
    for adc in _adc_choices(params["rows"], params["cell_bits"]) + [8]:
        t = TileConfig(cols=64, adc_bits=adc, **params)
        _check_widths(t, *_enumerate_extremes(t, exhaustive=False), tight=True)


def _check_widths(t, res, shift_add, xsum, codes_max, tight):
    for v in res:
        assert fits_signed(v, t.mvm_width), (t, v, t.mvm_width)
        # a step's merged value adds up to kernel^2 group results (ZP mode) ...
        assert fits_signed(v * t.groups, t.merge_width), (t, v, t.merge_width)
        # ... and an output, over all passes, one result per row tile and kernel tap
        terms = -(-t.max_cin // t.rows) * max(t.kernel, t.max_k) ** 2
        assert fits_signed(v * terms, t.out_width), (t, v, t.out_width)
    for v in shift_add:
        assert fits_signed(v, t.shift_add_width), (t, v, t.shift_add_width)
    for v in xsum:
        assert fits_signed(v, t.x_sum_width), (t, v, t.x_sum_width)
    assert fits_unsigned(codes_max, t.code_width), (t, codes_max, t.code_width)
    # the documented ranges contain the brute-force extremes ...
    assert t.mvm_range[0] <= res[0] and res[1] <= t.mvm_range[1], (t, res, t.mvm_range)
    if tight:
        # ... and are exactly them where the contract says they are reached
        assert t.shift_add_range == shift_add, (t, shift_add)
        assert t.x_sum_range == xsum, (t, xsum)
        assert t.code_max == codes_max, (t, codes_max)
        # The shift-add range and the ADC code range are reached by all-max/all-min
        # operands, so their widths cannot be one bit narrower.
        w = t.shift_add_width - 1
        assert not all(fits_signed(v, w) for v in shift_add), (t, shift_add, w + 1)
        assert t.code_width == 1 or not fits_unsigned(codes_max, t.code_width - 1)
        w = t.x_sum_width - 1
        assert not all(fits_signed(v, w) for v in xsum), (t, xsum, w + 1)
    # With a lossless ADC the result is the exact dot product, whose extremes are
    # rows * x_min * w_min (positive) and rows * min(x_min * w_max, x_max * w_min).
    if t.lossless:
        x_lo, x_hi = -(2 ** (t.in_bits - 1)), 2 ** (t.in_bits - 1) - 1
        w_lo, w_hi = -(2 ** (t.w_bits - 1)), 2 ** (t.w_bits - 1) - 1
        assert res == (t.rows * min(x_lo * w_hi, x_hi * w_lo), t.rows * x_lo * w_lo)


# ---------------------------------------------------------------------------------------
# check_layer
# ---------------------------------------------------------------------------------------

TILE = TileConfig(rows=8, cols=16, cell_bits=2, w_bits=4, kernel=3, max_stride=4,
                  max_in=16, max_cin=20, max_k=7)   # 16 columns / 2 slices = 8 outputs
FIT = dict(cin=20, cout=100, h=16, w=16, k=7, s=4, p=2, op=3)


def test_check_layer_accepts_what_passes_fix():
    """cin over rows, cout over the logical columns, k over the kernel: passes."""
    TILE.check_layer(LayerSpec(**FIT))
    TILE.check_layer(LayerSpec(cin=1, cout=1, h=1, w=1, k=1))


@pytest.mark.parametrize("over, field, value, limit_name, limit", [
    (dict(cin=21), "cin", 21, "max_cin", 20),
    (dict(k=8), "k", 8, "max_k", 7),
    (dict(s=5, op=0), "s", 5, "max_stride", 4),
    (dict(h=17), "h", 17, "max_in", 16),
    (dict(w=17), "w", 17, "max_in", 16),
])
def test_check_layer_errors_name_the_limit(over, field, value, limit_name, limit):
    with pytest.raises(ConfigError) as ei:
        TILE.check_layer(LayerSpec(**{**FIT, **over}))
    msg = str(ei.value)
    assert re.search(rf"\b{field}\b", msg), msg
    assert mentions(msg, value), msg
    assert limit_name in msg, msg
    assert mentions(msg, limit), msg


@pytest.mark.parametrize("text, needle", [
    ("kernel=9", "81 crossbar groups"),
    ("kernel=64", "4096 crossbar groups"),
    ("rows=1024,cols=4096", "37748736 crossbar cells"),
    ("rows=1024,cols=1024,kernel=2", "4194304 crossbar cells"),
])
def test_tiles_too_large_to_generate_are_refused(text, needle):
    """The generator's limits: 64 groups, 2^21 cells."""
    tile = TileConfig.parse(text)
    with pytest.raises(ConfigError, match=needle):
        tile.check_generable()


def test_largest_generable_tiles_pass():
    TileConfig(kernel=8).check_generable()                      # 64 groups
    TileConfig(rows=512, cols=1024, kernel=2).check_generable()  # 4 * 2^19 = 2^21 cells
