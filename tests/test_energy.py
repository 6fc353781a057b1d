"""Energy from events (red.energy).

Expected energies are written out by hand from the layer's shape and the per-event
numbers of the issue (RED_TILE.md, ISAAC, Horowitz ISSCC 2014); none is taken from the
code under test.
"""

from __future__ import annotations

import dataclasses

import pytest

from red.config import ConfigError, LayerSpec, TileConfig
from red.energy import (COMPONENTS, DEFAULT_ENERGY, EnergyTable, energy_from_counters,
                        energy_from_estimate, events_from_estimate, load_energy_table)
from red.model import estimate

# slices = 4/2 = 2; 4 rows, 4 logical columns.
TILE = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3,
                  max_stride=2, max_in=8)
# One 1x1 input pixel, 2 channels, K2 s2: Ho = Wo = 2, one output block, each of the 4
# groups maps the pixel to its own output pixel.
TINY = LayerSpec(cin=2, cout=1, h=1, w=1, k=2, s=2)

PJ = {"adc": 1.56, "dac": 0.39, "array": 30.0, "buffer": 2.5, "add": 0.1}


def test_defaults_and_sources():
    assert dataclasses.astuple(DEFAULT_ENERGY) == (1.56, 0.39, 30.0, 2.5, 0.1)
    described = DEFAULT_ENERGY.describe()
    assert "RED_TILE.md" in described["adc_conversion"]["source"]
    assert "RED_TILE.md" in described["dac_row_drive"]["source"]
    assert "ISAAC" in described["crossbar_step"]["source"]
    assert "Horowitz" in described["buffer_access"]["source"]
    assert "Horowitz" in described["digital_add"]["source"]


def test_tiny_layer_red_by_hand():
    # 1 step, 4 driven groups (every group's pixel and output are inside).
    # ADC: 4 groups x 4 planes x 1 cout x 2 slices = 32; rows: 4 x 4 planes x 2 cin = 32;
    # array: 4 groups x 4 planes = 16 crossbar steps.
    # Buffers (values): line buffer 1 pixel x 2 cin = 2; window: 1 position x 2 = 2;
    # output banks: 4 pixels written + 4 read, x 1 cout = 8. Merges: one group per
    # phase -> 0 additions.
    energy = energy_from_estimate(estimate(TINY, TILE, "red"), TINY, TILE)
    assert energy.adc == pytest.approx(32 * PJ["adc"])
    assert energy.dac == pytest.approx(32 * PJ["dac"])
    assert energy.array == pytest.approx(16 * PJ["array"])
    assert energy.buffers == pytest.approx(12 * PJ["buffer"])
    assert energy.adds == 0
    assert energy.total == pytest.approx(49.92 + 12.48 + 480 + 30)


def test_tiny_layer_zp_by_hand():
    # 4 steps (output pixels) x 4 groups, all driven: ADC 16 x 4 x 1 x 2 = 128, rows
    # 16 x 4 x 2 = 128, array 16 x 4 = 64. Each output pixel has exactly one term, so one
    # window read per step: 4 pixels x 2 cin = 8 values; line buffer 2; output 4 + 4.
    # Merge: all 4 groups added per pixel: 3 additions x 4 pixels x 1 cout = 12.
    energy = energy_from_estimate(estimate(TINY, TILE, "zp"), TINY, TILE)
    assert energy.as_dict() == pytest.approx({
        "adc": 128 * PJ["adc"], "dac": 128 * PJ["dac"], "array": 64 * PJ["array"],
        "buffers": (8 + 2 + 8) * PJ["buffer"], "adds": 12 * PJ["add"],
        "total": 199.68 + 49.92 + 1920 + 45 + 1.2})


def test_tiny_layer_pf_by_hand():
    # 1 step (input pixel), 4 groups: same ADC, rows and array as RED. Buffers: line
    # buffer 2 + window 2 values, no output banks; overlap-add buffer: 4 kept results,
    # each a read and a write (8), and the 4 outputs read and cleared as they are
    # emitted (8) -> 20 values. Additions: the 4 read-modify-writes x 1 cout.
    energy = energy_from_estimate(estimate(TINY, TILE, "pf"), TINY, TILE)
    assert energy.buffers == pytest.approx(20 * PJ["buffer"])
    assert energy.adds == pytest.approx(4 * PJ["add"])
    assert energy.total == pytest.approx(49.92 + 12.48 + 480 + 50 + 0.4)


LAYERS = [
    LayerSpec(cin=3, cout=4, h=4, w=3, k=3, s=2, p=1, op=1),
    LayerSpec(cin=4, cout=2, h=3, w=3, k=3, s=1, p=2),
    LayerSpec(cin=1, cout=3, h=2, w=4, k=2, s=2, p=1, op=1),
]


@pytest.mark.parametrize("layer", LAYERS, ids=str)
@pytest.mark.parametrize("mode", ["red", "zp", "pf"])
def test_counter_path_equals_model_path(layer, mode):
    """Counters as the RTL reports them, built from the model's fields by the counters'
    own definitions, give the model's energy."""
    est = estimate(layer, TILE, mode)
    assert est.passes == 1                     # one RTL run is one pass
    pf = mode == "pf"
    # PF: a read-modify-write per kept result, a read and a clear per output, per channel.
    kept = est.group_activations - est.wasted_group_steps
    pf_values = (kept + layer.ho * layer.wo) * layer.cout if pf else 0
    out_pixels = 0 if pf else layer.ho * layer.wo
    counters = {
        "adc_conversions": est.adc_conversions,
        "row_drives": est.row_drives,
        # MVMUnit counts one crossbar step per bit plane of every driven group step.
        "crossbar_steps": est.group_activations * TILE.in_bits,
        "line_buffer_writes": layer.h * layer.w,
        "window_reads": est.window_reads,
        "out_buffer_writes": out_pixels,
        "out_buffer_reads": out_pixels,
        "merge_additions": est.merge_additions,
        "psum_additions": 0,                   # one pass adds no partial sums
        "psum_buffer_reads": pf_values,
        "psum_buffer_writes": pf_values,
        "psum_buffer_accumulations": kept * layer.cout if pf else 0,
        "psum_bank_writes": 0, "psum_bank_reads": 0,      # no early termination
        "weight_writes": layer.cin * layer.cout * layer.k * layer.k,   # not priced
    }
    from_counters = energy_from_counters(counters, layer, TILE)
    from_model = energy_from_estimate(est, layer, TILE)
    assert from_counters.as_dict() == pytest.approx(from_model.as_dict())
    # Buffers by hand: input side (pixels written + read) x cin, output side x cout.
    assert from_counters.buffers == pytest.approx(
        ((layer.h * layer.w + est.window_reads) * layer.cin
         + 2 * out_pixels * layer.cout + 2 * pf_values) * PJ["buffer"])


def test_split_layer_buffers_add_up_over_its_passes():
    """A layer split into passes reads and writes as many buffer values as its passes
    run as separate layers (the cin and cout slices), one per tile."""
    layer = LayerSpec(cin=6, cout=6, h=3, w=3, k=3, s=2, p=1)   # 2 cin x 2 cout tiles
    split = events_from_estimate(estimate(layer, TILE, "red"), layer, TILE)
    parts = [dataclasses.replace(layer, cin=cin, cout=cout)
             for cin in (4, 2) for cout in (4, 2)]
    passes = [events_from_estimate(estimate(part, TILE, "red"), part, TILE)
              for part in parts]
    for field in ("buffer_values", "adc_conversions", "row_drives", "crossbar_steps"):
        assert getattr(split, field) == sum(getattr(p, field) for p in passes), field


def test_components_add_across_layers():
    a = energy_from_estimate(estimate(LAYERS[0], TILE, "red"), LAYERS[0], TILE)
    b = energy_from_estimate(estimate(LAYERS[1], TILE, "zp"), LAYERS[1], TILE)
    both = a + b
    for name in COMPONENTS:
        assert getattr(both, name) == pytest.approx(getattr(a, name) + getattr(b, name))
    assert both.total == pytest.approx(a.total + b.total)


def test_table_scales_energy():
    est = estimate(TINY, TILE, "zp")
    doubled = EnergyTable(**{f.name: 2 * getattr(DEFAULT_ENERGY, f.name)
                             for f in dataclasses.fields(EnergyTable)})
    assert energy_from_estimate(est, TINY, TILE, doubled).total == pytest.approx(
        2 * energy_from_estimate(est, TINY, TILE).total)


def test_toml_override(tmp_path):
    path = tmp_path / "energy.toml"
    path.write_text("[energy]\nadc_conversion = 2.0\ndigital_add = 1\n")
    table = load_energy_table(path)
    assert (table.adc_conversion, table.digital_add) == (2.0, 1.0)
    assert table.crossbar_step == 30.0                      # default kept
    assert table.describe()["adc_conversion"]["source"].startswith("overridden")
    est = estimate(TINY, TILE, "zp")
    energy = energy_from_estimate(est, TINY, TILE, table)
    assert energy.adc == pytest.approx(128 * 2.0)
    assert energy.adds == pytest.approx(12 * 1.0)


@pytest.mark.parametrize("text, named", [
    ("[energy]\nadc_conversoin = 2.0\n", "adc_conversoin"),
    ("[energy]\nadc_conversion = -1.0\n", "adc_conversion=-1.0"),
    ("[energy]\ndac_row_drive = \"cheap\"\n", "dac_row_drive='cheap'"),
    ("[energy]\ndigital_add = true\n", "digital_add=True"),
    ("[enrgy]\nadc_conversion = 1.0\n", "enrgy"),
    ("adc_conversion = 1.0\n", "adc_conversion"),
    ("[energy\n", "energy.toml"),
    ("[energy]\nadc_conversion = 0\ndac_row_drive = 0\ncrossbar_step = 0\n"
     "buffer_access = 0\ndigital_add = 0\n", "all 0"),
])
def test_toml_errors_name_the_problem(tmp_path, text, named):
    path = tmp_path / "energy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace(".", r"\.")):
        load_energy_table(path)


def test_missing_energy_table(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match=r"\[energy\]"):
        load_energy_table(path)
