"""Game-day results, scenario checks and the gameday command's decisions, with plain data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaosgate.faults import AppliedFault, FaultRun, Ledger
from chaosgate.faults.timeline import FaultTimeline
from chaosgate.gameday import GameDayConfig, GameDayRun, Gate
from chaosgate.gameday.checks import (
    breaker_open_gate,
    fail_fast_gate,
    fault_window,
    latency_band_gates,
    routes_succeed_gate,
)
from chaosgate.gameday.engine import apply_checks
from chaosgate.gameday.results import build_result, failure_message, journal, marks_of, ttr_of
from chaosgate.gameday.suite import (
    ReportPaths,
    pytest_command,
    reported_rows,
    suite_verdict,
    verdict_rows,
)
from chaosgate.load.requestlog import RequestRecord
from chaosgate.platforms.base import Change, ProbeResult
from chaosgate.report.model import GameDayResult, GameDayResults, SLORow
from chaosgate.sandbox.topology import build_topology
from chaosgate.slo.catalog import load_catalog
from chaosgate.slo.evaluate import SLOVerdict
from chaosgate.slo.measure import Measurement
from chaosgate.slo.timeline import Estimate, Timeline
from chaosgate.targets import parse_target, render_sandbox_target

PROBES = Path(__file__).resolve().parents[2] / "probes"
T0 = 1_763_700_000.0
PARTITION = {"kind": "partition", "selector": "app=orders", "dependency": "postgres",
             "duration": 10}


def est(t: float, err: float = 0.01) -> Estimate:
    return Estimate(t, t - err, t + err)


def req(t: float, ms: float = 10.0, name: str = "/api/checkout",
        status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, ms=ms, name=name, method="GET", ok=status < 400, status=status,
                         error=None if status < 400 else f"http_{status}")


def make_run(tmp_path: Path, *, gates: list[Gate], ttr: float | None = 10.0,
             fault: bool = True, fault_error: str = "",
             records: list[RequestRecord] | None = None) -> GameDayRun:
    target = parse_target(render_sandbox_target(build_topology(tmp_path / "state", 29700)))
    run = GameDayRun(GameDayConfig(name="partition", fault=PARTITION if fault else None),
                     target, gates=list(gates), started=T0 - 10, stopped=T0 + 40)
    run._records = records or []
    impact = est(T0 + 0.1) if ttr is not None else None
    recover = est(T0 + 0.1 + ttr) if ttr is not None else None
    client = Timeline("client", T0, T0 + 30, impact, None, recover, bad=80 if ttr else 0,
                      total=1200)
    run.measurement = Measurement("time-to-recover", client, None)
    run.reported = [SLOVerdict("availability", "availability", "fail", "89 bad of 1369",
                               "server", 0.9999, value=0.935,
                               query={"bad": "sum(bad)", "total": "sum(total)"})]
    if fault:
        tl = FaultTimeline("cg-1", "partition", "cut", t_inject=T0, t_revert=T0 + 10)
        applied = AppliedFault(Change("partition", "sandbox", "cg-1", "cut"), None,  # type: ignore[arg-type]
                               Ledger(tmp_path / "ledger.jsonl"), tl)
        run.fault_run = FaultRun(applied, ProbeResult(True, "cut"), ProbeResult(True, "healed"))
    run.fault_error = fault_error
    return run


PASSING = [Gate("steady state before: no server errors", "pass", "0 errors", "0 errors", ""),
           Gate("steady state after: no server errors", "pass", "0 errors", "0 errors", ""),
           Gate("time-to-recover (client)", "pass", "10.00 s", "≤ 30 s", "within"),
           Gate("time-to-recover (server)", "pass", "10.20 s", "≤ 30 s", "within")]


def test_rows_are_every_gate_then_the_reported_verdicts_with_their_promql(
        tmp_path: Path) -> None:
    catalog = load_catalog(PROBES)
    run = make_run(tmp_path, gates=PASSING)
    result = build_result("partition", [run], catalog)
    names = [r.slo for r in result.slos]
    assert names[:4] == [g.name for g in PASSING]
    assert names[4] == "availability (reported, not gating)"
    reported = result.slos[4]
    assert reported.verdict == "fail" and reported.value == "93.5000 % good"
    assert reported.promql == "bad: sum(bad)\ntotal: sum(total)"
    server = result.slos[3]  # the server-side TTR shows the raw selectors it read
    assert "haproxy_frontend_http_responses_total" in server.promql
    assert result.verdict == "pass" and result.message == ""
    assert result.ttr_s == pytest.approx(10.0)
    assert result.fault.startswith("partition (")


def test_a_failed_gate_fails_the_game_day_and_says_why(tmp_path: Path) -> None:
    gates = [*PASSING, Gate("availability: error budget", "fail", "14.2%", "≤ 10%", "burned")]
    result = build_result("x", [make_run(tmp_path, gates=gates)], load_catalog(PROBES))
    assert result.verdict == "fail"
    assert result.message == "availability: error budget: 14.2% (objective ≤ 10%)"


def test_a_fault_that_did_not_hold_is_inconclusive(tmp_path: Path) -> None:
    run = make_run(tmp_path, gates=PASSING, fault_error="partition did not take hold")
    result = build_result("x", [run], load_catalog(PROBES))
    assert result.verdict == "inconclusive"
    assert result.slos[0].slo == "fault took hold" and result.slos[0].verdict == "inconclusive"
    assert result.message == "partition did not take hold"


def test_no_impact_is_a_ttr_of_zero_but_a_baseline_has_none(tmp_path: Path) -> None:
    assert ttr_of(make_run(tmp_path, gates=PASSING, ttr=None)) == 0.0
    assert ttr_of(make_run(tmp_path, gates=PASSING, ttr=None, fault=False)) is None


def test_repetitions_give_mttr_rows_and_prefixed_rows(tmp_path: Path) -> None:
    runs = [make_run(tmp_path, gates=PASSING, ttr=t) for t in (9.0, 11.0, 10.0)]
    result = build_result("x", runs, load_catalog(PROBES), mttr_plot_png=b"png")
    assert result.ttr_repetitions == pytest.approx((9.0, 11.0, 10.0))
    assert result.ttr_s == pytest.approx(10.0)
    mean, median = result.slos[0], result.slos[1]
    assert mean.slo == "MTTR (mean)" and mean.value.startswith("10.00 s [")
    assert median.slo == "MTTR (median)" and mean.verdict == "pass"
    assert "#3 time-to-recover (client)" in [r.slo for r in result.slos]
    rows = verdict_rows([result])
    assert ("x", "time-to-recover (client)", "3/3 pass", "≤ 30 s", "10.0 s (MTTR)",
            "pass") in rows
    assert ("x", "steady state (before and after)", "6/6 pass", "0 errors", "10.0 s (MTTR)",
            "pass") in rows
    assert not any("reported" in r[1] for r in rows)
    reported = reported_rows([result])  # the catalogue's verdicts, printed apart
    assert reported and all(r[0] == "x" and "reported" not in r[1] for r in reported)
    assert {r[1] for r in reported} == {r.slo.removesuffix(" (reported, not gating)")
                                        for r in result.slos if r.slo.endswith("not gating)")}


def test_the_figures_the_history_records(tmp_path: Path) -> None:
    gates = [*PASSING, Gate("availability: error budget", "pass", "0.75%", "≤ 10%", "",
                            measure=0.0075),
             Gate("checkout-error-ratio: error budget", "pass", "2.00%", "≤ 10%", "",
                  measure=0.02)]
    run = make_run(tmp_path, gates=gates, ttr=10.0)
    result = build_result("x", [run], load_catalog(PROBES))
    assert result.ttr_bounds == pytest.approx((9.98, 10.02))  # the request log's bounds
    assert result.ttr_client_s == pytest.approx(10.0) and result.ttr_server_s is None
    assert result.budget_burn == pytest.approx(0.02)  # the largest burn
    assert result.ttd_s is None and result.rpo_s is None  # no alert fired; not measured
    assert run.measurement is not None and run.measurement.client is not None
    run.measurement = replace(run.measurement, client=replace(
        run.measurement.client, t_alert=est(T0 + 3.1)))
    assert build_result("x", [run], load_catalog(PROBES)).ttd_s == pytest.approx(3.0)
    runs = [make_run(tmp_path, gates=PASSING, ttr=t) for t in (9.0, 11.0)]
    repeated = build_result("x", runs, load_catalog(PROBES))
    assert repeated.ttr_bounds is not None  # the bootstrap interval of the mean
    assert repeated.ttr_bounds[0] <= 10.0 <= repeated.ttr_bounds[1]
    assert repeated.ttr_client_s == pytest.approx(10.0) and repeated.budget_burn is None


def test_marks_and_journal(tmp_path: Path) -> None:
    catalog = load_catalog(PROBES)
    run = make_run(tmp_path, gates=PASSING)
    marks = marks_of(run, catalog)
    assert marks is not None and marks.t_revert == T0 + 10 and marks.ttr_s == pytest.approx(10)
    assert marks.latency_threshold_ms == 500  # the checkout SLO, first latency SLO recovered
    doc = journal(run, ledger_entry={"id": "cg-1", "state": "reverted"})
    assert doc["verdict"] == "pass" and doc["fault"]["fault_id"] == "cg-1"
    assert doc["ledger"]["state"] == "reverted" and doc["config"]["hold_s"] == 10.0


def test_apply_checks_adds_gates_and_a_broken_check_is_inconclusive(tmp_path: Path) -> None:
    run = make_run(tmp_path, gates=PASSING)

    def fine(_run: GameDayRun) -> list[Gate]:
        return [Gate("breaker opens", "pass", "2 of 2", "open", "")]

    def broken_check(_run: GameDayRun) -> list[Gate]:
        raise ConnectionError("prometheus down")

    added = apply_checks(run, [fine, broken_check])
    assert [g.status for g in added] == ["pass", "inconclusive"]
    assert added[1].name == "broken check" and "prometheus down" in added[1].detail
    assert run.gates[-2:] == added


def test_checks_on_the_fault_window() -> None:
    browse = [req(T0 + i / 10, name="/api/products") for i in range(30)]
    assert routes_succeed_gate("c", browse, ["/api/products"], T0, T0 + 10).status == "pass"
    broken = [*browse, req(T0 + 5, name="/api/products", status=502)]
    gate = routes_succeed_gate("c", broken, ["/api/products"], T0, T0 + 10)
    assert gate.status == "fail" and gate.value == "30/31 ok" and "502" in gate.detail
    assert routes_succeed_gate("c", browse[:5], ["/api/products"], T0, T0 + 10).status \
        == "inconclusive"
    fast = [req(T0 + i / 10, ms=8.0, status=503) for i in range(40)]
    assert fail_fast_gate("f", fast, "/api/checkout", T0, T0 + 10, limit_ms=100).status == "pass"
    slow = fast + [req(T0 + 5 + i / 10, ms=2500.0, status=503) for i in range(5)]
    gate = fail_fast_gate("f", slow, "/api/checkout", T0, T0 + 10, limit_ms=100)
    assert gate.status == "fail" and gate.value == "2500.0 ms"  # 5 of 45 is over 5 %
    assert fail_fast_gate("f", [], "/api/checkout", T0, T0 + 10, limit_ms=100).status \
        == "inconclusive"


def test_latency_band_separates_an_invisible_fault_from_a_violation() -> None:
    def band(ms: float) -> list[str]:
        records = [req(T0 + i / 10, ms=ms) for i in range(30)]
        gates = latency_band_gates(records, "/api/checkout", T0, T0 + 10, at_least_ms=180,
                                   at_most_ms=500)
        return [g.status for g in gates]

    assert band(230) == ["pass", "pass"]
    assert band(12) == ["inconclusive", "pass"]
    assert band(720) == ["pass", "fail"]


def test_breaker_gate_needs_every_replica_open() -> None:
    both = {"orders-0": [(T0 + 1.5, 2.0)], "orders-1": [(T0 - 1, 0.0), (T0 + 2.5, 2.0)]}
    assert breaker_open_gate("b", both, T0, T0 + 11).status == "pass"
    one = {"orders-0": [(T0 + 1.5, 2.0)], "orders-1": [(T0 + 1.5, 1.0)]}
    gate = breaker_open_gate("b", one, T0, T0 + 11)
    assert gate.status == "fail" and "never open: orders-1" in gate.detail
    assert breaker_open_gate("b", {}, T0, T0 + 11).status == "inconclusive"


def test_fault_window_without_a_fault_is_inconclusive(tmp_path: Path) -> None:
    from chaosgate.exceptions import Inconclusive

    assert fault_window(make_run(tmp_path, gates=[])) == (T0, T0 + 10)
    with pytest.raises(Inconclusive):
        fault_window(make_run(tmp_path, gates=[], fault=False))


def result(verdict: Any) -> GameDayResult:
    return GameDayResult("g", verdict, slos=(SLORow("s", "v", "o", verdict),))


@pytest.mark.parametrize(("verdicts", "rc", "code"), [
    (["pass", "pass"], 0, 0),
    (["pass", "fail"], 1, 1),
    (["inconclusive", "fail"], 1, 1),
    (["pass", "inconclusive"], 1, 3),
    (["pass"], 1, 3),  # pytest failed something that recorded no verdict: never a pass
    ([], 1, 3),
    ([], 5, 2),  # nothing collected (-k matched nothing)
    ([], 4, 2),
    (["pass"], 130, 130),
    (["fail"], 143, 143),
])
def test_exit_codes(verdicts: list[str], rc: int, code: int) -> None:
    assert suite_verdict(GameDayResults.of([result(v) for v in verdicts]), rc).exit_code == code


def test_the_command_reads_the_sessions_verdict_and_adds_what_only_it_knows() -> None:
    # the verdict the pytest session recorded is read, not decided again from its game days
    recorded = GameDayResults((result("pass"),), "inconclusive")
    assert suite_verdict(recorded, 0).verdict == "inconclusive"
    ok = GameDayResults.of([result("pass")])
    decision = suite_verdict(ok, 0)
    assert (decision.verdict, decision.exit_code) == ("pass", 0)
    assert decision.reason == "every game day kept its SLOs"
    decision = suite_verdict(ok, 0, ["cg-0123456789"])  # a fault the ledger still lists
    assert (decision.verdict, decision.exit_code) == ("inconclusive", 3)
    assert "cg-0123456789 is still open" in decision.reason
    decision = suite_verdict(GameDayResults.of([result("fail")]), 1, ["cg-0123456789"])
    assert (decision.verdict, decision.reason) == ("fail", "an SLO was violated")
    assert suite_verdict(ok, 1).reason.startswith("pytest exit code 1: ")
    assert suite_verdict(None, 1).reason.startswith("no game day recorded a verdict")
    assert suite_verdict(None, 0).exit_code == 3  # no data is never a pass
    decision = suite_verdict(GameDayResults.of([result("pass")]), 143)
    assert (decision.verdict, decision.exit_code) == ("inconclusive", 143)  # never a pass
    assert decision.reason.startswith("interrupted by SIGTERM: ")
    decision = suite_verdict(None, 130)
    assert (decision.verdict, decision.exit_code) == ("inconclusive", 130)
    assert decision.reason.startswith("interrupted by SIGINT: ")


def test_pytest_command(tmp_path: Path) -> None:
    paths = ReportPaths(tmp_path)
    cmd = pytest_command("py", "scenarios", "t.yaml", paths, repeat=3, rate=25.0,
                         keyword="baseline")
    assert cmd[:4] == ["py", "-m", "pytest", "scenarios"]
    joined = " ".join(cmd)
    for part in ("-p no:locust", "--chaos-target t.yaml", f"--alluredir {paths.allure_results}",
                 f"--junitxml {paths.junit}", f"--chaos-results {paths.results}",
                 "--chaos-repeat 3", "--chaos-rate 25", "-k baseline"):
        assert part in joined
    assert failure_message([], "pass") == ""


def test_measured_slos_read_in_their_own_units_gating_or_reported(tmp_path: Path) -> None:
    import shutil

    from chaosgate.gameday.evaluation import verdict_gate
    from chaosgate.report.score import score_gameday
    from chaosgate.slo.evaluate import throughput_verdict

    folder = tmp_path / "probes"
    folder.mkdir()
    shutil.copy(PROBES / "shop.yaml", folder)
    shutil.copy(Path(__file__).parent / "data" / "measured_slos.yaml", folder)
    catalog = load_catalog(folder)
    rate = throughput_verdict(catalog.get("throughput"), 72000, 600.0)
    run = make_run(tmp_path, gates=[*PASSING, verdict_gate(catalog.get("throughput"), rate)])
    run.reported = [SLOVerdict("ingest-latency-mean", "mean_latency", "inconclusive",
                               "not yet provable", "server", 0.2, value=0.0123, total=12)]
    result = build_result("baseline", [run], catalog)
    rows = {r.slo: r for r in result.slos}
    gate = rows["throughput (server observer)"]
    assert (gate.value, gate.objective, gate.verdict) == ("120 /s", "≥ 116 /s", "pass")
    reported = rows["ingest-latency-mean (reported, not gating)"]
    assert (reported.value, reported.objective) == ("mean 12.3 ms", "mean ≤ 200 ms")
    assert score_gameday(result).inputs[-1].kind == "scenario check"
