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


def chaos_run(work: dict[str, Any], experiment: Path,
              *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``chaos run`` to its end; its process and journal."""
    journal = work["dir"] / "journal.json"
    proc = subprocess.run(chaos(work, "run", "--journal-path", str(journal), *args,
                                str(experiment)),
                          cwd=ROOT, env=work["env"], capture_output=True, text=True,
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
