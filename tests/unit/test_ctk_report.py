"""A Chaos Toolkit journal as the reports see it: SLO rows, plot marks, the result. Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaosgate.ctk.report import SUITE, experiment_result, plot_marks, slo_rows
from chaosgate.slo.catalog import load_catalog
from chaosgate.verdict import exit_code

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "probes")


def estimate(t: float) -> dict[str, float]:
    return {"t": t, "lo": t - 0.1, "hi": t + 0.1, "err": 0.1}


def journal(verdict: str = "fail") -> dict[str, Any]:
    client = {"observer": "client", "t_inject": 100.0, "t_end": 140.0,
              "t_impact": estimate(100.2), "t_detect": estimate(101.0),
              "t_recover": estimate(106.0), "ttr": estimate(5.8),
              "ttr_from_inject": estimate(6.0)}
    return {
        "experiment": {"title": "Orders cut off", "description": "why", "tags": ["net"]},
        "start": "2026-01-01T00:00:00+00:00", "end": "2026-01-01T00:00:40+00:00",
        "run": [{"activity": {"name": "cut", "provider": {"module": "chaosgate.ctk.actions"}},
                 "status": "failed", "exception": ["FaultNotEffective: still up\n"]}],
        "chaosgate": {
            "verdict": verdict, "reasons": ["an SLO gate failed"],
            "steady_state": {"before": True, "after": False},
            "faults": [{"fault_id": "cg-1", "kind": "partition", "description": "cut",
                        "t_revert": 105.0}],
            "timeline": {"t_inject": 100.0, "client": client},
            "ttr": {"client": 5.8, "server": 6.1},
            "gates": [{"name": "time-to-recover (client)", "status": "fail", "value": "5.80 s",
                       "objective": "≤ 1 s", "detail": "over", "query": ""},
                      {"name": "time-to-recover (server)", "status": "fail", "value": "6.10 s",
                       "objective": "≤ 1 s", "detail": "over", "query": ""}],
            "verdicts": [{"slo": "availability", "type": "availability", "status": "fail",
                          "reason": "3 bad of 10", "observer": "server", "objective": 0.9999,
                          "value": 0.7, "total": 10, "query": {"bad": "sum(b)", "total": "t"}}],
        },
    }


def test_rows_explain_the_verdict_hypothesis_actions_gates_then_reported() -> None:
    rows = slo_rows(journal(), CATALOG)
    names = [r.slo for r in rows]
    assert names == ["steady-state hypothesis before the method",
                     "steady-state hypothesis after the method", "action",
                     "time-to-recover (client)", "time-to-recover (server)",
                     "availability (server, reported)"]
    assert [r.verdict for r in rows] == ["pass", "fail", "inconclusive", "fail", "fail", "fail"]
    assert rows[3].promql == ""  # the request log needs no PromQL
    assert 'haproxy_frontend_http_requests_total{proxy="ingress"}' in rows[4].promql
    assert rows[2].detail == "cut: FaultNotEffective: still up"
    reported = rows[-1]
    assert reported.value == "70.0000 % good of 10" and reported.objective == "≥ 99.99 %"
    assert "bad: sum(b)" in reported.promql


def test_plot_marks_come_from_the_request_log_timeline() -> None:
    marks = plot_marks(journal()["chaosgate"], CATALOG)
    assert marks is not None
    assert (marks.t_inject, marks.t_revert, marks.t_impact, marks.t_recover, marks.ttr_s) == (
        100.0, 105.0, 100.2, 106.0, 5.8)
    assert marks.latency_threshold_ms == 500.0  # checkout's p95, the first latency SLO


def test_no_fault_no_plot() -> None:
    assert plot_marks({"timeline": {"t_inject": None}}, CATALOG) is None


@pytest.mark.parametrize("verdict", ["pass", "fail", "inconclusive"])
def test_the_result_carries_the_runs_verdict_and_ttr(verdict: str) -> None:
    j = journal(verdict)
    result = experiment_result(j, slo_rows(j, CATALOG), plot_png=b"png")
    assert result.verdict == verdict and exit_code(result.verdict) == {
        "pass": 0, "fail": 1, "inconclusive": 3}[verdict]
    assert result.name == "Orders cut off" and result.suite == SUITE
    assert result.ttr_s == 5.8 and result.ttr_from_inject_s == 6.0
    assert result.fault == "partition" and "cg-1" in result.description
    assert result.duration_s == 40.0
    assert ("tag", "net") in result.labels and result.message == "an SLO gate failed"
