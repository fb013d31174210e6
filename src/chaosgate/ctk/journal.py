"""The ``chaosgate`` section of a Chaos Toolkit journal, and the verdict it carries. Pure.

The controls fill ``journal["chaosgate"]``::

    version     1
    verdict     pass | fail | inconclusive | aborted   (docs/architecture.md §6)
    exit_code   0 | 1 | 3 | 4 | 130 | 143       what chaosgate's own front ends exit with
                                                 (4: a stop condition aborted the run;
                                                 130/143: interrupted by SIGINT/SIGTERM)
    reasons     why the verdict is not a pass, naming each gate that failed
                ("steady state after: availability: 97.1 % (objective ≥ 99 %)");
                first: "interrupted by SIGTERM: ..." when interrupted
    load        the load control: profile, rate, request log, counts
    faults      each fault: id, kind, t_inject, t_revert, ground truth, summary
    timeline    t_inject, and per observer t_impact, t_detect, t_recover, TTR (± bounds)
    ttr         {client: s, server: s}: time to recover per observer (0.0: no impact;
                None: not measured)
    ttr_note    why there is no TTR: "n/a — no fault applied" when the run's fault
                never took hold (its action failed): the recovery gates are then
                inconclusive, never "pass ... no impact observed"
    gates       what decided (steady state, error budget, recovery), as the engine's
    verdicts    the statistical SLO verdicts (PromQL included), reported, not gating
    ledger      the ledger control: reverted at the end, left open
    steady_state  whether the hypothesis held before and after the method
    allure      the allure control: where the result was written
    detection   time to detect: the expected alert (chaosgate_expect_alert) and bound, the
                impact, the first new ALERTS firing and the first firing notification
                after it (each with its ttd in s), every alert that started firing
    stop        the stop conditions watched and the one that tripped: condition, when
                (``t``, ``at``), what Prometheus returned, the faults reverted and how soon

:class:`ChaosgateSection` types it (:class:`MeasuredSection` is what the
``slo`` control measures, :class:`LedgerSection` what the ``ledger`` control
reports); the JSON form is exactly these dicts.

``chaos run`` itself can only exit 0 or 1, so :func:`journal_verdict` maps the
verdict onto the journal: *fail* marks the run deviated (a weakness was
found), *inconclusive* marks it failed (no verdict: no data, a fault that
did not take hold, an unreachable Prometheus, an interrupted run). Either
exits 1; never a silent pass. ``exit_code`` keeps the distinction
(:func:`journal_exit_code`). An interrupted run is inconclusive whatever
its gates would say, and the ``slo`` control judges no gate on its cut-short
windows; its ``exit_code`` is 130/143.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, TypedDict

from ..faults import FaultTimeline
from ..faults.summary import summarize
from ..gameday import Evaluation
from ..gameday.evaluation import NO_FAULT as NO_FAULT_TTR
from ..slo.evaluate import SLOVerdict
from ..slo.timeline import Timeline
from ..verdict import (
    VerdictName,
    combine,
    exit_code,
    interrupted_exit_code,
    interruption_reason,
)

__all__ = [
    "KEY",
    "NO_FAULT_TTR",
    "VERSION",
    "ChaosgateSection",
    "LedgerSection",
    "MeasuredSection",
    "TimelineSection",
    "failed_actions",
    "fault_json",
    "gate_lines",
    "journal_exit_code",
    "journal_verdict",
    "section",
    "steady_states",
    "ttr_seconds",
    "was_interrupted",
]

KEY = "chaosgate"
VERSION = 1
_MODULE_PREFIX = "chaosgate.ctk."


class TimelineSection(TypedDict, total=False):
    """``timeline``: the first fault's ``t_inject`` and each observer's timeline."""

    t_inject: float | None
    client: dict[str, Any]  # slo.timeline.Timeline.to_json()
    server: dict[str, Any]
    disagreements: list[str]


class MeasuredSection(TypedDict):
    """What the ``slo`` control measured: faults, timelines, TTR, gates, verdicts."""

    faults: list[dict[str, Any]]  # FaultTimeline.to_json() and its summary lines
    timeline: TimelineSection
    ttr: dict[str, float | None]  # per observer
    ttr_note: str | None  # NO_FAULT_TTR when no fault took hold, else None
    ttr_bounds: dict[str, dict[str, Any] | None]  # per observer: estimate and bounds
    recovery: list[dict[str, Any]]  # recovery SLO verdicts
    gates: list[dict[str, Any]]  # gameday.gates.Gate as dicts
    gates_verdict: VerdictName
    verdicts: list[dict[str, Any]]  # statistical SLO verdicts, reported, not gating


class LedgerSection(TypedDict, total=False):
    """``ledger``: what the ledger control reverted at the end and found still open."""

    path: str
    reverted: list[str]
    problems: list[str]
    open: list[str]
    clean: bool
    error: str


class ChaosgateSection(MeasuredSection, total=False):
    """``journal["chaosgate"]``, as the controls fill it (see the module doc)."""

    version: int
    verdict: VerdictName
    exit_code: int
    reasons: list[str]
    steady_state: dict[str, bool | None]
    load: dict[str, Any]  # the load control's report (or its error)
    ledger: LedgerSection
    allure: dict[str, Any]
    detection: dict[str, Any]  # gameday.detection.Detection.to_json(): the time to detect
    stop: dict[str, Any]  # the stop conditions watched, and the one that tripped (or None)


def _estimate(value: Any) -> Any:
    return None if value is None else value.to_json()


def ttr_seconds(timeline: Timeline) -> float | None:
    """The TTR's best estimate; 0.0 when events were seen and none was impacted."""
    if timeline.ttr is not None:
        return float(timeline.ttr.t)
    return 0.0 if timeline.t_impact is None and timeline.total > 0 else None


def fault_json(timeline: FaultTimeline) -> dict[str, Any]:
    """One fault for the journal: its marks, ground truth and one-line summary."""
    return {**timeline.to_json(), "summary": summarize(timeline)}


def section(evaluation: Evaluation, faults: Sequence[FaultTimeline],
            client_verdicts: Iterable[SLOVerdict] = ()) -> MeasuredSection:
    """The measured part of the section: faults, timelines per observer, gates, verdicts.

    When the evaluation found no fault applied (:attr:`Evaluation.no_fault`), each
    observer's TTR is None and ``ttr_note`` says "n/a — no fault applied".
    """
    m = evaluation.measurement
    observers = {name: tl for name, tl in (("client", m.client if m else None),
                                          ("server", m.server if m else None))
                 if tl is not None}
    t_injects = [tl.t_inject for tl in faults if tl.t_inject is not None]
    recovery = list(m.verdicts) if m else []
    timeline: TimelineSection = {
        "t_inject": min(t_injects) if t_injects else None,
        "disagreements": [d.describe() for d in (m.disagreements if m else ())],
    }
    if "client" in observers:
        timeline["client"] = observers["client"].to_json()
    if "server" in observers:
        timeline["server"] = observers["server"].to_json()
    return {
        "faults": [fault_json(tl) for tl in faults],
        "timeline": timeline,
        "ttr": ({"client": None, "server": None} if evaluation.no_fault
                else {name: ttr_seconds(tl) for name, tl in observers.items()}),
        "ttr_note": NO_FAULT_TTR if evaluation.no_fault else None,
        "ttr_bounds": {name: _estimate(tl.ttr) for name, tl in observers.items()},
        "recovery": [v.to_json() for v in recovery],
        "gates": [asdict(g) for g in evaluation.gates],
        "gates_verdict": evaluation.verdict,
        "verdicts": [v.to_json() for v in (*evaluation.reported, *client_verdicts)],
    }


def gate_lines(gates: Iterable[Mapping[str, Any]], status: VerdictName) -> list[str]:
    """One line per gate of ``status`` (gates as the section's dicts): its name, what was
    measured and the objective, e.g. ``steady state after: no server errors: 3 errors
    (objective 0 errors)``."""
    lines = []
    for gate in gates:
        if gate.get("status") != status:
            continue
        measured = gate.get("value") or gate.get("detail") or status
        objective = gate.get("objective")
        lines.append(f"{gate.get('name')}: {measured}"
                     + (f" (objective {objective})" if objective else ""))
    return lines


def failed_actions(journal: Mapping[str, Any]) -> list[str]:
    """The chaosgate activities of the method and rollbacks that failed (with why)."""
    found = []
    for run in [*(journal.get("run") or ()), *(journal.get("rollbacks") or ())]:
        activity = run.get("activity") or {}
        module = str((activity.get("provider") or {}).get("module", ""))
        if module.startswith(_MODULE_PREFIX) and run.get("status") == "failed":
            why = "".join(run.get("exception") or ()).strip().splitlines()
            found.append(f"{activity.get('name')}: {why[-1] if why else 'failed'}")
    return found


def steady_states(journal: Mapping[str, Any]) -> dict[str, bool | None]:
    """Whether the steady-state hypothesis was met before and after the method."""
    states = journal.get("steady_states") or {}
    return {phase: None if not states.get(phase) else bool(states[phase].get("steady_state_met"))
            for phase in ("before", "after")}


def was_interrupted(journal: Mapping[str, Any], interrupted_by: int | None = None) -> bool:
    """Whether the run was interrupted: a signal was seen (``interrupted_by``), or Chaos
    Toolkit marked the journal ``interrupted``."""
    return interrupted_by is not None or journal.get("status") == "interrupted"


def journal_exit_code(journal: Mapping[str, Any], verdict: VerdictName,
                      interrupted_by: int | None = None) -> int:
    """What chaosgate's own front ends exit with for this run: 4 when a stop condition
    aborted it, else 128 + the signal when it was interrupted (3 when no signal was seen),
    else the verdict's code."""
    if verdict == "aborted":
        return exit_code(verdict)
    if was_interrupted(journal, interrupted_by):
        return interrupted_exit_code(interrupted_by)
    return exit_code(verdict)


def journal_verdict(journal: dict[str, Any], gates_verdict: VerdictName,
                    problems: Sequence[str] = (),
                    interrupted_by: int | None = None,
                    gates: Sequence[Mapping[str, Any]] = (),
                    aborted: str = "", refused: str = "") -> tuple[VerdictName, list[str]]:
    """The run's verdict, applied to ``journal`` so that ``chaos run`` exits 1 unless pass.

    ``problems`` make the run inconclusive (a control that could not do its
    work, a fault left open). A failed chaosgate action, a steady state not
    met before the method, or an aborted run are inconclusive too; the
    hypothesis not met after the method is a fail, as is any failed gate.
    Fail wins over inconclusive: a violation observed is definitive.
    Given the ``gates`` (the section's dicts), the reasons name each failed
    (or, when none failed, inconclusive) gate with its value and objective
    (:func:`gate_lines`); without them, "an SLO gate failed".

    A run a stop condition ``aborted`` (every fault of the run reverted at once)
    is ``aborted`` (exit 4), its first reason the condition and when it tripped.
    A run the error-budget admission ``refused`` (nothing applied) is
    inconclusive, its first reason "error budget too low".

    An interrupted run (``interrupted_by`` a signal, or the journal's status
    ``interrupted``) is inconclusive whatever the gates say, never a fail:
    its windows were cut short. The first reason says so ("interrupted by
    SIGTERM: ..."); the status stays ``interrupted``.
    """
    unknown = list(problems) + [f"action failed: {a}" for a in failed_actions(journal)]
    if aborted:
        journal["status"] = "failed"
        return "aborted", [aborted, *unknown]
    if refused:
        journal["status"] = "failed"
        return "inconclusive", [refused, *unknown]
    if was_interrupted(journal, interrupted_by):
        journal["status"] = "interrupted"
        return "inconclusive", [f"{interruption_reason(interrupted_by)}: the run was cut short, "
                                "so no gate was judged on its windows", *unknown]
    fails: list[str] = []
    states = steady_states(journal)
    if gates_verdict == "fail":
        fails += gate_lines(gates, "fail") or ["an SLO gate failed"]
    elif gates_verdict == "inconclusive":
        named = gate_lines(gates, "inconclusive")
        unknown.append("the SLO gates are inconclusive" + (": " + "; ".join(named)
                                                            if named else ""))
    if states["after"] is False:
        fails.append("the steady-state hypothesis was not met after the method")
    if states["before"] is False:
        unknown.append("the steady-state hypothesis was not met before the method")
    if journal.get("status") == "aborted":
        unknown.append("the run was aborted")
    verdict = combine([gates_verdict, "fail" if fails else "pass",
                       "inconclusive" if unknown else "pass"])
    if verdict == "fail":
        journal["deviated"] = True
    elif verdict == "inconclusive" and journal.get("status") not in ("interrupted", "aborted"):
        journal["status"] = "failed"
    return verdict, fails + unknown
