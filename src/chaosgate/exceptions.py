"""The chaosgate exception tree.

Every error the harness raises on purpose derives from :class:`ChaosgateError`
and carries the process exit code that docs/architecture.md §6 assigns to it:

- :class:`UsageError` (2): bad input; the message names the file, the field
  and the fix.
- :class:`SLOViolated` (1): an SLO was not kept. It is also an
  ``AssertionError`` so that pytest and Allure show the test as *failed*,
  not *broken*.
- :class:`Inconclusive` (3): no data, an unreachable Prometheus or cluster,
  a fault that did not take hold. Never a pass.
- :class:`FaultAborted` (4): a stop condition tripped while a fault was
  applied; the fault was reverted at once.

The ``EXIT_*`` codes are :mod:`chaosgate.verdict`'s, re-exported here for
the callers that import them from this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .verdict import EXIT_ABORTED, EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, EXIT_USAGE

__all__ = [
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_USAGE",
    "ChaosgateError",
    "FaultAborted",
    "FaultNotEffective",
    "FaultRevertedElsewhere",
    "Inconclusive",
    "SLOViolated",
    "SandboxError",
    "TargetError",
    "UsageError",
]


class ChaosgateError(Exception):
    """Base of every error chaosgate raises on purpose."""

    exit_code = EXIT_INCONCLUSIVE


class UsageError(ChaosgateError):
    """The user's input is wrong; the message says how to fix it."""

    exit_code = EXIT_USAGE


class TargetError(UsageError):
    """A target file is missing, unreadable or invalid."""

    def __init__(self, path: Path | str, field: str, problem: str, fix: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class SandboxError(ChaosgateError):
    """The embedded sandbox could not be started, reached or stopped."""


class Inconclusive(ChaosgateError):
    """The run cannot say pass or fail: no data, or infrastructure unreachable."""


class FaultNotEffective(Inconclusive):
    """A fault was applied but its active probe shows it did not take hold.

    ``run`` is the fault's :class:`~chaosgate.faults.session.FaultRun` (its
    timeline shows what was seen), when the session that raised it had one.
    """

    run: Any = None


class FaultRevertedElsewhere(Inconclusive):
    """Another process (``chaosgate cleanup --force``) reverted a fault while its owner
    held it: the fault did not last as planned, so nothing can be judged from it.

    ``run`` is the fault's :class:`~chaosgate.faults.session.FaultRun` (healing
    awaited), when the session that raised it had one.
    """

    run: Any = None


class FaultAborted(ChaosgateError):
    """A stop condition tripped while a fault was applied: the fault was reverted at once
    and the run ends ``aborted`` (exit 4), naming the condition and when it tripped.

    ``run`` is the fault's :class:`~chaosgate.faults.session.FaultRun` (healing
    awaited) and ``tripped`` the :class:`~chaosgate.faults.stop.Tripped`
    record, when the session that raised it had them.
    """

    exit_code = EXIT_ABORTED
    run: Any = None
    tripped: Any = None


class SLOViolated(ChaosgateError, AssertionError):
    """An SLO was not kept. An AssertionError, so test tools report *failed*."""

    exit_code = EXIT_FAIL
