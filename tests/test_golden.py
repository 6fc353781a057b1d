"""Property tests of the golden model (red/golden.py).

Everything the golden model is compared against here is re-derived in this file from
the text of ../shared/RED_TILE.md, element by element in plain Python integers:

* ``ref_deconv``          -- the defining scatter ``y[co][ih*s-p+kh][iw*s-p+kw] += x*w``;
* ``ref_mvm``             -- the crossbar arithmetic contract, one physical column and
                             one bit plane at a time, with the saturating ADC;
* ``ref_crossbar_deconv`` -- one ``ref_mvm`` per (kernel pixel, row tile, input pixel).

Nothing (output sizes, ADC widths, ranges) is taken from red.config or red.golden.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import Phase, assume, example, find, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from red.config import ConfigError
from red.golden import (
    crossbar_deconv2d, crossbar_mvm, deconv2d, deconv2d_pf, deconv2d_phase, deconv2d_zp,
    weight_slices,
)

FORMULATIONS = [deconv2d, deconv2d_zp, deconv2d_pf, deconv2d_phase]


# ---------------------------------------------------------------------------------------
# Independent references (plain Python ints, straight from RED_TILE.md)
# ---------------------------------------------------------------------------------------

def signed_lo_hi(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def ref_out_size(n: int, k: int, s: int, p: int, op: int) -> int:
    return (n - 1) * s - 2 * p + k + op


def ref_setup(x, w, s: int, p: int, op: int):
    """Nested lists of ``x`` and ``w``, the shape ``(cin, h, w, cout, k, ho, wo)`` and a
    zero output ``y[cout][ho][wo]``."""
    xl, wl = np.asarray(x).tolist(), np.asarray(w).tolist()
    cin, h, wd = len(xl), len(xl[0]), len(xl[0][0])
    cout, k = len(wl[0]), len(wl[0][0])
    ho, wo = ref_out_size(h, k, s, p, op), ref_out_size(wd, k, s, p, op)
    return xl, wl, (cin, h, wd, cout, k, ho, wo), [[[0] * wo for _ in range(ho)]
                                                    for _ in range(cout)]


def ref_deconv(x, w, s: int, p: int, op: int) -> list:
    """``y[co][ih*s-p+kh][iw*s-p+kw] += x[ci][ih][iw] * w[ci][co][kh][kw]``, terms outside
    the ``Ho x Wo`` output dropped."""
    x, w, (cin, h, wd, cout, k, ho, wo), y = ref_setup(x, w, s, p, op)
    for ci in range(cin):
        for ih in range(h):
            for iw in range(wd):
                for co in range(cout):
                    for kh in range(k):
                        for kw in range(k):
                            oh, ow = ih * s - p + kh, iw * s - p + kw
                            if 0 <= oh < ho and 0 <= ow < wo:
                                y[co][oh][ow] += x[ci][ih][iw] * w[ci][co][kh][kw]
    return y


def ref_lossless_adc_bits(rows: int, c: int) -> int:
    return math.ceil(math.log2(rows * (2 ** c - 1) + 1))


@functools.lru_cache(maxsize=1 << 16)
def ref_mvm(xs: tuple, ws: tuple, c: int, bw: int, bx: int, a_bits: int) -> tuple:
    """One crossbar MVM under the contract.

    ``xs``: the inputs of the active rows; ``ws[row][col]``: signed weights.
    Per logical column ``j``, slice ``k`` (physical column) and bit plane ``b``:
    ``a = sum_rows x_b[row] * u_k[row]``, code ``min(a, 2^A - 1)``;
    ``P = sum_b g_b 2^b sum_k 2^(c k) code`` with ``g_{Bx-1} = -1``;
    result ``P - 2^(Bw-1) * sum(xs)``.
    """
    n_slices = bw // c
    adc_max = 2 ** a_bits - 1
    m = len(ws[0]) if ws else 0
    out = []
    for j in range(m):
        total = 0
        for b in range(bx):
            g = -1 if b == bx - 1 else 1
            for k in range(n_slices):
                col_sum = 0
                for r, xv in enumerate(xs):
                    x_bit = ((xv % 2 ** bx) // 2 ** b) % 2          # two's complement bit b
                    u = ws[r][j] + 2 ** (bw - 1)                     # offset binary
                    u_k = (u // 2 ** (c * k)) % 2 ** c               # slice k
                    col_sum += x_bit * u_k
                code = min(col_sum, adc_max)                         # saturating ADC
                total += g * 2 ** b * 2 ** (c * k) * code
        out.append(total - 2 ** (bw - 1) * sum(xs))
    return tuple(out)


def ref_mvm_array(x, w, c, bw, bx, a_bits):
    """``ref_mvm`` over any leading batch axes of ``x``; returns nested lists."""
    ws = tuple(tuple(row) for row in np.asarray(w).tolist())
    x = np.asarray(x)
    if x.ndim == 1:
        return list(ref_mvm(tuple(x.tolist()), ws, c, bw, bx, a_bits))
    return [ref_mvm_array(xi, w, c, bw, bx, a_bits) for xi in x]


def ref_crossbar_deconv(x, w, s, p, op, *, rows, c, bw, bx, a_bits=None) -> list:
    """One contract MVM per (kernel pixel, row tile of <= rows channels, input pixel)."""
    if a_bits is None:
        a_bits = ref_lossless_adc_bits(rows, c)
    xl, wl, (cin, h, wd, cout, k, ho, wo), y = ref_setup(x, w, s, p, op)
    for kh in range(k):
        for kw in range(k):
            for t0 in range(0, cin, rows):
                chans = range(t0, min(cin, t0 + rows))
                ws = tuple(tuple(wl[ci][co][kh][kw] for co in range(cout)) for ci in chans)
                for ih in range(h):
                    for iw in range(wd):
                        oh, ow = ih * s - p + kh, iw * s - p + kw
                        if not (0 <= oh < ho and 0 <= ow < wo):
                            continue
                        xs = tuple(xl[ci][ih][iw] for ci in chans)
                        for co, v in enumerate(ref_mvm(xs, ws, c, bw, bx, a_bits)):
                            y[co][oh][ow] += v
    return y


def mentions(msg: str, n: int) -> bool:
    """True if ``msg`` contains the integer ``n`` as a whole number (so ``8`` does not
    match inside ``-8`` or ``128``)."""
    return re.search(r"(?<![\w-])" + re.escape(str(n)) + r"(?!\d)", msg) is not None


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------

def signed_elements(bits: int):
    """Integers of a signed ``bits`` range that hit both ends often."""
    lo, hi = signed_lo_hi(bits)
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


@st.composite
def signed_arrays(draw, shape, bits: int):
    lo, hi = signed_lo_hi(bits)
    mode = draw(st.sampled_from(["any", "any", "any", "min", "max", "ends"]))
    if mode == "min":
        return np.full(shape, lo, dtype=np.int64)
    if mode == "max":
        return np.full(shape, hi, dtype=np.int64)
    elements = st.sampled_from([lo, hi, 0, -1]) if mode == "ends" else signed_elements(bits)
    return draw(hnp.arrays(np.int64, shape, elements=elements))


class Shape(NamedTuple):
    cin: int
    cout: int
    h: int
    w: int
    k: int
    s: int
    p: int
    op: int


def _min_size(k, s, p, op):
    """Smallest input size with a non-empty output: ``(n-1)s - 2p + k + op >= 1``."""
    need = 1 - k + 2 * p - op            # (n-1)*s >= need
    return max(1, 1 + -(-need // s))


@st.composite
def shapes(draw, max_k=6, max_s=5, max_c=4, max_extra=5):
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, max_s))
    p = draw(st.integers(0, k - 1))
    op = draw(st.integers(0, s - 1))
    n0 = _min_size(k, s, p, op)
    h = draw(st.integers(n0, n0 + max_extra - 1))
    w = draw(st.integers(n0, n0 + max_extra - 1))
    cin = draw(st.integers(1, max_c))
    cout = draw(st.integers(1, max_c))
    return Shape(cin, cout, h, w, k, s, p, op)


class DeconvCase(NamedTuple):
    x: np.ndarray
    w: np.ndarray
    s: int
    p: int
    op: int


@st.composite
def deconv_cases(draw, bits=8, **shape_kw):
    sh = draw(shapes(**shape_kw))
    x = draw(signed_arrays((sh.cin, sh.h, sh.w), bits))
    w = draw(signed_arrays((sh.cin, sh.cout, sh.k, sh.k), bits))
    return DeconvCase(x, w, sh.s, sh.p, sh.op)


class XbarCase(NamedTuple):
    x: np.ndarray
    w: np.ndarray
    s: int
    p: int
    op: int
    rows: int
    c: int
    bw: int
    bx: int
    adc: int | None

    def kwargs(self, adc="same"):
        return dict(rows=self.rows, cell_bits=self.c, w_bits=self.bw, in_bits=self.bx,
                    adc_bits=self.adc if adc == "same" else adc)


bit_params = st.tuples(st.sampled_from([1, 2, 4]),           # cell_bits (divides 4 and 8)
                       st.sampled_from([4, 8]),              # w_bits
                       st.integers(2, 8))                    # in_bits


@st.composite
def xbar_cases(draw, reduced: bool, **shape_kw):
    sh = draw(shapes(**shape_kw))
    c, bw, bx = draw(bit_params)
    rows = draw(st.integers(1, sh.cin + 1))                  # rows < cin: several row tiles
    lossless = ref_lossless_adc_bits(rows, c)
    if reduced:
        assume(lossless >= 2)
        adc = draw(st.integers(1, lossless - 1))
    else:
        adc = draw(st.sampled_from([None, None, lossless, lossless + 1]))
    x = draw(signed_arrays((sh.cin, sh.h, sh.w), bx))
    w = draw(signed_arrays((sh.cin, sh.cout, sh.k, sh.k), bw))
    return XbarCase(x, w, sh.s, sh.p, sh.op, rows, c, bw, bx, adc)


def make_deconv(cin, cout, h, w, k, s, p, op, fill="ramp", bits=8):
    lo, hi = signed_lo_hi(bits)
    if fill == "min":
        return DeconvCase(np.full((cin, h, w), lo), np.full((cin, cout, k, k), lo), s, p, op)
    if fill == "max":
        return DeconvCase(np.full((cin, h, w), hi), np.full((cin, cout, k, k), hi), s, p, op)
    span = hi - lo + 1
    x = (np.arange(cin * h * w) * 7 + 3) % span + lo
    wt = (np.arange(cin * cout * k * k) * 5 + 11) % span + lo
    return DeconvCase(x.reshape(cin, h, w), wt.reshape(cin, cout, k, k), s, p, op)


def make_xbar(cin, cout, h, w, k, s, p, op, *, rows, c, bw, bx, adc=None,
              xfill="min", wfill="min"):
    def fill(shape, bits, how):
        lo, hi = signed_lo_hi(bits)
        if how == "min":
            return np.full(shape, lo, dtype=np.int64)
        if how == "max":
            return np.full(shape, hi, dtype=np.int64)
        return np.resize(np.array([lo, hi, -1, 0, 1], dtype=np.int64), shape)   # "alt"
    return XbarCase(fill((cin, h, w), bx, xfill), fill((cin, cout, k, k), bw, wfill),
                    s, p, op, rows, c, bw, bx, adc)


# ---------------------------------------------------------------------------------------
# The reference itself (so that a wrong reference cannot make everything agree)
# ---------------------------------------------------------------------------------------

def test_reference_deconv_hand_example():
    # x = [[1, 2]] (1 channel, 1x2), w = [[a b], [c d]] with a,b,c,d = 1,10,100,1000,
    # s=2, p=0, op=0: Ho = (1-1)*2 - 0 + 2 + 0 = 2, Wo = (2-1)*2 + 2 = 4.
    # x[0][0]=1 lands at columns 0,1; x[0][1]=2 at columns 2,3 (no overlap since s=k):
    #   row 0: 1*1, 1*10, 2*1, 2*10     = 1, 10, 2, 20
    #   row 1: 1*100, 1*1000, 2*100, 2*1000 = 100, 1000, 200, 2000
    x = [[[1, 2]]]
    w = [[[[1, 10], [100, 1000]]]]
    assert ref_deconv(x, w, 2, 0, 0) == [[[1, 10, 2, 20], [100, 1000, 200, 2000]]]
    # x 2x2 = [[1,2],[3,4]], same kernel, s=1, p=1: Ho = Wo = 1*1 - 2 + 2 = 1. Output
    # (0,0) gets the taps with ih*1 - 1 + kh = 0 -> (ih,kh) in {(0,1),(1,0)}, same for w:
    #   y = x00*w11 + x01*w10 + x10*w01 + x11*w00 = 1*1000 + 2*100 + 3*10 + 4*1 = 1234
    assert ref_deconv([[[1, 2], [3, 4]]], w, 1, 1, 0) == [[[1234]]]


def test_reference_mvm_is_dot_product_when_lossless():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, m = rng.integers(1, 5), rng.integers(1, 4)
        c, bw, bx = int(rng.choice([1, 2, 4])), int(rng.choice([4, 8])), int(rng.integers(2, 9))
        x = rng.integers(-(2 ** (bx - 1)), 2 ** (bx - 1), n).tolist()
        w = rng.integers(-(2 ** (bw - 1)), 2 ** (bw - 1), (n, m)).tolist()
        exact = tuple(sum(x[r] * w[r][j] for r in range(n)) for j in range(m))
        got = ref_mvm(tuple(x), tuple(map(tuple, w)), c, bw, bx, ref_lossless_adc_bits(n, c))
        assert got == exact


# ---------------------------------------------------------------------------------------
# The four formulations of the deconvolution
# ---------------------------------------------------------------------------------------

@given(case=deconv_cases())
@example(case=make_deconv(2, 3, 2, 3, 2, 5, 1, 4))          # s > k, op = s-1
@example(case=make_deconv(3, 2, 1, 1, 4, 1, 0, 0))          # DCGAN's 1x1 first layer
@example(case=make_deconv(1, 1, 1, 1, 1, 1, 0, 0))          # smallest possible layer
@example(case=make_deconv(2, 2, 2, 2, 3, 2, 2, 1))          # p = k-1: Ho = Wo = 2
@example(case=make_deconv(1, 2, 2, 3, 6, 5, 5, 4))          # k=6, s=5, p=5, op=4
@example(case=make_deconv(4, 4, 1, 5, 5, 2, 2, 1, fill="min"))   # non-square, all min
@example(case=make_deconv(4, 4, 3, 2, 4, 2, 1, 0, fill="max"))   # all max
def test_formulations_agree_with_reference(case):
    x, w, s, p, op = case
    expected = ref_deconv(x, w, s, p, op)
    cin, h, wd = x.shape
    k = w.shape[2]
    ho, wo = ref_out_size(h, k, s, p, op), ref_out_size(wd, k, s, p, op)
    for f in FORMULATIONS:
        y = f(x, w, s, p, op)
        assert y.dtype == np.int64, f.__name__
        assert y.shape == (w.shape[1], ho, wo), f.__name__
        assert y.tolist() == expected, f.__name__


def test_formulations_accept_narrow_integer_dtypes():
    x = np.array([[[127, -128], [-1, 5]]], dtype=np.int8)
    w = np.array([[[[-128, 127], [3, -7]]]], dtype=np.int8)
    expected = ref_deconv(x.astype(np.int64), w.astype(np.int64), 2, 1, 1)
    for f in FORMULATIONS:
        assert f(x, w, 2, 1, 1).tolist() == expected, f.__name__


@pytest.mark.parametrize("f", FORMULATIONS, ids=lambda f: f.__name__)
def test_formulations_refuse_bad_arguments(f):
    x = np.ones((2, 3, 3), dtype=np.int64)
    w = np.ones((2, 1, 3, 3), dtype=np.int64)
    with pytest.raises(ConfigError, match="dtype"):
        f(x.astype(float), w, 1, 0)
    with pytest.raises(ConfigError, match="dtype"):
        f(x, w.astype(float), 1, 0)
    with pytest.raises(ConfigError, match="Cin"):
        f(x, np.ones((3, 1, 3, 3), dtype=np.int64), 1, 0)
    with pytest.raises(ConfigError):
        f(x, np.ones((2, 1, 3, 2), dtype=np.int64), 1, 0)            # non-square kernel
    with pytest.raises(ConfigError):
        f(x[0], w, 1, 0)                                               # x not 3-D
    with pytest.raises(ConfigError, match=r"\bp=3\b"):
        f(x, w, 1, 3)                                                  # p >= k
    with pytest.raises(ConfigError, match=r"\bop=2\b"):
        f(x, w, 2, 0, 2)                                               # op >= s
    with pytest.raises(ConfigError, match=r"\bs=0\b"):
        f(x, w, 0, 0)


# ---------------------------------------------------------------------------------------
# Crossbar: lossless ADC reproduces the deconvolution exactly
# ---------------------------------------------------------------------------------------

@given(case=xbar_cases(reduced=False))
@example(case=make_xbar(3, 2, 2, 2, 3, 2, 1, 1, rows=2, c=1, bw=8, bx=8))        # all min
@example(case=make_xbar(3, 2, 2, 2, 3, 2, 1, 1, rows=2, c=4, bw=8, bx=8,
                        xfill="max", wfill="max"))
@example(case=make_xbar(4, 3, 1, 1, 4, 1, 0, 0, rows=1, c=2, bw=4, bx=2,
                        xfill="min", wfill="max"))                               # 1x1 input
@example(case=make_xbar(4, 4, 3, 2, 2, 5, 1, 3, rows=3, c=1, bw=4, bx=5,
                        xfill="alt", wfill="alt", adc=None))                     # s > k
def test_crossbar_lossless_equals_deconv(case):
    x, w, s, p, op = case[:5]
    y = crossbar_deconv2d(x, w, s, p, op, **case.kwargs())
    assert y.dtype == np.int64
    assert y.tolist() == deconv2d(x, w, s, p, op).tolist()
    assert y.tolist() == ref_deconv(x, w, s, p, op)


@given(case=xbar_cases(reduced=False, max_k=4, max_s=3, max_extra=3),
       other_rows=st.integers(1, 5))
def test_crossbar_lossless_row_tiling_is_invisible(case, other_rows):
    """Splitting Cin into row tiles of any size gives the same lossless result."""
    x, w, s, p, op = case[:5]
    a = crossbar_deconv2d(x, w, s, p, op, **case.kwargs(adc=None))
    kw = case.kwargs(adc=None)
    kw["rows"] = other_rows
    b = crossbar_deconv2d(x, w, s, p, op, **kw)
    assert a.tolist() == b.tolist()


@given(case=xbar_cases(reduced=False, max_k=4, max_s=3, max_extra=3), data=st.data())
def test_crossbar_lossless_channel_permutation_is_invisible(case, data):
    """Permuting input channels together with the weights' Cin axis (a different
    row mapping) leaves the lossless result unchanged."""
    x, w, s, p, op = case[:5]
    perm = np.array(data.draw(st.permutations(range(x.shape[0]))))
    a = crossbar_deconv2d(x, w, s, p, op, **case.kwargs(adc=None))
    b = crossbar_deconv2d(x[perm], w[perm], s, p, op, **case.kwargs(adc=None))
    assert a.tolist() == b.tolist()


# ---------------------------------------------------------------------------------------
# Crossbar: clipping ADC against the element-by-element contract reference
# ---------------------------------------------------------------------------------------

REDUCED_SHAPES = dict(max_k=5, max_s=5, max_extra=3)


@given(case=xbar_cases(reduced=True, **REDUCED_SHAPES))
@example(case=make_xbar(3, 2, 2, 2, 3, 2, 1, 1, rows=3, c=2, bw=8, bx=8, adc=3,
                        xfill="min", wfill="max"))
@example(case=make_xbar(3, 2, 2, 2, 3, 2, 1, 1, rows=2, c=1, bw=4, bx=4, adc=1,
                        xfill="max", wfill="min"))
@example(case=make_xbar(4, 2, 2, 3, 2, 3, 0, 2, rows=4, c=4, bw=8, bx=2, adc=5,
                        xfill="alt", wfill="alt"))
@example(case=make_xbar(2, 2, 1, 1, 3, 1, 1, 0, rows=1, c=4, bw=4, bx=8, adc=1,
                        xfill="min", wfill="min"))
def test_crossbar_reduced_adc_matches_contract(case):
    x, w, s, p, op = case[:5]
    got = crossbar_deconv2d(x, w, s, p, op, **case.kwargs())
    expected = ref_crossbar_deconv(x, w, s, p, op, rows=case.rows, c=case.c, bw=case.bw,
                                   bx=case.bx, a_bits=case.adc)
    note(f"exact = {ref_deconv(x, w, s, p, op)}")
    assert got.tolist() == expected


class MvmCase(NamedTuple):
    x: np.ndarray
    w: np.ndarray
    rows: int | None
    c: int
    bw: int
    bx: int
    adc: int | None


@st.composite
def mvm_cases(draw):
    c, bw, bx = draw(bit_params)
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 4))
    rows = draw(st.one_of(st.none(), st.integers(n, n + 3)))
    lossless = ref_lossless_adc_bits(n if rows is None else rows, c)
    adc = draw(st.one_of(st.none(), st.integers(1, lossless + 1)))
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 3)]))
    x = draw(signed_arrays(batch + (n,), bx))
    w = draw(signed_arrays((n, m), bw))
    return MvmCase(x, w, rows, c, bw, bx, adc)


@given(case=mvm_cases())
@example(case=MvmCase(np.full((2, 3), -128), np.full((3, 2), 127), None, 1, 8, 8, 1))
@example(case=MvmCase(np.full((3,), -8), np.full((3, 4), -8), 5, 2, 4, 4, 2))
@example(case=MvmCase(np.array([[-1, -1], [1, -2]]), np.array([[7], [7]]), 2, 4, 4, 2, 3))
def test_crossbar_mvm_matches_contract(case):
    x, w, rows, c, bw, bx, adc = case
    got = crossbar_mvm(x, w, cell_bits=c, w_bits=bw, in_bits=bx, adc_bits=adc, rows=rows)
    a_bits = ref_lossless_adc_bits(w.shape[0] if rows is None else rows, c) \
        if adc is None else adc
    assert got.dtype == np.int64
    assert got.shape == x.shape[:-1] + (w.shape[1],)
    assert got.tolist() == ref_mvm_array(x, w, c, bw, bx, a_bits)
    if adc is None:
        assert got.tolist() == (x @ w).tolist()


def _clipped_differs(case: XbarCase) -> bool:
    x, w, s, p, op = case[:5]
    return (crossbar_deconv2d(x, w, s, p, op, **case.kwargs()).tolist()
            != ref_deconv(x, w, s, p, op))


def test_reduced_adc_strategy_really_clips():
    """The reduced-ADC property test is not vacuous: its own strategy produces cases
    whose clipped result differs from the exact deconvolution."""
    found = find(xbar_cases(reduced=True, **REDUCED_SHAPES), _clipped_differs,
                 settings=settings(derandomize=True, database=None, max_examples=500,
                                   phases=[Phase.explicit, Phase.generate]))
    assert _clipped_differs(found)


def test_reduced_adc_clips_often_and_matches_contract():
    """Deterministic sweep: most random reduced-ADC cases clip, and every one matches
    the contract reference."""
    rng = np.random.default_rng(2024)
    differ = 0
    trials = 40
    for _ in range(trials):
        c, bw, bx = int(rng.choice([1, 2, 4])), int(rng.choice([4, 8])), int(rng.integers(2, 9))
        cin, cout, k, s = (int(v) for v in rng.integers(1, 5, 4))
        rows = int(rng.integers(2, cin + 2))
        adc = int(rng.integers(1, ref_lossless_adc_bits(rows, c)))
        p, op = int(rng.integers(0, k)), int(rng.integers(0, s))
        n0 = _min_size(k, s, p, op)
        h, wd = n0 + int(rng.integers(0, 3)), n0 + int(rng.integers(0, 3))
        xlo, xhi = signed_lo_hi(bx)
        wlo, whi = signed_lo_hi(bw)
        x = rng.integers(xlo, xhi + 1, (cin, h, wd))
        w = rng.integers(wlo, whi + 1, (cin, cout, k, k))
        case = XbarCase(x, w, s, p, op, rows, c, bw, bx, adc)
        got = crossbar_deconv2d(x, w, s, p, op, **case.kwargs()).tolist()
        assert got == ref_crossbar_deconv(x, w, s, p, op, rows=rows, c=c, bw=bw, bx=bx,
                                          a_bits=adc)
        differ += got != ref_deconv(x, w, s, p, op)
    assert differ >= trials // 2, f"only {differ}/{trials} reduced-ADC cases clipped"


@pytest.mark.parametrize("c, rows", [(c, r) for c in (1, 2, 4) for r in (1, 2, 3, 7)
                                     if (c, r) != (1, 1)])   # 1 row of 1-bit cells: A=1
@pytest.mark.parametrize("bw", [4, 8])
def test_one_bit_below_lossless_clips_at_full_scale(c, bw, rows):
    # x = -1 has every bit plane set and w = w_max stores u = 2^Bw - 1 (all slices at
    # 2^c - 1), so every column sums rows*(2^c-1) >= 2^(A_lossless-1), which an ADC one
    # bit below lossless cannot represent.
    bx = 4
    a_bits = ref_lossless_adc_bits(rows, c) - 1
    assert a_bits >= 1
    x = np.full((rows,), -1)
    w = np.full((rows, 3), 2 ** (bw - 1) - 1)
    got = crossbar_mvm(x, w, cell_bits=c, w_bits=bw, in_bits=bx, adc_bits=a_bits)
    assert got.tolist() == ref_mvm_array(x, w, c, bw, bx, a_bits)
    assert got.tolist() != (x @ w).tolist()


def test_hand_computed_clipping_example():
    # 1 row, 1 logical column, c=2, Bw=4 (S=2 slices), Bx=4, adc_bits=1 (codes 0..1).
    # w = 5: u = 5 + 2^3 = 13 = 0b11_01 -> u_0 = 0b01 = 1, u_1 = 0b11 = 3.
    #
    # (a) x = 3 = 0b0011: planes b0=1, b1=1, b2=0, b3=0.
    #     Planes b0, b1: column sums a_0 = 1*1 = 1, a_1 = 1*3 = 3; ADC: min(1,1)=1,
    #     min(3,1)=1; slice combine 1*1 + 4*1 = 5.  Planes b2, b3: 0.
    #     P = +1*5 + 2*5 = 15.  Offset: 2^3 * 3 = 24.  Result 15 - 24 = -9
    #     (exact 3*5 = 15: the clipped slice-1 sum lost 4*(3-1)*(1+2) = 24).
    # (b) x = -3 = 0b1101 (16 - 3 = 13): planes b0=1, b1=0, b2=1, b3=1 (sign).
    #     Each set plane again combines to 5.
    #     P = 1*5 + 4*5 - 8*5 = -15.  Offset: 2^3 * (-3) = -24.  Result -15 + 24 = 9
    #     (exact -15).
    # (c) lossless for 1 row, c=2: A = ceil(log2(1*3 + 1)) = 2, codes up to 3, so slice
    #     combine is 1 + 4*3 = 13; x=3: P = 13 + 2*13 = 39, 39 - 24 = 15 = 3*5.
    kw = dict(cell_bits=2, w_bits=4, in_bits=4)
    assert crossbar_mvm([3], [[5]], adc_bits=1, **kw).tolist() == [-9]
    assert crossbar_mvm([-3], [[5]], adc_bits=1, **kw).tolist() == [9]
    assert crossbar_mvm([3], [[5]], **kw).tolist() == [15]
    assert crossbar_mvm([3], [[5]], adc_bits=2, **kw).tolist() == [15]
    # The same numbers through the deconvolution path (1x1 input, 1x1 kernel).
    assert crossbar_deconv2d([[[3]]], [[[[5]]]], 1, 0, rows=1, adc_bits=1,
                             **kw).tolist() == [[[-9]]]
    # And through the test's own reference.
    assert ref_mvm((3,), ((5,),), 2, 4, 4, 1) == (-9,)
    assert ref_mvm((-3,), ((5,),), 2, 4, 4, 1) == (9,)


def test_hand_computed_two_row_example():
    # 2 rows, 1 column, c=1, Bw=2 (S=2), Bx=2, adc_bits=1.
    # w = [1, 1]: u = 1 + 2 = 3 = 0b11 -> slices (1, 1) in both rows.
    # x = [1, 1] = 0b01: plane b0 = [1, 1], plane b1 (sign) = [0, 0].
    #   plane b0: column sums 1+1 = 2 on both slices -> ADC min(2, 1) = 1 each;
    #   combine 1 + 2*1 = 3.  P = 3.  Offset 2^1 * (1+1) = 4.  Result 3 - 4 = -1
    #   (exact 1*1 + 1*1 = 2).
    # Row tiles of 1 row instead (crossbar_deconv2d with rows=1): each tile sees one row,
    #   sums 1 <= 1 never clip, so each tile gives exactly 1 and the total is 2.
    kw = dict(cell_bits=1, w_bits=2, in_bits=2, adc_bits=1)
    assert crossbar_mvm([1, 1], [[1], [1]], **kw).tolist() == [-1]
    x, w = [[[1]], [[1]]], [[[[1]]], [[[1]]]]
    assert crossbar_deconv2d(x, w, 1, 0, rows=2, **kw).tolist() == [[[-1]]]
    assert crossbar_deconv2d(x, w, 1, 0, rows=1, **kw).tolist() == [[[2]]]


@given(case=xbar_cases(reduced=True, max_k=4, max_s=3, max_extra=3), data=st.data())
def test_clipping_result_independent_of_column_order_and_row_order_within_tile(case, data):
    """Columns are independent and an ADC sees a sum (order-free): permuting output
    channels permutes the result, and permuting input channels inside one row tile does
    not change it, even with a clipping ADC."""
    x, w, s, p, op = case[:5]
    kw = case.kwargs()
    base = crossbar_deconv2d(x, w, s, p, op, **kw)
    cperm = np.array(data.draw(st.permutations(range(w.shape[1]))))
    assert crossbar_deconv2d(x, w[:, cperm], s, p, op, **kw).tolist() == \
        base[cperm].tolist()
    kw["rows"] = x.shape[0]                     # a single row tile
    single = crossbar_deconv2d(x, w, s, p, op, **kw)
    rperm = np.array(data.draw(st.permutations(range(x.shape[0]))))
    assert crossbar_deconv2d(x[rperm], w[rperm], s, p, op, **kw).tolist() == \
        single.tolist()


# ---------------------------------------------------------------------------------------
# Weight slicing
# ---------------------------------------------------------------------------------------

@given(cb=bit_params, data=st.data())
def test_weight_slices_offset_binary(cb, data):
    c, bw, _ = cb
    w = data.draw(signed_arrays((3, 2), bw))
    sl = weight_slices(w, cell_bits=c, w_bits=bw)
    assert sl.shape == (3, 2, bw // c)
    for idx, wv in np.ndenumerate(w):
        u = int(wv) + 2 ** (bw - 1)
        assert [int(v) for v in sl[idx]] == [(u // 2 ** (c * k)) % 2 ** c
                                           for k in range(bw // c)]
        assert sum(int(v) * 2 ** (c * k) for k, v in enumerate(sl[idx])) - 2 ** (bw - 1) \
            == int(wv)


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------

def _bad_values(bits):
    lo, hi = signed_lo_hi(bits)
    return [hi + 1, lo - 1, 2 ** bits, -(2 ** bits) - 5]


@pytest.mark.parametrize("bx", [2, 4, 8])
@pytest.mark.parametrize("which", ["x", "w"])
def test_crossbar_mvm_refuses_out_of_range(bx, which):
    bw = 4
    bits = bx if which == "x" else bw
    lo, hi = signed_lo_hi(bits)
    for bad in _bad_values(bits):
        x = np.zeros((2, 3), dtype=np.int64)
        w = np.zeros((3, 2), dtype=np.int64)
        # the boundaries themselves are accepted
        target = x if which == "x" else w
        target.flat[1] = lo
        target.flat[2] = hi
        crossbar_mvm(x, w, cell_bits=2, w_bits=bw, in_bits=bx)
        target.flat[4] = bad
        with pytest.raises(ConfigError) as ei:
            crossbar_mvm(x, w, cell_bits=2, w_bits=bw, in_bits=bx)
        msg = str(ei.value)
        assert which in msg
        assert mentions(msg, bad), msg
        assert mentions(msg, lo) and mentions(msg, hi), msg


@pytest.mark.parametrize("which", ["x", "w"])
def test_crossbar_deconv2d_refuses_out_of_range(which):
    bx, bw = 5, 8
    bits = bx if which == "x" else bw
    lo, hi = signed_lo_hi(bits)
    for bad in _bad_values(bits):
        x = np.zeros((2, 3, 3), dtype=np.int64)
        w = np.zeros((2, 2, 3, 3), dtype=np.int64)
        (x if which == "x" else w)[(1,) * (3 if which == "x" else 4)] = bad
        with pytest.raises(ConfigError) as ei:
            crossbar_deconv2d(x, w, 2, 1, 1, rows=2, cell_bits=2, w_bits=bw, in_bits=bx)
        msg = str(ei.value)
        assert which in msg
        assert mentions(msg, bad), msg
        assert mentions(msg, lo) and mentions(msg, hi), msg


def test_crossbar_refuses_float_and_bad_shapes():
    kw = dict(cell_bits=2, w_bits=4, in_bits=4)
    x, w = np.ones((2, 3), dtype=np.int64), np.ones((3, 2), dtype=np.int64)
    with pytest.raises(ConfigError, match="dtype"):
        crossbar_mvm(x.astype(np.float64), w, **kw)
    with pytest.raises(ConfigError, match="dtype"):
        crossbar_mvm(x, w.astype(np.float32), **kw)
    with pytest.raises(ConfigError, match="n=3"):
        crossbar_mvm(np.ones((2, 4), dtype=np.int64), w, **kw)        # rows mismatch
    with pytest.raises(ConfigError):
        crossbar_mvm(x, np.ones((3,), dtype=np.int64), **kw)         # w not 2-D
    with pytest.raises(ConfigError):
        crossbar_mvm(x, np.ones((3, 2, 1), dtype=np.int64), **kw)
    with pytest.raises(ConfigError, match=r"rows=2"):
        crossbar_mvm(x, w, rows=2, **kw)                              # 3 active rows > 2
    with pytest.raises(ConfigError, match="must divide"):
        crossbar_mvm(x, w, cell_bits=3, w_bits=4, in_bits=4)
    with pytest.raises(ConfigError, match="adc_bits"):
        crossbar_mvm(x, w, adc_bits=0, **kw)

    dkw = dict(rows=2, **kw)
    xd, wd = np.ones((2, 3, 3), dtype=np.int64), np.ones((2, 1, 2, 2), dtype=np.int64)
    with pytest.raises(ConfigError, match="dtype"):
        crossbar_deconv2d(xd.astype(float), wd, 1, 0, **dkw)
    with pytest.raises(ConfigError, match="dtype"):
        crossbar_deconv2d(xd, wd.astype(float), 1, 0, **dkw)
    with pytest.raises(ConfigError, match="Cin"):
        crossbar_deconv2d(xd[:1], wd, 1, 0, **dkw)
    with pytest.raises(ConfigError):
        crossbar_deconv2d(xd, np.ones((2, 1, 2, 3), dtype=np.int64), 1, 0, **dkw)
    with pytest.raises(ConfigError):
        crossbar_deconv2d(xd[0], wd, 1, 0, **dkw)
    with pytest.raises(ConfigError, match="rows"):
        crossbar_deconv2d(xd, wd, 1, 0, rows=0, cell_bits=2, w_bits=4, in_bits=4)
    with pytest.raises(ConfigError, match="adc_bits"):
        crossbar_deconv2d(xd, wd, 1, 0, adc_bits=0, **dkw)


# ---------------------------------------------------------------------------------------
# Former defects, kept as regression tests
# ---------------------------------------------------------------------------------------

def test_wide_configs_are_exact_or_refused():
    t = dict(rows=2, cell_bits=1, w_bits=32, in_bits=32)   # TileConfig refuses this now
    lo = -(2 ** 31)
    exact = 2 * lo * lo                                                    # 2^63
    kw = dict(cell_bits=t["cell_bits"], w_bits=t["w_bits"], in_bits=t["in_bits"], rows=t["rows"])
    results = []
    for run in (lambda: crossbar_mvm([lo, lo], [[lo], [lo]], **kw).tolist(),
                lambda: deconv2d([[[lo]], [[lo]]], [[[[lo]]], [[[lo]]]], 1, 0).tolist(),
                lambda: crossbar_deconv2d([[[lo]], [[lo]]], [[[[lo]]], [[[lo]]]], 1, 0,
                                          **kw).tolist()):
        try:
            results.append(run())
        except ConfigError:
            results.append("refused")
    for got, want in zip(results, [[exact], [[[exact]]], [[[exact]]]]):
        assert got == "refused" or got == want, (got, want)


def test_uint64_out_of_range_refused():
    x = np.array([2 ** 64 - 1], dtype=np.uint64)
    try:
        got = crossbar_mvm(x, [[1]], cell_bits=1, w_bits=2, in_bits=8)
    except ConfigError:
        return
    raise AssertionError(f"x = 2**64-1 accepted as {x.astype(np.int64)}; result {got}")
