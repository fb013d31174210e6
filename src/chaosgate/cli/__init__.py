"""The ``chaosgate`` command line: one app, one error handler, a module per command.

- :mod:`._startup`: first thing, in the ``chaosgate`` program only: a signal
  while the rest is imported exits 130/143 at once, without a traceback;
- :mod:`._app`: the click app and its error handler (ChaosgateError -> one
  line on stderr and its exit code; an interrupted fault session -> 130/143);
- :mod:`._common`: the consoles and the options several commands share;
- one module per command: :mod:`.sandbox`, :mod:`.validate`, :mod:`.fault`
  (and ``cleanup``), :mod:`.load`, :mod:`.slo`, :mod:`.timeline`, :mod:`.report`,
  :mod:`.gameday`,
  :mod:`.init`.

Command modules import click and rich only; everything heavy is imported
inside the command that needs it, so ``chaosgate --help`` stays fast.
Exit codes are :mod:`chaosgate.verdict`'s: 0 pass, 1 an SLO violated, 2 bad
input, 3 inconclusive; 130/143 interrupted (after reverting).
"""

from __future__ import annotations

from ._startup import arm as _arm

_arm()  # first: a signal while the rest is imported exits 130/143, without a traceback

from ._app import app, main  # noqa: E402
from .fault import cleanup, fault  # noqa: E402
from .gameday import gameday  # noqa: E402
from .init import init  # noqa: E402
from .load import load  # noqa: E402
from .report import report  # noqa: E402
from .sandbox import sandbox  # noqa: E402
from .slo import slo  # noqa: E402
from .timeline import timeline  # noqa: E402
from .validate import validate  # noqa: E402

__all__ = ["app", "main"]

for _command in (sandbox, validate, fault, cleanup, load, slo, timeline, report, gameday,
                 init):
    app.add_command(_command)
