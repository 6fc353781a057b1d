"""``red area``: the tile's area from Yosys synthesis (red.gen.area) and the sourced tables
(red.area).

The synthesis tests need ``yosys`` and the OSU 0.18 um liberty file, which ``make test``
installs (``make setup``); without them they fail with the reason, they do not skip.
Each module's synthesis is cached, so a warm run only re-synthesises what the
reproducibility test synthesises on purpose (the tiny MVM unit, uncached).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from red.area import (FIGURES, MACRO_COMPONENT, OTHER, LibertyCell, ModuleFigures, assemble,
                      component_of, macro_area, parse_liberty)
from red.cli import main
from red.config import TileConfig
from red.gen.area import SynthesisError, find_toolchain, split_modules, tile_area

#: The tiny tile of the default suite: every part of a tile, synthesised in minutes cold.
TINY = TileConfig(rows=4, cols=8, cell_bits=2, w_bits=4, in_bits=4, kernel=3, max_stride=4,
                  max_in=6)
TINY_ARG = "rows=4,cols=8,cell_bits=2,w_bits=4,in_bits=4,kernel=3,max_stride=4,max_in=6"


@pytest.fixture(scope="module")
def tools():
    try:
        return find_toolchain()
    except SynthesisError as exc:
        pytest.fail(f"{exc} -- the area tests need it (make test installs it)")


@pytest.fixture(scope="module")
def tiny(tools):
    return tile_area(TINY, "macro")


# -- the hardware-free part ---------------------------------------------------------

LIBERTY = """
library(toy) {
  cell (INVX1) { area : 16; pin(A) { direction : input; } }
  cell (DFFPOSX1) { area : 96; ff (DS0000,P0002) { next_state : "D"; }
                    pin(Q) { timing() { related_pin : "CLK"; } } }
}
"""


def test_parse_liberty_reads_area_and_flip_flops():
    assert parse_liberty(LIBERTY) == {"INVX1": LibertyCell(16.0, False),
                                      "DFFPOSX1": LibertyCell(96.0, True)}


def test_unknown_module_goes_to_other():
    assert component_of("red_tile.shift_add") == "shift-add"
    assert component_of("red_tile.buffer.channel_sum") == "offset correction"
    assert component_of("red_tile.buffer") == "input buffer"
    assert component_of("red_tile.something_new") == OTHER


def test_assemble_multiplies_instances_and_sums_components():
    library = parse_liberty(LIBERTY)
    modules = {
        "top": ModuleFigures({"INVX1": 1, "leaf": 2, "mid": 1}, 2),
        "mid": ModuleFigures({"leaf": 3, "macro": 1}, 0),
        "leaf": ModuleFigures({"DFFPOSX1": 1, "$mem_v2": 1}, 20,
                              ({"name": "m", "width": 4, "depth": 8, "bits": 32},)),
    }
    liberty = {"file": "osu018_stdcells.lib", "library": "toy", "node_nm": 180}
    area = assemble(modules, "top", TINY, library, liberty, "macro")
    assert area["modules"]["leaf"]["instances"] == 5          # 2 + 1 x 3
    assert area["flip_flops"] == 5 and area["transistors"] == 102
    assert area["memory_bits"] == 160
    assert area["logic_um2"] == 16 + 5 * 96
    assert area["macro"]["instances"] == 1
    assert area["components"][MACRO_COMPONENT]["macro_um2"] == area["macro_um2"] > 0
    assert area["total_um2"] == pytest.approx(
        area["logic_um2"] + area["memory_um2"] + area["macro_um2"])


def test_assemble_refuses_an_unpriced_cell():
    modules = {"top": ModuleFigures({"INVX1": 1, "$_XOR_": 1}, 2)}
    liberty = {"file": "osu018_stdcells.lib", "library": "toy", "node_nm": 180}
    with pytest.raises(ValueError, match=r"\$_XOR_"):
        assemble(modules, "top", TINY, parse_liberty(LIBERTY), liberty, "macro")


def test_macro_area_grows_with_columns_and_adc_bits():
    base = macro_area(TINY, 180)["um2"]
    assert macro_area(dataclasses.replace(TINY, cols=16), 180)["um2"] > base
    assert macro_area(dataclasses.replace(TINY, adc_bits=6), 180)["um2"] > base


# -- synthesis of the tiny tile -------------------------------------------------------

def test_components_add_up_to_the_totals(tiny):
    """The totals are the components' sums (how assemble builds them) and, counted the
    other way, each module's own figures times its instances."""
    for figure in ("logic_um2", "memory_bits", "transistors", "flip_flops"):
        assert sum(row[figure] * row["instances"] for row in tiny["modules"].values()) \
            == pytest.approx(tiny[figure]), figure
    for figure in FIGURES:
        assert sum(c[figure] for c in tiny["components"].values()) == pytest.approx(
            tiny[figure]), figure
    assert tiny["total_um2"] == pytest.approx(
        tiny["logic_um2"] + tiny["memory_um2"] + tiny["macro_um2"])
    assert tiny["liberty"]["node_nm"] == 180 and tiny["flip_flops"] > 0
    assert tiny["transistors"] > 0 and tiny["memory_bits"] > 0
    assert {"shift-add", "merge", "input buffer", "control", "counters",
            MACRO_COMPONENT} <= set(tiny["components"])


def test_macro_is_a_black_box_not_logic(tiny, tools):
    from red.rtl.crossbar import MACRO_NAME
    assert tiny["macro"]["instances"] == TINY.groups
    assert not any(MACRO_NAME in name for name in tiny["modules"])
    macro = tiny["components"][MACRO_COMPONENT]
    assert macro["logic_um2"] == macro["flip_flops"] == macro["memory_bits"] == 0
    # The module around the macro is wiring only: the behavioural model's cells (memories,
    # population counts) would show here had it been synthesised.
    wrapper = [row for name, row in tiny["modules"].items() if name.endswith(".crossbar")]
    assert wrapper and all(row["logic_um2"] == row["memory_bits"] == 0 for row in wrapper)


def test_area_is_reproducible(tools):
    cold = tile_area(TINY, "macro", top="mvm", cache=False)
    assert cold == tile_area(TINY, "macro", top="mvm")
    assert cold == tile_area(TINY, "macro", top="mvm")


def test_early_termination_adds_area(tools):
    """The bound logic sits in every MVM unit: the MVM top shows it in seconds."""
    areas = [tile_area(dataclasses.replace(TINY, early_termination=e), "macro", top="mvm")
             for e in (0, 1)]
    assert areas[1]["logic_um2"] > areas[0]["logic_um2"]
    assert areas[1]["flip_flops"] > areas[0]["flip_flops"]


@pytest.mark.slow
def test_early_termination_is_a_component_of_the_tile(tiny):
    """The decision unit's multipliers make this synthesis take minutes cold."""
    early = tile_area(dataclasses.replace(TINY, early_termination=1), "macro")
    assert early["logic_um2"] > tiny["logic_um2"]
    assert early["components"]["early termination"]["logic_um2"] > 0
    assert "early termination" not in tiny["components"]


def test_a_tile_for_one_data_flow_is_smaller(tiny):
    """Leaving a data flow out (red_mode/zp_mode=0) removes its merge sums."""
    for fields in ({"zp_mode": 0}, {"red_mode": 0}):
        one = tile_area(dataclasses.replace(TINY, **fields), "macro")
        assert one["logic_um2"] < tiny["logic_um2"], fields
        assert (one["components"]["merge"]["logic_um2"]
                < tiny["components"]["merge"]["logic_um2"]), fields


def test_doubling_cols_grows_shift_add_about_linearly(tools):
    areas = [tile_area(dataclasses.replace(TINY, cols=cols), "macro", top="mvm")
             for cols in (8, 16)]
    ratio = (areas[1]["components"]["shift-add"]["logic_um2"]
             / areas[0]["components"]["shift-add"]["logic_um2"])
    assert 1.6 < ratio < 2.4, ratio


def test_split_modules_finds_every_module():
    from red.gen.verilog import generate
    modules = split_modules(generate("mvm", TINY, "macro").sources)
    assert {"red_mvm", "red_mvm.shift_add", "red_crossbar"} <= set(modules)
    assert all(text.rstrip().endswith("endmodule") for text in modules.values())


def test_modules_of_one_text_are_synthesised_once_and_priced_alike(tools):
    """The merge's per-channel adder trees differ only in names: one synthesis prices
    them all, and a copy synthesised on its own gives the same figures."""
    from red.gen.area import _module_text_key, synthesise_module
    from red.gen.verilog import generate
    modules = split_modules(generate("tile", TINY, "macro").sources)
    channels = [n for n in modules if n.startswith("red_tile.merge.channel_")]
    assert len(channels) == TINY.logical_cols
    keys = [_module_text_key(n, modules) for n in channels]
    assert len(set(keys)) < len(channels)
    copy = next(n for n, k in zip(reversed(channels), reversed(keys)) if keys.count(k) > 1)
    first = channels[keys.index(_module_text_key(copy, modules))]
    assert first != copy
    assert synthesise_module(copy, modules, tools, cache=False) == \
        synthesise_module(first, modules, tools)
    assert _module_text_key("red_tile.merge", modules) not in keys


# -- the command ----------------------------------------------------------------------

def test_red_area_writes_area_json(tiny, tmp_path, capsys):
    assert main(["area", "--tile", TINY_ARG, "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "area.json").read_text())
    assert written["total_um2"] == pytest.approx(tiny["total_um2"])
    assert written["tile"]["rows"] == 4
    out = capsys.readouterr().out
    assert "shift-add" in out and "total" in out


def test_red_area_refuses_bad_input_with_one_line(tmp_path, capsys):
    assert main(["area", "--tile", "rows=0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rows=0" in err[0] and ">= 1" in err[0]
    assert not (tmp_path / "area.json").exists()


def test_red_area_keeps_a_users_file(tmp_path, capsys):
    (tmp_path / "area.json").write_text("mine")
    assert main(["area", "--tile", TINY_ARG, "--out", str(tmp_path)]) == 2
    assert (tmp_path / "area.json").read_text() == "mine"
    assert "red did not write" in capsys.readouterr().err
