"""Verilog and metadata generation for the tile's tops."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from red.config import ConfigError, TileConfig

__all__ = ["TOPS", "Generated", "build_top", "generate", "write"]


def _mvm(config: TileConfig):
    from red.rtl.mvm import MVMUnit
    return MVMUnit(config)


def _tile(config: TileConfig):
    from red.rtl.tile import RedTile
    return RedTile(config)


#: Generatable tops: name -> constructor taking a TileConfig.
TOPS = {"tile": _tile, "mvm": _mvm}


@dataclass(frozen=True)
class Generated:
    """A generated top: its module name, Verilog text and metadata."""

    name: str
    verilog: str
    metadata: dict

    @property
    def digest(self) -> str:
        """SHA-256 of the Verilog text (keys simulator build caches)."""
        return hashlib.sha256(self.verilog.encode()).hexdigest()


def build_top(top: str, config: TileConfig):
    """Instantiate the Amaranth component of ``top`` for ``config``."""
    if top not in TOPS:
        raise ConfigError(f"unknown top {top!r}; known tops: {', '.join(sorted(TOPS))}")
    return TOPS[top](config)


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


def generate(top: str, config: TileConfig) -> Generated:
    """Generate the Verilog of ``top`` for ``config``.

    The text is a pure function of ``(top, config)``: no source locations, no paths, no
    time stamps, so two runs are byte-identical.
    """
    component = build_top(top, config)
    name = f"red_{top}"
    text = verilog.convert(component, name=name, emit_src=False)
    metadata = {
        "name": name,
        "top": top,
        "config": config.describe(),
        "ports": _ports(component),
        "latency": getattr(component, "latency", None),
        "interval": getattr(component, "interval", None),
        "group_latency": getattr(component, "group_latency", None),
    }
    return Generated(name=name, verilog=text, metadata=metadata)


def write(generated: Generated, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.v`` and ``<name>.json`` into ``out_dir``; return both paths.

    Each file is written to a temporary name and renamed, so a failure never leaves a
    half-written file behind.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path = out_dir / f"{generated.name}.v"
    j_path = out_dir / f"{generated.name}.json"
    for path, text in ((v_path, generated.verilog),
                       (j_path, json.dumps(generated.metadata, indent=2, sort_keys=True) + "\n")):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return v_path, j_path
