"""The one ``chaosgate`` click app and its one error handler.

Every command raises :class:`~chaosgate.exceptions.ChaosgateError` for what
it cannot do; :class:`ChaosgateGroup` turns it into one line on stderr
(``error: <what>. Fix: <how>``) and the error's exit code (see
:mod:`chaosgate.verdict`). A SIGINT or SIGTERM that interrupted a fault
session (:class:`~chaosgate.faults.signals.Interrupted`) exits 130 or 143
once every fault was reverted. Commands never call ``sys.exit`` for errors.
"""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from ..exceptions import ChaosgateError
from ..faults.signals import Interrupted
from ..verdict import EXIT_USAGE
from ._common import err_console

__all__ = ["ChaosgateGroup", "app", "main"]


class ChaosgateGroup(click.Group):
    """A click group whose commands' ChaosgateErrors become a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map chaosgate's errors and interruptions to exit codes."""
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            err_console.print(f"[yellow]{escape(str(exc))}: every fault this run applied "
                              "was reverted[/]")
            raise click.exceptions.Exit(exc.exit_code) from None
        except ChaosgateError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise click.exceptions.Exit(exc.exit_code) from None


@click.group(cls=ChaosgateGroup)
@click.version_option(package_name="chaosgate")
def app() -> None:
    """chaosgate: prove, under load, that a system keeps its SLOs when things break."""


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, return its exit code."""
    try:
        app.main(args=argv, prog_name="chaosgate", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if isinstance(code, int):
            return code
        return EXIT_USAGE if code else 0
    return 0
