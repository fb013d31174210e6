"""From a game day to an Allure result: live phase steps and the final result.

``chaosgate gameday`` and the Chaos Toolkit allure control use this, with
:class:`~chaosgate.report.allure_results.AllureResultsWriter`, where pytest
and allure-pytest are not running::

    writer = AllureResultsWriter("reports/allure-results")
    phases = PhaseRecorder()
    with phases.step("steady state before the fault"):
        ...
    with phases.step("inject: kill 1 pod of app=api") as step:
        step.attachments.append(writer.attach(ledger_text, name="ledger", mime="text/plain"))
    test = gameday_test_result(writer, result, steps=phases.steps)
    writer.write_result(test)

Status rules (docs/architecture.md §6): an SLO breach is *failed*
(``SLOViolated`` is an ``AssertionError``); a harness or infrastructure
error, an inconclusive run included, is *broken*.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..verdict import VerdictName, is_verdict
from .allure_results import AllureResultsWriter, AllureStatus, Attachment, Step, TestResult
from .model import GameDayResult
from .tables import format_seconds, slo_table_html

__all__ = [
    "ALLURE_STATUS",
    "PhaseRecorder",
    "allure_status",
    "gameday_test_result",
    "now_ms",
    "status_of",
]

#: The Allure status of each verdict.
ALLURE_STATUS: Mapping[VerdictName, AllureStatus] = {
    "pass": "passed", "fail": "failed", "inconclusive": "broken", "aborted": "failed",
}


def allure_status(verdict: object) -> AllureStatus:
    """The Allure status of ``verdict``; *broken* for anything that is not a verdict."""
    return ALLURE_STATUS[verdict] if is_verdict(verdict) else "broken"


def now_ms() -> int:
    """The current time in epoch milliseconds (Allure's time unit)."""
    return int(time.time() * 1000)


def status_of(exc: BaseException) -> tuple[AllureStatus, str, str]:
    """Allure status, message and trace for an exception that ended a step or a test.

    AssertionError (SLOViolated among them) -> failed; a skip -> skipped;
    anything else -> broken. The message starts with the exception's class
    name, which is what the default categories match.
    """
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AssertionError):
        return "failed", message, trace
    if type(exc).__name__ in ("Skipped", "SkipTest"):
        return "skipped", message, trace
    return "broken", message, trace


class PhaseRecorder:
    """Records nested, timed steps as the phases of a game day happen."""

    def __init__(self) -> None:
        self._root = Step(name="root")
        self._stack: list[Step] = [self._root]

    @property
    def steps(self) -> list[Step]:
        """The top-level steps recorded so far."""
        return self._root.steps

    @contextmanager
    def step(self, name: str, **parameters: object) -> Iterator[Step]:
        """Time a step (nested inside the current one); an exception sets its status.

        The exception is re-raised: recording never swallows an error.
        """
        step = Step(name=name, start=now_ms(),
                    parameters=[(k, str(v)) for k, v in parameters.items()])
        self._stack[-1].steps.append(step)
        self._stack.append(step)
        try:
            yield step
        except BaseException as exc:
            step.status, step.message, step.trace = status_of(exc)
            raise
        finally:
            step.stop = now_ms()
            self._stack.pop()


def _message(result: GameDayResult) -> str | None:
    if result.verdict == "pass":
        return None
    if result.verdict == "fail":
        failed = ", ".join(s.slo for s in result.slos if s.verdict == "fail")
        text = result.message or (f"SLO not kept: {failed}" if failed else "SLO not kept")
        return text if text.startswith("SLOViolated") else f"SLOViolated: {text}"
    text = result.message or "no verdict: data missing or infrastructure unreachable"
    known = ("Inconclusive", "FaultNotEffective")
    return text if text.startswith(known) else f"Inconclusive: {text}"


def _description(result: GameDayResult) -> str:
    lines = [result.description] if result.description else []
    if result.fault:
        lines.append(f"**Fault:** {result.fault}")
    lines.append(f"**Verdict:** {result.verdict.upper()}")
    lines.append(f"**TTR** (impact to recovery): {format_seconds(result.ttr_s)}")
    if result.ttr_from_inject_s is not None:
        lines.append(f"**TTR from injection:** {format_seconds(result.ttr_from_inject_s)}")
    if result.ttd_s is not None:
        lines.append(f"**Time to detect** (impact to first alert): "
                     f"{format_seconds(result.ttd_s)}")
    measured = [t for t in result.ttr_repetitions if t is not None]
    if measured:
        mean = sum(measured) / len(measured)
        lines.append(f"**MTTR** over {len(result.ttr_repetitions)} repetitions: "
                     f"{format_seconds(mean)}")
    return "\n\n".join(lines)


def gameday_test_result(writer: AllureResultsWriter, result: GameDayResult, *,
                        steps: Sequence[Step] = (), epic: str = "Resilience",
                        severity: str = "critical", journal: Any = None,
                        attachments: Sequence[Attachment] = ()) -> TestResult:
    """The Allure test result of one game day, with its attachments written.

    Labels: epic, feature (the fault, else the suite), story (the game day),
    severity, parentSuite/suite. Attachments: the timeline plot, the SLO
    table (HTML, with PromQL), the MTTR plot when repeated, the journal
    (JSON, redacted) when given, then ``attachments``. The caller writes it
    with :meth:`AllureResultsWriter.write_result`.
    """
    own: list[Attachment] = []
    if result.plot_png is not None:
        own.append(writer.attach(result.plot_png, name="timeline", mime="image/png"))
    if result.slos:
        own.append(writer.attach(slo_table_html(result.slos), name="SLO table",
                                 mime="text/html"))
    if result.mttr_plot_png is not None:
        own.append(writer.attach(result.mttr_plot_png, name="MTTR over repetitions",
                                 mime="image/png"))
    if journal is not None:
        own.append(writer.attach_json(journal, name="journal"))
    labels = [("epic", epic), ("feature", result.fault or result.suite), ("story", result.name),
              ("severity", severity), ("parentSuite", "chaosgate"), ("suite", result.suite),
              ("framework", "chaosgate"), *result.labels]
    test = TestResult(
        name=result.name, full_name=f"{result.suite}.{result.name}",
        status=ALLURE_STATUS[result.verdict], message=_message(result),
        start=None if result.started is None else int(result.started * 1000),
        stop=None if result.stopped is None else int(result.stopped * 1000),
        steps=list(steps), attachments=[*own, *attachments], labels=labels,
        description=_description(result),
    )
    if result.allure_uuid:
        test.uuid = result.allure_uuid
    return test
