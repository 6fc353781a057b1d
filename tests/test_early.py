"""Early termination's golden model (red.golden.early_deconv2d) against an independent
brute force, the bounds' soundness (clipping ADC included), the output stage, and the
setting's parsing.

The brute force rebuilds every bound from crossbar_mvm alone: the partial result after
n planes is the MVM of the input with its low planes cleared, corrected by the offset
of the planes removed; a group's bound on the planes to come is the smaller of
(2^r - 1) * U, U a column's slice-weighted codes with every row driven, and
(2^r - 1) * P + 2^(Bw-1) * sum(x mod 2^r), P its positive weights' sum.
"""

import numpy as np
import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.early import (BOUNDS, EPS_FRAC_BITS, EarlySpec, OutputStage, early_applies,
                       not_applied_reason)
from red.golden import (column_codes, crossbar_deconv2d, crossbar_mvm, deconv2d,
                        early_deconv2d, group_bounds, output_stage, weight_slices)

SEED = 1906
PARAMS = dict(rows=8, cell_bits=2, w_bits=4, in_bits=4)


def random_case(rng, max_cin=8):
    """A small layer with data, bias and ADC; shapes that give an empty output are redrawn."""
    while True:
        cin, cout = int(rng.integers(1, max_cin + 1)), int(rng.integers(1, 4))
        h, k, s = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        p, op = int(rng.integers(0, k)), int(rng.integers(0, s))
        if (h - 1) * s - 2 * p + k + op >= 1:
            break
    x = rng.integers(-8, 8, (cin, h, h))
    w = rng.integers(-8, 8, (cin, cout, k, k))
    bias = rng.integers(-60, 30, cout)
    adc = [None, 3, 4][int(rng.integers(0, 3))]
    return x, w, (s, p, op), bias, adc


def brute_force(x, w, geometry, bias, adc, flow, spec, relu):
    """Per output, per plane: bounds from crossbar_mvm, the rule of red.early, in loops."""
    s, p, op = geometry
    B, Bw, c = PARAMS["in_bits"], PARAMS["w_bits"], PARAMS["cell_bits"]
    cin, cout, k, _ = w.shape
    h = x.shape[1]
    ho = (h - 1) * s - 2 * p + k + op
    cap = (1 << (adc if adc is not None else 5)) - 1
    # Row tiles of PARAMS["rows"] channels; the last decides, the others' sums are exact.
    rows = PARAMS["rows"]
    tiles = [slice(r, min(r + rows, cin)) for r in range(0, cin, rows)]
    before, last = tiles[:-1], tiles[-1]
    n_last = last.stop - last.start
    # U[kh][kw][co]: every row of the last tile driven, each slice's code clipped,
    # weighted by slice; P[kh][kw][co]: the last tile's positive weights' sum.
    units = np.zeros((k, k, cout), dtype=np.int64)
    positive = np.zeros((k, k, cout), dtype=np.int64)
    for kh in range(k):
        for kw in range(k):
            cells = weight_slices(w[last, :, kh, kw], cell_bits=c, w_bits=Bw)
            codes = column_codes(np.ones(n_last), cells.reshape(n_last, -1), adc or 5)
            units[kh, kw] = (np.minimum(codes, cap).reshape(cout, -1)
                             * (1 << (c * np.arange(Bw // c)))).sum(axis=1)
            for co in range(cout):
                positive[kh, kw, co] = sum(max(int(v), 0) for v in w[last, co, kh, kw])

    def most(kh, kw, co, pixel, r):
        """What the r planes to come can add to group (kh, kw)'s column co."""
        low = 0 if pixel is None else sum(int(v) % (1 << r) for v in pixel)
        return min(((1 << r) - 1) * int(units[kh, kw, co]),
                   ((1 << r) - 1) * int(positive[kh, kw, co]) + (low << (Bw - 1)))

    y = np.zeros((cout, ho, ho), dtype=np.int64)
    decided = np.zeros(y.shape, dtype=bool)
    planes = np.full(y.shape, B, dtype=np.int64)
    for oh in range(ho):
        for ow in range(ho):
            terms = [(kh, kw, (oh + p - kh) // s, (ow + p - kw) // s)
                     for kh in range(k) for kw in range(k)
                     if (oh + p - kh) % s == 0 and (ow + p - kw) % s == 0
                     and 0 <= (oh + p - kh) // s < h and 0 <= (ow + p - kw) // s < h]
            for co in range(cout):
                def mvm(tile, vector, kh, kw):
                    return int(crossbar_mvm(vector, w[tile, co:co + 1, kh, kw], adc_bits=adc,
                                            **PARAMS)[0])
                earlier = sum(mvm(t, x[t, i, j], kh, kw) for kh, kw, i, j in terms
                              for t in before)
                exact = bias[co] + earlier + sum(mvm(last, x[last, i, j], kh, kw)
                                                 for kh, kw, i, j in terms)
                value = exact
                pixels = {(kh, kw): x[last, i, j] for kh, kw, i, j in terms}
                groups = ([(kh, kw) for kh in range(k) for kw in range(k)] if flow == "zp"
                          else list(pixels))
                for n in range(1, B):
                    if not spec.on or (flow == "red" and not terms):
                        break
                    r = B - n
                    lo = bias[co] + earlier
                    for kh, kw, i, j in terms:
                        kept = (x[last, i, j] >> r) << r      # the planes applied so far
                        lo += mvm(last, kept, kh, kw)
                        lo -= (1 << (Bw - 1)) * int((x[last, i, j] - kept).sum())
                    hi = lo + sum(most(kh, kw, co, pixels.get((kh, kw)), r)
                                  for kh, kw in groups)
                    if relu and hi < 0:
                        value = 0
                    elif spec.mode == "approx" and \
                            (hi - lo) << EPS_FRAC_BITS <= spec.eps_q * abs(lo):
                        value = (lo + hi) // 2
                    else:
                        continue
                    decided[co, oh, ow], planes[co, oh, ow] = True, n
                    break
                y[co, oh, ow] = max(value, 0) if relu else value
    return y, decided, planes


@pytest.mark.parametrize("flow", ["red", "zp"])
@pytest.mark.parametrize("spec", [EarlySpec("negative"), EarlySpec("approx", 9000)],
                         ids=["negative", "approx"])
def test_golden_equals_brute_force(flow, spec):
    rng = np.random.default_rng(SEED)
    print(f"seed={SEED}")
    for _ in range(12):
        x, w, geometry, bias, adc = random_case(rng)
        got = early_deconv2d(x, w, *geometry, flow=flow, early=spec, bias=bias, relu=True,
                             adc_bits=adc, **PARAMS)
        y, decided, planes = brute_force(x, w, geometry, bias, adc, flow, spec, True)
        assert np.array_equal(got.y, y)
        assert np.array_equal(got.decided, decided)
        assert np.array_equal(got.planes, planes)


@pytest.mark.parametrize("flow", ["red", "zp"])
def test_negative_is_exact(flow):
    """--early negative equals relu(conv_transpose2d + bias) (lossless ADC) and the
    clipped contract with its output stage (clipping ADC), and decides something."""
    rng = np.random.default_rng(SEED + 1)
    print(f"seed={SEED + 1}")
    decided = 0
    for _ in range(40):
        x, w, geometry, bias, adc = random_case(rng)
        got = early_deconv2d(x, w, *geometry, flow=flow, early=EarlySpec("negative"),
                             bias=bias, relu=True, adc_bits=adc, **PARAMS)
        clipped = crossbar_deconv2d(x, w, *geometry, adc_bits=adc, bias=bias, relu=True,
                                    **PARAMS)
        assert np.array_equal(got.y, clipped) and np.array_equal(got.exact, clipped)
        if adc is None:
            assert np.array_equal(got.y, np.maximum(deconv2d(x, w, *geometry) +
                                                    bias[:, None, None], 0))
        decided += int(got.decided.sum())
    assert decided > 0


@pytest.mark.parametrize("adc", [None, 3, 4], ids=["lossless", "adc3", "adc4"])
def test_group_bounds_hold_with_any_adc(adc):
    """After every plane, what the planes to come add to a column (its final clipped
    result less the hardware's partial one) lies in [0, group_bounds], for both bounds."""
    rng = np.random.default_rng(SEED + 2)
    print(f"seed={SEED + 2}")
    B, Bw = PARAMS["in_bits"], PARAMS["w_bits"]
    rest = (1 << (B - np.arange(1, B))) - 1
    tight = 0
    for _ in range(200):
        rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 4))
        w = rng.integers(-8, 8, (rows, cols))
        x = rng.integers(-8, 8, rows)
        final = crossbar_mvm(x, w, adc_bits=adc, **PARAMS)
        low = np.array([[int((x % (1 << r)).sum())] for r in B - np.arange(1, B)])
        bounds = {bound: group_bounds(w, low, rest, cell_bits=PARAMS["cell_bits"],
                                      w_bits=Bw, adc_bits=adc or 5, bound=bound)[:, 0]
                  for bound in BOUNDS}
        assert np.all(bounds["signed"] <= bounds["offset"])
        for n in range(1, B):
            kept = (x >> (B - n)) << (B - n)
            partial = crossbar_mvm(kept, w, adc_bits=adc, **PARAMS) - \
                (1 << (Bw - 1)) * int((x - kept).sum())
            rest_added = final - partial
            assert np.all(rest_added >= 0)
            assert np.all(rest_added <= bounds["signed"][n - 1])
            tight += int(np.sum(bounds["signed"][n - 1] < bounds["offset"][n - 1]))
    assert tight > 0


@pytest.mark.parametrize("flow", ["red", "zp"])
def test_signed_bound_decides_no_later_than_offset(flow):
    """The tile's bound is never looser, so every output the older bound decides is
    decided at the same plane or earlier, and more conversions are skipped overall."""
    rng = np.random.default_rng(SEED + 3)
    print(f"seed={SEED + 3}")
    skipped = {bound: 0 for bound in BOUNDS}
    for _ in range(40):
        x, w, geometry, bias, adc = random_case(rng)
        got = {bound: early_deconv2d(x, w, *geometry, flow=flow, early=EarlySpec("negative"),
                                     bias=bias, relu=True, adc_bits=adc, bound=bound,
                                     **PARAMS) for bound in BOUNDS}
        assert np.all(got["signed"].planes <= got["offset"].planes)
        assert np.array_equal(got["signed"].y, got["offset"].y)
        for bound, outcome in got.items():
            skipped[bound] += int((outcome.feeders * (PARAMS["in_bits"] - outcome.planes)).sum())
    assert skipped["signed"] > skipped["offset"] > 0


def test_off_decides_nothing():
    rng = np.random.default_rng(SEED + 2)
    x, w, geometry, bias, adc = random_case(rng)
    got = early_deconv2d(x, w, *geometry, flow="red", early=EarlySpec(), bias=bias,
                         relu=True, adc_bits=adc, **PARAMS)
    assert not got.decided.any() and (got.planes == PARAMS["in_bits"]).all()


def test_approx_stays_inside_the_bounds():
    """An approximated output is the midpoint of an interval [lo, hi] that holds the
    exact value e, so its error is at most (hi - lo)/2 + 1 <= EPS |lo| / 2 + 1, and
    |lo| <= |e| + (hi - lo) gives |lo| <= |e| / (1 - EPS): with EPS = 1/4, |e|/6 + 1."""
    rng = np.random.default_rng(SEED + 3)
    spec = EarlySpec.parse("approx:0.25")
    approximated = 0
    for _ in range(20):
        x, w, geometry, bias, adc = random_case(rng)
        got = early_deconv2d(x, w, *geometry, flow="red", early=spec, bias=bias,
                             relu=False, adc_bits=adc, **PARAMS)
        error = np.abs(got.y - got.exact)[got.decided]
        assert (6 * error <= np.abs(got.exact[got.decided]) + 6).all()
        approximated += int(np.count_nonzero(error))
    assert approximated > 0


@pytest.mark.parametrize("flow", ["red", "zp"])
def test_golden_decides_in_the_last_row_tile(flow):
    """With cin > rows the last row tile decides, its bounds offset by the exact sum of
    the tiles before (the brute force adds them with crossbar_mvm, tile by tile), and
    ``negative`` still gives relu(sum + bias) exactly."""
    rng = np.random.default_rng(SEED + 1)
    print(f"seed={SEED + 1}")
    decided = 0
    for spec in (EarlySpec("negative"), EarlySpec("approx", 9000)):
        for _ in range(8):
            x, w, geometry, bias, adc = random_case(rng, max_cin=20)
            got = early_deconv2d(x, w, *geometry, flow=flow, early=spec, bias=bias,
                                 relu=True, adc_bits=adc, **PARAMS)
            y, want, planes = brute_force(x, w, geometry, bias, adc, flow, spec, True)
            assert np.array_equal(got.y, y) and np.array_equal(got.decided, want)
            assert np.array_equal(got.planes, planes)
            if spec.mode == "negative":
                assert np.array_equal(got.y, crossbar_deconv2d(
                    x, w, *geometry, bias=bias, relu=True, adc_bits=adc, **PARAMS))
            decided += int(want.sum()) if x.shape[0] > PARAMS["rows"] else 0
    assert decided > 0


def test_output_stage():
    y = np.array([[[-3, 4]], [[5, -6]]])
    assert output_stage(y, np.array([1, -10])).tolist() == [[[-2, 5]], [[-5, -16]]]
    assert output_stage(y, np.array([1, -10]), relu=True).tolist() == [[[0, 5]], [[0, 0]]]
    with pytest.raises(ConfigError, match="bias must have shape"):
        output_stage(y, np.array([1, 2, 3]))


@pytest.mark.parametrize("text, mode, eps_q", [
    ("off", "off", 0), ("negative", "negative", 0), ("approx:0.5", "approx", 32768),
    ("approx:1e-3", "approx", 66)])
def test_parse(text, mode, eps_q):
    spec = EarlySpec.parse(text)
    assert (spec.mode, spec.eps_q) == (mode, eps_q)


@pytest.mark.parametrize("text", ["", "on", "approx", "approx:", "approx:0", "approx:1",
                                  "approx:-0.1", "approx:nan", "approx:1e-9", "negative:0.1",
                                  "approx:x"])
def test_parse_refuses(text):
    with pytest.raises(ConfigError):
        EarlySpec.parse(text)


def test_negative_needs_relu():
    with pytest.raises(ConfigError, match="needs --relu"):
        OutputStage(early=EarlySpec("negative"))


def test_early_applies_needs_the_hardware_and_whole_sums():
    """Early termination applies only on a tile generated with it and when the last pass
    of a cout slice sees its outputs' whole sum: one kernel fold and, with cin slices,
    every output phase in a slot (s <= kernel); otherwise the reason names what is
    missing."""
    layer = LayerSpec(cin=4, cout=3, h=3, w=3, k=3, s=2, p=1, op=1)
    plain = TileConfig(rows=4, cols=8, kernel=3)
    unit = TileConfig(rows=4, cols=8, kernel=3, early_termination=1)
    negative = EarlySpec("negative")
    assert not early_applies(layer, plain, negative)
    assert "early_termination=0" in not_applied_reason(layer, plain)
    assert early_applies(layer, unit, negative)
    assert not early_applies(layer, unit, EarlySpec())
    wide = LayerSpec(cin=5, cout=3, h=3, w=3, k=3, s=2, p=1, op=1)      # two cin slices
    assert early_applies(wide, unit, negative)
    assert early_applies(LayerSpec(cin=4, cout=3, h=2, w=2, k=3, s=4), unit, negative)
    large = LayerSpec(cin=4, cout=3, h=3, w=3, k=4, s=2, p=1, op=1)     # four folds
    holes = LayerSpec(cin=5, cout=3, h=2, w=2, k=3, s=4)                # s > kernel
    for layer in (large, holes):
        assert not early_applies(layer, unit, negative)
        assert (f"k={layer.k} <= kernel=3 and, with cin={layer.cin} > rows=4, "
                f"s={layer.s} <= kernel=3") in not_applied_reason(layer, unit)
    with pytest.raises(ConfigError, match="early_termination"):
        TileConfig(early_termination=2)
