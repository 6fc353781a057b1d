"""A command's output folder: checked before any work, locked against a concurrent run,
and filled all at once.

:class:`OutputFolder` refuses a path that cannot become a writable folder (one line,
:class:`~red.config.ConfigError`) before the command spends any time; holds a lock in the
folder while it runs, so a second run into the same folder is refused instead of mixing
files; and gives the command a private scratch folder inside it. Only :meth:`commit`
moves the scratch files in, first removing every file the command owns from an earlier
run (so no stale ``y.npy`` or waveform survives beside new results). A failed or
interrupted run commits nothing and leaves the folder as it was.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from .config import ConfigError

__all__ = ["OutputFolder", "check_writable_folder"]

_LOCK = ".red.lock"


def check_writable_folder(path: str | Path, what: str) -> Path:
    """Create ``path`` if needed and check it is a writable folder; raise
    :class:`ConfigError` naming ``what`` (e.g. ``--out``) otherwise."""
    if not str(path).strip():
        raise ConfigError(f"{what} '' is invalid: give a folder path")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is invalid: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {folder} is invalid: cannot create it "
                          f"({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {folder} is invalid: the folder is not writable")
    return folder


class OutputFolder:
    """The output folder ``path`` of one run (option name ``what``), owning the top-level
    entries named in ``owned``.

    Use as a context manager; write into :attr:`scratch`; call :meth:`commit` when the
    run's results are complete.
    """

    def __init__(self, path: str | Path, owned: tuple[str, ...], what: str = "--out"):
        self.path = check_writable_folder(path, what)
        self.owned, self.what = owned, what
        self.scratch: Path | None = None
        self._lock = None

    def __enter__(self) -> "OutputFolder":
        try:
            self._lock = open(self.path / _LOCK, "w")
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if self._lock is not None:
                self._lock.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ConfigError(f"{self.what} {self.path} is in use by another red run; "
                                  "wait for it or choose another folder") from None
            raise ConfigError(f"{self.what} {self.path} is invalid: cannot lock it "
                              f"({exc.strerror or exc})") from None
        self.scratch = Path(tempfile.mkdtemp(prefix=".red-run-", dir=self.path))
        return self

    def commit(self) -> None:
        """Replace the owned entries of an earlier run by this run's files."""
        for name in self.owned:
            _remove(self.path / name)
        for entry in sorted(self.scratch.iterdir()):
            _remove(self.path / entry.name)
            os.replace(entry, self.path / entry.name)

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        # The lock file stays: unlinking it would let a waiting opener and a new one
        # each lock a different file.
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
