"""The journal's chaosgate section and the verdict it imposes on ``chaos run``, with plain data."""

from __future__ import annotations

import copy
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaosgate.ctk.journal import (
    NO_FAULT_TTR,
    failed_actions,
    journal_exit_code,
    journal_verdict,
    section,
    steady_states,
    ttr_seconds,
)
from chaosgate.faults import FaultTimeline
from chaosgate.gameday import Evaluation, Gate, evaluate
from chaosgate.gameday.evaluation import fault_took_hold
from chaosgate.load.requestlog import RequestRecord
from chaosgate.sandbox.topology import build_topology
from chaosgate.slo.catalog import build_catalog
from chaosgate.slo.measure import measure
from chaosgate.slo.model import SLO
from chaosgate.targets import dump_target, load_target, render_sandbox_target
from chaosgate.verdict import exit_code

AVAIL = SLO(name="availability", type="availability", objective=0.99,
            query={"bad": "b[$window]", "total": "t[$window]"})
TTR = SLO(name="time-to-recover", type="recovery", objective=30.0, hold_down=2.0,
          of=("availability",))
CATALOG = build_catalog([AVAIL, TTR])


def journal(status: str = "completed", before: bool | None = True, after: bool | None = True,
            runs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    states = {phase: None if met is None else {"steady_state_met": met, "probes": []}
              for phase, met in (("before", before), ("after", after))}
    return {"status": status, "deviated": False, "steady_states": states, "run": runs or [],
            "rollbacks": [], "experiment": {"title": "t"}}


def action_run(module: str, status: str) -> dict[str, Any]:
    return {"activity": {"name": "cut", "type": "action",
                         "provider": {"type": "python", "module": module, "func": "f"}},
            "status": status, "exception": ["Traceback...\n", "FaultNotEffective: no\n"]}


def test_pass_leaves_the_journal_as_chaos_toolkit_wrote_it() -> None:
    j = journal()
    before = copy.deepcopy(j)
    verdict, reasons = journal_verdict(j, "pass")
    assert (verdict, reasons) == ("pass", [])
    assert j == before
    assert exit_code(verdict) == 0


def test_a_failed_gate_marks_the_run_deviated_so_chaos_run_exits_1() -> None:
    j = journal()
    verdict, reasons = journal_verdict(j, "fail")
    assert verdict == "fail" and j["deviated"] is True and j["status"] == "completed"
    assert exit_code(verdict) == 1 and reasons == ["an SLO gate failed"]


def test_inconclusive_is_never_a_silent_pass_it_marks_the_run_failed() -> None:
    j = journal()
    verdict, reasons = journal_verdict(j, "inconclusive")
    assert verdict == "inconclusive" and j["status"] == "failed" and not j["deviated"]
    assert exit_code(verdict) == 3
    assert reasons == ["the SLO gates are inconclusive"]


def test_a_failed_chaosgate_action_makes_the_run_inconclusive() -> None:
    j = journal(runs=[action_run("chaosgate.ctk.actions", "failed"),
                      action_run("someone.else", "failed")])
    assert failed_actions(j) == ["cut: FaultNotEffective: no"]
    verdict, reasons = journal_verdict(j, "pass")
    assert verdict == "inconclusive" and j["status"] == "failed"
    assert reasons == ["action failed: cut: FaultNotEffective: no"]


def test_problems_of_the_controls_make_the_run_inconclusive() -> None:
    verdict, reasons = journal_verdict(journal(), "pass",
                                       ["slo control could not evaluate the run: x"])
    assert verdict == "inconclusive" and reasons[0].startswith("slo control")


@pytest.mark.parametrize("before,after,expected", [
    (False, None, "inconclusive"),  # not in steady state: the method never ran
    (True, False, "fail"),  # a weakness: the hypothesis broke under the fault
])
def test_the_hypothesis_counts(before: bool, after: bool | None, expected: str) -> None:
    j = journal(before=before, after=after)
    assert steady_states(j) == {"before": before, "after": after}
    verdict, _ = journal_verdict(j, "pass")
    assert verdict == expected


def test_an_interrupted_run_keeps_its_status_and_is_inconclusive() -> None:
    j = journal(status="interrupted", after=None)
    verdict, reasons = journal_verdict(j, "pass")
    assert verdict == "inconclusive" and j["status"] == "interrupted"
    assert len(reasons) == 1 and reasons[0].startswith("interrupted: the run was cut short")
    assert journal_exit_code(j, verdict) == 3  # no signal was seen (a control interrupted it)


def test_a_run_a_stop_condition_aborted_is_aborted_exit_4() -> None:
    j = journal(after=False)
    why = "stop condition tripped: alert ShopErrorsHigh firing (...)"
    verdict, reasons = journal_verdict(j, "fail", ["a problem"], aborted=why)
    assert verdict == "aborted" and reasons[0] == why and "a problem" in reasons
    assert j["status"] == "failed"
    assert journal_exit_code(j, verdict) == 4


def test_an_abort_is_exit_4_though_it_ended_the_run_as_an_interruption() -> None:
    """The abort ends the run through Chaos Toolkit's graceful exit (status interrupted,
    a signal noted): the verdict and the exit code are still the abort's."""
    j = journal(status="interrupted", after=None)
    why = "stop condition tripped: PromQL `up == 0` returns a sample (...)"
    verdict, reasons = journal_verdict(j, "pass", aborted=why, interrupted_by=signal.SIGINT)
    assert (verdict, reasons[0]) == ("aborted", why)
    assert journal_exit_code(j, verdict, signal.SIGINT) == 4


def test_a_run_the_budget_admission_refused_is_inconclusive_exit_3() -> None:
    j = journal(status="interrupted", after=None)
    why = "chaos run: error budget too low: availability: 12.0 % of its 30-day error budget left"
    verdict, reasons = journal_verdict(j, "inconclusive", refused=why)
    assert (verdict, reasons) == ("inconclusive", [why])
    assert j["status"] == "failed" and journal_exit_code(j, verdict) == 3


@pytest.mark.parametrize("status", ["interrupted", "completed"])
def test_an_interruption_is_never_a_violation_whatever_the_gates_say(status: str) -> None:
    # SIGTERM at 23 s: the "steady state after" judged on a cut-short window failed
    j = journal(status=status, after=False)
    verdict, reasons = journal_verdict(j, "fail", ["a problem"],
                                       interrupted_by=signal.SIGTERM)
    assert verdict == "inconclusive" and j["deviated"] is False
    assert j["status"] == "interrupted"
    assert reasons[0].startswith("interrupted by SIGTERM") and "a problem" in reasons
    assert journal_exit_code(j, verdict, signal.SIGTERM) == 143
    assert journal_exit_code(j, verdict, signal.SIGINT) == 130
    assert journal_exit_code(journal(), "fail") == 1  # not interrupted: the verdict's code


def test_fail_wins_over_inconclusive() -> None:
    j = journal(runs=[action_run("chaosgate.ctk.actions", "failed")])
    verdict, reasons = journal_verdict(j, "fail")
    assert verdict == "fail" and j["deviated"] is True
    assert reasons[0] == "an SLO gate failed" and len(reasons) == 2


def records(outage: tuple[float, float] | None) -> list[RequestRecord]:
    out = []
    for i in range(400):  # 20 requests/s for 20 s
        t = 1000.0 + i / 20
        bad = outage is not None and outage[0] <= t < outage[1]
        out.append(RequestRecord(t, 5.0, "/api/products", "GET", not bad,
                                 503 if bad else 200, "http_5xx" if bad else None))
    return out


def fault(t_inject: float = 1005.0) -> FaultTimeline:
    return FaultTimeline("cg-0123456789", "partition", "cut a link", t_inject=t_inject,
                         t_revert=t_inject + 3, t_healed=t_inject + 3.1)


def test_section_carries_the_timeline_and_the_ttr_of_each_observer() -> None:
    m = measure(TTR, CATALOG, t_inject=1005.0, records=records((1005.0, 1008.0)), t_end=1020.0)
    gates = [Gate("time-to-recover (client)", "pass", "3.00 s", "≤ 30 s", "ok")]
    out = section(Evaluation(gates, m), [fault()])
    assert out["timeline"]["t_inject"] == 1005.0
    # between the last good request (1004.95) and the first bad one (1005.0)
    assert out["timeline"]["client"]["t_impact"]["t"] == pytest.approx(1004.975)
    assert out["ttr"]["client"] == pytest.approx(3.0, abs=0.06)
    assert "server" not in out["ttr"]
    assert out["gates"][0]["name"] == "time-to-recover (client)"
    assert out["gates_verdict"] == "pass"
    assert out["faults"][0]["fault_id"] == "cg-0123456789"
    assert out["faults"][0]["summary"]


def test_no_impact_is_a_ttr_of_zero_and_no_data_is_none() -> None:
    m = measure(TTR, CATALOG, t_inject=1005.0, records=records(None), t_end=1020.0)
    assert m.client is not None and ttr_seconds(m.client) == 0.0
    empty = measure(TTR, CATALOG, t_inject=1005.0, records=[], t_end=1020.0)
    assert empty.client is not None and ttr_seconds(empty.client) is None


def test_section_without_a_measurement_is_inconclusive() -> None:
    out = section(Evaluation([Gate("load", "inconclusive", "0 requests", "> 0", "none")]), [])
    assert out["gates_verdict"] == "inconclusive" and out["ttr"] == {}
    assert out["timeline"]["t_inject"] is None


def _gate(name: str, status: str, value: str, objective: str) -> dict[str, Any]:
    return {"name": name, "status": status, "value": value, "objective": objective,
            "detail": "why"}


def test_the_reasons_name_each_failed_gate_with_its_value_and_objective() -> None:
    gates = [_gate("steady state after: availability", "fail", "97.1 %", "≥ 99 %"),
             _gate("time-to-recover (client)", "fail", "", "≤ 30 s"),
             _gate("steady state before: availability", "pass", "100 %", "≥ 99 %")]
    gates[1]["detail"] = "not recovered 41.0 s after the impact"
    verdict, reasons = journal_verdict(journal(), "fail", gates=gates)
    assert verdict == "fail"
    assert reasons == ["steady state after: availability: 97.1 % (objective ≥ 99 %)",
                       "time-to-recover (client): not recovered 41.0 s after the impact "
                       "(objective ≤ 30 s)"]
    _, unknown = journal_verdict(journal(), "inconclusive", gates=[
        _gate("time-to-recover (server)", "inconclusive", "no data", "≤ 30 s")])
    assert unknown == ["the SLO gates are inconclusive: time-to-recover (server): no data "
                       "(objective ≤ 30 s)"]


def test_a_fault_never_applied_has_no_ttr_and_is_inconclusive_never_a_recovery_pass(
        tmp_path: Path) -> None:
    doc = render_sandbox_target(build_topology(tmp_path / "sb", 28790))  # nobody serves it
    target = load_target(dump_target(doc, tmp_path / "target.yaml"))
    target = replace(target, prometheus=replace(target.prometheus, scrape_interval=0.01))
    healthy = records(None)  # an impact-free request log: a baseline would pass
    baseline = evaluate(target, CATALOG, healthy, t_inject=None, warmup=2.0, observe=8.0)
    assert any(g.name == "time-to-recover (client)" and g.status == "pass"
               for g in baseline.gates)
    failed = evaluate(target, CATALOG, healthy, t_inject=None, warmup=2.0, observe=8.0,
                      fault_applied=False)
    recovery = [g for g in failed.gates if g.name.startswith("time-to-recover")]
    assert [(g.name, g.status, g.value) for g in recovery] == [
        ("time-to-recover (client)", "inconclusive", NO_FAULT_TTR),
        ("time-to-recover (server)", "inconclusive", NO_FAULT_TTR)]
    assert failed.verdict == "inconclusive"
    out = section(failed, [])
    assert out["ttr"] == {"client": None, "server": None}
    assert out["ttr_note"] == "n/a — no fault applied"
    assert all(v["status"] == "inconclusive" and "no impact" not in v["reason"]
               for v in out["recovery"])
    verdict, reasons = journal_verdict(journal(), out["gates_verdict"], gates=out["gates"])
    assert verdict == "inconclusive" and "n/a — no fault applied" in reasons[0]
    assert section(baseline, [])["ttr_note"] is None


def test_a_fault_took_hold_only_when_its_active_probe_saw_it() -> None:
    verified = fault()
    verified.t_verified = 1005.2
    assert fault_took_hold(False, []) is None  # a baseline: no fault meant
    assert fault_took_hold(True, [None]) is False  # the fault run never started
    assert fault_took_hold(True, [fault()]) is False  # applied, never verified
    assert fault_took_hold(True, [fault(), verified]) is True
