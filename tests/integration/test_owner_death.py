"""SIGKILL of ``chaosgate gameday`` or ``chaos run`` mid-fault: nothing they started
lives on.

A real ``chaosgate gameday`` runs a long partition game day (three times)
on the session sandbox; a real ``chaos run`` runs the partition experiment
with the partition held for a minute. Once the ledger shows the partition
applied, the command is SIGKILLed. Every child it recorded (pytest,
Locust) must be gone soon after (the acceptance bound is 5 s; polled
generously here), no fault may be opened after the kill, and
``chaosgate cleanup`` leaves the target clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _faults import (
    chaosgate,
    ensure_healthy,
    eventually,
    links_clean,
    wait_applied,
    write_target,
)

from chaosgate.clients.children import ChildRegistry
from chaosgate.clients.processes import Identity, read_stat, signal_identity
from chaosgate.faults import Ledger

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))
LONG_PARTITION = '''
import pytest
from chaosgate.gameday import GameDayConfig

@pytest.mark.gameday
@pytest.mark.fault("partition")
def test_long_partition(gameday):
    gameday(GameDayConfig(name="long partition", warmup=4, observe=4, max_extension=0,
                          fault={"kind": "partition", "selector": "app=orders",
                                 "dependency": "postgres", "duration": 60}),
            feature="network partition", story="killed mid-fault")
'''


def _alive(identity: Identity) -> bool:
    return identity.matches(read_stat(identity.pid))


def _kill_mid_fault(proc: subprocess.Popen[str], ledger: Path,
                    registry: ChildRegistry) -> tuple[dict[Identity, str], float]:
    """SIGKILL ``proc`` once its partition is applied; the children it had, and when."""
    wait_applied(proc, ledger, 240)
    children = {r.child: r.role for r in registry.records()}
    proc.kill()
    proc.wait(timeout=30)
    killed_at = time.time()
    eventually(lambda: not any(_alive(c) for c in children),
               f"every child ({sorted(children.values())}) to die with its owner", 30)
    print(f"every child gone {time.time() - killed_at:.1f} s after the SIGKILL")
    return children, killed_at


def _end(proc: subprocess.Popen[str], registry: ChildRegistry) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for child in registry.records():
        signal_identity(child.child, signal.SIGKILL)  # only what this command started


@pytest.mark.timeout(600)
def test_sigkill_of_gameday_mid_fault_leaves_no_child_and_opens_no_fault(sandbox, tmp_path):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_long_partition.py").write_text(LONG_PARTITION)
    registry = ChildRegistry(tmp_path / "children")
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosgate.cli", "gameday", "--target", str(target),
         "--suite", str(suite), "--repeat", "3", "--reports-dir", str(tmp_path / "reports")],
        cwd=ROOT, env={**os.environ, "CHAOSGATE_LEDGER": str(ledger)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        children, killed_at = _kill_mid_fault(proc, ledger, registry)
        assert "pytest" in children.values(), children
        assert any(role.startswith("Locust") for role in children.values()), children
        time.sleep(3)  # a child that lived on would open the next game day's fault now
        opened_after = [r for r in Ledger(ledger).records()
                        if r.get("op") == "open" and float(r.get("t", 0)) > killed_at]
        assert opened_after == []
        result = chaosgate("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0, result.stdout + result.stderr
        assert Ledger(ledger).open_entries() == []
        eventually(lambda: links_clean(sandbox), "every link up with no toxic", 30)
        assert registry.records() == []
    finally:
        _end(proc, registry)
        ensure_healthy(sandbox)


@pytest.mark.timeout(600)
def test_sigkill_of_chaos_run_mid_fault_stops_the_load_and_cleanup_reverts(sandbox, tmp_path):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    registry = ChildRegistry(tmp_path / "children")
    env = {**os.environ, "CHAOSGATE_TARGET": str(target), "CHAOSGATE_LEDGER": str(ledger),
           "CHAOSGATE_REPORTS": str(tmp_path / "reports")}
    env.pop("CHAOSGATE_CATALOG", None)
    ensure_healthy(sandbox)
    proc = subprocess.Popen(
        [CHAOS, "--log-file", str(tmp_path / "chaostoolkit.log"), "run", "--journal-path",
         str(tmp_path / "journal.json"), "--var", "partition_seconds:float=60",
         str(ROOT / "experiments" / "network-partition.yaml")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        children, _ = _kill_mid_fault(proc, ledger, registry)
        assert any(role.startswith("Locust") for role in children.values()), children
        [entry] = Ledger(ledger).open_entries()  # nobody was left to revert it
        result = chaosgate("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted partition {entry.id}" in result.stdout
        assert Ledger(ledger).open_entries() == []
        assert links_clean(sandbox)
        assert registry.records() == []
    finally:
        _end(proc, registry)
        ensure_healthy(sandbox)
