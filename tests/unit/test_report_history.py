"""The history store and its trends, from recorded game-day results (no sandbox).

``data/gameday-recorded.json`` is the results file of a real ``chaosgate
gameday`` run (three of its game days, plots left out). Two runs are made
from it (the second with other TTRs and one game day failing) and
appended to a store, as two ``chaosgate gameday`` runs would.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.report.history import (
    EXPORT_COLUMNS,
    allure_history_points,
    append_run,
    export_rows,
    load_runs,
    trends,
)
from chaosgate.report.model import GameDayResults, load_results

RECORDED = Path(__file__).with_name("data") / "gameday-recorded.json"


def _second_run(first: GameDayResults) -> GameDayResults:
    """The recorded run again, a release later: recovery slower, the failover failing."""
    gamedays = []
    for g in first.gamedays:
        if g.name == "database failover":
            g = replace(g, verdict="fail", ttr_s=41.0, ttr_bounds=(40.5, 41.5),
                        message="time-to-recover (client): 41.0 s (objective ≤ 30 s)",
                        slos=tuple(replace(r, verdict="fail", value="41.00 s")
                                   if r.slo.startswith("time-to-recover") else r
                                   for r in g.slos))
        elif g.ttr_s:
            g = replace(g, ttr_s=g.ttr_s + 2.0)
        gamedays.append(g)
    return GameDayResults.of(gamedays)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "deep" / "history.sqlite"
    first = load_results(RECORDED)
    append_run(path, first, target="sandbox", version="0.1.0", revision="abc1234",
               recorded_at=1_800_000_000.0, allure_history_ids={
                   g.allure_uuid or "": f"case{i}.params" for i, g in enumerate(first.gamedays)})
    append_run(path, _second_run(first), target="sandbox", version="0.1.0",
               revision="def5678", label="release 2", recorded_at=1_800_086_400.0)
    append_run(path, first, target="elsewhere", version="0.1.0", recorded_at=1_800_090_000.0)
    return path


def test_a_run_records_what_the_issue_lists(store: Path) -> None:
    runs = load_runs(store, target="sandbox")
    assert [r.name for r in runs] == ["abc1234", "release 2"]
    assert [r.verdict for r in runs] == ["pass", "fail"]
    assert runs[0].chaosgate_version == "0.1.0" and runs[0].target == "sandbox"
    failover = runs[0].gameday("database failover")
    assert failover is not None and failover.verdict == "pass"
    assert failover.ttr_s == pytest.approx(10.682, abs=1e-3)
    assert failover.ttd_s is None and failover.rpo_s is None  # not measured: NULL, not 0
    assert failover.allure_history_id == "case2.params"
    assert runs[0].score == 100.0 and runs[1].score is not None and runs[1].score < 100.0
    with sqlite3.connect(store) as conn:  # the columns are there for a dashboard to read
        columns = {row[1] for row in conn.execute("PRAGMA table_info(gamedays)")}
    assert {"ttr_client_s", "ttr_server_s", "ttd_s", "budget_burn", "rpo_s"} <= columns


def test_two_runs_give_two_points_per_game_day(store: Path) -> None:
    rows = trends(load_runs(store, target="sandbox"))
    assert [t.gameday for t in rows] == ["baseline", "circuit breaker", "database failover"]
    assert all(len(t.points) == 2 for t in rows)
    failover = rows[2]
    assert [v for _, v, _ in failover.points] == pytest.approx([10.682, 41.0], abs=1e-3)
    assert failover.change_s == pytest.approx(41.0 - 10.682, abs=1e-3)
    assert failover.pass_rate == 0.5 and failover.previous_verdict == "pass"
    assert failover.mttr == pytest.approx((10.682 + 41.0) / 2, abs=1e-3)
    assert failover.mttr_ci is not None
    assert failover.mttr_ci[0] <= failover.mttr <= failover.mttr_ci[1]
    assert load_runs(store, target="sandbox", last=1)[0].name == "release 2"


def test_export_gives_mttr_over_time(store: Path) -> None:
    rows = export_rows(load_runs(store, target="sandbox"))
    failover = [r for r in rows if r["gameday"] == "database failover"]
    assert [r["runs"] for r in failover] == [1, 2]
    assert failover[0]["mttr_s"] == pytest.approx(10.682, abs=1e-3)
    assert failover[1]["mttr_s"] == pytest.approx((10.682 + 41.0) / 2, abs=1e-3)
    assert failover[1]["recorded_at"] == "2027-01-16T08:00:00+00:00"
    assert all(list(r) == list(EXPORT_COLUMNS) for r in rows)


def test_cli_exports_json_and_csv(store: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["report", "--history", "--format", "json",
                                "--history-file", str(store), "--target-name", "sandbox"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert len(doc) == 6 and {r["gameday"] for r in doc} == {
        "baseline", "circuit breaker", "database failover"}
    done = runner.invoke(app, ["report", "--history", "--format", "csv",
                                "--history-file", str(store), "--target-name", "sandbox"])
    assert done.exit_code == 0, done.output
    table = list(csv.DictReader(io.StringIO(done.output)))
    assert len(table) == 6 and table[-1]["mttr_s"] and table[-1]["label"] == "release 2"
    # the default is the latest run's target: the one run of "elsewhere"
    done = runner.invoke(app, ["report", "--history", "--format", "json",
                                "--history-file", str(store)])
    assert {r["target"] for r in json.loads(done.output)} == {"elsewhere"}
    done = runner.invoke(app, ["report", "--history", "--history-file", str(store),
                                "--target-name", "sandbox"])
    assert done.exit_code == 0 and "database failover" in done.output
    assert "pass → fail" in done.output and "percentile bootstrap" in done.output


def test_a_file_that_is_not_a_history_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_text("not a database, just text that is long enough to be read as a header")
    done = CliRunner().invoke(app, ["report", "--history", "--history-file", str(bad)])
    assert done.exit_code == 2 and "--history-file" in done.output
    assert "Traceback" not in done.output
    assert load_runs(tmp_path / "missing.sqlite") == []


def test_allure_history_points(store: Path) -> None:
    points = allure_history_points(load_runs(store, target="sandbox"))
    assert len(points) == 1  # the second run has no Allure history ids: left out
    point = points[0]
    assert point["name"] == "abc1234" and point["timestamp"] == 1_800_000_000_000
    assert sorted(point["testResults"]) == ["case0.params", "case1.params", "case2.params"]
    assert point["knownTestCaseIds"] == ["case0", "case1", "case2"]
    assert {t["status"] for t in point["testResults"].values()} == {"passed"}
