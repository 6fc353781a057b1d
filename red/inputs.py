"""Input files given on the command line: ``.npy`` arrays, TOML configurations and the
``--tile``/``--layer`` arguments that name them.

Every check refuses a bad file with :class:`~red.config.ConfigError` (one line naming
the file and what is wrong) in bounded time and memory:

* only regular files are read: a FIFO, a device (``/dev/zero``), a socket or a folder
  is refused before a byte is read, and the file is opened without blocking so that a
  FIFO swapped in after the check cannot hang the open;
* a text file is read up to :data:`MAX_TEXT_BYTES`, and a TOML file nested too deeply
  for the parser is refused;
* a ``.npy`` file's header (format, dtype, shape) is checked against the shape the
  layer needs and against the file's size before any data is read, so a header that
  claims a huge array allocates nothing; no pickled object is ever loaded.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tokenize
import tomllib
from pathlib import Path

import numpy as np

from .config import ConfigError, LayerSpec, TileConfig, load_toml

__all__ = ["MAX_TEXT_BYTES", "open_regular", "read_text", "read_toml", "toml_tables",
           "load_array", "load_float_array", "config_arg", "load_sparsity", "check_seed",
           "index_span"]

#: Largest TOML configuration read (a tile, a layer or an energy table is a few hundred
#: bytes).
MAX_TEXT_BYTES = 1 << 20

_KINDS = ((stat.S_ISDIR, "is a folder"), (stat.S_ISFIFO, "is a FIFO (named pipe)"),
          (stat.S_ISCHR, "is a character device"), (stat.S_ISBLK, "is a block device"),
          (stat.S_ISSOCK, "is a socket"))


def open_regular(path: str | Path, where: str):
    """``path`` opened for binary reading, refused unless it is a regular file.

    Parameters
    ----------
    path : str or Path
        The file.
    where : str
        How the error line names it, e.g. ``"--x x.npy"``.

    Returns
    -------
    file object
        Open, positioned at the start; the caller closes it.

    Raises
    ------
    ConfigError
        It does not exist, cannot be opened, or is not a regular file.
    """
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((text for test, text in _KINDS if test(mode)), "is not a regular file")
        raise ConfigError(f"{where}: {kind}, not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_text(path: str | Path, where: str, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, refused (:class:`ConfigError`) when
    it is longer than ``limit`` bytes or not UTF-8."""
    with open_regular(path, where) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{where}: larger than {limit} bytes, the most a configuration "
                          "file may hold")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not a UTF-8 text file (TOML must be UTF-8)") from None


def read_toml(path: str | Path) -> dict:
    """The tables of the TOML file ``path``; :class:`ConfigError` (one line) when it is
    not a readable regular file of at most :data:`MAX_TEXT_BYTES`, not UTF-8, not TOML,
    or nested too deeply to parse."""
    text = read_text(path, str(path))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to parse (a configuration is a "
                          "table of key = value)") from None


def toml_tables(path: str | Path) -> dict[str, dict]:
    """The ``[tile]`` and ``[layer]`` tables of a TOML file as keyword dictionaries of
    :class:`~red.config.TileConfig` and :class:`~red.config.LayerSpec`, keys checked,
    values not yet validated; a missing table is absent."""
    data = read_toml(path)
    classes = {"tile": TileConfig, "layer": LayerSpec}
    unknown = set(data) - set(classes)
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {sorted(unknown)}; expected [tile], [layer]")
    tables = {}
    for key, table in data.items():
        cls = classes[key]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{key}] must be a table of key = value, "
                              f"got a {type(table).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(table) - fields
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)} for {cls.__name__}; "
                              f"known keys: {', '.join(sorted(fields))}")
        tables[key] = table
    return tables


def check_seed(seed: int) -> int:
    """``seed``, refused unless it is in [0, 2^32)."""
    if not 0 <= seed < 1 << 32:
        raise ConfigError(f"--seed {seed} is invalid: must be in [0, 2^32)")
    return seed


def index_span(text: str, flag: str, expected: str, single: bool = False) -> tuple[int, int]:
    """``FIRST:LAST`` given with ``flag``, two numbers from 0 (``single``: ``N`` alone
    is ``N:N``); refused with ``expected``, what the flag takes, otherwise."""
    first, sep, last = text.partition(":")
    if not sep and single:
        last = first
    if not ((sep or single) and first.strip().isdigit() and last.strip().isdigit()):
        raise ConfigError(f"{flag} {text!r}: expected {expected}")
    return int(first), int(last)


def config_arg(text: str, cls, table: str):
    """A ``--tile``/``--layer`` value as a ``cls`` object: ``key=value,...``, or a TOML
    file (``*.toml``) whose ``[tile]``/``[layer]`` table gives it. Both forms mean the
    same object: fields not given take ``cls``'s defaults."""
    name = text.strip()
    if not name.endswith(".toml"):
        return cls.parse(text)
    tables = dict(zip(("tile", "layer"), load_toml(name)))
    if tables[table] is None:
        raise ConfigError(f"{name}: has no [{table}] table")
    return tables[table]


def load_array(path: str | Path, where: str, shape: tuple, bits: int) -> np.ndarray:
    """The signed integer array in the ``.npy`` file ``path``, as int64.

    Parameters
    ----------
    path : str or Path
        The file.
    where : str
        How the error line names it, e.g. ``"--x x.npy"``.
    shape : tuple
        Each axis's length, or a name for an axis of any length (axes of one name must
        be equal: ``("cin", "cout", "k", "k")`` is a square kernel).
    bits : int
        Every value must fit a ``bits``-bit signed register.

    Raises
    ------
    ConfigError
        Not a regular ``.npy`` file, a dtype other than integers, a shape other than
        ``shape``, a size other than the header claims, or a value beyond ``bits``.
    """
    from .golden import check_signed
    with open_regular(path, where) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            file_shape, fortran, dtype = read_header(f)
        except (ValueError, EOFError, SyntaxError, tokenize.TokenError, OSError):
            raise ConfigError(f"{where}: not a .npy array file (np.save writes one)") from None
        if dtype.kind not in "iub" or dtype.hasobject:
            raise ConfigError(f"{where}: dtype {dtype}, must hold integers")
        if not _shape_fits(file_shape, shape):
            raise ConfigError(f"{where}: shape {file_shape}, the layer needs "
                              f"({', '.join(map(str, shape))})")
        # Python ints: a claimed shape's byte count cannot overflow here.
        claimed = dtype.itemsize
        for length in file_shape:
            claimed *= length
        held = os.fstat(f.fileno()).st_size - f.tell()
        if held != claimed:
            raise ConfigError(f"{where}: its header claims shape {file_shape} of {dtype} "
                              f"({claimed} bytes of data), the file holds {held}")
        f.seek(0)                         # read_array reads the header again
        try:
            array = np.lib.format.read_array(f, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise ConfigError(f"{where}: cannot read the array ({exc})") from None
    return check_signed(f"{where}:", array, bits)


def load_float_array(path: str | Path, where: str, shape: tuple) -> np.ndarray:
    """The real array in the ``.npy`` file ``path``, as float32, of ``shape`` (``None``
    for an axis of any length; a file without the leading batch axis of length 1 gets
    it), every value finite."""
    with open_regular(path, where) as f:
        try:
            array = np.lib.format.read_array(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
            raise ConfigError(f"{where}: not a readable .npy array file "
                              f"({' '.join(str(exc).split())[:120]})") from None
    if array.dtype.kind not in "iuf":
        raise ConfigError(f"{where}: dtype {array.dtype}, must hold real numbers")
    if array.ndim == len(shape) - 1 and shape and shape[0] in (1, None):
        array = array[None]
    if array.ndim != len(shape) or any(want is not None and length != want
                                       for length, want in zip(array.shape, shape)):
        wanted = ", ".join("any" if want is None else str(want) for want in shape)
        raise ConfigError(f"{where}: shape {array.shape}, the model's input is ({wanted})")
    if not np.isfinite(array).all():
        raise ConfigError(f"{where}: holds NaN or infinite values")
    return array.astype(np.float32)


def _shape_fits(shape: tuple, pattern: tuple) -> bool:
    """Whether ``shape`` has the axes of ``pattern`` (:func:`load_array`)."""
    named: dict[str, int] = {}
    return len(shape) == len(pattern) and all(
        length == (named.setdefault(want, length) if isinstance(want, str) else want)
        for length, want in zip(shape, pattern))


def load_sparsity(folder: str, layer: LayerSpec, tile: TileConfig):
    """The weights in the layer's channel order and the :class:`~red.sparsity.Reordering`
    that ``red sparsify`` wrote into ``folder``, refused with one line unless they fit
    the layer and the tile."""
    from .sparsity import Reordering, block_mask, undo_permutation
    where = Path(folder)
    if not where.is_dir():
        raise ConfigError(f"--sparsity {folder}: not a folder (red sparsify --out writes one)")
    perms = {}
    for name, n in (("perm_in", layer.cin), ("perm_out", layer.cout)):
        perm = load_array(where / f"{name}.npy", f"--sparsity {where / name}.npy", (n,), 64)
        if sorted(perm.tolist()) != list(range(n)):
            raise ConfigError(f"--sparsity {where / name}.npy: not a permutation of "
                              f"0..{n - 1}")
        perms[name] = perm
    shape = (layer.cin, layer.cout, layer.k, layer.k)
    permuted = load_array(where / "w.npy", f"--sparsity {where / 'w.npy'}", shape,
                          tile.w_bits)
    mask = load_array(where / "block_mask.npy", f"--sparsity {where / 'block_mask.npy'}",
                      ("cout_tiles", "cin_tiles", layer.k, layer.k), 2)
    if not np.array_equal(mask.astype(bool), block_mask(permuted, tile)):
        raise ConfigError(f"--sparsity {where / 'block_mask.npy'}: does not match w.npy on "
                          f"this tile (rows={tile.rows}, logical columns "
                          f"{tile.logical_cols}): run red sparsify with the same --tile")
    reorder = Reordering(perms["perm_in"], perms["perm_out"],
                         empty_blocks=int((~mask.astype(bool)).sum()))
    return undo_permutation(permuted, reorder.perm_in, reorder.perm_out), reorder
