"""The ``red`` console script. It notes interrupts from its first line on (before the
command's imports; :func:`red.signals.defer`), then runs :func:`red.cli.entry`."""

from . import signals

signals.defer()


def entry() -> None:
    from .cli import entry as run
    run()
