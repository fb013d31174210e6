"""``chaos run``'s safety and detection against the real sandbox: stop conditions watched
while a fault stays applied across a pause, the time to detect by both observers, and
the error-budget admission with its force override.

Each run is the real Chaos Toolkit CLI in a subprocess (as in test_experiments.py, whose
helpers these reuse), with its own ledger, reports folder and journal.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from _faults import ensure_healthy, eventually, spend_error_budget
from test_experiments import allure_result, chaos_run, nothing_left, work  # noqa: F401

from chaosgate.faults import Ledger
from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
#: true while the ingress answers 5xx (and for 10 s after)
FIVE_XX = ('sum(increase(haproxy_frontend_http_responses_total{proxy="ingress",code="5xx"}'
           '[10s])) > 0')
PAUSE = 90  # the pause a stop condition must cut short
ACTIONS = "chaosgate.ctk.actions"


def control(name: str, **arguments: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": f"chaosgate.ctk.controls.{name}"}
    if arguments:
        provider["arguments"] = arguments
    return {"name": f"chaosgate-{name}", "provider": provider}


def action(name: str, func: str, pause: float | None = None, **arguments: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "action", "name": name, "provider": {
        "type": "python", "module": ACTIONS, "func": func, "arguments": arguments}}
    if pause is not None:
        activity["pauses"] = {"after": pause}
    return activity


def experiment(directory: Path, method: list[dict[str, Any]], *, load: bool = True,
               configuration: dict[str, Any] | None = None,
               rollbacks: list[dict[str, Any]] | None = None) -> Path:
    """An experiment file: the ledger, (load,) slo and allure controls, ``method``."""
    controls = [control("ledger")]
    if load:
        controls.append(control("load", rate=20, warmup=5, duration=200, observe_after=12))
    controls += [control("slo"), control("allure")]
    doc = {"version": "1.0.0", "title": "safety", "description": "chaosgate safety test",
           "configuration": configuration or {}, "controls": controls, "method": method,
           "rollbacks": rollbacks or []}
    path = directory / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def quiet(sandbox: SandboxManager, query: str) -> None:
    """Wait until ``query`` returns nothing (an earlier test's errors or alerts are over)."""
    eventually(lambda: not sandbox.prometheus.query(query), f"{query} to return nothing", 180)


def aborted_by_5xx(sandbox: SandboxManager, work: dict[str, Any],  # noqa: F811
                   method: list[dict[str, Any]],
                   rollbacks: list[dict[str, Any]]) -> dict[str, Any]:
    """``method`` under load with the run's stop condition :data:`FIVE_XX` (none of it true
    before): the journal of a run that must end aborted, exit code 4."""
    quiet(sandbox, FIVE_XX)
    path = experiment(work["dir"], method, configuration={"chaosgate_stop_when": [FIVE_XX]},
                      rollbacks=rollbacks)
    proc, journal = chaos_run(work, path)
    section = journal["chaosgate"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert section["verdict"] == "aborted" and section["exit_code"] == 4, section["reasons"]
    return journal


def test_a_stop_condition_aborts_a_fault_left_applied_across_a_pause(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:  # noqa: F811
    """partition_network without a duration returns with the link cut; during the pause
    after it the ingress answers 5xx, the run's own stop condition (replacing the
    target's) trips: the partition is reverted at once and the run ends aborted, long
    before the pause would have."""
    journal = aborted_by_5xx(sandbox, work, [action(
        "cut-the-catalog", "partition_network", PAUSE, links=["gateway-catalog"])],
        rollbacks=[action("heal", "heal_network")])
    section = journal["chaosgate"]
    assert section["reasons"][0].startswith(f"stop condition tripped: PromQL `{FIVE_XX}`")
    assert "UTC" in section["reasons"][0]
    tripped = section["stop"]["tripped"]
    assert tripped["source"] == "configuration key chaosgate_stop_when"
    [fault] = section["faults"]
    assert fault["t_inject"] < tripped["t"] <= tripped["t_reverted"] == pytest.approx(
        tripped["t"] + tripped["reverted_after_s"])
    assert fault["t_revert"] is not None and fault["t_revert"] < fault["t_inject"] + PAUSE
    assert any(fault["fault_id"] in line for line in tripped["reverted"])
    ended = datetime.fromisoformat(journal["end"]).timestamp()
    assert ended < fault["t_inject"] + PAUSE  # the pause was cut short
    nothing_left(sandbox, work, journal)
    result = allure_result(work, journal)
    assert result["status"] == "failed"
    assert "stop condition" in {a["name"] for a in result["attachments"]}


def test_a_stop_condition_during_a_held_fault_reverts_every_fault_of_the_run(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:  # noqa: F811
    """Latency left applied by a first action, then a partition held by a second one
    (``duration``): the ingress's 5xx trip the condition during the hold, and both faults
    are reverted (the held one by its action, the other at once), the run aborted."""
    journal = aborted_by_5xx(sandbox, work, [
        action("slow-the-orders-link", "add_latency", latency_ms=50, links=["gateway-orders"]),
        action("cut-the-catalog", "partition_network", links=["gateway-catalog"],
               duration=PAUSE)], rollbacks=[action("restore", "revert_faults")])
    section = journal["chaosgate"]
    latency, partition = section["faults"]
    assert (latency["kind"], partition["kind"]) == ("latency", "partition")
    tripped = section["stop"]["tripped"]
    assert partition["t_inject"] < tripped["t"] < partition["t_inject"] + PAUSE
    for fault in (latency, partition):
        assert fault["t_revert"] is not None and fault["t_revert"] < partition["t_inject"] + PAUSE
    nothing_left(sandbox, work, journal)


def test_the_expected_alert_detects_a_partition_by_both_observers(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:  # noqa: F811
    """Orders partitioned from its database for 10 s (as the partition game day) with an
    expected alert given by --var: the page burn-rate alert fires (ALERTS) and its
    notification reaches the receiver chaos run ran, both within the bound; the journal
    and the Allure result carry the time to detect. (Only the detection is asserted: the
    other gates are test_experiments.py's.)"""
    quiet(sandbox, 'ALERTS{alertname="ShopAvailabilityBurn",sloth_severity="page"}')
    path = experiment(work["dir"], [action(
        "partition-orders-from-postgres", "partition_network", selector="app=orders",
        dependency="postgres", direction="both", duration=10)])
    proc, journal = chaos_run(work, path, "--var", "chaosgate_expect_alert=ShopAvailabilityBurn",
                              "--var", "chaosgate_detect_within:float=30")
    section = journal["chaosgate"]
    gates = {g["name"]: g for g in section["gates"]}
    for observer in ("Prometheus", "notification"):
        gate = gates[f"time to detect (ShopAvailabilityBurn, {observer})"]
        assert gate["status"] == "pass", (gate, proc.stderr[-3000:])
    detection = section["detection"]
    assert (detection["expect_alert"], detection["detect_within"]) == ("ShopAvailabilityBurn", 30)
    assert detection["prometheus"]["alertname"] == "ShopAvailabilityBurn"
    assert 0 < detection["prometheus"]["ttd"] <= 30
    assert 0 < detection["notification"]["ttd"] <= 30
    assert "ShopAvailabilityBurn" in detection["notification"]["alertnames"]
    assert section["stop"] == {"conditions": [], "tripped": None}
    nothing_left(sandbox, work, journal)
    result = allure_result(work, journal)
    assert "Time to detect" in result["description"]
    assert "time to detect" in {a["name"] for a in result["attachments"]}


def test_a_spent_error_budget_refuses_the_run_before_anything_unless_forced(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:  # noqa: F811
    """With safety.min_error_budget 99 % and an outage spent, the run stops in the ledger
    control's before_experiment: inconclusive, exit code 3, no activity, no ledger entry.
    --var chaosgate_force=true runs it (the fault is applied and reverted)."""
    target = Path(work["env"]["CHAOSGATE_TARGET"])
    doc = yaml.safe_load(target.read_text())
    doc.setdefault("safety", {})["min_error_budget"] = "99%"
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    spend_error_budget(sandbox, minimum=0.99)
    ensure_healthy(sandbox)
    path = experiment(work["dir"], [action("cut-the-catalog", "partition_network",
                                           links=["gateway-catalog"], duration=1)],
                      load=False)
    proc, journal = chaos_run(work, path)
    section = journal["chaosgate"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert section["verdict"] == "inconclusive" and section["exit_code"] == 3
    assert "error budget too low: availability: " in section["reasons"][0]
    assert "chaosgate_force=true" in section["reasons"][0]
    assert journal["run"] == [] and section["faults"] == []
    assert Ledger(work["dir"] / "ledger.jsonl").entries() == {}

    t_forced = time.time()
    proc, journal = chaos_run(work, path, "--var", "chaosgate_force=true")
    section = journal["chaosgate"]
    assert [r["status"] for r in journal["run"]] == ["succeeded"], proc.stderr[-3000:]
    [fault] = section["faults"]
    assert fault["t_inject"] > t_forced and fault["t_revert"] is not None
    log = (work["dir"] / "chaostoolkit.log").read_text()
    assert "error budget too low, starting anyway (forced)" in log
    nothing_left(sandbox, work, journal)
