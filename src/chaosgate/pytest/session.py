"""The pytest side of a game-day session: settings from ``--chaos-*``, results, output.

:class:`ChaosSession` is registered as a pytest plugin (as pytest-xdist
registers its ``DSession``) by :mod:`.plugin` when ``--chaos-target`` is
given, so a suite that never runs a game day never imports this. Its hooks
stop the session when a game day was interrupted (SIGINT/SIGTERM, its fault
reverted; the game day is recorded as inconclusive, never fail), write the
results at the end and print each verdict in the terminal summary. It records each game day's
:class:`~chaosgate.report.model.GameDayResult` and rewrites
``--chaos-results`` after each one with the session's verdict, decided
here (:meth:`ChaosSession.decided`; atomically: a crash keeps what was
done), collects dry-run plans, prints live progress with pytest's capture
suspended, and writes Allure's ``environment.properties`` and
``categories.json`` at the end.
"""

from __future__ import annotations

import platform as _platform
import socket
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..faults.signals import Interrupted
from ..paths import default_reports
from ..report.model import GameDayResult, GameDayResults, save_gameday_results
from ..report.tables import format_seconds
from ..targets import Target

__all__ = ["PLUGIN_NAME", "ChaosSession", "PytestSettings"]

#: The name the session is registered under (``config.pluginmanager.get_plugin``).
PLUGIN_NAME = "chaosgate-session"

#: The results file, in the target's reports folder (:func:`chaosgate.paths.default_reports`).
DEFAULT_RESULTS = "gameday.json"


@dataclass(frozen=True)
class PytestSettings:
    """The ``--chaos-*`` options of one pytest run."""

    target: str | None = None
    profile: str | None = None
    rate: float | None = None
    repeat: int = 1
    dry_run: bool = False
    results: Path = Path("reports") / DEFAULT_RESULTS
    catalog: Path | None = None  # --chaos-catalog; default: beside the target, else shipped
    ledger: Path | None = None  # None: $CHAOSGATE_LEDGER, else the target's own ledger
    alluredir: str | None = None
    stop_when: tuple[str, ...] = ()  # --chaos-stop-when, for every game day
    force_budget: bool = False  # --chaos-force: start with too little error budget left

    @classmethod
    def from_config(cls, config: pytest.Config) -> PytestSettings:
        """Read the options (without ``--chaos-ledger``: ``$CHAOSGATE_LEDGER``, else the
        target's own ledger, :func:`chaosgate.faults.ledger_path`)."""
        opt = config.getoption
        ledger = opt("--chaos-ledger")
        target = opt("--chaos-target")
        results = opt("--chaos-results") or default_reports(target) / DEFAULT_RESULTS
        catalog = opt("--chaos-catalog", default=None)
        return cls(target=target, profile=opt("--chaos-profile"),
                   rate=opt("--chaos-rate"), repeat=int(opt("--chaos-repeat")),
                   dry_run=bool(opt("--chaos-dry-run")),
                   results=Path(results), catalog=Path(catalog) if catalog else None,
                   ledger=Path(ledger) if ledger else None,
                   alluredir=getattr(config.option, "allure_report_dir", None),
                   stop_when=tuple(opt("--chaos-stop-when", default=None) or ()),
                   force_budget=bool(opt("--chaos-force", default=False)))

    @property
    def out_dir(self) -> Path:
        """Where game-day artefacts (Locust logs, request logs) go: next to the results."""
        return self.results.parent / "gamedays"


@dataclass
class ChaosSession:
    """Game-day state of one pytest session."""

    config: pytest.Config
    settings: PytestSettings
    results: list[GameDayResult] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)  # (game day, plan)
    interrupted: int = 0  # exit code (128 + signal) once SIGINT/SIGTERM stopped a game day
    target_facts: dict[str, str] = field(default_factory=dict)

    # -- hooks (the session is a registered plugin) --------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """A game day stopped by SIGINT/SIGTERM (its fault reverted) stops the session."""
        report: pytest.TestReport = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, Interrupted):
            stopped = call.excinfo.value
            item.session.shouldstop = f"{stopped}: faults reverted, session stopped"
            self.interrupted = stopped.exit_code
            if "gameday" in getattr(item, "fixturenames", ()):
                self.record(self.interrupted_result(item, stopped))
        return report

    @staticmethod
    def interrupted_result(item: pytest.Item, stopped: Interrupted) -> GameDayResult:
        """An interrupted game day: inconclusive (never fail), nothing judged."""
        return GameDayResult(item.name, "inconclusive", suite=item.nodeid.split("::")[0],
                             message=f"{stopped}: the game day was cut short and its fault "
                                     "reverted; no gate was judged")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the results file and Allure's environment and categories; an interrupted
        session exits 130 or 143."""
        self.finish()
        if self.interrupted:
            session.exitstatus = self.interrupted

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter,
                                exitstatus: int, config: pytest.Config) -> None:
        """Each game day's verdict and TTR (and dry-run plans) at the end of the run."""
        lines = self.summary_lines()
        if lines:
            terminalreporter.section("chaosgate game days")
            for line in lines:
                terminalreporter.write_line(line)

    # -- the session's state -------------------------------------------------
    def record(self, result: GameDayResult) -> None:
        """Add a game day's result and rewrite the results file."""
        self.results.append(result)
        self.save()

    def decided(self) -> GameDayResults:
        """Every result so far and the session's verdict, decided here (and only here:
        ``chaosgate gameday`` reads it from the results file)."""
        return GameDayResults.of(self.results)

    def save(self) -> Path:
        """Write every result so far and the session's verdict to ``--chaos-results``
        (atomically)."""
        return save_gameday_results(self.settings.results, self.decided())

    def progress(self) -> Callable[[str], None]:
        """A logger that prints at once, past pytest's capture (quiet with ``-q``)."""
        start = time.monotonic()
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        quiet = self.config.get_verbosity() < 0

        def write(message: str) -> None:
            if reporter is None or quiet:
                return
            line = f"    [{time.monotonic() - start:6.1f} s] {message}"
            if capman is not None:
                with capman.global_and_fixture_disabled():
                    reporter.write_line(line)
            else:
                reporter.write_line(line)
        return write

    def environment(self) -> dict[str, str]:
        """Allure's environment.properties: what ran against what (no secrets)."""
        from importlib.metadata import PackageNotFoundError, version

        def ver(name: str) -> str:
            try:
                return version(name)
            except PackageNotFoundError:
                return "not installed"

        s = self.settings
        return {**self.target_facts, "chaosgate": ver("chaosgate"), "pytest": ver("pytest"),
                "locust": ver("locust"), "python": _platform.python_version(),
                "host": socket.gethostname(), "load profile": s.profile or "open (default)",
                "rate": "scenario default" if s.rate is None else f"{s.rate:g}/s",
                "repetitions": str(s.repeat), "dry run": str(s.dry_run).lower()}

    def finish(self) -> None:
        """At session end: results file (when a game day ran), Allure environment, categories."""
        if self.results:
            self.save()
        if self.settings.alluredir:
            from ..report.allure_results import AllureResultsWriter

            writer = AllureResultsWriter(self.settings.alluredir)
            writer.write_environment(self.environment())
            writer.write_categories()

    def summary_lines(self) -> list[str]:
        """The terminal summary: dry-run plans, then one line per game day."""
        lines = [f"dry run: {name}: {plan}" for name, plan in self.plans]
        for r in self.results:
            reps = f" over {len(r.ttr_repetitions)} runs (MTTR)" if r.ttr_repetitions else ""
            lines.append(f"{r.verdict.upper():<12} {r.name}  TTR {format_seconds(r.ttr_s)}{reps}"
                         + (f"  — {r.message}" if r.message else ""))
        if self.results:
            lines.append(f"overall: {self.decided().verdict}; results in "
                         f"{self.settings.results}")
        return lines

    def facts_from(self, target: Target) -> None:
        """Remember the target's public facts for the environment (never credentials)."""
        self.target_facts = {"target": target.name, "platform": target.platform.type,
                             "ingress": target.ingress_url, "prometheus": target.prometheus.url,
                             "namespace": target.namespace}
