"""The ``chaosgate`` command line: one app, one error handler, a module per command.

- :mod:`._app`: the click app and its error handler (ChaosgateError -> one
  line on stderr and its exit code; an interrupted fault session -> 130/143);
- :mod:`._common`: the consoles and the options several commands share;
- one module per command: :mod:`.sandbox`, :mod:`.validate`, :mod:`.fault`
  (and ``cleanup``), :mod:`.load`, :mod:`.slo`, :mod:`.report`, :mod:`.gameday`.

Command modules import click and rich only; everything heavy is imported
inside the command that needs it, so ``chaosgate --help`` stays fast.
Exit codes are :mod:`chaosgate.verdict`'s: 0 pass, 1 an SLO violated, 2 bad
input, 3 inconclusive; 130/143 interrupted (after reverting).
"""

from __future__ import annotations

from ._app import app, main
from .fault import cleanup, fault
from .gameday import gameday
from .load import load
from .report import report
from .sandbox import sandbox
from .slo import slo
from .validate import validate

__all__ = ["app", "main"]

for _command in (sandbox, validate, fault, cleanup, load, slo, report, gameday):
    app.add_command(_command)
