"""``chaosgate report``: build the Allure HTML report (and the summary page).

Imports nothing heavy at module level: the whole command line loads this module.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._common import console

__all__ = ["report"]


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
def report(results_dir: str, output_dir: str, single_file: bool, report_name: str,
           gameday_data: str, summary_path: str) -> None:
    """Build the Allure HTML report from allure results, and the one-page summary.

    Exit codes: 0 built; 2 no results directory or the generator is not
    installed (run scripts/bootstrap); 3 no test results in the directory,
    or the generator failed (the previous report is kept).
    """
    from ..clients.allure import build_allure_html
    from ..exceptions import UsageError
    from ..report.model import load_results
    from ..report.summary import write_summary

    index = build_allure_html(results_dir, output_dir, single_file=single_file,
                              report_name=report_name)
    console.print(f"Allure report  {index}")
    if Path(gameday_data).is_file():
        try:
            results = load_results(gameday_data)
        except (ValueError, OSError) as exc:
            raise UsageError(f"{gameday_data}: {exc}. Fix: re-run chaosgate gameday, "
                             f"or pass --gameday-data") from exc
        href = os.path.relpath(index, Path(summary_path).resolve().parent)
        page = write_summary(summary_path, results, allure_href=Path(href).as_posix())
        console.print(f"summary        {page}")
