"""``chaosgate gameday`` end to end, on a sandbox of its own that the command starts.

The sandbox lives on base port ``CHAOSGATE_TEST_GAMEDAY_BASE_PORT`` (default
``CHAOSGATE_TEST_BASE_PORT + 100``, so that it never meets the session
sandbox) in a temporary state directory, described by a generated target
file; nothing may run there before the command. The
suite is written here: a network partition that passes and a latency game
day whose own check must fail, each run twice (``--repeat 2``). Expected:
exit code 1, the verdict table, JUnit XML, the results JSON, the summary and
the Allure HTML under ``--reports-dir``, and the sandbox down again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaosgate.report.history import load_runs
from chaosgate.report.model import load_gameday_results
from chaosgate.sandbox.manager import SandboxManager, leftover_processes
from chaosgate.sandbox.topology import Topology, build_topology
from chaosgate.targets import dump_target, render_sandbox_target

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SESSION_BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))  # as conftest.py
BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_GAMEDAY_BASE_PORT", str(SESSION_BASE_PORT + 100)))

PARTITION = '''
import pytest
from chaosgate.gameday import GameDayConfig

@pytest.mark.gameday
@pytest.mark.fault("partition")
def test_partition(gameday):
    gameday(GameDayConfig(name="short partition", warmup=8, observe=15,
                          fault={"kind": "partition", "selector": "app=orders",
                                 "dependency": "postgres", "duration": 4}),
            feature="network partition", story="orders recovers")
'''
TOO_SLOW = '''
import pytest
from chaosgate.gameday import GameDayConfig
from chaosgate.gameday.checks import latency_stays_within

@pytest.mark.gameday
def test_too_slow(gameday):
    gameday(GameDayConfig(name="too slow", warmup=8, observe=15,
                          fault={"kind": "latency", "links": ["gateway-orders"],
                                 "latency_ms": 600, "duration": 8}),
            feature="latency", story="checkouts stay within 500 ms (they cannot)",
            checks=[latency_stays_within("/api/checkout", at_least_ms=550, at_most_ms=500)])
'''


@dataclass
class CliRun:
    proc: subprocess.CompletedProcess[str]
    reports: Path
    topo: Topology


@pytest.fixture(scope="module")
def cli_run() -> Iterator[CliRun]:
    work = Path(tempfile.mkdtemp(prefix="chaosgate-gameday-cli-"))
    work.chmod(0o755)  # PostgreSQL runs as postgres when the tests run as root
    topo = build_topology(work / "sandbox", BASE_PORT)
    target = work / "target.yaml"
    dump_target(render_sandbox_target(topo), target)
    suite = work / "suite"
    suite.mkdir()
    (suite / "test_partition.py").write_text(PARTITION)
    (suite / "test_too_slow.py").write_text(TOO_SLOW)
    reports = work / "reports"
    env = {**os.environ, "CHAOSGATE_LEDGER": str(work / "ledger.jsonl"), "COLUMNS": "200"}
    assert not SandboxManager(topo).running()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "chaosgate.cli", "gameday", "--target", str(target),
             "--suite", str(suite), "--repeat", "2", "--reports-dir", str(reports)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False)
        print(proc.stdout[-8000:], proc.stderr[-3000:])
        yield CliRun(proc, reports, topo)
    finally:
        SandboxManager(topo).down()  # only does something if the command failed to
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.timeout(1500)
def test_an_slo_violation_exits_1_with_the_verdict_table(cli_run: CliRun) -> None:
    out = cli_run.proc.stdout
    assert cli_run.proc.returncode == 1, out[-4000:]
    assert "starting the sandbox" in out
    assert "game-day verdicts" in out
    table = out[out.index("game-day verdicts"):]
    for cell in ("short partition", "too slow", "error budget", "2/2 pass", "(MTTR)", "fail"):
        assert cell in table
    assert "FAIL: an SLO was violated (exit 1)" in out
    assert "stopping the sandbox this run started" in out


def test_reports_are_written_under_the_reports_dir(cli_run: CliRun) -> None:
    reports = cli_run.reports
    results = {r.name: r for r in load_gameday_results(reports / "gameday.json")}
    short = results["short partition"]
    assert short.verdict == "pass", [  # which gate, if it ever fails on a busy machine
        (row.slo, row.value, row.objective, row.detail) for row in short.slos
        if row.verdict != "pass" and "reported" not in row.slo]
    assert results["too slow"].verdict == "fail"
    assert len(results["short partition"].ttr_repetitions) == 2
    assert results["short partition"].mttr_plot_png is not None
    junit = ET.parse(reports / "junit.xml").getroot()
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert set(cases) == {"test_partition", "test_too_slow"}
    failure = cases["test_too_slow"].find("failure")
    assert failure is not None and "SLOViolated" in (failure.get("message") or "")
    summary = (reports / "summary.html").read_text()
    assert "short partition" in summary and "over 2 repetitions" in summary
    assert 'src="data:image/png;base64,' in summary
    assert 'id="headline" data-verdict="fail"' in summary and summary.count('class="card"') == 2
    runs = load_runs(reports / "history.sqlite")  # the run was appended to the history
    assert [(r.verdict, sorted(g.name for g in r.gamedays)) for r in runs] == [
        ("fail", ["short partition", "too slow"])]
    assert f"history        {reports / 'history.sqlite'}" in cli_run.proc.stdout
    docs = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    slow = next(d for d in docs if d["name"] == "test_too_slow")
    assert slow["status"] == "failed"  # an SLO violated: failed, not broken
    reps = [s for s in slow["steps"] if s["name"].startswith("repetition")]
    assert [s["name"] for s in reps] == ["repetition 1 of 2", "repetition 2 of 2"]
    assert all(s["status"] in ("failed", "broken") for s in reps)
    assert {"load: start", "evaluate SLOs"} <= {c["name"] for c in reps[0]["steps"]}
    index = reports / "allure-report" / "index.html"
    assert index.is_file() and index.stat().st_size > 100_000  # single file, data inlined
    assert f"Allure report  {index}" in cli_run.proc.stdout


def test_the_sandbox_it_started_is_down_and_no_fault_is_left(cli_run: CliRun) -> None:
    assert not SandboxManager(cli_run.topo).running()
    assert leftover_processes(cli_run.topo) == []
    ledger = cli_run.reports.parent / "ledger.jsonl"
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    opened = {r["id"] for r in records if r["op"] == "open"}
    assert len(opened) == 4 and opened == {r["id"] for r in records if r["op"] == "reverted"}
