"""The game-day scenarios against the session sandbox, as a user runs them.

``pytest scenarios --chaos-target <the sandbox's target> --alluredir ...``
runs once (in a subprocess, from the checkout, as the acceptance command
does); the tests then read what it wrote: its outcome, the game-day results
JSON, the Allure results and the ledger.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaosgate.report.model import GameDayResult, load_gameday_results
from chaosgate.sandbox.manager import SandboxManager
from chaosgate.sandbox.topology import Topology
from chaosgate.targets import dump_target, render_sandbox_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
GAMEDAYS = {"baseline", "pod kill", "network partition", "database failover", "latency",
            "circuit breaker"}
PHASES = ("load: start", "steady state before the fault", "recovery: observe after the fault",
          "evaluate SLOs")


@dataclass
class SuiteRun:
    proc: subprocess.CompletedProcess[str]
    out: Path

    @property
    def results(self) -> dict[str, GameDayResult]:
        return {r.name: r for r in load_gameday_results(self.out / "gameday.json")}

    def allure(self) -> dict[str, dict[str, Any]]:
        found = {}
        for path in (self.out / "allure-results").glob("*-result.json"):
            doc = json.loads(path.read_text())
            found[doc["name"]] = doc
        return found


@pytest.fixture(scope="module")
def suite_run(sandbox: SandboxManager, sandbox_topology: Topology,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteRun]:
    out = tmp_path_factory.mktemp("scenarios")
    target = out / "target.yaml"
    dump_target(render_sandbox_target(sandbox_topology), target)
    cmd = [sys.executable, "-m", "pytest", "scenarios", "-p", "no:cacheprovider",
           "--chaos-target", str(target), "--alluredir", str(out / "allure-results"),
           "--chaos-results", str(out / "gameday.json"),
           "--chaos-ledger", str(out / "ledger.jsonl")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          check=False)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    yield SuiteRun(proc, out)


@pytest.mark.timeout(1800)
def test_every_game_day_passes_against_the_sandbox(suite_run: SuiteRun) -> None:
    assert suite_run.proc.returncode == 0, suite_run.proc.stdout[-4000:]
    assert "6 passed" in suite_run.proc.stdout
    results = suite_run.results
    assert set(results) == GAMEDAYS
    for name, r in results.items():
        assert r.verdict == "pass", (name, r.message)
        assert r.plot_png is not None and r.plot_png.startswith(b"\x89PNG")
        gates = {s.slo: s for s in r.slos}
        assert gates["time-to-recover (client)"].verdict == "pass"
        assert any(s.slo.endswith("(reported, not gating)") and s.promql for s in r.slos)
        if name != "baseline":  # a baseline has no fault; its TTR is from the load's start
            assert r.ttr_s is not None and r.ttr_s < 30.0, name
    breaker = {s.slo: s.verdict for s in results["circuit breaker"].slos}
    assert breaker["orders circuit breaker opens during the fault"] == "pass"
    assert breaker["catalogue available during the fault"] == "pass"
    assert breaker["/api/checkout fails fast during the fault"] == "pass"
    assert {s.slo: s.verdict for s in results["latency"].slos}[
        "/api/checkout p95 during the fault: within the SLO"] == "pass"
    partition = results["network partition"]
    assert partition.ttr_s is not None and 5.0 < partition.ttr_s < 30.0


def _attachments(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(node.get("attachments", []))
    for step in node.get("steps", []):
        found += _attachments(step)
    return found


def test_allure_results_carry_labels_steps_and_attachments(suite_run: SuiteRun) -> None:
    tests = suite_run.allure()
    assert len(tests) == 6
    results_dir = suite_run.out / "allure-results"
    for doc in tests.values():
        assert doc["status"] == "passed"
        labels = {lab["name"]: lab["value"] for lab in doc["labels"]}
        assert labels["epic"] == "Resilience"
        assert {"feature", "story", "severity"} <= set(labels)
        steps = [s["name"] for s in doc["steps"]]
        assert set(PHASES) <= set(steps)
        for step in doc["steps"]:  # real phase timing
            assert step["status"] == "passed" and step["stop"] >= step["start"]
        attached = {a["name"]: a for a in _attachments(doc)}
        assert {"timeline", "SLO table", "Locust summary", "game-day journal",
                "game-day log"} <= set(attached)
        assert attached["timeline"]["type"] == "image/png"
        table = (results_dir / attached["SLO table"]["source"]).read_text()
        assert "PromQL" in table and "haproxy_frontend_http_requests_total" in table
        assert (doc["description"] or "").strip()
    partition = tests["test_network_partition"]
    fault_steps = [s for s in partition["steps"] if s["name"].startswith("fault: partition")]
    assert len(fault_steps) == 1 and fault_steps[0]["stop"] - fault_steps[0]["start"] >= 10_000
    attached = {a["name"]: a for a in _attachments(partition)}
    truth = json.loads((results_dir / attached["fault timeline (ground truth)"]["source"])
                       .read_text())
    assert truth["kind"] == "partition" and truth["moments"]
    journal = json.loads((results_dir / attached["game-day journal"]["source"]).read_text())
    assert journal["ledger"]["state"] == "reverted"
    env = (results_dir / "environment.properties").read_text()
    assert "target=sandbox" in env and "platform=processes" in env
    categories = json.loads((results_dir / "categories.json").read_text())
    assert [c["name"] for c in categories][:2] == ["SLO violated", "Fault not effective"]


def test_every_fault_was_reverted(suite_run: SuiteRun) -> None:
    records = [json.loads(line) for line in
               (suite_run.out / "ledger.jsonl").read_text().splitlines()]
    opened = {r["id"] for r in records if r["op"] == "open"}
    reverted = {r["id"] for r in records if r["op"] == "reverted"}
    assert len(opened) == 5 and opened == reverted  # every fault game day, none left open
