"""Interrupting signals: SIGINT, SIGTERM and SIGHUP all end a run the way Ctrl-C does.

A terminal's Ctrl-C reaches every process of the foreground group, but ``timeout``, CI
runners, job schedulers and a closing terminal may signal ``red`` alone. So the handler
:func:`install` sets first stops every process ``red`` started (simulators, compilers,
pool workers; children of threads included), then raises :class:`Interrupted` in the main
thread, which unwinds through the output folders (they keep nothing of the run) to
:func:`red.cli.main`. The exit status is ``128 + signal``: 130, 143 or 129.

Forked pool workers call :func:`quiet_worker` first: they leave interrupts to the parent,
which stops them, so no worker prints a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["INTERRUPTS", "Interrupted", "install", "restore", "quiet_worker", "stop_children",
           "check_stopping", "abandoned_on_interrupt", "defer", "raise_pending"]

#: The signal that interrupted the run, once one arrived: threads check it
#: (:func:`check_stopping`) before they start more work.
_stopped_by: list[int] = []

#: The signals that interrupt a run.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The run was interrupted by signal ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


#: Interrupts that arrived before :func:`install`, while ``red`` was starting.
_pending: list[int] = []


def defer() -> None:
    """Until :func:`install`, only note interrupts: one that lands inside an import could
    leave the interpreter unable to exit. ``red``'s console script calls this first."""
    for signum in INTERRUPTS:
        signal.signal(signum, lambda signum, frame: _pending.append(signum))


def install() -> dict:
    """Make each of :data:`INTERRUPTS` stop the children and raise :class:`Interrupted`;
    return the previous handlers, for :func:`restore`."""
    _stopped_by.clear()
    return {signum: signal.signal(signum, _interrupt) for signum in INTERRUPTS}


def raise_pending() -> None:
    """Act on an interrupt :func:`defer` noted, as if it arrived now."""
    if _pending:
        signum = _pending[-1]
        _pending.clear()
        _interrupt(signum, None)


def restore(handlers: dict) -> None:
    """Put back the handlers :func:`install` returned."""
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def quiet_worker() -> None:
    """Initializer of forked pool workers: the parent handles interrupts and ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in INTERRUPTS[1:]:
        signal.signal(signum, signal.SIG_DFL)


def check_stopping() -> None:
    """Raise :class:`Interrupted` in a worker thread once the run is being interrupted,
    so that it starts no new simulator."""
    if _stopped_by:
        raise Interrupted(_stopped_by[0])


@contextlib.contextmanager
def abandoned_on_interrupt(executor):
    """Use ``executor`` (a thread or process pool) in a ``with`` block that, when
    interrupted, cancels its queued work and does not wait for the running work: the
    interrupt ends the process, and its children are already stopped."""
    try:
        yield executor
    except KeyboardInterrupt:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _interrupt(signum, frame):
    for signum_ in INTERRUPTS:                 # one interrupt is enough: no re-entry
        signal.signal(signum_, signal.SIG_IGN)
    _stopped_by.append(signum)
    stop_children()
    raise Interrupted(signum)


def stop_children() -> None:
    """Kill every descendant process of this one (twice: one may fork while the first
    round runs)."""
    for _ in range(2):
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _descendants(root: int) -> list[int]:
    parent_of = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    stat = handle.read()
            except OSError:                    # the process ended meanwhile
                continue
            # The command name in parentheses may hold spaces; the parent pid is the
            # second field after it.
            parent_of[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parent_of.items() if ppid == parent]
        found += children
        frontier += children
    return found
