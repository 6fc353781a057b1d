"""Small arithmetic helpers shared by the RTL blocks."""

from amaranth.hdl import Array, Cat, Const, Mux, Shape, Value
from amaranth.lib import data

__all__ = ["tree_sum", "tree_or", "popcount", "first_ones", "mod_const", "div_const", "packed",
           "wrap_add", "wrap_sub"]


def _fit(value, width: int) -> Value:
    """``value``'s bits extended (by its sign) or truncated to ``width``."""
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width]
    fill = value[-1] if value.shape().signed else Const(0, 1)
    return Cat(value, fill.replicate(width - len(value)))


def packed(layout: data.Layout, values) -> Value:
    """``values`` as the bits of one value of ``layout``: a list (an ``ArrayLayout``, one
    value per element) or a dict (a ``StructLayout``, one value per field; a missing
    field is 0), each fitted to its field's width as an assignment would.

    Assign a whole view from it (``view.eq(packed(layout, ...))``) rather than field by
    field. A signal assigned in parts becomes, in Icarus, a net of several drivers that
    is rebuilt bit by bit whenever any one part changes; on the merge's wide words that
    was most of a run's time. One assignment of a concatenation is not rebuilt that way.
    """
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return Cat(*(_fit(v, width) for v in values))
    parts, at = [], 0
    for name, field in sorted(layout, key=lambda item: item[1].offset):
        parts.append(Const(0, field.offset - at))
        parts.append(_fit(values.get(name, Const(0, 1)), field.width))
        at = field.offset + field.width
    parts.append(Const(0, layout.size - at))
    return Cat(*parts)


def wrap_sub(x, y, modulus):
    """``(x - y) mod modulus`` for ``x, y < modulus``."""
    return Mux(x >= y, x - y, x + modulus - y)


def wrap_add(x, y, modulus):
    """``(x + y) mod modulus`` for ``x < modulus``, ``y <= modulus``."""
    total = x + y
    return Mux(total >= modulus, total - modulus, total)


def first_ones(width: int, count) -> Value:
    """A ``width``-bit mask with bits ``0 .. count-1`` set (``count <= width``).

    A shift of a constant, not ``width`` comparisons: one wide operation in simulation.
    """
    return Const((1 << width) - 1, width) >> (width - count).as_unsigned()


def tree_sum(terms):
    """Sum ``terms`` as a balanced adder tree.

    Amaranth widens a sum by one bit per addition; a balanced tree keeps the width of an
    ``n``-term sum at ``ceil(log2 n)`` extra bits instead of ``n - 1``, and its depth at
    ``ceil(log2 n)`` adders.
    """
    terms = [Value.cast(t) for t in terms]
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
        terms = paired + terms[len(paired) * 2:]
    return terms[0]


def popcount(bits, width: int):
    """The number of ones among bits ``0 .. width-1`` of ``bits`` (an adder tree)."""
    return tree_sum(bits[i] for i in range(width))


def tree_or(terms):
    """Bitwise OR of ``terms``."""
    terms = [Value.cast(t) for t in terms]
    result = terms[0]
    for term in terms[1:]:
        result = result | term
    return result


def mod_const(value, modulus: int, lo: int, hi: int) -> Value:
    """``value mod modulus`` for a constant ``modulus`` and ``lo <= value <= hi``,
    without a divider: the low bits when ``modulus`` is a power of two, otherwise a
    table of the ``hi - lo + 1`` possible remainders."""
    value = Value.cast(value)
    bits = max(modulus - 1, 1).bit_length()
    if modulus & (modulus - 1) == 0:
        return value.as_unsigned()[:bits] if modulus > 1 else Const(0, 1)
    table = Array(Const(v % modulus, bits) for v in range(lo, hi + 1))
    return table[(value - lo).as_unsigned()]


def div_const(value, divisor: int, lo: int, hi: int) -> Value:
    """``floor(value / divisor)`` for a constant ``divisor`` and ``lo <= value <= hi``,
    without a divider: a table of the ``hi - lo + 1`` possible quotients (signed when
    ``lo < 0``)."""
    value = Value.cast(value)
    quotients = [v // divisor for v in range(lo, hi + 1)]
    shape = Shape.cast(range(min(quotients), max(quotients) + 1))
    return Array(Const(q, shape) for q in quotients)[(value - lo).as_unsigned()]
