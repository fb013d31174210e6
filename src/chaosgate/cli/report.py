"""``chaosgate report``: build the Allure HTML report (and the summary page), or show the history.

Imports nothing heavy at module level: the whole command line loads this module.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import click

from ._common import console

__all__ = ["report"]


def _load_history(history_file: str, target_name: str | None, last: int) -> list[Any]:
    """The last runs of ``target_name`` (default: the target of the latest run), oldest first."""
    from ..exceptions import UsageError
    from ..report.history import load_runs

    try:
        if target_name is None:
            latest = load_runs(history_file, last=1)
            target_name = latest[0].target if latest else None
        return load_runs(history_file, target=target_name, last=last)
    except ValueError as exc:
        raise UsageError(f"--history-file {history_file}: {exc}. Fix: point --history-file at "
                         "the history.sqlite chaosgate gameday writes") from exc


def _print_history(runs: list[Any], fmt: str, history_file: str) -> None:
    """The history as a trend table (text), or one row per run and game day (JSON, CSV)."""
    from ..report.history import EXPORT_COLUMNS, MTTR_METHOD, change_text, export_rows, trends

    if fmt == "json":
        click.echo(json.dumps(export_rows(runs), indent=1))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(export_rows(runs))
        click.echo(out.getvalue(), nl=False)
        return
    from rich.table import Table

    if not runs:
        console.print(f"no run recorded in {history_file}")
        return
    table = Table(title=f"time to recover over the last {len(runs)} run(s) of {runs[-1].target}")
    for col in ("game day", "TTR per run (s)", "MTTR [95 %] (s)", "pass rate", "change"):
        table.add_column(col, overflow="fold")
    for t in trends(runs):
        ttrs = ", ".join("—" if v is None else f"{v:.1f}" for _, v, _ in t.points)
        mttr = "—" if t.mttr is None else f"{t.mttr:.1f}" + (
            f" [{t.mttr_ci[0]:.1f}, {t.mttr_ci[1]:.1f}]" if t.mttr_ci else "")
        table.add_row(t.gameday, ttrs, mttr, f"{t.pass_rate:.0%}", change_text(t))
    console.print(table)
    console.print("runs: " + ", ".join(f"{r.name} ({r.verdict})" for r in runs))
    console.print(f"[dim]{MTTR_METHOD}.[/]")


@click.command("report")
@click.option("--results", "results_dir", default="reports/allure-results", show_default=True,
              type=click.Path(file_okay=False), help="The allure-results directory to read.")
@click.option("--output", "output_dir", default="reports/allure-report", show_default=True,
              type=click.Path(file_okay=False), help="Where to write the HTML report.")
@click.option("--single-file", is_flag=True,
              help="One self-contained index.html (opens from disk; for stakeholders).")
@click.option("--name", "report_name", default="chaosgate game days", show_default=True,
              help="The report's title.")
@click.option("--gameday-data", default="reports/gameday.json", show_default=True,
              type=click.Path(dir_okay=False),
              help="Game-day results written by `chaosgate gameday`; when the file exists "
                   "the one-page summary is rebuilt from it.")
@click.option("--summary", "summary_path", default="reports/summary.html", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the one-page summary.")
@click.option("--history", "show_history", is_flag=True,
              help="Show the history instead of building reports: the trend table, or with "
                   "--format json|csv MTTR per game day over time, one row per run and game "
                   "day, on stdout.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True, help="With --history: how to print it.")
@click.option("--history-file", default="reports/history.sqlite", show_default=True,
              envvar="CHAOSGATE_HISTORY", type=click.Path(dir_okay=False),
              help="The history store `chaosgate gameday` appends to ($CHAOSGATE_HISTORY).")
@click.option("--last", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many recent runs the trends cover.")
@click.option("--target-name", default=None,
              help="Whose runs to show (default: the target of the latest run).")
def report(results_dir: str, output_dir: str, single_file: bool, report_name: str,
           gameday_data: str, summary_path: str, show_history: bool, fmt: str,
           history_file: str, last: int, target_name: str | None) -> None:
    """Build the Allure HTML report from allure results, and the one-page summary.

    The summary shows the trend over the last --last runs of the history
    store, and the Allure report's history widgets are fed from it (the
    latest recorded run being the one reported). With --history, nothing is
    built: the history is printed (--format text|json|csv).

    Exit codes: 0 built; 2 no results directory, the generator is not
    installed (run scripts/bootstrap) or the history file is not one; 3 no
    test results in the directory, or the generator failed (the previous
    report is kept).
    """
    from ..exceptions import UsageError

    runs = _load_history(history_file, target_name, last)
    if show_history:
        _print_history(runs, fmt, history_file)
        return
    if fmt != "text":
        raise UsageError(f"--format {fmt}: only with --history. Fix: add --history")
    from ..clients.allure import build_allure_html
    from ..report.history import allure_history_points
    from ..report.model import load_results
    from ..report.summary import write_summary

    index = build_allure_html(results_dir, output_dir, single_file=single_file,
                              report_name=report_name,
                              history=allure_history_points(runs[:-1]))
    console.print(f"Allure report  {index}")
    if Path(gameday_data).is_file():
        try:
            results = load_results(gameday_data)
        except (ValueError, OSError) as exc:
            raise UsageError(f"{gameday_data}: {exc}. Fix: re-run chaosgate gameday, "
                             f"or pass --gameday-data") from exc
        href = os.path.relpath(index, Path(summary_path).resolve().parent)
        page = write_summary(summary_path, results, allure_href=Path(href).as_posix(),
                             target=runs[-1].target if runs else "", history=runs)
        console.print(f"summary        {page}")
