"""What the commands share: the consoles and the options several commands take."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click
from rich.console import Console

__all__ = ["DEFAULT_STATE_DIR", "console", "duration_option", "err_console", "ledger_option",
           "parse_duration_option", "target_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: Where ``chaosgate sandbox up`` keeps the sandbox unless told otherwise.
DEFAULT_STATE_DIR = ".chaosgate/sandbox"



def _width() -> int | None:
    """A terminal's own width; off a terminal (CI logs, pipes, a test runner's capture) at
    least 200 columns, so tables and the PromQL in them do not wrap. ``COLUMNS`` may widen
    that but never narrows it: GNU readline exports ``COLUMNS=80`` into every child of a
    process that imported it (pytest does), so a CLI run by a test would wrap at 80."""
    if sys.stdout.isatty():
        return None
    try:
        asked = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        asked = 0
    return max(200, asked)


class _StdoutConsole:
    """stdout as a rich Console made at each use, so that its width follows where stdout
    goes *now* (:func:`_width`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Console(highlight=False, width=_width()), name)


console = cast(Console, _StdoutConsole())
err_console = Console(stderr=True, highlight=False)


def target_option(required: bool = True, default: str | None = None,
                  help: str = "Target file (YAML).") -> Callable[[F], F]:
    """``--target FILE`` (the ``target_file`` parameter).

    Without a default no ``default=`` is passed at all: click 8.3 and later
    take an explicit ``default=None`` as a value given, so ``required`` no
    longer refused a missing ``--target`` (a traceback instead of exit 2)."""
    extra: dict[str, Any] = {} if default is None else {"default": default,
                                                         "show_default": True}
    return click.option("--target", "target_file", required=required and default is None,
                        type=click.Path(dir_okay=False), help=help, **extra)


def ledger_option(func: F) -> F:
    """``--ledger FILE`` (``$CHAOSGATE_LEDGER``): the write-ahead ledger of applied faults;
    None when neither is given (the target's own ledger, :func:`chaosgate.faults.ledger_for`)."""
    return click.option("--ledger", "ledger_path", envvar="CHAOSGATE_LEDGER", default=None,
                        help="Write-ahead ledger of applied faults [default: the target's: "
                             "<state_dir>/ledger.jsonl for a sandbox, else "
                             "$XDG_STATE_HOME/chaosgate/<target>/ledger.jsonl].")(func)


def parse_duration_option(_ctx: click.Context, _param: click.Parameter,
                          value: str | None) -> float | None:
    """click callback: ``30s``, ``5m``, ``1h`` or seconds -> seconds (None stays None)."""
    if value is None:
        return None
    from ..load.profiles import parse_duration

    try:
        return parse_duration(value)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(str(exc)) from None


def duration_option(name: str, help: str) -> Callable[[F], F]:
    """An option taking a duration (``30s``, ``5m``) as seconds."""
    return click.option(name, callback=parse_duration_option, default=None, help=help)
