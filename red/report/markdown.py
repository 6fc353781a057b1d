"""Markdown formatting shared by the report's sections (:mod:`~red.report.prose`,
:mod:`~red.report.sparse`)."""

__all__ = ["md_table", "ratio", "percent", "span", "layer_shape"]


def md_table(header: list[str], rows: list[list]) -> str:
    """A markdown table: ``header`` and one line per row (cells through ``str``)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(value: float) -> str:
    """A ratio: ``2.50x``."""
    return f"{value:.2f}x"


def percent(value: float) -> str:
    """A fraction as a percentage: ``12.5%``."""
    return f"{100 * value:.1f}%"


def span(values, fmt) -> str:
    """``lo - hi`` of ``values`` formatted with ``fmt`` (one value when they agree)."""
    values = list(values)
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo} - {hi}"


def layer_shape(layer: dict) -> str:
    """A described layer (:meth:`red.config.LayerSpec.describe`) in one short line."""
    return (f"{layer['cin']}->{layer['cout']} {layer['h']}x{layer['w']} K{layer['k']} "
            f"s{layer['s']} p{layer['p']} op{layer['op']}")
