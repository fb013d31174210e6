"""The one ``chaosgate`` click app and its one error handler.

Every command raises :class:`~chaosgate.exceptions.ChaosgateError` for what
it cannot do; :class:`ChaosgateGroup` turns it into one line on stderr
(``error: <what>. Fix: <how>``) and the error's exit code (see
:mod:`chaosgate.verdict`). Commands never call ``sys.exit`` for errors.

Signals: :func:`main` takes over from :mod:`._startup`: from then on SIGINT
and SIGTERM raise :class:`~chaosgate.faults.signals.Interrupted` in the main
thread (a fault session's guard installs its own while it holds faults, and
reverts). An interruption anywhere, ``KeyboardInterrupt`` included, is one
line on stderr (``interrupted by SIGTERM: no verdict (inconclusive)``) and
exit 130 or 143, never a traceback and never click's "Aborted!" (exit 1,
which would read as a violation). Once the command has ended, the
``chaosgate`` program ignores both signals: Python's shutdown would
otherwise put back the default handlers, and a signal landing then would
kill a process whose work is done with a signal instead of its exit code.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click
from rich.markup import escape

from ..exceptions import ChaosgateError
from ..faults.signals import Interrupted
from ..verdict import EXIT_USAGE
from ._common import err_console
from ._startup import is_chaosgate_program

__all__ = ["ChaosgateGroup", "app", "main"]


class ChaosgateGroup(click.Group):
    """A click group whose commands' ChaosgateErrors become a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map chaosgate's errors and interruptions to exit codes."""
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            _say_interrupted(exc)
            raise click.exceptions.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            stopped = Interrupted(signal.SIGINT)
            _say_interrupted(stopped)
            raise click.exceptions.Exit(stopped.exit_code) from None
        except ChaosgateError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise click.exceptions.Exit(exc.exit_code) from None


def _say_interrupted(exc: Interrupted) -> None:
    err_console.print(f"[yellow]{escape(str(exc))}: no verdict (inconclusive); every fault "
                      "this run applied was reverted[/]", soft_wrap=True)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    for sig in _SIGNALS:  # later signals are ignored while the command unwinds
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the block (main thread only); the previous
    handlers (the start-up ones: exit at once) come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.group(cls=ChaosgateGroup)
@click.version_option(package_name="chaosgate")
def app() -> None:
    """chaosgate: prove, under load, that a system keeps its SLOs when things break."""


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, return its exit code (an interruption:
    130/143, see the module doc)."""
    try:
        return _run(argv)
    finally:
        if is_chaosgate_program():  # done: a late signal must not replace the exit code
            for sig in _SIGNALS:
                signal.signal(sig, signal.SIG_IGN)


def _run(argv: list[str] | None) -> int:
    try:
        with _signals_interrupt():
            app.main(args=argv, prog_name="chaosgate", standalone_mode=True)
    except (Interrupted, KeyboardInterrupt) as exc:  # outside a command (while parsing)
        stopped = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        _say_interrupted(stopped)
        return stopped.exit_code
    except SystemExit as exc:
        code = exc.code
        if isinstance(code, int):
            return code
        return EXIT_USAGE if code else 0
    return 0
