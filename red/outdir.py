"""A command's output folder: checked before any work, locked against a concurrent run,
filled all at once, and owning only what red wrote into it.

:class:`OutputFolder` refuses a path that cannot become a writable folder (one line,
:class:`~red.config.ConfigError`) before the command spends any time; holds a lock in the
folder while it runs, so a second run into the same folder is refused instead of mixing
files; and gives the command a private scratch folder inside it.

Ownership: the folder's manifest (:data:`MANIFEST`) records every entry red moved in, with
the command that wrote it and a fingerprint of its content. A name the command needs that
exists but is not in the manifest, or whose content changed since red wrote it, belongs to
the user: the run is refused with one line, before any work where the names are known
beforehand and at the latest before anything is replaced. A folder that is a source tree
is refused outright. Only :meth:`OutputFolder.commit` moves the scratch files in; it also
removes what the same command wrote on an earlier run and did not write again (a stale
waveform, another ``--top``'s Verilog) when it is unchanged. A failed or interrupted run
commits nothing and leaves the folder as it was; scratch folders of a killed run are
found and removed by the next run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from .config import ConfigError

__all__ = ["OutputFolder", "check_writable_folder", "remove_path", "MANIFEST"]

_LOCK = ".red.lock"
#: The file listing what red wrote into an output folder.
MANIFEST = ".red-manifest.json"
_SCRATCH_PREFIX = ".red-run-"
#: Files whose presence makes a folder a source tree that no run may write into.
_SOURCE_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg", "__init__.py")
#: The longest path name red accepts (Linux's PATH_MAX less room for the names inside).
_MAX_PATH = 3800
#: Signals that interrupt a run; held back while a commit moves files, so a commit is
#: all or nothing.
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def check_writable_folder(path: str | Path, what: str) -> Path:
    """Create ``path`` if needed and check it is a writable folder; raise
    :class:`ConfigError` naming ``what`` (e.g. ``--out``) otherwise."""
    text = str(path)
    if not text.strip():
        raise ConfigError(f"{what} '' is invalid: give a folder path")
    if any(ch in text for ch in "\n\r\0"):
        raise ConfigError(f"{what} {text!r} is invalid: a line break or NUL in a folder "
                          "name is not supported")
    if len(os.path.abspath(text).encode(errors="surrogateescape")) > _MAX_PATH:
        raise ConfigError(f"{what} is invalid: its path has "
                          f"{len(os.path.abspath(text))} characters, at most {_MAX_PATH}")
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
    """The output folder ``path`` of one run of ``command`` (option name ``what``).

    ``owned`` names the top-level entries the command may write, checked against the
    manifest on entry. Use as a context manager; write into :attr:`scratch`; call
    :meth:`commit` when the run's results are complete.
    """

    def __init__(self, path: str | Path, command: str, owned: tuple[str, ...] = (),
                 what: str = "--out"):
        self.path = check_writable_folder(path, what)
        self.command, self.owned, self.what = command, owned, what
        self.scratch: Path | None = None
        self._lock = None
        _refuse_source_tree(self.path, what)
        # Both checked again under the lock; checked here so that a refusal adds no lock
        # file to the folder.
        if (self.path / _LOCK).exists():
            self._take_lock()
            self._release_lock()
        self._check_names(owned)

    def __enter__(self) -> "OutputFolder":
        self._take_lock()
        try:
            _remove_stale_scratch(self.path)
            self._check_names(self.owned)
            self.scratch = Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=self.path))
        except BaseException:
            self._release_lock()
            raise
        return self

    def commit(self) -> None:
        """Move this run's files in, replacing red's own entries of the same names and
        removing the command's unchanged entries from an earlier run; refuse (before
        changing anything) when a name belongs to someone else."""
        names = sorted(entry.name for entry in self.scratch.iterdir())
        self._check_names(names)
        entries = dict(self._manifest)
        with _signals_held():
            for name, record in self._manifest.items():
                stale = record["command"] == self.command and name not in names
                if (name in names or stale) and _owned(self.path / name, record):
                    remove_path(self.path / name)
                if stale or not _exists(self.path / name):
                    entries.pop(name)
            for name in names:
                os.replace(self.scratch / name, self.path / name)
                entries[name] = {"command": self.command,
                                 "fingerprint": _fingerprint(self.path / name)}
            _write_manifest(self.path, entries)
            self._manifest = entries

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        self._release_lock()

    def _check_names(self, names) -> None:
        """(Re)read the manifest and refuse when one of ``names`` is not red's."""
        manifest = _read_manifest(self.path)
        self._manifest = manifest or {}
        unreadable = "" if manifest is not None else f" (its {MANIFEST} is unreadable)"
        for name in names:
            if not _exists(self.path / name):
                continue
            record = self._manifest.get(name)
            if record is None:
                raise ConfigError(f"{self.what} {self.path} holds '{name}', which red did not "
                                  f"write{unreadable}; move it or choose another folder")
            if not _owned(self.path / name, record):
                raise ConfigError(f"{self.what} {self.path}: '{name}' changed since red wrote "
                                  "it; move it or choose another folder")

    def _take_lock(self) -> None:
        try:
            self._lock = open(self.path / _LOCK, "a+")
        except OSError as exc:
            raise ConfigError(f"{self.what} {self.path} is invalid: cannot create files in it "
                              f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock.seek(0)
            holder = self._lock.read().strip()
            self._lock.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                by = f" (pid {holder})" if holder.isdigit() else ""
                raise ConfigError(f"{self.what} {self.path} is in use by another red run{by}; "
                                  "wait for it or choose another folder") from None
            raise ConfigError(f"{self.what} {self.path} is invalid: cannot lock it "
                              f"({exc.strerror or exc})") from None
        # The lock is the kernel's and dies with its process; the pid only names the
        # holder to a refused run.
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(str(os.getpid()))
        self._lock.flush()

    def _release_lock(self) -> None:
        # The lock file stays: unlinking it would let a waiting opener and a new one
        # each lock a different file.
        self._lock.seek(0)
        self._lock.truncate()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def _refuse_source_tree(folder: Path, what: str) -> None:
    """Refuse a folder holding source code (a checkout, a package) or inside red's own
    packages."""
    markers = [name for name in _SOURCE_MARKERS if (folder / name).exists()]
    resolved = folder.resolve()
    inside = [root for root in _package_roots() if root == resolved or root in resolved.parents]
    if markers or inside:
        why = f"it holds {markers[0]}" if markers else f"it is inside red's package {inside[0]}"
        raise ConfigError(f"{what} {folder} is a source tree ({why}); choose an output "
                          "folder of its own")


def _package_roots() -> list[Path]:
    """The folders of red's import packages (``red.rtl`` etc. may live apart from ``red``)."""
    from importlib.util import find_spec
    roots = []
    for name in ("red", "red.rtl", "red.gen", "red.sim"):
        spec = find_spec(name)
        roots += [Path(p).resolve() for p in (spec.submodule_search_locations or ())]
    return roots


def _remove_stale_scratch(folder: Path) -> None:
    """Remove scratch folders of runs that were killed: with the lock held, no live run
    owns one."""
    for stale in sorted(folder.glob(_SCRATCH_PREFIX + "*")):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
            print(f"red: removed {stale.name}, left in {folder} by a killed run",
                  file=sys.stderr)


def _read_manifest(folder: Path) -> dict | None:
    """The manifest's entries (none when there is no manifest), or ``None`` when it is
    unreadable or malformed: it then vouches for nothing, so every existing name is
    foreign."""
    try:
        entries = json.loads((folder / MANIFEST).read_text())["entries"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    well_formed = isinstance(entries, dict) and all(
        isinstance(r, dict) and {"command", "fingerprint"} <= r.keys()
        for r in entries.values())
    return entries if well_formed else None


def _write_manifest(folder: Path, entries: dict) -> None:
    temporary = folder / (MANIFEST + ".new")
    temporary.write_text(json.dumps({"entries": entries}, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, folder / MANIFEST)


def _fingerprint(path: Path) -> str:
    """A hash of an entry's names, link targets and file contents."""
    digest = hashlib.sha256()
    items = [path] if not path.is_dir() or path.is_symlink() else \
        sorted(path.rglob("*"), key=lambda p: p.relative_to(path).parts)
    for item in items:
        digest.update(os.fsencode(item.relative_to(path)) + b"\0")
        if item.is_symlink():
            digest.update(b"link:" + os.fsencode(os.readlink(item)))
        elif item.is_file():
            with open(item, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        digest.update(b"\0")
    return digest.hexdigest()


def _owned(path: Path, record: dict) -> bool:
    return _exists(path) and _fingerprint(path) == record["fingerprint"]


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


@contextlib.contextmanager
def _signals_held():
    """Hold back interrupting signals (delivered on exit) while files move."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def remove_path(path: Path) -> None:
    """Remove a file, a link (not its target) or a folder with its content; nothing when
    ``path`` does not exist."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
