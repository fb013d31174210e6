"""``chaosgate gameday`` without a sandbox: usage errors, and signals passed on to pytest.

The end-to-end run (sandbox, game days, reports) is
tests/integration/test_gameday_cli.py.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from chaosgate.cli import app
from chaosgate.cli.gameday import _reports, _run_pytest
from chaosgate.clients import allure as allure_client
from chaosgate.gameday.suite import ReportPaths
from chaosgate.report.model import GameDayResults
from chaosgate.targets import load_target

CHILD = """
import signal, sys, time
from pathlib import Path

def stop(signum, frame):  # as a game day does: revert (takes a moment), then exit
    with open(sys.argv[1], "a") as out:
        out.write(signal.Signals(signum).name)
    time.sleep(1.0)
    sys.exit(128 + signum)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
Path(sys.argv[1] + ".ready").touch()
time.sleep(60)
"""


def test_a_missing_target_or_suite_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["gameday", "--target", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output
    target = Path(__file__).resolve().parents[2] / "targets" / "sandbox.yaml"
    result = runner.invoke(app, ["gameday", "--target", str(target), "--suite",
                                 str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no such folder or file" in result.output


def test_sigterm_is_passed_on_once_and_gives_143(tmp_path: Path) -> None:
    seen = tmp_path / "seen"

    def send_twice() -> None:
        deadline = time.monotonic() + 30
        while not Path(f"{seen}.ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # a second signal is not passed on

    messages: list[str] = []
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    sender = threading.Thread(target=send_twice)
    sender.start()
    rc = _run_pytest([sys.executable, "-c", CHILD, str(seen)], messages.append)
    sender.join()
    assert rc == 143
    assert seen.read_text() == "SIGTERM"
    assert len(messages) == 1 and messages[0].startswith("SIGTERM")
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_without_the_allure_generator_the_report_is_skipped_not_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package without npm: the verdict's exit code stands, the summary is
    written; a CHAOSGATE_ALLURE that names no generator is still the user's error (2)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(allure_client.ALLURE_ENV, raising=False)
    monkeypatch.setattr(allure_client, "_PACKAGE_ROOT", tmp_path)
    target = load_target(Path(__file__).resolve().parents[2] / "targets" / "sandbox.yaml")
    paths = ReportPaths(tmp_path / "reports")
    out = io.StringIO()
    code = _reports(GameDayResults.of(()), paths, target, True, Console(file=out, width=400))
    assert code == 0
    assert "Allure report skipped" in out.getvalue() and paths.summary.is_file()
    monkeypatch.setenv(allure_client.ALLURE_ENV, str(tmp_path / "missing"))
    out = io.StringIO()
    code = _reports(GameDayResults.of(()), paths, target, True, Console(file=out, width=400))
    assert code == 2 and "Allure report not built" in out.getvalue()


def test_every_run_is_appended_to_the_history(tmp_path: Path) -> None:
    """The run, its label and its Allure history ids go to <reports>/history.sqlite; a store
    that cannot be written is noted and the run goes on (no history, no exit code)."""
    from chaosgate.cli.gameday import _record
    from chaosgate.report.allure_results import AllureResultsWriter, TestResult
    from chaosgate.report.model import GameDayResult

    target = load_target(Path(__file__).resolve().parents[2] / "targets" / "sandbox.yaml")
    paths = ReportPaths(tmp_path / "reports")
    test = TestResult(name="pod kill", full_name="scenarios.test_pod_kill#test_pod_kill",
                      status="passed")
    AllureResultsWriter(paths.allure_results).write_result(test)
    results = GameDayResults.of([GameDayResult("pod kill", "pass", ttr_s=4.0,
                                               allure_uuid=test.uuid)])
    out = io.StringIO()
    for label in ("first", "second"):
        runs = _record(results, paths, target, None, label, Console(file=out, width=400))
    assert [r.name for r in runs] == ["first", "second"]
    assert (paths.root / "history.sqlite").is_file() and "2 run(s) of sandbox" in out.getvalue()
    point = runs[-1].gameday("pod kill")
    assert point is not None and point.ttr_s == 4.0 and point.allure_history_id
    assert runs[-1].target == "sandbox" and runs[-1].chaosgate_version
    elsewhere = replace(target, history=tmp_path / "kept" / "h.sqlite")  # the target's own
    assert len(_record(results, paths, elsewhere, None, None, Console(file=io.StringIO()))) == 1
    assert (tmp_path / "kept" / "h.sqlite").is_file()
    blocked = tmp_path / "file"
    blocked.write_text("")
    out = io.StringIO()
    assert _record(results, paths, target, blocked / "history.sqlite", None,
                   Console(file=out, width=400)) == []
    assert "history not recorded" in out.getvalue() and "--history-file" in out.getvalue()
