"""``chaosgate gameday``: the main job. Run the game-day suite, print the verdict, report.

1. Load the target; when it is the sandbox, start it if it is not running
   (and stop it again at the end unless ``--keep-sandbox``; a sandbox that
   was already running is left running: the command leaves things as it
   found them).
2. Run the suite with pytest as a **subprocess** (Locust's gevent never
   enters this process), into ``<reports>/allure-results`` (cleaned first),
   ``<reports>/junit.xml`` and ``<reports>/gameday.json``. pytest's output
   and the plugin's phase lines are the live progress. SIGINT and SIGTERM
   are forwarded once to pytest, which reverts the running fault and stops.
3. Revert whatever the ledger still lists as open for this target (a
   killed pytest), print the verdict table, append the run to the history
   store (``<reports>/history.sqlite`` unless ``--history-file``), build the
   Allure HTML report (single file by default: it opens from disk; its
   history widgets fed from the store) and the one-page summary (with the
   trend over the target's last runs).

The verdict is the one the pytest session decided and wrote with the
results (``gameday.json``), combined with what only this command knows:
pytest's exit code and any fault still open after step 3
(:func:`chaosgate.gameday.suite.suite_verdict`).

Exit codes: 0 pass, 1 an SLO violated, 2 usage, 3 inconclusive; 130/143
when interrupted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from ..sandbox.topology import SYSTEMS
from ._common import console, err_console, target_option

if TYPE_CHECKING:
    from ..gameday.suite import Decision, ReportPaths
    from ..report.model import GameDayResult, GameDayResults
    from ..targets import Target

__all__ = ["gameday"]

CHILD_WAIT_AFTER_SIGNAL = 300.0  # seconds pytest gets to revert and stop once signalled
_COLOR = {"pass": "green", "fail": "red", "inconclusive": "yellow", "aborted": "magenta"}


def _run_pytest(cmd: list[str], log: Any) -> int:
    """Run pytest in its own session; forward the first SIGINT/SIGTERM; its exit code.

    pytest dies with this process even on a SIGKILL: the kernel sends it SIGTERM
    (so it reverts its running fault and stops), and it checks this process's
    identity (``CHAOSGATE_PARENT``) before every fault
    (:mod:`chaosgate.clients.children`).
    """
    from ..clients.children import parent_env, release, spawn

    proc = spawn(cmd, role="pytest", death_signal=signal.SIGTERM, start_new_session=True,
                 env={**os.environ, **parent_env()})
    received: list[tuple[int, float]] = []  # (signal, when)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if received:
            return  # pytest is reverting: never interrupt a revert half-way
        received.append((signum, time.monotonic()))
        log(f"{signal.Signals(signum).name}: the running game day reverts its fault and the "
            "suite stops")
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                rc = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if received and time.monotonic() - received[0][1] > CHILD_WAIT_AFTER_SIGNAL:
                    proc.kill()  # the ledger check afterwards reverts what it left
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if proc.poll() is not None:
            release(proc.pid)
    if received and rc not in (130, 143):
        rc = 128 + received[0][0]
    return rc


def _sandbox(target: Target, console: Console) -> tuple[Any, bool]:
    """The target's sandbox manager, and whether the sandbox is running already."""
    from ..sandbox.manager import SandboxManager

    manager = SandboxManager(target.sandbox_topology(),
                             log=lambda m: console.print(f"[dim]{escape(m)}[/]"))
    return manager, manager.running()


def _start_sandbox(manager: Any, was_running: bool, console: Console) -> None:
    """Bring the sandbox up (or check it is healthy) and write its state files."""
    from ..sandbox.state import write_state

    topo = manager.topo
    started = time.monotonic()
    if not was_running:
        console.print(f"starting the sandbox (base port {topo.ports.base}, {topo.state_dir})")
        topo.state_dir.mkdir(parents=True, exist_ok=True)
    manager.up(timeout=300)
    write_state(topo)
    console.print(f"sandbox healthy in {time.monotonic() - started:.1f} s"
                  + (" (already running: left running)" if was_running else ""))


def _system_target(target_file: str, system: str) -> str:
    """The target file of ``system``'s sandbox (written now, so that it can be loaded);
    exit 2 when --target names another one too."""
    from ..exceptions import UsageError
    from ..sandbox.state import saved_topology, write_state

    source = click.get_current_context().get_parameter_source("target_file")
    if source not in (None, click.core.ParameterSource.DEFAULT):
        raise UsageError(f"--system {system} and --target {target_file} both name the "
                         "target. Fix: give only one of them")
    try:
        topo = saved_topology(os.environ.get("CHAOSGATE_STATE_DIR"),
                              int(os.environ["CHAOSGATE_BASE_PORT"])
                              if os.environ.get("CHAOSGATE_BASE_PORT") else None, system)
    except ValueError as exc:
        raise UsageError(f"--system {system}: {exc}. Fix: set CHAOSGATE_BASE_PORT to a "
                         "port between 1024 and 65475") from exc
    return str(write_state(topo))


def _revert_leftovers(target: Target, console: Console) -> list[str]:
    """Revert faults the ledger still lists as open for ``target`` (a killed pytest);
    the ids of those still open afterwards."""
    from ..faults import cleanup, ledger_for, target_key
    from ..platforms import platform_for

    ledger = ledger_for(target)  # $CHAOSGATE_LEDGER or the target's: the one pytest used
    if not ledger.path.exists() or not ledger.open_entries(target_key(target)):
        return []
    report = cleanup(target, ledger, platform_for(target),
                     log=lambda m: console.print(f"[yellow]cleanup:[/] {m}"))
    for entry, why in report.failed + report.skipped:
        console.print(f"[red]fault {entry.id} still open: {why}[/] (run chaosgate cleanup)")
    return [entry.id for entry, _ in report.failed + report.skipped]


def _print_table(results: list[GameDayResult], console: Console) -> None:
    from rich.table import Table

    from ..gameday.suite import reported_rows, verdict_rows

    table = Table(title="game-day verdicts", show_lines=False)
    for col in ("game day", "SLO", "value", "objective", "TTR", "verdict"):
        table.add_column(col, overflow="fold")
    previous = None
    for row in verdict_rows(results):
        verdict = f"[{_COLOR.get(row[5], 'white')}]{row[5]}[/]"
        table.add_row(row[0] if row[0] != previous else "", *row[1:5], verdict,
                      end_section=False)
        previous = row[0]
    console.print(table)
    reported = reported_rows(results)
    if not reported:
        return
    table = Table(title="SLOs over each game day (reported, not gating)", show_lines=False)
    for col in ("game day", "SLO", "value", "objective", "verdict"):
        table.add_column(col, overflow="fold")
    previous = None
    for name, slo, value, objective, status in reported:
        table.add_row(name if name != previous else "", slo, value, objective,
                      f"[{_COLOR.get(status, 'white')}]{status}[/]")
        previous = name
    console.print(table)


def _record(results: GameDayResults, paths: ReportPaths, target: Target,
            history_file: Path | None, label: str | None, console: Console) -> list[Any]:
    """Append this run to the history store; the target's last runs (this one last).

    A store that cannot be written is noted and costs nothing: the run's
    verdict stands (the history only labels and compares runs).
    """
    import sqlite3

    from .. import __version__
    from ..clients.git import revision
    from ..report.allure_results import allure3_history_ids
    from ..report.history import DEFAULT_LAST, HISTORY_FILE, append_run, load_runs

    if history_file is None:  # --history-file / $CHAOSGATE_HISTORY, else the target's
        history_file = target.history or paths.root / HISTORY_FILE
    folder = Path(target.source).resolve().parent if target.source else Path.cwd()
    try:
        append_run(history_file, results, target=target.name, version=__version__,
                   revision=revision(folder), label=label,
                   allure_history_ids=allure3_history_ids(paths.allure_results))
        runs = load_runs(history_file, target=target.name, last=DEFAULT_LAST)
    except (sqlite3.Error, OSError, ValueError) as exc:
        console.print(f"[red]history not recorded:[/] {history_file}: {exc} "
                      "(fix: --history-file PATH to a writable chaosgate history)")
        return []
    console.print(f"history        {history_file.resolve()} ({len(runs)} run(s) of "
                  f"{target.name} shown)")
    return runs


def _reports(results: GameDayResults, paths: ReportPaths, target: Target,
             single_file: bool, console: Console, history: Sequence[Any] = ()) -> int:
    """Build the Allure HTML and the summary; 0, or the exit code of what failed.

    ``history`` is the target's recorded runs, this one last: the summary's
    trend and the Allure report's history come from it. A generator that is
    not installed (chaosgate installed as a package, without npm) is noted
    and costs nothing: the verdict's exit code stands.
    """
    from ..clients.allure import ALLURE_ENV, build_allure_html, find_allure_cli
    from ..exceptions import ChaosgateError, UsageError
    from ..report.history import allure_history_points
    from ..report.summary import write_summary

    code = 0
    href = None
    try:
        cli = find_allure_cli()
    except UsageError as exc:
        cli = None
        if os.environ.get(ALLURE_ENV):  # named, but wrong: the user's error
            console.print(f"[red]Allure report not built:[/] {exc}")
            code = exc.exit_code
        else:
            console.print(f"[yellow]Allure report skipped:[/] {exc}")
    if cli is not None:
        try:
            index = build_allure_html(paths.allure_results, paths.allure_report,
                                      single_file=single_file, allure_cli=cli,
                                      history=allure_history_points(list(history)[:-1]))
            href = os.path.relpath(index, paths.summary.resolve().parent)
            console.print(f"Allure report  {index}")
        except ChaosgateError as exc:
            console.print(f"[red]Allure report not built:[/] {exc}")
            code = exc.exit_code
    page = write_summary(paths.summary, results, allure_href=href, target=target.name,
                         generated_at=time.time(), history=history)
    console.print(f"summary        {page.resolve()}")
    console.print(f"JUnit XML      {paths.junit.resolve()}")
    console.print(f"results JSON   {paths.results.resolve()}")
    return code


def _final(decision: Decision, report_code: int, console: Console) -> int:
    color = _COLOR.get(decision.verdict or "", "yellow")
    label = (decision.verdict or "no verdict").upper()
    console.print(f"[bold {color}]{label}[/]: {decision.reason} (exit {decision.exit_code})")
    if decision.exit_code == 0 and report_code:
        return report_code
    return decision.exit_code


@click.command("gameday")
@target_option(default="targets/sandbox.yaml", help="Target file (the sandbox by default).")
@click.option("--system", default=None, type=click.Choice(SYSTEMS),
              help="Run the game days of this sandbox system on its sandbox (started if "
                   "needed: the one `chaosgate sandbox up --system S` starts, same "
                   "$CHAOSGATE_STATE_DIR and $CHAOSGATE_BASE_PORT), instead of --target.")
@click.option("--suite", default=None, type=click.Path(),
              help="The game-day scenarios, a pytest folder or file (default: scenarios/ "
                   "beside the target file or the folder above it, else the shipped ones).")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Run each game day N times: TTR per run, MTTR with a confidence interval.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Requests per second of the load (default: each scenario's, 40).")
@click.option("--profile", default=None, help="Load profile (default: open).")
@click.option("-k", "keyword", default=None, help="Only the game days matching this pytest -k.")
@click.option("--keep-sandbox", is_flag=True,
              help="Leave a sandbox this command started running afterwards.")
@click.option("--reports-dir", default=None, type=click.Path(file_okay=False),
              help="Where every report goes (default: reports/ of the target's project "
                   "folder: the target file's folder or the one above that holds "
                   "probes/, scenarios/, reports/, ...).")
@click.option("--single-file/--directory-report", default=True, show_default=True,
              help="Allure report as one self-contained index.html (opens from disk), or a "
                   "directory to serve over HTTP.")
@click.option("--stop-when", "stop_when", multiple=True,
              help="A stop condition for every game day's fault (repeatable; added to the "
                   "target's safety.stop_when): alert:NAME, burn:SLO>5%, or PromQL that "
                   "returns a sample. When it holds, the fault is reverted at once and the "
                   "game day ends aborted (exit 4).")
@click.option("--force", is_flag=True,
              help="Start game days even when an SLO has less error budget left than the "
                   "target's safety.min_error_budget (error-budget admission).")
@click.option("--history-file", default=None, type=click.Path(dir_okay=False),
              envvar="CHAOSGATE_HISTORY",
              help="The history store (SQLite) this run is appended to "
                   "[default: $CHAOSGATE_HISTORY, else the target file's `history:`, else "
                   "history.sqlite in the reports folder].")
@click.option("--label", default=None,
              help="Name this run in the history and the trends (default: the git revision "
                   "of the target's folder).")
def gameday(target_file: str, system: str | None, suite: str | None, repeat: int,
            rate: float | None, profile: str | None, keyword: str | None, keep_sandbox: bool,
            reports_dir: str | None, single_file: bool, stop_when: tuple[str, ...],
            force: bool, history_file: str | None, label: str | None) -> None:
    """Run the game-day suite against a target, print the verdicts, build the reports.

    Starts the sandbox when the target is the sandbox (and stops it again
    unless --keep-sandbox, when this command started it). Exit codes: 0 every
    game day passed, 1 an SLO was violated, 2 usage error, 3 inconclusive,
    4 aborted by a stop condition, 130/143 interrupted (the fault was reverted).
    """
    from ..exceptions import Inconclusive, UsageError
    from ..faults import ledger_for
    from ..gameday.suite import ReportPaths, pytest_command, suite_verdict
    from ..paths import default_folder, default_reports
    from ..report.model import GameDayResults, load_results
    from ..targets import load_target, parse_stop_condition

    if system is not None:
        target_file = _system_target(target_file, system)
    target = load_target(target_file)
    for text in stop_when:  # exit 2 before any sandbox or pytest is started
        parse_stop_condition(text, "--stop-when")
    suite = suite or str(default_folder("scenarios", target.source))
    if not Path(suite).exists():
        raise UsageError(f"--suite {suite}: no such folder or file. Fix: point --suite at "
                         "the game-day scenarios, or leave it out for the shipped ones")
    paths = ReportPaths(Path(reports_dir) if reports_dir else default_reports(target.source))
    manager, was_running = None, True
    try:
        shutil.rmtree(paths.allure_results, ignore_errors=True)
        for stale in paths.stale():
            stale.unlink(missing_ok=True)
        if target.is_sandbox:
            manager, was_running = _sandbox(target, console)
            _start_sandbox(manager, was_running, console)
        cmd = pytest_command(sys.executable, suite, target_file, paths, repeat=repeat,
                             rate=rate, profile=profile, keyword=keyword,
                             stop_when=stop_when, force=force)
        console.print(f"[dim]$ {escape(shlex.join(cmd))}[/]")
        ledger_for(target)  # pytest is recorded beside the target's ledger, as it records its own
        rc = _run_pytest(cmd, lambda m: err_console.print(f"[yellow]{escape(m)}[/]"))
        still_open = _revert_leftovers(target, console)
        try:
            results = load_results(paths.results) if paths.results.exists() else None
        except ValueError as exc:
            raise Inconclusive(f"{paths.results}: {exc}") from exc
        decision = suite_verdict(results, rc, still_open)
        if results is not None and results.gamedays:
            _print_table(list(results.gamedays), console)
        decided = results or GameDayResults.of(())
        report_code = 0
        if paths.allure_results.exists():
            history = _record(decided, paths, target,
                              Path(history_file) if history_file else None, label, console)
            report_code = _reports(decided, paths, target, single_file, console, history)
        code = _final(decision, report_code, console)
    finally:
        if manager is not None and not was_running and not keep_sandbox:
            console.print("stopping the sandbox this run started (--keep-sandbox keeps it)")
            manager.down()
    click.get_current_context().exit(code)
