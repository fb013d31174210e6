"""Verdicts, exit codes and the game-day results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.report.model import (
    GameDayResult,
    GameDayResults,
    SLORow,
    load_gameday_results,
    load_results,
    save_gameday_results,
)
from chaosgate.verdict import exit_code


def _r(verdict: str) -> GameDayResult:
    return GameDayResult(name=verdict, verdict=verdict)  # type: ignore[arg-type]


@pytest.mark.parametrize(("verdicts", "overall", "code"), [
    (["pass", "pass"], "pass", 0),
    (["pass", "fail"], "fail", 1),
    (["inconclusive", "fail"], "fail", 1),
    (["pass", "inconclusive"], "inconclusive", 3),
    ([], "inconclusive", 3),  # no data is never a pass
])
def test_overall_verdict_and_exit_code(verdicts: list[str], overall: str, code: int) -> None:
    got = GameDayResults.of([_r(v) for v in verdicts]).verdict
    assert got == overall
    assert exit_code(got) == code


def test_duration() -> None:
    assert GameDayResult("a", "pass", started=10.0, stopped=25.5).duration_s == 15.5
    assert GameDayResult("a", "pass").duration_s == 0.0


def test_results_file_round_trip(tmp_path: Path) -> None:
    results = [
        GameDayResult("pod kill", "fail", slos=(SLORow("p95", "870 ms", "<= 250 ms", "fail",
                                                      "histogram_quantile(...)"),),
                      ttr_s=12.5, plot_png=b"\x89PNG\0\1", ttr_repetitions=(1.0, None),
                      mttr_plot_png=b"\x89PNG", labels=(("tag", "db"),), started=1.0,
                      stopped=2.0, allure_uuid="u"),
        GameDayResult("baseline", "pass"),
    ]
    path = save_gameday_results(tmp_path / "gameday.json", results)
    assert load_gameday_results(path) == results


def test_results_file_carries_the_verdict_decided_where_the_game_days_ran(
        tmp_path: Path) -> None:
    results = [_r("pass"), _r("inconclusive")]
    path = save_gameday_results(tmp_path / "gameday.json", results)
    assert json.loads(path.read_text())["verdict"] == "inconclusive"
    assert load_results(path) == GameDayResults((_r("pass"), _r("inconclusive")), "inconclusive")
    # the reader takes the recorded verdict as decided, it does not decide again
    save_gameday_results(path, GameDayResults((_r("pass"),), "inconclusive"))
    assert load_results(path).verdict == "inconclusive"
    # a file written before the verdict was recorded: decided from its game days
    doc = json.loads(path.read_text())
    del doc["verdict"]
    path.write_text(json.dumps(doc))
    assert load_results(path).verdict == "pass"
    assert load_gameday_results(path) == [_r("pass")]


@pytest.mark.parametrize("text", ['{"version": 2}', "[]",
                                  '{"version": 1, "verdict": "ok", "gamedays": []}',
                                  '{"version": 1, "gamedays": [{"name": "a", "verdict": "ok"}]}',
                                  '{"version": 1, "gamedays": [{"nam": "a"}]}'])
def test_results_file_rejects_foreign_documents(tmp_path: Path, text: str) -> None:
    path = tmp_path / "g.json"
    path.write_text(text)
    with pytest.raises(ValueError):
        load_gameday_results(path)


def test_marks_from_an_slo_timeline() -> None:
    from chaosgate.report.model import marks_from_timeline
    from chaosgate.slo.timeline import Estimate, Timeline

    timeline = Timeline(observer="client", t_inject=100.0, t_end=160.0,
                        t_impact=Estimate(102.0, 101.9, 102.0), t_detect=None,
                        t_recover=Estimate(114.5, 114.4, 114.6))
    marks = marks_from_timeline(timeline, t_revert=110.0, latency_threshold_ms=250.0)
    assert (marks.t_inject, marks.t_revert, marks.t_impact, marks.t_detect, marks.t_recover) == (
        100.0, 110.0, 102.0, None, 114.5)
    assert marks.ttr_s == 12.5 and marks.latency_threshold_ms == 250.0
