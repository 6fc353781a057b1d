"""The ``red`` command: it parses, and dispatches to library calls.

Each subcommand is one module of this package, listed in :data:`SUBCOMMANDS`, with two
functions: ``add_parser(subparsers)`` adds its parser and sets ``run``, which executes
the parsed arguments and returns the exit status. Shared arguments are in
:mod:`red.cli._common`.

Every usage error and :class:`~red.config.ConfigError` ends the command with exit status 2
and one line ``red: error: <message>`` on standard error.

Nothing heavy is imported here at module level: ``python -m red.cli`` (like the console
script, :mod:`red.console`) notes interrupts before the commands' imports.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import signals

__all__ = ["main", "entry", "build_parser", "SUBCOMMANDS"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The subcommands, in the order ``red --help`` lists them: modules of this package.
SUBCOMMANDS = ("model", "gen", "sim", "waves", "net", "report", "sparsify", "area", "sweep")


class UsageError(Exception):
    """A command-line usage error (bad or missing argument)."""


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors raise :class:`UsageError` instead of exiting."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The ``red`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = _Parser(prog="red", description="RED ReRAM deconvolution accelerator tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``red`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit
    status."""
    from ..config import ConfigError
    handlers = signals.install()
    try:
        signals.raise_pending()
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (UsageError, ConfigError) as exc:
        message = " ".join(str(exc).splitlines())
        print(f"red: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        # Output folders commit nothing of an interrupted run (red.outdir).
        print("red: interrupted; nothing of this run was kept", file=sys.stderr)
        return exc.exit_status if isinstance(exc, signals.Interrupted) else EXIT_INTERRUPTED
    finally:
        signals.restore(handlers)


def entry() -> None:
    """The ``red`` console script: :func:`main`, then exit with its status. An
    interrupted run ends at once with 128 + the signal (its output folders are already
    cleaned up): finishing the interpreter normally could still end the process by the
    signal, or wait for a thread of a stopped simulation."""
    status = main()
    if status > 128:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
