"""Small arithmetic helpers shared by the RTL blocks."""

from amaranth.hdl import Const, Value

__all__ = ["tree_sum", "tree_or", "popcount", "first_ones"]


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
