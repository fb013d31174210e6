"""``chaos run`` of every experiment against the real sandbox, as a user runs it.

Each run is the real Chaos Toolkit CLI in a subprocess, from the repository
root, pointed at the session sandbox through ``CHAOSGATE_TARGET`` (a target
file rendered for its base port), with its own ledger, reports folder,
journal and log. Checked: the exit code, the journal's ``chaosgate``
section (verdict, gates, TTR of both observers), the Allure result, and
that nothing is left applied (ledger and fault proxy). Then a run that must
fail (a stricter recovery objective than a partition allows), Prometheus
credentials passed as Chaos Toolkit secrets that must appear in no file,
and a run interrupted by SIGINT or SIGTERM in the middle of its method
(inconclusive, exit code 130/143 in the journal).

The guide's example (docs/experiments.md: the fault in the method, its revert
in the rollbacks) is extracted and run from a folder outside the repository:
it passes on the healthy sandbox with and without ``--rollback-strategy
always``, fails with a stricter catalogue naming the failed gates, and a fault
action that fails gives no TTR ("n/a — no fault applied", inconclusive).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _faults import ensure_healthy, eventually, links_clean, write_target

from chaosgate.faults import Ledger
from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
GUIDE = ROOT / "docs" / "experiments.md"
GUIDE_MARK = "<!-- guide-example:"
SECRET = "cg-test-token-5b1e0c7d"
RUN_TIMEOUT = 420


@pytest.fixture
def work(sandbox: SandboxManager, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A target file for the session sandbox and a place for one run's files."""
    target = write_target(sandbox, tmp_path)
    env = dict(os.environ, CHAOSGATE_TARGET=str(target),
               CHAOSGATE_LEDGER=str(tmp_path / "ledger.jsonl"),
               CHAOSGATE_REPORTS=str(tmp_path / "reports"))
    env.pop("CHAOSGATE_CATALOG", None)
    ensure_healthy(sandbox)
    yield {"dir": tmp_path, "env": env}
    ensure_healthy(sandbox)


def chaos(work: dict[str, Any], *args: str) -> list[str]:
    """The command line of the chaos CLI with this run's log file."""
    return [CHAOS, "--log-file", str(work["dir"] / "chaostoolkit.log"), *args]


def chaos_run(work: dict[str, Any], experiment: Path, *args: str,
              cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``chaos run`` to its end (started in ``cwd``); its process and journal."""
    journal = work["dir"] / "journal.json"
    proc = subprocess.run(chaos(work, "run", "--journal-path", str(journal), *args,
                                str(experiment)),
                          cwd=cwd, env=work["env"], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert journal.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(journal.read_text())


def nothing_left(sandbox: SandboxManager, work: dict[str, Any], journal: dict[str, Any]) -> None:
    """Nothing of the run is applied: the ledger, the journal and the fault proxy agree."""
    assert Ledger(work["dir"] / "ledger.jsonl").open_entries() == []
    assert journal["chaosgate"]["ledger"]["clean"] is True
    assert links_clean(sandbox)


def allure_result(work: dict[str, Any], journal: dict[str, Any]) -> dict[str, Any]:
    uuid = journal["chaosgate"]["allure"]["uuid"]
    return json.loads((work["dir"] / "reports" / "allure-results" / f"{uuid}-result.json")
                      .read_text())


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_chaos_validate_accepts_every_experiment(work: dict[str, Any], experiment: Path) -> None:
    proc = subprocess.run(chaos(work, "validate", str(experiment)), cwd=ROOT, env=work["env"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "look valid" in proc.stdout + proc.stderr


def test_there_are_the_four_game_days() -> None:
    assert {p.stem for p in EXPERIMENTS} >= {"pod-kill", "network-partition",
                                             "database-failover", "latency"}


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_chaos_run_exits_0_and_the_journal_carries_verdicts_and_ttr(
        sandbox: SandboxManager, work: dict[str, Any], experiment: Path) -> None:
    proc, journal = chaos_run(work, experiment)
    section = journal["chaosgate"]
    assert proc.returncode == 0, (section.get("reasons"), proc.stderr[-3000:])
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert section["verdict"] == "pass" and section["exit_code"] == 0
    assert all(g["status"] == "pass" for g in section["gates"]), section["gates"]
    gate_names = {g["name"] for g in section["gates"]}
    assert {"time-to-recover (client)", "time-to-recover (server)"} <= gate_names
    assert set(section["ttr"]) == {"client", "server"}
    assert all(v is not None and v >= 0 for v in section["ttr"].values())
    timeline = section["timeline"]
    assert timeline["t_inject"] == min(f["t_inject"] for f in section["faults"])
    assert timeline["client"]["total"] > 0 and timeline["server"]["total"] > 0
    server = [v for v in section["verdicts"] if v["observer"] == "server"]
    assert server and all(v["query"] for v in server)
    assert Path(section["load"]["request_log"]).stat().st_size > 0
    assert section["load"]["requests"] > 0
    nothing_left(sandbox, work, journal)
    result = allure_result(work, journal)
    assert result["status"] == "passed"
    assert {a["name"] for a in result["attachments"]} >= {"timeline", "SLO table", "journal"}


def strict_catalog(directory: Path, objective: str) -> Path:
    """The shop's catalogue with another time-to-recover objective."""
    doc = yaml.safe_load((ROOT / "probes" / "shop.yaml").read_text())
    for slo in doc["slos"]:
        if slo["name"] == "time-to-recover":
            slo["objective"] = objective
    directory.mkdir()
    (directory / "shop.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


def test_a_partition_longer_than_the_recovery_objective_exits_1(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:
    work["env"]["CHAOSGATE_CATALOG"] = str(strict_catalog(work["dir"] / "probes", "1s"))
    proc, journal = chaos_run(work, ROOT / "experiments" / "network-partition.yaml")
    section = journal["chaosgate"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert journal["deviated"] is True
    assert section["verdict"] == "fail" and section["exit_code"] == 1
    failed = {g["name"] for g in section["gates"] if g["status"] == "fail"}
    assert "time-to-recover (client)" in failed, section["gates"]
    assert section["ttr"]["client"] > 1.0
    nothing_left(sandbox, work, journal)
    assert allure_result(work, journal)["status"] == "failed"


def with_secrets(experiment: Path, out: Path) -> Path:
    """``experiment`` taking Prometheus credentials from Chaos Toolkit secrets."""
    doc = yaml.safe_load(experiment.read_text())
    doc["secrets"] = {"prometheus": {"bearer_token": {"type": "env",
                                                      "key": "CHAOSGATE_TEST_PROM_TOKEN"}}}
    for probe in doc["steady-state-hypothesis"]["probes"]:
        probe["provider"]["secrets"] = ["prometheus"]
        if probe["provider"]["func"] == "slo_met":
            probe["provider"]["arguments"]["observer"] = "server"  # asks Prometheus
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def test_prometheus_secrets_are_used_and_never_written(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:
    experiment = with_secrets(ROOT / "experiments" / "pod-kill.yaml",
                              work["dir"] / "pod-kill-secrets.yaml")
    work["env"]["CHAOSGATE_TEST_PROM_TOKEN"] = SECRET
    proc, journal = chaos_run(work, experiment)
    assert proc.returncode == 0, (journal["chaosgate"].get("reasons"), proc.stderr[-3000:])
    assert journal["experiment"]["secrets"]["prometheus"]["bearer_token"] == "***"
    assert SECRET not in proc.stdout + proc.stderr
    written = [p for p in work["dir"].rglob("*") if p.is_file()]
    assert len(written) > 10
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_middle_of_the_method_is_inconclusive_and_leaves_nothing_applied(
        sandbox: SandboxManager, work: dict[str, Any], sig: signal.Signals) -> None:
    journal_path = work["dir"] / "journal.json"
    proc = subprocess.Popen(
        chaos(work, "run", "--journal-path", str(journal_path), "--var",
              "partition_seconds:float=120", str(ROOT / "experiments" / "network-partition.yaml")),
        cwd=ROOT, env=work["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ledger = Ledger(work["dir"] / "ledger.jsonl")
    try:
        def applied() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"chaos run ended early ({proc.returncode})")
            return any(e.state == "applied" for e in ledger.open_entries())

        eventually(applied, "the partition to be applied", 180)
        assert not links_clean(sandbox)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, out[-3000:]
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "interrupted"
    section = journal["chaosgate"]
    # never a violation: nothing judged on the cut-short windows, 128 + the signal
    assert section["verdict"] == "inconclusive", section["reasons"]
    assert section["exit_code"] == 128 + sig
    assert section["reasons"][0].startswith(f"interrupted by {sig.name}")
    assert journal["deviated"] is False
    assert any("partition" in line for line in journal["chaosgate"]["ledger"]["reverted"])
    nothing_left(sandbox, work, journal)


def guide_example() -> dict[str, Any]:
    """The example experiment of docs/experiments.md (the yaml block after its marker)."""
    after = GUIDE.read_text().split(GUIDE_MARK, 1)[1]
    doc: dict[str, Any] = yaml.safe_load(after.split("```yaml\n", 1)[1].split("\n```", 1)[0])
    return doc


def outside_the_repository(work: dict[str, Any], doc: dict[str, Any]) -> Path:
    """``doc`` written as experiment.yaml in a folder of its own, outside the repository
    (the catalogue is the one beside the target, else the shipped one: never named)."""
    folder = work["dir"] / "elsewhere"
    folder.mkdir(exist_ok=True)
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def verdict_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "chaosgate verdict:" in ln]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return lines[-1]


@pytest.mark.parametrize("strategy", [(), ("--rollback-strategy", "always")],
                         ids=["default", "always"])
def test_the_guides_example_in_the_conventional_shape_passes_on_the_healthy_sandbox(
        sandbox: SandboxManager, work: dict[str, Any], strategy: tuple[str, ...]) -> None:
    experiment = outside_the_repository(work, guide_example())
    target = work["env"].pop("CHAOSGATE_TARGET")  # named as the guide says: --var
    proc, journal = chaos_run(work, experiment, *strategy, "--var",
                              f"chaosgate_target={target}", cwd=experiment.parent)
    section = journal["chaosgate"]
    assert proc.returncode == 0, (section.get("reasons"), proc.stderr[-3000:])
    assert section["verdict"] == "pass" and journal["deviated"] is False
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    gates = {g["name"]: g for g in section["gates"]}
    # the load outlived the rollback: the steady state after had its requests, and the
    # recovery its hold-down window
    assert gates["steady state after: no server errors"]["status"] == "pass", gates
    assert {gates[f"time-to-recover ({o})"]["status"] for o in ("client", "server")} == {"pass"}
    assert all(v is not None for v in section["ttr"].values()) and section["ttr_note"] is None
    assert section["load"]["observe_after"] == 20
    assert "chaosgate verdict: PASS" in verdict_line(proc)
    nothing_left(sandbox, work, journal)


def test_the_guides_example_fails_with_a_stricter_objective_naming_the_gates(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:
    strict = strict_catalog(work["dir"] / "strict", "2s")
    doc = yaml.safe_load((strict / "shop.yaml").read_text())
    for slo in doc["slos"]:
        if slo["name"] in ("browse-latency-p95", "product-latency-p95"):
            slo["threshold"] = 0.1  # the 100 ms of latency break it
            slo["query"]["good"] = slo["query"]["good"].replace('le="0.25"', 'le="0.1"')
    (strict / "shop.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    work["env"]["CHAOSGATE_CATALOG"] = str(strict)
    experiment = outside_the_repository(work, guide_example())
    proc, journal = chaos_run(work, experiment, "--rollback-strategy", "always",
                              cwd=experiment.parent)
    section = journal["chaosgate"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert section["verdict"] == "fail" and journal["deviated"] is True
    failed = [g["name"] for g in section["gates"] if g["status"] == "fail"]
    assert "time-to-recover (client)" in failed, section["gates"]
    line = verdict_line(proc)
    assert "FAIL" in line and "time-to-recover (client)" in line, line
    assert "an SLO gate failed" not in line
    nothing_left(sandbox, work, journal)


def test_a_fault_action_that_failed_gives_no_ttr_and_an_inconclusive_run(
        sandbox: SandboxManager, work: dict[str, Any]) -> None:
    doc = guide_example()
    doc["method"][0]["provider"]["arguments"]["links"] = ["no-such-link"]
    experiment = outside_the_repository(work, doc)
    proc, journal = chaos_run(work, experiment, cwd=experiment.parent)
    section = journal["chaosgate"]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert journal["run"][0]["status"] == "failed"
    assert section["verdict"] == "inconclusive" and section["exit_code"] == 3
    assert section["ttr"] == {"client": None, "server": None}
    assert section["ttr_note"] == "n/a — no fault applied"
    recovery = [g for g in section["gates"] if g["name"].startswith("time-to-recover")]
    assert recovery and all(g["status"] == "inconclusive" and g["value"] == section["ttr_note"]
                            for g in recovery), recovery
    assert "no impact" not in json.dumps(section["recovery"])
    assert "n/a — no fault applied" in verdict_line(proc)
    nothing_left(sandbox, work, journal)
