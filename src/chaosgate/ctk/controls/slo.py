"""Chaos Toolkit control: judge the run as a game day and put the verdict in the journal.

In ``after_experiment`` (after the ``ledger`` and ``load`` controls, so
every fault is reverted and the request log complete) it evaluates exactly
as ``chaosgate gameday`` does (:func:`chaosgate.gameday.evaluate`): the
steady state before the first fault and after recovery, the error budget
the run burned, and the recovery SLO judged by both observers (the request
log and Prometheus' raw samples); the statistical verdict of every other
SLO judged over a window is reported beside, except those named in
``gate_slos``, which gate the run like the others. It writes ``journal["chaosgate"]`` (see
:mod:`chaosgate.ctk.journal`): the faults and their ground truth, the
timeline (``t_inject``; per observer ``t_impact``, ``t_recover``, TTR), the
gates, the verdicts, and the run's verdict with its exit code. It judges after the
``load`` control stopped the load, so after the rollbacks and the load's
``observe_after`` seconds: the steady state after is the second half of that
period, and the recovery's hold-down window fits in it. A run whose fault
never took hold (its action failed) has no TTR: "n/a — no fault applied",
inconclusive, never a recovery pass.

The console line names what decided: ``chaosgate verdict: FAIL (TTR client
0.41 s, server 1.00 s): steady state after: no server errors: 3 errors
(objective 0 errors)``.

Then :func:`chaosgate.ctk.journal.journal_verdict` marks the journal: a failed gate
(or the hypothesis not met after the method) makes the run *deviated*; an
inconclusive one (no data, a fault that did not take hold, a control that
failed) makes it *failed*. An interrupted run (Chaos Toolkit's status
``interrupted``, or a SIGINT/SIGTERM this control saw: ``configure_control``
notes the first one) is not evaluated at all: its windows were cut short,
so its verdict is inconclusive ("interrupted by SIGTERM") and its
``exit_code`` 130/143, never a fail. ``chaos run`` exits 1 in
both cases, 0 only when the SLOs held. Arguments (optional)::

    max_budget_burn: 0.10      share of the error budget a run may burn
    budget_period_days: 30     the budget's period
    recovery_slo: time-to-recover
    gate_slos: [throughput]    SLOs whose verdicts over the run gate it (default none)

Secrets: a ``prometheus`` scope (``bearer_token``, or ``username`` and
``password``) overrides the target file's credentials; the experiment's
``secrets`` block is redacted in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from chaoslib.types import Configuration, Experiment, Journal, Secrets

from ...gameday import Evaluation, Gate, evaluate
from ...gameday.detection import detect
from ...gameday.evaluation import fault_took_hold
from ...gameday.gates import DEFAULT_BUDGET_PERIOD, DEFAULT_MAX_BUDGET_BURN
from ...report.redact import redact_obj
from ...slo.evaluate import records_verdicts
from ...verdict import interruption_reason
from ..config import prometheus_client
from ..journal import (
    ChaosgateSection,
    MeasuredSection,
    journal_exit_code,
    journal_verdict,
    section,
    steady_states,
)
from ..observe import catalog
from ..state import current, log
from . import chaosgate_section

__all__ = ["FAULT_ACTIONS", "after_experiment_control", "cleanup_control", "configure_control",
           "evaluate_run", "fault_applied"]

#: The actions of :mod:`chaosgate.ctk.actions` that apply a fault.
FAULT_ACTIONS = frozenset({"kill_pods", "partition_network", "add_latency",
                           "failover_database", "stress", "freeze"})


def fault_applied(journal: Mapping[str, Any] | None = None) -> bool | None:
    """Whether this run's fault took hold: True when one did (its active probe saw it);
    False when a chaosgate action tried and none did (a fault not effective, or a fault
    action that failed before applying anything); None when no chaosgate fault action ran
    (a baseline, or faults from another extension: recovery is measured from the load's
    start)."""
    faults = current().faults
    tried = bool(faults) or any(
        a.get("status") == "failed"
        and str(((a.get("activity") or {}).get("provider") or {}).get("func", ""))
        in FAULT_ACTIONS for a in (journal or {}).get("run") or ())
    return fault_took_hold(tried, [a.timeline for a in faults])


def evaluate_run(configuration: Configuration, secrets: Secrets, *,
                 max_budget_burn: float = DEFAULT_MAX_BUDGET_BURN,
                 budget_period: float = DEFAULT_BUDGET_PERIOD,
                 recovery_slo: str = "time-to-recover", gate_slos: Sequence[str] = (),
                 journal: Mapping[str, Any] | None = None) -> MeasuredSection:
    """Evaluate this run's load and faults; the measured part of the journal section.

    A run whose fault never took hold (:func:`fault_applied` False) has no TTR:
    its recovery gates are inconclusive, "n/a — no fault applied".
    """
    run = current()
    target = run.target(configuration)
    cat = catalog(configuration)
    if run.load_run is not None:
        records = run.load_run.records()
    else:  # no load control, or it never stopped: what the request log holds, if any
        records = run.records() if run.request_log is not None else []
    warmup = run.load_info.warmup if run.load_info else 10.0
    t_inject = run.t_inject
    if records:
        load_start = records[0].t
        load_end = max(r.end for r in records)
        marks = [a.timeline.t_healed or a.timeline.t_revert or a.timeline.t_inject
                 for a in run.faults]
        after = max([m for m in marks if m is not None], default=load_start + warmup)
        observe = max(load_end - after, 0.0)
    else:
        load_start = load_end = observe = 0.0
    applying = [a.timeline.t_apply for a in run.faults if a.timeline.t_apply is not None]
    prometheus = prometheus_client(target, secrets)
    result = evaluate(target, cat, records, t_inject=t_inject, warmup=warmup, observe=observe,
                      before_end=min(applying) if applying else None,
                      recovery_slo=recovery_slo, gate_slos=gate_slos,
                      max_budget_burn=max_budget_burn,
                      budget_period=budget_period, fault_applied=fault_applied(journal),
                      prometheus=prometheus, log=log.info,
                      clock_uncertainty=run.load_run.clock_uncertainty if run.load_run else 0.0,
                      t_healed=run.t_healed)
    if records and run.faults:
        settings = run.settings(configuration)
        found = detect(target, start=load_start, end=load_end,
                       t_impact=result.measurement.t_impact if result.measurement else None,
                       expect=settings.expect_alert, within=settings.detect_within,
                       baseline=False, prometheus=prometheus)
        run.detection = found.to_json()
        if settings.expect_alert is not None:  # gated only when the experiment expects one
            result.gates += found.gates
        for label, ttd in (("ALERTS", found.ttd_alert), ("notification", found.ttd_notification)):
            if ttd is not None:
                log.info("chaosgate: time to detect (%s): %.1f s after the impact", label, ttd)
    client = records_verdicts([s for s in cat if s.is_window and s.name not in gate_slos],
                              records, start=load_start,
                              end=load_end) if records else []
    faults = [a.timeline for a in run.faults]
    return section(result, faults, client)


def _interrupted_section(signum: int | None) -> MeasuredSection:
    """An interrupted run: its faults as they were, and one inconclusive gate; nothing is
    judged on its cut-short windows (a 4 s "steady state after" is not a violation)."""
    why = interruption_reason(signum)
    gate = Gate("run not interrupted", "inconclusive", why, "a run not cut short",
                f"{why}: the load and the observation windows were cut short, so no SLO "
                "gate was judged")
    return section(Evaluation([gate]), [a.timeline for a in current().faults])


def configure_control(configuration: Configuration = None, secrets: Secrets = None,
                      experiment: Experiment = None, **_arguments: Any) -> None:
    """Note the first SIGINT/SIGTERM of the run (an interrupted run is judged inconclusive);
    start the notification receiver for the run's duration (sandbox targets)."""
    run = current()
    run.watch_signals()
    try:
        run.start_receiver(configuration)
    except Exception as exc:  # the target's own error surfaces in the first activity
        log.warning("chaosgate: no notification receiver: %s: %s", type(exc).__name__, exc)


def cleanup_control() -> None:
    """Put back the signal handlers :func:`configure_control` wrapped; stop the receiver."""
    current().unwatch_signals()
    current().stop_receiver()


def _refused_section(why: str) -> MeasuredSection:
    """A run the error-budget admission refused: nothing was applied or judged."""
    gate = Gate("error budget admission", "inconclusive", "budget too low",
                "the target's safety.min_error_budget", why)
    return section(Evaluation([gate]), [])


def _redact_experiment(journal: dict[str, Any]) -> None:
    """The journal's copy of the experiment, its ``secrets`` block redacted (the run's own
    experiment is left alone)."""
    experiment = journal.get("experiment")
    if isinstance(experiment, dict) and experiment.get("secrets"):
        journal["experiment"] = {**experiment, "secrets": redact_obj(experiment["secrets"])}


def after_experiment_control(context: Experiment, state: Journal = None,
                             configuration: Configuration = None, secrets: Secrets = None,
                             max_budget_burn: float = DEFAULT_MAX_BUDGET_BURN,
                             budget_period_days: float = DEFAULT_BUDGET_PERIOD / 86400,
                             recovery_slo: str = "time-to-recover",
                             gate_slos: Sequence[str] | None = None,
                             **_arguments: Any) -> None:
    """Evaluate the SLOs over the run, write ``journal["chaosgate"]``, decide the run."""
    if not isinstance(state, dict):
        return
    run = current()
    run.stop_watching()
    run.stop_receiver()  # every notification of the run is recorded by now
    if run.refused:
        measured = _refused_section(run.refused)
    elif run.cut_short(state):
        measured = _interrupted_section(run.interrupted_by)
    else:
        try:
            measured = evaluate_run(configuration, secrets,
                                    max_budget_burn=float(max_budget_burn),
                                    budget_period=float(budget_period_days) * 86400,
                                    recovery_slo=str(recovery_slo),
                                    gate_slos=[gate_slos] if isinstance(gate_slos, str)
                                    else [str(n) for n in gate_slos or ()],
                                    journal=state)
        except Exception as exc:
            why = run.problem("slo control could not evaluate the run", exc)
            measured = section(Evaluation([Gate("evaluation", "inconclusive", "", "", why)]),
                               [])
    verdict, reasons = journal_verdict(state, measured["gates_verdict"], run.problems,
                                       interrupted_by=run.interrupted_by,
                                       gates=measured["gates"], aborted=run.aborted,
                                       refused=run.refused)
    out = chaosgate_section(state)
    out.update(cast(ChaosgateSection, measured))  # the measured keys, all present
    out["verdict"] = verdict
    out["exit_code"] = journal_exit_code(state, verdict, run.interrupted_by)
    if run.detection is not None:
        out["detection"] = run.detection
    stop = run.stop_watch_if_built()
    out["stop"] = {"conditions": [str(c) for c in stop.conditions] if stop else [],
                   "tripped": run.tripped or None}
    out["reasons"], out["steady_state"] = reasons, steady_states(state)
    _redact_experiment(state)
    ttr = measured.get("ttr_note") or ", ".join(
        f"{k} {v:.2f} s" for k, v in measured["ttr"].items() if v is not None)
    log.info("chaosgate verdict: %s%s%s", verdict.upper(), f" (TTR {ttr})" if ttr else "",
             "" if not reasons else ": " + "; ".join(reasons))
