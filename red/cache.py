"""Where ``red`` keeps what it can rebuild: generated Verilog and simulator builds.

One folder, ``$RED_CACHE_DIR`` or ``~/.cache/red``. Every entry is keyed by a hash of
everything that changes it, so a stale entry is never used, only left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["cache_root", "locked"]


def cache_root() -> Path:
    """The cache folder: ``$RED_CACHE_DIR``, else ``~/.cache/red``; created, and refused
    with :class:`~red.config.ConfigError` when it cannot be a writable folder."""
    from .outdir import check_writable_folder
    variable = os.environ.get("RED_CACHE_DIR")
    if variable is None:
        return check_writable_folder(Path.home() / ".cache" / "red", "the cache folder")
    return check_writable_folder(variable, "RED_CACHE_DIR")


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path`` (a ``.lock`` file beside it) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
