"""red.verdict: the one judgement of an RTL run, against a hand-built output and a real
model estimate."""

import dataclasses

import numpy as np

from red.config import LayerSpec, TileConfig
from red.model import MIRRORED_COUNTERS, estimate
from red.verdict import check

LAYER = LayerSpec.parse("cin=3,cout=2,h=3,w=4,k=3,s=2,p=1,op=1")
TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=4,
                  max_in=6)


def _counters(est):
    return {name: getattr(est, name) for name in MIRRORED_COUNTERS}


def test_equal_run_has_no_problems():
    est = estimate(LAYER, TILE, "red")
    y = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    verdict = check(y, y.copy(), _counters(est), est.passes, est, where="L RED")
    assert verdict.ok and verdict.golden_match and verdict.model_equal
    assert verdict.problems == []


def test_differing_outputs_are_counted_and_the_first_named_in_co_oh_ow_order():
    est = estimate(LAYER, TILE, "red")
    golden = np.zeros((2, 3, 4), dtype=np.int64)
    y = golden.copy()
    y[1, 0, 0] = 7              # later in (co, oh, ow) order than the next one
    y[0, 2, 3] = -5
    verdict = check(y, golden, _counters(est), est.passes, est, where="L RED")
    assert not verdict.ok and verdict.differing_outputs == 2
    assert verdict.first_difference == {"co": 0, "oh": 2, "ow": 3, "rtl": -5, "golden": 0}
    assert verdict.problems == ["L RED: RTL output != golden output: 2 outputs differ, "
                                "first (co=0, oh=2, ow=3): RTL -5, golden 0"]


def test_model_differences_name_rtl_and_model_and_cycles_can_be_left_out():
    est = estimate(LAYER, TILE, "red")
    counters = _counters(est) | {"total_cycles": est.total_cycles + 3,
                                 "adc_conversions": est.adc_conversions - 1}
    y = np.zeros((2, 3, 4), dtype=np.int64)
    verdict = check(y, y, counters, est.passes + 1, est)
    assert verdict.golden_match and not verdict.ok
    assert verdict.model == {"passes": (est.passes + 1, est.passes),
                             "total_cycles": (est.total_cycles + 3, est.total_cycles),
                             "adc_conversions": (est.adc_conversions - 1, est.adc_conversions)}
    assert f"total_cycles RTL {est.total_cycles + 3} != model {est.total_cycles}" in \
        verdict.problems
    stalled = check(y, y, counters, est.passes, est, cycles=False)
    assert set(stalled.model) == {"adc_conversions"}


def test_another_mode_of_the_model_is_a_difference():
    red, zp = estimate(LAYER, TILE, "red"), estimate(LAYER, TILE, "zp")
    y = np.zeros((2, 3, 4), dtype=np.int64)
    assert dataclasses.asdict(red) != dataclasses.asdict(zp)
    assert not check(y, y, _counters(zp), zp.passes, red).model_equal
