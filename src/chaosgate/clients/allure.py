"""The only module that runs the Allure report generator (the npm ``allure`` CLI, Allure 3).

The command is ``allure awesome <results> --output <dir> --report-name <name>
[--single-file]`` (Allure 3's report generator; ``allure generate`` has no
single-file flag). It is run from ``node_modules/.bin`` of the project (set
up by ``scripts/bootstrap`` with ``npm ci``), or from ``$CHAOSGATE_ALLURE``.

Categories: Allure 3 takes them from its configuration, not from a
``categories.json`` in the results (only its Allure 2 plugins read that), so
a generated ``allurerc.json`` carries the results' ``categories.json`` when
there is one, else chaosgate's defaults (SLO violated, Fault not effective,
Infrastructure). The generator runs in a scratch directory, so no stray
``allurerc.*`` of the working directory changes the report.

Atomic: the report is generated into a temporary directory next to the
destination and swapped in only when the generator succeeded and wrote an
``index.html``, so a failed build never replaces a good report. Errors
carry chaosgate's exit codes: a missing generator or results
directory is a usage error (2, with the fix); results without a single test
result are "no data" (3); a generator failure is inconclusive (3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import ChaosgateError, Inconclusive, UsageError
from ..report.allure_results import DEFAULT_CATEGORIES
from .children import release, spawn

__all__ = ["ALLURE_ENV", "build_allure_html", "find_allure_cli", "result_files"]

ALLURE_ENV = "CHAOSGATE_ALLURE"
_BIN = Path("node_modules") / ".bin" / "allure"
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the checkout, for an editable install


def find_allure_cli(start: Path | str | None = None) -> Path:
    """The ``allure`` executable: ``$CHAOSGATE_ALLURE``, else ``node_modules/.bin/allure``
    in ``start`` (default: the working directory) or a parent, else in the checkout
    chaosgate runs from. Raises :class:`UsageError` (exit 2) naming the fix."""
    override = os.environ.get(ALLURE_ENV)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise UsageError(f"{ALLURE_ENV}={override}: not an executable file. "
                         f"Fix: point it at node_modules/.bin/allure, or unset it")
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents, _PACKAGE_ROOT):
        candidate = folder / _BIN
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise UsageError(f"the Allure report generator is not installed ({_BIN} not found in "
                     f"{here} or its parents). Fix: run scripts/bootstrap in a chaosgate "
                     f"checkout (it installs the npm package 'allure' with npm ci); with "
                     f"chaosgate installed as a package, `npm install allure` here, or set "
                     f"{ALLURE_ENV} to its executable")


def result_files(results_dir: Path | str) -> list[Path]:
    """The ``*-result.json`` files of an allure-results directory, sorted."""
    return sorted(Path(results_dir).glob("*-result.json"))


def _check_results(results: Path) -> None:
    if not results.is_dir():
        raise UsageError(f"{results}: no such allure-results directory. Fix: run the game days "
                         f"first (chaosgate gameday, or pytest --alluredir {results}), "
                         f"or pass --results")
    if not result_files(results):
        raise Inconclusive(f"{results}: no test results in it (no *-result.json): nothing to "
                           f"report, and no data is never a pass")


def _categories(results: Path) -> list[Any]:
    """The results' categories.json when it is a valid list, else the defaults."""
    try:
        found = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = None
    if isinstance(found, list) and all(isinstance(c, dict) and c.get("name") for c in found):
        return found
    return [dict(c) for c in DEFAULT_CATEGORIES]


#: Declares a single-file report's data store before Allure's app script runs. Allure
#: 3.18 writes the app (``main.js``) before the inline data script; the app reads the
#: data from ``window.allureReportData`` only when that already exists when it asks,
#: else it fetches ``widgets/*.json`` beside the page, which a file opened from disk does
#: not have: on a busy machine the page then shows "Failed to fetch". With the store
#: declared first, the app waits for ``allureReportDataReady`` as it means to.
_DATA_FIRST = "<script>window.allureReportData = window.allureReportData || {};</script>"


def declare_data_first(html: str) -> str:
    """``html`` (a single-file report) with :data:`_DATA_FIRST` at the end of its head."""
    if _DATA_FIRST in html:
        return html
    head = html.find("</head>")
    if head < 0:
        raise ChaosgateError("allure wrote a single-file report without a </head>: cannot "
                             "make it load its data before its app")
    return html[:head] + _DATA_FIRST + "\n" + html[head:]


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _swap(fresh: Path, output: Path, parking: Path) -> None:
    """Replace ``output`` by ``fresh``; on failure put the previous report back."""
    had_previous = output.exists()
    if had_previous:
        output.rename(parking)
    try:
        fresh.rename(output)
    except OSError:
        if had_previous:
            parking.rename(output)
        raise


def build_allure_html(results_dir: Path | str, output_dir: Path | str, *,
                      single_file: bool = False, report_name: str = "chaosgate game days",
                      allure_cli: Path | str | None = None,
                      timeout_s: float = 600.0,
                      history: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Generate the report from ``results_dir`` into ``output_dir``; return its index.html.

    ``single_file`` makes one self-contained ``index.html`` (data and
    attachments inlined) that opens from disk or as an e-mail attachment;
    otherwise the report is a directory to serve over HTTP (browsers refuse
    to load its data files from ``file://``). ``history`` holds earlier runs
    as Allure 3 history data points (:func:`chaosgate.report.history.allure_history_points`):
    they are written to a scratch ``historyPath`` file with ``appendHistory``
    off, so the report's history and trend widgets show them and chaosgate's
    own history store stays the only record.
    """
    results = Path(results_dir).resolve()
    output = Path(output_dir).resolve()
    _check_results(results)
    cli = Path(allure_cli) if allure_cli is not None else find_allure_cli()
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    try:
        fresh = work / "report"
        config = work / "allurerc.json"
        rc: dict[str, Any] = {"categories": _categories(results)}
        if history:
            jsonl = work / "history.jsonl"
            jsonl.write_text("".join(json.dumps(p) + "\n" for p in history), encoding="utf-8")
            rc.update(historyPath=str(jsonl), appendHistory=False)
        config.write_text(json.dumps(rc), encoding="utf-8")
        cmd = [str(cli), "awesome", str(results), "--config", str(config),
               "--output", str(fresh), "--report-name", report_name]
        if single_file:
            cmd.append("--single-file")
        env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
        try:  # a child like any other: it dies with this process, even on a SIGKILL
            proc = spawn(cmd, role="Allure report generator", cwd=work, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError as exc:
            raise UsageError(f"cannot run {cli}: {exc.strerror} (is Node.js installed?). "
                             f"Fix: run scripts/bootstrap") from exc
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise ChaosgateError(f"allure did not finish within {timeout_s:g} s") from exc
        finally:
            release(proc.pid)
        index = fresh / "index.html"
        if proc.returncode != 0 or not index.is_file():
            text = err.decode(errors="replace") + "\n" + out.decode(errors="replace")
            raise ChaosgateError(
                f"allure failed (exit {proc.returncode}); the previous report is kept.\n"
                + _tail(text))
        if single_file:
            index.write_text(declare_data_first(index.read_text(encoding="utf-8")),
                             encoding="utf-8")
        _swap(fresh, output, work / "previous")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output / "index.html"
