"""The report's networks section (``red.report.network``): the generator and the
bilinear upscore of a photograph through ``red net``, on small tiles."""

import numpy as np
import pytest

from red.config import TileConfig
from red.report import network

#: Small stand-ins for the report's DCGAN and FCN-8s tiles (the paper crossbar's bits
#: would need minutes of simulation): K4 s2 for the generator, K16 s8 for the upscore.
TILES = {"dcgan": TileConfig(rows=8, cols=16, kernel=3, w_bits=8, in_bits=8),
         "fcn8s": TileConfig(rows=8, cols=16, kernel=3, w_bits=8, in_bits=8, adc_bits=3,
                             max_stride=8, max_in=32)}


def test_networks_section_runs_both_models_on_the_rtl(tmp_path):
    lines = []
    section, pictures, problems = network.compute(tmp_path / "networks", "verilator",
                                                  lines.append, TILES)
    assert problems == []
    data = section.to_json()
    generator, upscore, adc = data["generator"], data["upscore"], data["adc"]
    assert [layer["name"] for layer in generator["layers"]] == ["deconv1", "deconv2",
                                                                "deconv3"]
    for net in (generator, upscore):
        for layer in net["layers"]:
            assert layer["match"] and layer["cycles"]["total"] == layer["model"]["total_cycles"]
    assert upscore["layers"][0]["layer"]["k"] == 16 and upscore["layers"][0]["passes"] > 1
    # The bilinear filter is diagonal across channels: a column has one weighted row,
    # whose codes fit even a 3-bit ADC (the golden model's clipping: test_golden).
    assert adc["adc_bits"] == 3 and adc["max_weight_rows_per_column"] == 1
    assert adc["outputs_changed"] == 0
    assert adc["error_lossless"]["psnr"] == pytest.approx(upscore["error_vs_float"]["psnr"])
    assert upscore["error_vs_float"]["psnr"] > 20
    network.draw(pictures, tmp_path)
    for name in network.FILES.values():
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    text = "\n".join(network.render(data))
    assert "| deconv1 | bn1 + relu1 |" in text and "changes none of the" in text
    assert any("upscore" in line for line in lines)
    assert np.isfinite(generator["error_vs_float"]["relative_l2"])
