"""The ``gameday`` fixture: run a game day through the engine, report it, judge it.

``gameday(GameDayConfig(...), feature=..., story=...)`` runs the game day
``--chaos-repeat`` times with :func:`~chaosgate.gameday.engine.run_gameday`
(SIGINT/SIGTERM revert the fault first), and then:

- Allure (when allure-pytest runs): epic/feature/story/severity labels, one
  step per phase carrying the phase's real timing and status (a repeated game
  day nests them in a step per repetition), the timeline plot, the Locust
  summary, the fault's timeline with its ground truth, the game-day journal
  (ledger entry included) and the log; then the SLO table with its PromQL,
  and the MTTR plot when repeated;
- records the :class:`~chaosgate.report.model.GameDayResult` for
  ``--chaos-results``;
- raises :class:`~chaosgate.exceptions.SLOViolated` (an AssertionError:
  Allure *failed*) on fail, :class:`~chaosgate.exceptions.Inconclusive` or
  :class:`~chaosgate.exceptions.FaultNotEffective` (Allure *broken*) when
  inconclusive, and returns the result on pass.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import allure as _allure_module
import pytest

from ..exceptions import (
    FaultAborted,
    FaultNotEffective,
    Inconclusive,
    SLOViolated,
    UsageError,
)
from ..faults import FaultContext, Ledger, LedgerEntry, build_fault, ledger_for, ledger_path
from ..faults.signals import interrupting
from ..gameday.engine import Check, GameDayConfig, GameDayRun, Phase, catalog_of, run_gameday
from ..gameday.results import (
    build_result,
    failure_message,
    journal,
    marks_of,
    slo_rows,
    ttr_of,
)
from ..paths import default_folder
from ..platforms.base import Platform
from ..report import allure_pytest as ap
from ..report.model import GameDayResult
from ..report.redact import redact_text
from ..slo.model import Catalog
from ..targets import Target
from .session import ChaosSession

__all__ = ["GameDayRunner", "allure_phase", "current_allure_uuid"]

_DEFAULTS = GameDayConfig(name="defaults")
_allure: Any = _allure_module  # allure's API is untyped


@contextmanager
def allure_phase(phase: Phase) -> Iterator[None]:
    """An Allure step around one engine phase, with the phase's own status.

    An exception sets the status as allure-pytest does; a phase the engine
    marked broken or failed without raising (a fault that did not take hold)
    gets that status too, with its detail as the message.
    """
    step: Any = ap.phase(phase.name)
    step.__enter__()
    try:
        yield
    except BaseException as exc:
        step.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if phase.detail:
        ap.attach_text(phase.detail, name="detail")
    error: Exception | None = None
    if phase.status == "broken":
        error = Inconclusive(phase.detail)
    elif phase.status == "failed":
        error = SLOViolated(phase.detail)
    step.__exit__(type(error) if error else None, error, None)


def current_allure_uuid() -> str | None:
    """The uuid of the running test's Allure result (for deep links), when allure-pytest runs."""
    try:
        from allure_commons import plugin_manager

        for plugin in plugin_manager.get_plugins():
            logger = getattr(plugin, "allure_logger", None)
            test = logger.get_test(None) if logger is not None else None
            if test is not None:
                return str(test.uuid)
    except Exception:
        return None
    return None


class GameDayRunner:
    """The callable behind the ``gameday`` fixture (one per test)."""

    def __init__(self, request: pytest.FixtureRequest, session: ChaosSession, target: Target,
                 platform: Platform) -> None:
        self.request = request
        self.session = session
        self.target = target
        self.platform = platform
        marker = request.node.get_closest_marker("fault")
        self.plot: bytes | None = None  # the last run's timeline plot
        self.marked_kind: str | None = None
        if marker is not None:
            self.marked_kind = marker.kwargs.get("kind") or (marker.args[0] if marker.args
                                                             else None)

    def effective(self, config: GameDayConfig) -> GameDayConfig:
        """``config`` with the command line's rate and profile, ledger and output folder."""
        s = self.session.settings
        changes: dict[str, Any] = {"ledger": s.ledger}
        if s.rate is not None:
            changes["rate"] = s.rate
        if s.profile is not None:
            changes["profile"] = s.profile
        if config.out_dir == _DEFAULTS.out_dir:
            changes["out_dir"] = s.out_dir
        if config.catalog is None:
            changes["catalog"] = s.catalog or default_folder("probes", self.target.source)
        if s.stop_when:
            changes["stop_when"] = (*config.stop_when, *s.stop_when)
        if s.force_budget:
            changes["force_budget"] = True
        kind = (config.fault or {}).get("kind")
        if self.marked_kind is not None and kind != self.marked_kind:
            raise UsageError(f"{self.request.node.nodeid}: marked fault({self.marked_kind!r}) "
                             f"but the game day injects {kind!r}. Fix: make them agree")
        return dataclasses.replace(config, **changes)

    def _dry_run(self, config: GameDayConfig) -> None:
        if config.fault is None:
            plan = (f"no fault (baseline): {config.warmup + config.observe:g} s of load at "
                    f"{config.rate:g}/s")
        else:
            ledger = ledger_for(self.target, config.ledger, "pytest")
            ctx = FaultContext(self.target, self.platform, ledger, config.seed,
                               front_end="pytest")
            plan = build_fault(ctx, config.fault, source=f"game day {config.name!r}").plan()
            plan = plan.removeprefix("[dry-run] ")
        self.session.plans.append((config.name, plan))
        self.session.progress()(f"{config.name}: {plan}")
        pytest.skip(f"dry run: {plan}")

    def __call__(self, config: GameDayConfig, *, feature: str | None = None,
                 story: str | None = None, severity: str = "critical",
                 checks: Sequence[Check] = (), tags: Sequence[str] = (),
                 description: str | None = None) -> GameDayResult:
        """Run the game day; return its result on pass, raise on fail or inconclusive."""
        config = self.effective(config)
        kind = str((config.fault or {}).get("kind", "baseline"))
        feature = feature or kind
        story = story or config.name
        ap.label_gameday(feature=feature, story=story, severity=severity,
                         tags=[kind, self.target.name, *tags])
        description = description or self._description()
        if description:
            _allure.dynamic.description(redact_text(description))
        if self.session.settings.dry_run:
            self._dry_run(config)
        catalog = catalog_of(config, self.target)
        runs, log_lines = self._run_all(config, checks, catalog)
        result = self._result(config, runs, catalog, feature, story, severity, description)
        ap.attach_slo_table(result.slos)
        ap.attach_text("\n".join(log_lines), name="game-day log")
        self.session.record(result)
        if result.verdict == "aborted":
            raise FaultAborted(f"{config.name}: {result.message}")
        if result.verdict == "fail":
            raise SLOViolated(f"{config.name}: {result.message}")
        if result.verdict == "inconclusive":
            fault_error = any(r.fault_error for r in runs)
            raise (FaultNotEffective if fault_error else Inconclusive)(
                f"{config.name}: {result.message}")
        return result

    def _description(self) -> str:
        """The scenario module's docstring (its hypothesis), then the test's."""
        module = getattr(self.request.node, "module", None)
        function = getattr(self.request.node, "function", None)
        parts = [(getattr(x, "__doc__", None) or "").strip() for x in (module, function)]
        return "\n\n".join(p for p in parts if p)

    def _run_all(self, config: GameDayConfig, checks: Sequence[Check],
                 catalog: Catalog) -> tuple[list[GameDayRun], list[str]]:
        progress = self.session.progress()
        lines: list[str] = []

        def log(message: str) -> None:
            lines.append(f"{time.strftime('%H:%M:%S')} {message}")
            progress(message)

        repeat = self.session.settings.repeat
        runs: list[GameDayRun] = []
        with interrupting():  # each run_gameday reverts its own faults (FaultSession.guard)
            for k in range(1, repeat + 1):
                rep = config if repeat == 1 else dataclasses.replace(
                    config, seed=None if config.seed is None else config.seed + k - 1)
                whole = Phase(f"repetition {k} of {repeat}", time.time())
                step: AbstractContextManager[Any] = (
                    nullcontext() if repeat == 1 else allure_phase(whole))
                with step:
                    run = run_gameday(self.target, rep, log=log, checks=checks,
                                      phase_hook=allure_phase)
                    self.plot = self._attach_run(run, catalog)
                    if run.verdict != "pass":  # the repetition's step shows its verdict
                        whole.status = "failed" if run.verdict in ("fail", "aborted") \
                            else "broken"
                        whole.detail = failure_message(slo_rows(run, catalog),
                                                       run.verdict,
                                                       run.aborted or run.fault_error)
                runs.append(run)
                log(f"{config.name}: {run.verdict}" + (f" (repetition {k} of {repeat})"
                                                      if repeat > 1 else ""))
        return runs, lines

    def _attach_run(self, run: GameDayRun, catalog: Catalog) -> bytes | None:
        """Attach one run's plot, Locust summary, fault timeline and journal; the plot."""
        marks = marks_of(run, catalog)
        plot = None
        if marks is not None:
            plot = ap.attach_timeline(run.records, marks, title=run.config.name)
        if run.load is not None:
            ap.attach_locust_summary(run.load.to_json())
        fault = run.fault_timeline
        entry = None
        if fault is not None:
            ap.attach_journal(fault.to_json(), name="fault timeline (ground truth)")
            ledger = Ledger(ledger_path(run.target, run.config.ledger))
            found = ledger.entries().get(fault.fault_id)
            entry = None if found is None else _ledger_json(found)
        ap.attach_journal(journal(run, ledger_entry=entry), name="game-day journal")
        return plot

    def _result(self, config: GameDayConfig, runs: list[GameDayRun], catalog: Catalog,
                feature: str, story: str, severity: str,
                description: str | None) -> GameDayResult:
        mttr = None
        if len(runs) > 1:
            from ..report.plots import mttr_png

            mttr = mttr_png([ttr_of(r) for r in runs], title=f"{config.name}: TTR per run")
            ap.attach_png(mttr, "MTTR over repetitions")
        suite = self.request.node.nodeid.split("::")[0]
        return build_result(config.name, runs, catalog, description=description or "",
                            suite=suite,
                            labels=(("feature", feature), ("story", story),
                                    ("severity", severity)),
                            plot_png=self.plot, mttr_plot_png=mttr,
                            allure_uuid=current_allure_uuid())


def _ledger_json(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "fault": entry.fault, "state": entry.state,
            "t_open": entry.t_open, "t_applied": entry.t_applied,
            "t_reverted": entry.t_reverted, "pid": entry.pid, "host": entry.host,
            "target": dict(entry.target), "change": entry.change.to_json(),
            "error": entry.error, "note": entry.note}
