"""The report's area section: hand-computed figures from made-up syntheses (the real
section is checked against ``red area`` in tests/test_report.py)."""

import json

import pytest

from red.config import TileConfig
from red.report import area

TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4)


def _area(total: float, merge: float) -> dict:
    return {"total_um2": total, "logic_um2": total * 0.8, "memory_bits": 900,
            "memory_um2": total * 0.18, "macro_um2": total * 0.02, "transistors": 1,
            "flip_flops": 1, "liberty": {"library": "toy", "node_nm": 180},
            "components": {"merge": {"total_um2": merge}}}


def _model(cycles: dict, energy: dict) -> dict:
    modes = {flow: {"total_cycles": cycles[flow], "source": "rtl",
                    "energy_pj": {"total": energy[flow]}} for flow in ("red", "zp")}
    return {"layers": [{"name": "dcgan.deconv1", "network": "dcgan", "modes": modes},
                       {"name": "fcn8s.x", "network": "fcn8s", "modes": modes}]}


def test_own_hardware_and_equal_area_advantage_by_hand():
    synthesis = area.Synthesis(TILE, {"red+zp": _area(10e6, 4e6), "red": _area(9e6, 3.5e6),
                                      "zp": _area(7e6, 1e6)})
    section = area.compute(synthesis, _model({"red": 100, "zp": 400}, {"red": 50.0, "zp": 55.0}))
    assert section.own_um2 == {"red": 3e6, "zp": 1e6}
    [layer] = section.layers                                        # dcgan only
    assert layer["cycles_advantage"] == pytest.approx(400 * 7_000 / (100 * 9_000))
    assert layer["energy_advantage"] == pytest.approx(55 * 7_000 / (50 * 9_000))
    assert section.periphery_share == pytest.approx(0.98)
    assert section.repaid["cycles"] and not section.repaid["energy"]   # 3.11x, 0.86x
    text = "\n".join(area.render(json.loads(json.dumps(section.to_json()))))
    assert "not repaid in energy" in text and "| merge | 4.00 | 3.50 | 1.00 |" in text


def test_a_missing_toolchain_is_said_not_hidden():
    data = area.section_json("yosys is not installed", {})
    assert data == {"skipped": "yosys is not installed"}
    assert "Not measured: yosys is not installed" in "\n".join(area.render(data))
