"""``python -m red.cli``: as the console script (:mod:`red.console`)."""

from .. import signals

signals.defer()

from . import entry  # noqa: E402  (after defer: interrupts are noted from here on)

entry()
