"""Where ``red`` keeps what it can rebuild: generated Verilog and simulator builds.

One folder, ``$RED_CACHE_DIR`` or ``~/.cache/red``. Every entry is keyed by a hash of
everything that changes it, so a stale entry is never used, only left behind.

Every entry is a folder made by :func:`entry`: built in a temporary folder beside it,
closed by a manifest (:data:`MANIFEST`, the SHA-256 of every file, ``sha256sum``'s
format) written last, and renamed into place. Before use the manifest is checked
against the files under the entry's lock; an entry that is incomplete (no manifest),
edited, truncated, or lost or gained a file is rebuilt, and the rebuild says so in one
line on stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .outdir import check_writable_folder, remove_path

__all__ = ["MANIFEST", "cache_root", "cache_folder", "locked", "entry", "entry_problem"]

#: The file closing an entry: ``<sha256>  <path>`` per file of the entry.
MANIFEST = "MANIFEST.sha256"


def _name() -> str:
    return "RED_CACHE_DIR" if "RED_CACHE_DIR" in os.environ else "the cache folder"


def cache_root() -> Path:
    """The cache folder: ``$RED_CACHE_DIR``, else ``~/.cache/red``; created, and refused
    with :class:`~red.config.ConfigError` when it cannot be a writable folder."""
    default = Path.home() / ".cache" / "red"
    return check_writable_folder(os.environ.get("RED_CACHE_DIR", default), _name())


def cache_folder(kind: str) -> Path:
    """The cache's subfolder ``kind`` (e.g. ``builds``), created; refused with one line
    (:class:`~red.config.ConfigError`) when it cannot be a writable folder."""
    return check_writable_folder(cache_root() / kind, f"{_name()} subfolder")


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (a ``.lock`` file beside it) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")
            if not path.is_dir()} - {MANIFEST}


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_manifest(folder: Path) -> None:
    lines = [f"{_sha256(folder / name)}  {name}\n" for name in sorted(_files(folder))]
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text("".join(lines))
    tmp.replace(folder / MANIFEST)


def entry_problem(folder: Path) -> str | None:
    """Why the entry ``folder`` cannot be used (e.g. ``corrupt (sim.vvp changed)``), or
    None when every file matches its manifest and no file is missing or extra."""
    try:
        lines = (folder / MANIFEST).read_text().splitlines()
    except FileNotFoundError:
        return "incomplete (no manifest)"
    except (OSError, UnicodeDecodeError):
        return "corrupt (its manifest is unreadable)"
    pairs = [line.split("  ", 1) for line in lines]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        return "corrupt (its manifest is damaged)"
    listed = {name: digest for digest, name in pairs}
    # Every file present must be listed: a manifest that lost lines would hide a file.
    extra = sorted(_files(folder) - listed.keys())
    if extra:
        return f"corrupt ({extra[0]} is not in its manifest)"
    for name, digest in listed.items():
        try:
            if _sha256(folder / name) != digest:
                return f"corrupt ({name} changed)"
        except FileNotFoundError:
            return f"corrupt ({name} is missing)"
        except OSError as exc:
            return f"corrupt ({name} is unreadable: {exc.strerror})"
    return None


def entry(path: Path, build: Callable[[Path], None]) -> Path:
    """The cache entry folder ``path``, verified under its lock; built first when it is
    missing, incomplete or corrupt (saying so on stderr in the last two cases).

    A build that fails leaves nothing behind. Concurrent processes wanting the same
    entry build it once: the others wait for the lock and find it intact.

    Parameters
    ----------
    path : Path
        The entry's folder, named by a hash of everything that shapes its content.
    build : callable
        ``build(folder)`` fills the empty temporary folder ``folder`` beside ``path``;
        the manifest is written after it returns, and the folder renamed to ``path``.

    Returns
    -------
    Path
        ``path``, intact.
    """
    with locked(path):
        problem = entry_problem(path) if path.exists() or path.is_symlink() else "missing"
        if problem is None:
            return path
        if problem != "missing":
            print(f"red: cache entry {path} is {problem}; rebuilding", file=sys.stderr,
                  flush=True)
        # Under the lock no other process builds this entry: any staging folder of it
        # is a killed build's.
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            remove_path(stale)
        staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        staging.mkdir()
        try:
            build(staging)
            _write_manifest(staging)
            remove_path(path)
            staging.rename(path)
        finally:
            remove_path(staging)
    return path
