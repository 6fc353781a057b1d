"""The report's area section: hand-computed figures from a made-up synthesis, and the
real section of a quick report checked against ``red area``'s own figures."""

import json

import pytest

from red.config import PAPER_TILE, TileConfig
from red.report import area

TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4)   # 4 channels, 3x3 banks


def _synthesis() -> area.Synthesis:
    bank = {"component": "merge", "bits": 100, "instances": 1}
    tile_area = {
        "total_um2": 10_000.0, "logic_um2": 8_000.0, "memory_bits": 900, "memory_um2": 1_800.0,
        "macro_um2": 200.0, "transistors": 1, "flip_flops": 1,
        "liberty": {"library": "toy", "node_nm": 180}, "components": {},
        "memory": {"um2_per_bit": 2.0, "memories": [
            {**bank, "name": f"bank_{u}_{v}"} for u in range(3) for v in range(3)]},
        "modules": {"red_tile.window": {"logic_um2": 30.0, "instances": 1},
                    "red_tile.sequencer": {"logic_um2": 20.0, "instances": 1},
                    "red_tile.merge": {"logic_um2": 500.0, "instances": 1}},
    }
    channel = {"zp": {"logic_um2": 10.0}, "red": {"logic_um2": 70.0},
               "red+zp": {"logic_um2": 75.0}}
    return area.Synthesis(TILE, tile_area, channel)


def _model(cycles: dict, energy: dict) -> dict:
    modes = {flow: {"total_cycles": cycles[flow], "source": "rtl",
                    "energy_pj": {"total": energy[flow]}} for flow in ("red", "zp")}
    return {"layers": [{"name": "dcgan.deconv1", "network": "dcgan", "modes": modes},
                       {"name": "fcn8s.x", "network": "fcn8s", "modes": modes}]}


def test_flow_areas_and_equal_area_advantage_by_hand():
    section = area.compute(_synthesis(), _model({"red": 100, "zp": 400},
                                                {"red": 50.0, "zp": 55.0}))
    # RED's own: (75 - 10) um2 x 4 channels + bank rows 1-2 (600 bits x 2 um2).
    assert section.flows["red"].own_um2 == 65 * 4 + 600 * 2 == 1460
    assert section.flows["zp"].own_um2 == 5 * 4 == 20
    assert section.flows["red"].area_um2 == 10_000 - 20
    assert section.flows["zp"].area_um2 == 10_000 - 1460
    assert section.flows["zp"].area_low_um2 == 10_000 - 1460 - 50   # window + sequencer
    assert section.red_bank_bits == 600
    [layer] = section.layers                                        # dcgan only
    assert layer["cycles_advantage"] == pytest.approx(400 * 8540 / (100 * 9980))
    assert layer["cycles_advantage_low"] == pytest.approx(400 * 8490 / (100 * 9980))
    assert layer["energy_advantage_low"] == pytest.approx(55 * 8490 / (50 * 9980))
    assert section.periphery_share == pytest.approx(9_800 / 10_000)
    assert section.repaid["cycles"] and not section.repaid["energy"]   # 3.40x, 0.94x
    text = "\n".join(area.render(json.loads(json.dumps(section.to_json()))))
    assert "not repaid in energy" in text


def test_a_missing_toolchain_is_said_not_hidden():
    data = area.section_json("yosys is not installed", {})
    assert data == {"skipped": "yosys is not installed"}
    assert "Not measured: yosys is not installed" in "\n".join(area.render(data))
