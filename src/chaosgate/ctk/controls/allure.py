"""Chaos Toolkit control: the run as an Allure result (no pytest needed).

One Allure test per run, named after the experiment (suite "chaos
experiments"), with timed steps as the run goes: the load's warm-up, the
steady-state hypothesis before the method, the method, the hypothesis
after it, the rollbacks, each activity inside its phase (arguments as
parameters, output attached as JSON), and the SLO gates. A hypothesis
probe out of its tolerance is *failed*, an activity that raised *broken*.
The test's status is chaosgate's verdict (pass: passed, fail: failed,
inconclusive: broken); its attachments are the timeline plot (load,
errors, p95, fault window, TTR), the SLO table with the PromQL used, the
Locust summary, the time to detect (the detection gates are in the SLO
table), the stop condition that aborted the run if one did, and the journal,
redacted (secrets never reach a file).

Argument: ``results_dir`` (default ``<chaosgate_reports>/allure-results``).
List it after the ``slo`` control: it reports the verdict that one wrote.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoslib.types import Activity, Configuration, Experiment, Journal, Secrets

from ...report.allure_gameday import allure_status, gameday_test_result, now_ms
from ...report.allure_results import AllureResultsWriter, AllureStatus, Attachment, Step
from ..journal import KEY
from ..observe import catalog
from ..report import experiment_result, plot_marks, slo_rows
from ..state import current, log

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "after_hypothesis_control",
    "after_method_control",
    "after_rollback_control",
    "before_activity_control",
    "before_experiment_control",
    "before_hypothesis_control",
    "before_method_control",
    "before_rollback_control",
]


@dataclass
class _Recorder:
    """Steps as Chaos Toolkit's begin/end hooks open and close them."""

    writer: AllureResultsWriter | None = None
    root: list[Step] = field(default_factory=list)
    stack: list[Step] = field(default_factory=list)
    method_started: bool = False

    def begin(self, name: str, parameters: list[tuple[str, str]] | None = None,
              start: int | None = None) -> Step:
        step = Step(name=name, start=start or now_ms(), parameters=parameters or [])
        (self.stack[-1].steps if self.stack else self.root).append(step)
        self.stack.append(step)
        return step

    def end(self, status: AllureStatus = "passed", message: str | None = None) -> Step | None:
        if not self.stack:
            return None
        step = self.stack.pop()
        step.status, step.stop = status, now_ms()
        step.message = message or step.message
        return step

    def attach(self, body: Any, name: str) -> None:
        if self.writer is not None and self.stack and body is not None:
            self.stack[-1].attachments.append(self.writer.attach_json(body, name=name))


_REC = [_Recorder()]


def _guard(what: str, func: Any, *args: Any) -> None:
    """Reporting never breaks a run: errors are logged (the run's verdict stands)."""
    try:
        func(*args)
    except Exception as exc:
        log.error("chaosgate allure control: %s failed: %s: %s", what, type(exc).__name__, exc)


def _start(configuration: Configuration, results_dir: str | None) -> None:
    run = current()
    where = Path(results_dir) if results_dir else \
        run.settings(configuration).reports / "allure-results"
    rec = _REC[0] = _Recorder(writer=AllureResultsWriter(where))
    if run.load is not None and run.load_info is not None:
        rec.begin(f"load: {run.load_info.rate:g} requests/s, open model, profile "
                  f"{run.load_info.profile} (warm-up {run.load_info.warmup:g} s)",
                  start=int(run.load.started * 1000))
        rec.end()


def before_experiment_control(context: Experiment, configuration: Configuration = None,
                              secrets: Secrets = None, results_dir: str | None = None,
                              **_arguments: Any) -> None:
    """Open the results directory; record the load's warm-up as the first step."""
    _guard("start", _start, configuration, results_dir)


def before_hypothesis_control(context: Any, **_arguments: Any) -> None:
    """A step for the steady-state hypothesis (before or after the method)."""
    when = "after" if _REC[0].method_started else "before"
    title = context.get("title", "") if isinstance(context, dict) else ""
    _REC[0].begin(f"steady-state hypothesis {when} the method: {title}")


def _hypothesis_end(state: Any) -> None:
    rec = _REC[0]
    probes = state.get("probes", []) if isinstance(state, dict) else []
    step = rec.stack[-1] if rec.stack else None
    for child, probe in zip(step.steps if step else [], probes, strict=False):
        if probe.get("status") == "succeeded" and probe.get("tolerance_met") is False:
            tolerance = probe.get("activity", {}).get("tolerance")
            child.status = "failed"
            child.message = (f"AssertionError: {probe.get('output')!r} is not within the "
                             f"tolerance {tolerance!r}")
    met = isinstance(state, dict) and bool(state.get("steady_state_met"))
    broken = any(p.get("status") == "failed" for p in probes)
    rec.end("passed" if met else "broken" if broken else "failed",
            None if met else "the steady-state hypothesis was not met")


def after_hypothesis_control(context: Any, state: Any = None, **_arguments: Any) -> None:
    """Close the hypothesis step: failed when a probe missed its tolerance."""
    _guard("hypothesis step", _hypothesis_end, state)


def _phase_end(state: Any) -> None:
    runs = state if isinstance(state, list) else []
    failed = [r for r in runs if r.get("status") == "failed"]
    _REC[0].end("broken" if failed else "passed",
                "; ".join(f"{r['activity']['name']} failed" for r in failed) or None)


def before_method_control(context: Experiment, **_arguments: Any) -> None:
    """A step for the method."""
    _REC[0].method_started = True
    _REC[0].begin("method")


def after_method_control(context: Experiment, state: Any = None, **_arguments: Any) -> None:
    """Close the method step (broken when an action failed)."""
    _phase_end(state)


def before_rollback_control(context: Experiment, **_arguments: Any) -> None:
    """A step for the rollbacks."""
    _REC[0].begin("rollbacks")


def after_rollback_control(context: Experiment, state: Any = None, **_arguments: Any) -> None:
    """Close the rollbacks step."""
    _phase_end(state)


def before_activity_control(context: Activity, **_arguments: Any) -> None:
    """A step per activity, its provider's function and arguments as parameters."""
    provider = context.get("provider", {}) if isinstance(context, dict) else {}
    params = [("func", f"{provider.get('module', '')}.{provider.get('func', '')}")]
    params += [(str(k), str(v)) for k, v in (provider.get("arguments") or {}).items()]
    _REC[0].begin(f"{context.get('type', 'activity')}: {context.get('name', '?')}", params)


def after_activity_control(context: Activity, state: Any = None, **_arguments: Any) -> None:
    """Attach the activity's output; broken when it raised."""
    run = state if isinstance(state, dict) else {}
    _guard("activity output", _REC[0].attach, run.get("output"), "output")
    why = "".join(run.get("exception") or ()).strip().splitlines()
    _REC[0].end("passed" if run.get("status") == "succeeded" else "broken",
                why[-1] if why else None)


def _gates_step(section: dict[str, Any]) -> None:
    rec = _REC[0]
    rec.begin(f"SLO gates: {str(section.get('verdict', 'inconclusive')).upper()}")
    for gate in section.get("gates") or ():
        rec.begin(f"{gate['name']}: {gate['value']} (objective {gate['objective']})")
        rec.end(allure_status(gate["status"]),
                None if gate["status"] == "pass" else gate["detail"])
    rec.end(allure_status(section.get("gates_verdict")))


def _write(journal: dict[str, Any], configuration: Configuration) -> None:
    rec, run = _REC[0], current()
    if rec.writer is None:
        return
    while rec.stack:  # an interrupted run leaves phases open
        rec.end("broken", "interrupted")
    section = journal.setdefault(KEY, {})
    _gates_step(section)
    cat = catalog(configuration)
    marks = plot_marks(section, cat)
    png = None
    records = run.load_run.records() if run.load_run is not None else []
    if marks is not None:
        from ...report.plots import timeline_png  # matplotlib only when there is a plot

        png = timeline_png(records, marks, title=str(journal["experiment"].get("title", "")))
    extra: list[Attachment] = []
    if section.get("load"):
        extra.append(rec.writer.attach_json(section["load"], name="Locust summary"))
    if section.get("detection"):
        extra.append(rec.writer.attach_json(section["detection"], name="time to detect"))
    if (section.get("stop") or {}).get("tripped"):
        extra.append(rec.writer.attach_json(section["stop"], name="stop condition"))
    result = experiment_result(journal, slo_rows(journal, cat), plot_png=png)
    test = gameday_test_result(rec.writer, result, steps=rec.root, journal=journal,
                               attachments=extra)
    rec.writer.write_result(test)
    if not (rec.writer.results_dir / "categories.json").exists():
        rec.writer.write_categories()
    section["allure"] = {"results_dir": str(rec.writer.results_dir), "uuid": test.uuid,
                         "status": test.status, "written": time.time()}


def after_experiment_control(context: Experiment, state: Journal = None,
                             configuration: Configuration = None, secrets: Secrets = None,
                             **_arguments: Any) -> None:
    """Write the Allure result of the run (after the ``slo`` control's verdict)."""
    if isinstance(state, dict):
        _guard("writing the result", _write, state, configuration)
