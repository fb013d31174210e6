"""``chaosgate gameday``'s decisions, as pure functions: paths, the pytest command,
the exit code, the verdict table.

The command (:mod:`.cli`) does the I/O: it starts the sandbox, runs pytest
as a subprocess with the command :func:`pytest_command` builds, reverts what
the ledger still lists, reads the results the plugin wrote, and asks
:func:`suite_verdict` for the verdict and exit code (docs/architecture.md §6) and
:func:`verdict_rows` for the table it prints.

A game day's verdict, and the session's, are decided once, in the pytest
session that ran them (:meth:`chaosgate.pytest.session.ChaosSession.decided`),
and read here from the results file. What only this command knows (pytest's
exit code, faults the ledger still lists as open) adds verdicts of its own,
combined with the session's by :func:`chaosgate.verdict.combine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..report.model import GameDayResult, GameDayResults, SLORow
from ..report.tables import format_seconds
from ..verdict import (
    EXIT_SIGNAL_BASE,
    EXIT_USAGE,
    VerdictName,
    combine,
    exit_code,
    interruption_reason,
)
from .results import REPORTED

__all__ = ["Decision", "ReportPaths", "pytest_command", "reported_rows", "suite_verdict",
           "verdict_rows"]

# pytest's own exit codes
PYTEST_OK, PYTEST_FAILED, PYTEST_INTERRUPTED, PYTEST_INTERNAL, PYTEST_USAGE, PYTEST_NO_TESTS = (
    0, 1, 2, 3, 4, 5)
SIGNAL_EXITS = (130, 143)  # 128 + SIGINT, 128 + SIGTERM


@dataclass(frozen=True)
class ReportPaths:
    """Where one run's outputs go, under one reports folder."""

    root: Path

    @property
    def allure_results(self) -> Path:
        """Allure results (cleaned before each run)."""
        return self.root / "allure-results"

    @property
    def allure_report(self) -> Path:
        """The Allure HTML report (its index.html)."""
        return self.root / "allure-report"

    @property
    def junit(self) -> Path:
        """JUnit XML for CI (one test case per game day)."""
        return self.root / "junit.xml"

    @property
    def results(self) -> Path:
        """The game-day results the plugin writes (``--chaos-results``)."""
        return self.root / "gameday.json"

    @property
    def summary(self) -> Path:
        """The one-page stakeholder summary."""
        return self.root / "summary.html"

    def stale(self) -> tuple[Path, ...]:
        """Files a previous run left that must not be mistaken for this run's."""
        return (self.results, self.junit)


def pytest_command(python: str, suite: Path | str, target_file: Path | str, paths: ReportPaths,
                   *, repeat: int = 1, rate: float | None = None, profile: str | None = None,
                   keyword: str | None = None, stop_when: Sequence[str] = (),
                   force: bool = False) -> list[str]:
    """The pytest command line that runs the suite against the target."""
    cmd = [python, "-m", "pytest", str(suite), "-v", "-p", "no:locust", "-p", "no:cacheprovider",
           "--chaos-target", str(target_file), "--chaos-results", str(paths.results),
           "--chaos-repeat", str(repeat), "--alluredir", str(paths.allure_results),
           "--junitxml", str(paths.junit), "-o", "junit_suite_name=chaosgate"]
    if rate is not None:
        cmd += ["--chaos-rate", f"{rate:g}"]
    if profile:
        cmd += ["--chaos-profile", profile]
    if keyword:
        cmd += ["-k", keyword]
    for condition in stop_when:
        cmd += ["--chaos-stop-when", condition]
    if force:
        cmd += ["--chaos-force"]
    return cmd


@dataclass(frozen=True)
class Decision:
    """The run's verdict (None: no verdict could be formed) and exit code, and why."""

    verdict: VerdictName | None
    exit_code: int
    reason: str


_SESSION_REASON: dict[VerdictName, str] = {
    "pass": "every game day kept its SLOs",
    "fail": "an SLO was violated",
    "inconclusive": "no verdict for at least one game day (never a pass)",
    "aborted": "a stop condition tripped: a fault was reverted at once and its game day "
               "aborted",
}


def suite_verdict(results: GameDayResults | None, pytest_rc: int,
                  open_faults: Sequence[str] = ()) -> Decision:
    """The verdict and exit code of ``chaosgate gameday``.

    ``results`` is what the pytest session wrote, its verdict included (None:
    it wrote nothing); ``open_faults`` says which faults the ledger still
    lists as open after this command's cleanup. Exit codes: 0 every game day
    passed; 1 an SLO was violated; 2 usage (pytest refused the options, or no
    game day matched); 3 inconclusive (a game day was, no game day ran,
    pytest failed in a way no game day recorded, or a fault is still open);
    4 aborted (a stop condition reverted a game day's fault at once);
    130/143 interrupted by SIGINT/SIGTERM (faults reverted; the verdict is
    inconclusive, whatever the game days before it recorded).

    The session's verdict is not decided again: it is combined with one
    verdict per thing only this command knows, and the reason given is that
    of the first judgement that carries the combined verdict.
    """
    if pytest_rc in SIGNAL_EXITS:  # never a violation: the run was cut short
        before = ("" if results is None or not results.gamedays else
                  f"; the game days recorded before it: {results.verdict}")
        return Decision("inconclusive", pytest_rc,
                        f"{interruption_reason(pytest_rc - EXIT_SIGNAL_BASE)}: the running "
                        f"game day's fault was reverted and the suite stopped{before}")
    if pytest_rc == PYTEST_USAGE:
        return Decision(None, EXIT_USAGE, "pytest refused the command line (see above)")
    if pytest_rc == PYTEST_NO_TESTS:
        return Decision(None, EXIT_USAGE, "no game day was collected: check --suite and -k")
    judged: list[tuple[VerdictName, str]] = []
    if results is None or not results.gamedays:
        judged.append(("inconclusive", f"no game day recorded a verdict (pytest exit code "
                                       f"{pytest_rc}); no data is never a pass"))
    else:
        judged.append((results.verdict, _SESSION_REASON[results.verdict]))
    judged.append(("pass" if pytest_rc == PYTEST_OK else "inconclusive",
                   f"pytest exit code {pytest_rc}: something failed without recording a "
                   "game-day verdict (see the junit report)"))
    judged += [("inconclusive", f"fault {fault} is still open after the run (run chaosgate "
                                "cleanup)") for fault in open_faults]
    verdict = combine(v for v, _ in judged)
    reason = next(why for v, why in judged if v == verdict)
    return Decision(verdict, exit_code(verdict), reason)


def _collapse_name(row: SLORow) -> str:
    name = row.slo
    if name.startswith("#") and " " in name:
        name = name.split(" ", 1)[1]  # repetitions: "#2 time-to-recover (client)"
    return "steady state (before and after)" if name.startswith("steady state") else name


def verdict_rows(results: Sequence[GameDayResult]) -> list[tuple[str, str, str, str, str, str]]:
    """The terminal's verdict table: game day, SLO, value, objective, TTR, verdict.

    Gating rows only (reported statistical verdicts are in the summary and
    Allure); the steady-state tolerances collapse into one row, and a gate
    seen in several repetitions into one row counting its passes.
    """
    rows: list[tuple[str, str, str, str, str, str]] = []
    for r in results:
        ttr = format_seconds(r.ttr_s) + (" (MTTR)" if r.ttr_repetitions else "")
        groups: dict[str, list[SLORow]] = {}
        for row in r.slos:
            if not row.slo.endswith(REPORTED):
                groups.setdefault(_collapse_name(row), []).append(row)
        if not groups:
            rows.append((r.name, "—", "—", "—", ttr, r.verdict))
        for name, members in groups.items():
            if len(members) == 1:
                m = members[0]
                rows.append((r.name, name, m.value, m.objective, ttr, m.verdict))
                continue
            passed = sum(m.verdict == "pass" for m in members)
            objectives = {m.objective for m in members}
            rows.append((r.name, name, f"{passed}/{len(members)} pass",
                         objectives.pop() if len(objectives) == 1 else "each within tolerance",
                         ttr, combine(m.verdict for m in members)))
    return rows


def reported_rows(results: Sequence[GameDayResult]) -> list[tuple[str, str, str, str, str]]:
    """The SLOs judged over each game day that did not gate it (the catalogue's
    statistical verdicts): game day, SLO, value, objective, verdict."""
    return [(r.name, row.slo[:-len(REPORTED)], row.value, row.objective, row.verdict)
            for r in results for row in r.slos if row.slo.endswith(REPORTED)]
