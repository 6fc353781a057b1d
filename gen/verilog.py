"""Verilog and metadata generation for the tile's tops.

A generated top is a set of Verilog files: the Amaranth-generated digital logic, the
behavioural model of the crossbar macro it instantiates (``crossbar="macro"``), and for
the ``harness`` top the simulation harness around the tile. :func:`generate` caches
the result on disk by configuration and source version, so a warm ``red sim`` does not
regenerate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from red.cache import cache_folder, entry
from red.config import ConfigError, TileConfig

__all__ = ["TOPS", "Generated", "build_top", "generate", "write", "source_version"]

#: The file of a generation cache entry: the top's name, Verilog files and metadata.
_ENTRY_FILE = "generated.json"


def _mvm(config: TileConfig, crossbar: str):
    from red.rtl.mvm import MVMUnit
    return MVMUnit(config, crossbar)


def _tile(config: TileConfig, crossbar: str):
    from red.rtl.tile import RedTile
    return RedTile(config, crossbar)


def _crossbar(config: TileConfig, crossbar: str):
    from red.rtl.crossbar import crossbar_model
    return crossbar_model(crossbar)(config)


#: Amaranth tops: name -> constructor taking a TileConfig and the crossbar model.
AMARANTH_TOPS = {"tile": _tile, "mvm": _mvm, "crossbar": _crossbar}

#: Every generatable top: the Amaranth ones and the simulation harness (around ``tile``).
TOPS = (*AMARANTH_TOPS, "harness")


@dataclass(frozen=True)
class Generated:
    """A generated top: its module name, its Verilog files and metadata.

    ``sources`` maps file name to text, the top's own file first.
    """

    name: str
    sources: dict
    metadata: dict

    @property
    def verilog(self) -> str:
        """Text of the top's own file."""
        return self.sources[f"{self.name}.v"]

    @property
    def size(self) -> int:
        """Bytes of Verilog over every file."""
        return sum(len(text.encode()) for text in self.sources.values())

    @property
    def digest(self) -> str:
        """SHA-256 over every file's name and text (keys simulator build caches)."""
        h = hashlib.sha256()
        for file, text in sorted(self.sources.items()):
            h.update(file.encode() + b"\0" + text.encode() + b"\0")
        return h.hexdigest()


def build_top(top: str, config: TileConfig, crossbar: str | None = None):
    """Instantiate the Amaranth component of ``top`` for ``config``."""
    from red.rtl.crossbar import DEFAULT_CROSSBAR
    if top not in AMARANTH_TOPS:
        raise ConfigError(f"unknown top {top!r}; known tops: {', '.join(sorted(AMARANTH_TOPS))}")
    return AMARANTH_TOPS[top](config, crossbar or DEFAULT_CROSSBAR)


def _ports(component: wiring.Component) -> list[dict]:
    ports = []
    for path, member, _ in component.signature.flatten(component):
        shape = Shape.cast(member.shape)
        ports.append({
            "name": "__".join(str(part) for part in path),
            "direction": "input" if member.flow == wiring.In else "output",
            "width": shape.width,
            "signed": shape.signed,
        })
    return ports


def source_version() -> str:
    """Hash of every source file that shapes generated Verilog (the RTL package, the
    configuration and the generators): a generation cache entry is valid only for it."""
    import red.config
    import red.rtl
    here = Path(__file__).resolve().parent
    files = sorted(path for path in Path(red.rtl.__file__).resolve().parent.iterdir()
                   if path.suffix in (".py", ".v"))
    files += [Path(red.config.__file__).resolve(), here / "verilog.py", here / "harness.py"]
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _generate(top: str, config: TileConfig, crossbar: str) -> Generated:
    from red.rtl.crossbar import MACRO_FILE, MACRO_NAME, macro_source
    if top == "harness":
        from .harness import HARNESS_NAME, harness_verilog
        tile = _generate("tile", config, crossbar)
        sources = {f"{HARNESS_NAME}.v": harness_verilog(config, tile.name,
                                                        tile.metadata["ports"]),
                   **tile.sources}
        metadata = {"name": HARNESS_NAME, "top": top, "crossbar": crossbar,
                    "files": list(sources), "config": config.describe(),
                    "tile": tile.metadata}
        return Generated(name=HARNESS_NAME, sources=sources, metadata=metadata)

    component = build_top(top, config, crossbar)
    # The crossbar top wraps the macro, which owns the name red_crossbar.
    name = f"red_{top}_top" if top == "crossbar" else f"red_{top}"
    sources = {f"{name}.v": verilog.convert(component, name=name, emit_src=False)}
    if top == "tile" and crossbar == "macro":
        sources.update(_generate("mvm", config, crossbar).sources)   # the groups' module
    if crossbar == "macro":
        sources[MACRO_FILE] = macro_source()
    metadata = {
        "name": name,
        "top": top,
        "crossbar": crossbar,
        "files": list(sources),
        "macro": ({"module": MACRO_NAME, "file": MACRO_FILE,
                   "contract": "red.rtl.crossbar.CrossbarSignature", "latency": 1}
                  if crossbar == "macro" else None),
        "config": config.describe(),
        "ports": _ports(component),
        "latency": getattr(component, "latency", None),
        "interval": getattr(component, "interval", None),
        "group_latency": getattr(component, "group_latency", None),
    }
    return Generated(name=name, sources=sources, metadata=metadata)


def generate(top: str, config: TileConfig, crossbar: str | None = None, *,
             cache: bool = True) -> Generated:
    """Generate the Verilog of ``top`` for ``config``.

    The text is a pure function of ``(top, config, crossbar)`` and the source version:
    no source locations, no paths, no time stamps, so two runs are byte-identical. With
    ``cache`` the result is kept in the cache folder (:func:`red.cache.cache_root`) under
    a hash of all of these and reused once its content hash checks out
    (:func:`red.cache.entry`; a damaged entry is regenerated).
    """
    from red.rtl.crossbar import DEFAULT_CROSSBAR, crossbar_model
    crossbar = crossbar or DEFAULT_CROSSBAR
    crossbar_model(crossbar)
    if top not in TOPS:
        raise ConfigError(f"unknown top {top!r}; known tops: {', '.join(sorted(TOPS))}")
    config.check_generable()
    if not cache:
        return _generate(top, config, crossbar)
    key = json.dumps({"top": top, "config": config.describe(), "crossbar": crossbar,
                      "source": source_version()}, sort_keys=True)
    path = cache_folder("verilog") / f"{top}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"

    def build(folder: Path) -> None:
        generated = _generate(top, config, crossbar)
        (folder / _ENTRY_FILE).write_text(json.dumps(
            {"name": generated.name, "sources": generated.sources,
             "metadata": generated.metadata}))

    saved = json.loads((entry(path, build) / _ENTRY_FILE).read_text())
    return Generated(name=saved["name"], sources=saved["sources"], metadata=saved["metadata"])


def write(generated: Generated, out_dir: str | Path) -> list[Path]:
    """Write every Verilog file and ``<name>.json`` into ``out_dir``; return the paths,
    Verilog files first (the top's own first).

    Each file is written to a temporary name and renamed, so a failure never leaves a
    half-written file behind.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {**generated.sources,
             f"{generated.name}.json": json.dumps(generated.metadata, indent=2,
                                                  sort_keys=True) + "\n"}
    paths = []
    for file, text in files.items():
        path = out_dir / file
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        paths.append(path)
    return paths
