"""Stream beats as text: ``$readmemh``/``$fwrite`` hexadecimal lines, vectorised.

A beat is an ``ArrayLayout`` of equal-width fields, element 0 in the low bits (Amaranth's
layout rule). The paper tile's weight beats are 6,400 bits and a layer has thousands of
them per pass, so beats are encoded and decoded with numpy, a bit matrix at a time,
never value by value in Python.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hex_lines", "hex_bits", "bit_fields"]

_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_NIBBLE = 1 << np.arange(4, dtype=np.uint8)

#: Lines decoded at a time (bounds the bit matrix of wide beats).
_CHUNK = 4096


def hex_lines(values, width: int, word_bits: int | None = None) -> str:
    """One hexadecimal line per row of ``values[n][m]``: the row's ``m`` elements as
    ``width``-bit fields (two's complement), element 0 in the low bits. With
    ``word_bits`` (a multiple of 4), each row is instead split into lines of
    ``word_bits`` bits, the low word first (a memory of narrow words)."""
    values = np.asarray(values, dtype=np.int64)
    n, m = values.shape
    if n == 0:
        return ""
    fields = values & ((1 << width) - 1) if width < 64 else values
    bits = ((fields[:, :, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(n, m * width)
    bits = np.pad(bits, ((0, 0), (0, -(m * width) % 4)))
    nibbles = bits.reshape(n, -1, 4) @ _NIBBLE                       # low nibble first
    if word_bits is not None:
        per_word = word_bits // 4
        nibbles = np.pad(nibbles, ((0, 0), (0, -nibbles.shape[1] % per_word)))
        nibbles = nibbles.reshape(-1, per_word)                      # low word first
    text = np.concatenate([_DIGITS[nibbles[:, ::-1]],
                           np.full((len(nibbles), 1), ord("\n"), dtype=np.uint8)], axis=1)
    return text.tobytes().decode("ascii")


def hex_bits(lines: list[str]):
    """Yield ``(first line index, bits[k][nbits])`` for chunks of equal-length
    hexadecimal ``lines``; bit 0 of a line is column 0 (the low bit)."""
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start:start + _CHUNK]
        text = np.frombuffer("".join(chunk).encode("ascii"), dtype=np.uint8)
        chars = text.reshape(len(chunk), -1)
        nibbles = np.where(chars >= ord("a"), chars - ord("a") + 10, chars - ord("0"))
        nibbles = nibbles[:, ::-1].astype(np.uint8)                   # low nibble first
        bits = ((nibbles[:, :, None] >> np.arange(4, dtype=np.uint8)) & 1)
        yield start, bits.reshape(len(chunk), -1)


def bit_fields(bits, offset: int, width: int, count: int, *, signed: bool) -> np.ndarray:
    """``count`` consecutive ``width``-bit fields from bit ``offset`` of each row of
    ``bits`` (as :func:`hex_bits` yields them), as int64 ``[rows][count]``."""
    if width > 63:
        raise ValueError(f"bit_fields: width={width} does not fit int64")
    fields = bits[:, offset:offset + count * width].reshape(len(bits), count, width)
    weights = np.int64(1) << np.arange(width, dtype=np.int64)
    if signed:
        weights[-1] = -weights[-1]           # two's complement: the top bit weighs -2^(w-1)
    return fields.astype(np.int64) @ weights
