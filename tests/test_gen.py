"""``red gen``: reproducible Verilog, truthful metadata, clean errors."""

import json
import os
import subprocess
import sys

import pytest

from red.config import TileConfig
from red.gen.verilog import TOPS, generate

TILE = "rows=8,cols=16,cell_bits=2,w_bits=4,in_bits=4,kernel=3"


def red(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "red.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


# The harness contains the tile, the tile its MVM units and crossbars: the harness case
# covers them all in the default suite; the others are slow.
@pytest.mark.parametrize("top", [pytest.param(top, marks=() if top == "harness" else
                                              pytest.mark.slow) for top in sorted(TOPS)])
def test_verilog_identical_across_processes(top, tmp_path):
    """Two separate processes (different hash seeds, different folders) write the same
    bytes: no paths, no time stamps, no set-order dependence."""
    outputs = []
    for n, seed in enumerate(("1", "2")):
        out = tmp_path / f"run{n}"
        # Separate generation caches: each process generates.
        env = {**os.environ, "PYTHONHASHSEED": seed, "RED_CACHE_DIR": str(tmp_path / f"c{n}")}
        proc = subprocess.run([sys.executable, "-m", "red.cli", "gen", "--top", top,
                               "--tile", TILE, "--out", str(out)],
                              capture_output=True, text=True, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        outputs.append({path.name: path.read_bytes() for path in sorted(out.glob("*.v"))})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) >= 2          # the top and at least the macro model
    for text in outputs[0].values():
        assert b"/work" not in text and str(tmp_path).encode() not in text
        assert b"src =" not in text


def test_metadata_matches_config(tmp_path):
    proc = red("gen", "--top", "mvm", "--tile", TILE, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / name) for name in
                                   ("red_mvm.v", "red_crossbar.v", "red_mvm.json")]
    meta = json.loads((tmp_path / "red_mvm.json").read_text())
    cfg = TileConfig.parse(TILE)
    assert meta["config"]["rows"] == 8 and meta["config"]["adc_bits"] == cfg.lossless_adc_bits
    assert meta["files"] == ["red_mvm.v", "red_crossbar.v"]
    assert meta["macro"]["module"] == "red_crossbar" and meta["macro"]["latency"] == 1
    # Latency: in_bits planes, the ADC register, the output register.
    assert meta["latency"] == 4 + 1 + 1
    ports = {p["name"]: p for p in meta["ports"]}
    # Port widths follow the configuration: 8 rows of 4-bit inputs, their sum (8 * -8 ..
    # 8 * 7 needs 7 bits) and the gate bit in; 8 logical columns of 12-bit results out
    # (lossless 5-bit ADC, codes <= 8*3 = 24; two slices: plane <= 24 + 24*4 = 120;
    # shift-add -8*120 .. 7*120; offset 8 * (-64 .. 56); result -960-448 .. 840+512 =
    # -1408 .. 1352, 12 bits signed); a row of 8 logical columns of 4-bit weights
    # programmed per cycle.
    assert ports["i__payload"]["width"] == 8 * 4 + 7 + 1
    assert ports["o__payload"]["width"] == 8 * 12
    assert ports["prog__data"]["width"] == 8 * 4
    verilog = (tmp_path / "red_mvm.v").read_text()
    for name in ports:
        assert name in verilog
    # The crossbar is a black box: instantiated, defined only in the model's own file.
    assert "red_crossbar " in verilog and "module red_crossbar" not in verilog
    assert "module red_crossbar" in (tmp_path / "red_crossbar.v").read_text()


def test_flip_flop_crossbar_option(tmp_path):
    proc = red("gen", "--top", "tile", "--crossbar", "ff", "--tile", TILE, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "red_tile.json").read_text())
    assert meta["files"] == ["red_tile.v"] and meta["macro"] is None
    verilog = (tmp_path / "red_tile.v").read_text()
    assert "red_crossbar" not in verilog and "cell_r7_c15" in verilog


def test_generate_is_pure():
    cfg = TileConfig()
    assert generate("mvm", cfg).verilog == generate("mvm", cfg).verilog


@pytest.mark.parametrize("args, needle", [
    (["--top", "nope"], "nope"),
    (["--tile", "rows=0"], "rows=0"),
    (["--tile", "cell_bits=3,w_bits=4"], "cell_bits=3"),
    (["--tile", "bogus=1"], "bogus"),
])
def test_bad_arguments_exit_2(args, needle, tmp_path):
    out = tmp_path / "out"
    proc = red("gen", *args, "--out", str(out))
    assert proc.returncode == 2
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not out.exists(), "nothing may be written on bad input"


def test_early_termination_hardware_only_when_configured():
    """``early_termination=1`` adds the decision unit to the tile and the bound logic
    (per-column cell sums) to the MVM module; the default tile has neither."""
    sources = {flag: "".join(generate("tile", TileConfig(rows=2, cols=4, kernel=2,
                                                          early_termination=flag)
                                      ).sources.values())
               for flag in (0, 1)}
    assert "module \\red_tile.early" in sources[1] and "colsum" in sources[1]
    assert "module \\red_tile.early" not in sources[0] and "colsum" not in sources[0]
    assert len(sources[0]) < len(sources[1])


def test_harness_connects_every_tile_port_by_the_generated_names():
    """The harness instantiates the tile from red gen's port list: every counter the
    tile has is passed out, and a tile input it cannot drive is refused, not left open."""
    from red.config import COUNTER_WIDTH
    from red.counters import TILE_COUNTERS
    from red.gen.harness import harness_verilog
    config = TileConfig()
    tile = generate("tile", config)
    harness = generate("harness", config).sources["red_harness.v"]
    for port in tile.metadata["ports"]:
        assert f".{port['name']}(" in harness
    for name in TILE_COUNTERS:
        assert f"output wire [{COUNTER_WIDTH - 1}:0] {name}," in harness
    extra = [*tile.metadata["ports"], {"name": "mystery", "direction": "input", "width": 1,
                                       "signed": False}]
    with pytest.raises(ValueError, match="mystery"):
        harness_verilog(config, tile.name, extra)
    renamed = [dict(port, name="o__data") if port["name"] == "o__payload" else port
               for port in tile.metadata["ports"]]
    with pytest.raises(ValueError, match="o__payload"):
        harness_verilog(config, tile.name, renamed)
