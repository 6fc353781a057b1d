"""What every report section's dataclass shares: its ``report.json`` part is its fields,
less those marked :data:`NOT_IN_JSON` (what other parts take from it)."""

from __future__ import annotations

import dataclasses

__all__ = ["NOT_IN_JSON", "json_fields"]

#: ``field(metadata=NOT_IN_JSON)``: a section field that ``report.json`` leaves out.
NOT_IN_JSON = {"in_json": False}


def json_fields(section) -> dict:
    """``section``'s part of ``report.json``: its fields in order, less
    :data:`NOT_IN_JSON` ones."""
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if f.metadata.get("in_json", True)}
