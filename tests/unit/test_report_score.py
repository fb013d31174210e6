"""The resilience score: from the gates that decided, recomputable by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.report.model import GameDayResult, SLORow, load_results
from chaosgate.report.score import WEIGHTS, gate_class, overall_score, score_gameday

RECORDED = Path(__file__).with_name("data") / "gameday-recorded.json"


def row(slo: str, verdict: str = "pass") -> SLORow:
    return SLORow(slo, "v", "o", verdict)  # type: ignore[arg-type]


def test_gate_classes() -> None:
    assert gate_class("time-to-recover (client)") == "recovery"
    assert gate_class("#2 time-to-recover (server)") == "recovery"
    assert gate_class("availability: error budget") == "error budget"
    assert gate_class("steady state before: browse-latency-p95") == "steady state"
    assert gate_class("orders circuit breaker opens during the fault") == "scenario check"
    assert gate_class("fault took hold") == "scenario check"
    assert gate_class("availability (reported, not gating)") is None
    assert gate_class("MTTR (mean)") is None


def test_a_score_by_hand() -> None:
    result = GameDayResult("x", "fail", slos=(
        row("time-to-recover (client)"), row("time-to-recover (server)", "fail"),
        row("availability: error budget"), row("steady state before: no server errors"),
        row("breaker opens", "inconclusive"),
        row("availability (reported, not gating)", "fail"), row("MTTR (mean)", "fail")))
    score = score_gameday(result)
    # earned: recovery 3 + budget 3 + steady 1 = 7; possible: 3+3+3+1+2 = 12
    assert (score.earned, score.possible) == (7, 12)
    assert score.score == pytest.approx(100 * 7 / 12)
    assert [g.weight for g in score.inputs] == [3, 3, 3, 1, 2]
    assert score_gameday(GameDayResult("empty", "inconclusive")).score is None


def test_the_recorded_run_and_the_overall_mean() -> None:
    results = load_results(RECORDED)
    scores = [score_gameday(g) for g in results.gamedays]
    assert [s.score for s in scores] == [100.0, 100.0, 100.0]  # every gate passed
    breaker = scores[1]
    assert breaker.possible == 8 * WEIGHTS["steady state"] + 2 * 3 + 2 * 3 + 3 * 2
    half = GameDayResult("y", "fail", slos=(row("time-to-recover (client)", "fail"),
                                            row("availability: error budget")))
    assert overall_score([*scores, score_gameday(half)]) == pytest.approx((300 + 50) / 4)
    assert overall_score([]) is None
