"""The one verdict type of chaosgate, how verdicts combine, and their exit codes. Pure.

Every judgement the harness makes (a gate, an SLO, a game day, a Chaos
Toolkit run, a whole ``chaosgate gameday`` run) ends in one of four
verdicts (docs/architecture.md §6):

- ``pass`` (exit 0): every objective was kept, and the data show it;
- ``fail`` (exit 1): an SLO was violated;
- ``inconclusive`` (exit 3): no verdict could be formed: no data,
  Prometheus or the cluster unreachable, a fault that did not take hold, an
  error budget too low to start. **No data is never a pass.**
- ``aborted`` (exit 4): a stop condition tripped while a fault was applied
  (an alert fired, a PromQL expression returned a sample, the error budget
  burned too fast), so the fault was reverted at once and the run stopped:
  the system was hurting more than the experiment allowed.

Exit code 2 (:data:`EXIT_USAGE`) is not a verdict: the input was wrong and
nothing was judged.

An interruption (SIGINT, SIGTERM) is never a violation: the run is
``inconclusive`` (its windows were cut short, so nothing is judged on
them) and its exit code is ``128 + signal`` (:func:`interrupted_exit_code`:
130 for SIGINT, 143 for SIGTERM), the shells' convention, so a caller tells
"stopped" from "no data" (3). :func:`interruption_reason` words it the same
everywhere ("interrupted by SIGTERM").

Verdicts combine by rank (:func:`combine`): the highest ranked one wins,
so a violation observed is definitive even when another judgement was
inconclusive, an abort outranks everything, and nothing at all is
inconclusive.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping
from typing import Final, Literal, TypeGuard, get_args

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_SIGNAL_BASE",
    "EXIT_USAGE",
    "VERDICTS",
    "VerdictName",
    "combine",
    "exit_code",
    "interrupted_exit_code",
    "interruption_reason",
    "is_verdict",
]

#: A verdict, as every report, results file and journal spells it.
VerdictName = Literal["pass", "fail", "inconclusive", "aborted"]

#: Every verdict, in the order of :data:`VerdictName`.
VERDICTS: Final[tuple[VerdictName, ...]] = get_args(VerdictName)

EXIT_PASS: Final = 0
EXIT_FAIL: Final = 1
EXIT_USAGE: Final = 2
EXIT_INCONCLUSIVE: Final = 3
EXIT_ABORTED: Final = 4
#: An interrupted run exits ``EXIT_SIGNAL_BASE + signal`` (130 SIGINT, 143 SIGTERM).
EXIT_SIGNAL_BASE: Final = 128

# Higher wins in combine().
_RANK: Final[Mapping[VerdictName, int]] = {"pass": 0, "inconclusive": 1, "fail": 2,
                                           "aborted": 3}
_BY_RANK: Final[Mapping[int, VerdictName]] = {rank: v for v, rank in _RANK.items()}
_EXIT_CODES: Final[Mapping[VerdictName, int]] = {
    "pass": EXIT_PASS, "fail": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE,
    "aborted": EXIT_ABORTED,
}


def is_verdict(value: object) -> TypeGuard[VerdictName]:
    """Whether ``value`` is one of :data:`VERDICTS` (for data read from files)."""
    return isinstance(value, str) and value in _RANK


def _rank(verdict: object) -> int:
    # A value that is not a verdict (untyped data from a file) counts as
    # inconclusive: something unknown is never a pass.
    return _RANK[verdict] if is_verdict(verdict) else _RANK["inconclusive"]


def combine(verdicts: Iterable[VerdictName]) -> VerdictName:
    """The verdict of several judgements together.

    ``aborted`` if any was; else ``fail`` if any failed; else ``inconclusive`` if
    any was; else ``pass``.
    No judgement at all is ``inconclusive``: no data is never a pass. The
    result does not depend on the order of ``verdicts``.
    """
    ranks = [_rank(v) for v in verdicts]
    if not ranks:
        return "inconclusive"
    return _BY_RANK[max(ranks)]


def exit_code(verdict: VerdictName) -> int:
    """The process exit code of ``verdict``: pass 0, fail 1, inconclusive 3, aborted 4.

    Anything that is not a verdict exits as inconclusive (3), never 0.
    """
    return _EXIT_CODES[verdict] if is_verdict(verdict) else EXIT_INCONCLUSIVE


def interrupted_exit_code(signum: int | None) -> int:
    """The exit code of a run interrupted by signal ``signum``: ``128 + signum``.

    ``None`` (interrupted, but not by a signal that was seen) exits as
    inconclusive (3). The verdict of an interrupted run is always
    ``inconclusive``, never ``fail``.
    """
    return EXIT_INCONCLUSIVE if signum is None else EXIT_SIGNAL_BASE + signum


def interruption_reason(signum: int | None) -> str:
    """``interrupted by SIGTERM`` (or ``interrupted`` when the signal is unknown)."""
    if signum is None:
        return "interrupted"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"interrupted by {name}"
