"""Ctrl-C, SIGTERM and SIGKILL in the middle of a fault leave nothing applied.

A real ``chaosgate fault partition --duration 60`` runs as a subprocess
against the session sandbox. Once the ledger shows the fault applied, it is
signalled: SIGINT and SIGTERM make it revert before it exits; after a
SIGKILL the partition stays (nobody is left to revert it) until
``chaosgate cleanup`` reverts it from the ledger. A freeze's watchdog dies
with the SIGKILLed command and thaws the pod first. A ``chaosgate cleanup
--force`` under the live owner ends the owner's hold early: it exits 3
(inconclusive) and says the fault was reverted by cleanup.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from chaosgate.clients.processes import identify
from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.faults import Ledger
from chaosgate.platforms.hog import find_hogs
from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

POSTGRES_LINKS = ("orders-pg0", "orders-pg1")


def start_partition(target: Path, ledger: Path, duration: int = 60) -> subprocess.Popen[str]:
    """The fault as a user would start it, held for a minute."""
    return subprocess.Popen(
        [sys.executable, "-m", "chaosgate.cli", "fault", "partition", "--target", str(target),
         "--selector", "app=orders", "--dependency", "postgres", "--duration", str(duration),
         "--ledger", str(ledger)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def links_down(sandbox: SandboxManager) -> bool:
    proxies = ToxiproxyClient(sandbox.topo.faultproxy_url).proxies()
    return not any(proxies[name].enabled for name in POSTGRES_LINKS)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_fault_reverts_before_exit(sandbox, tmp_path, sig, code):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    proc = start_partition(target, ledger)
    try:
        wait_applied(proc, ledger)
        assert links_down(sandbox)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ensure_healthy(sandbox)
    assert proc.returncode == code, out
    assert "reverted" in out
    assert links_clean(sandbox)
    assert Ledger(ledger).open_entries() == []


def test_cleanup_force_under_a_live_owner_ends_it_inconclusive(sandbox, tmp_path):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    proc = start_partition(target, ledger, duration=600)
    try:
        wait_applied(proc, ledger)
        [entry] = Ledger(ledger).open_entries()
        result = chaosgate("cleanup", "--force", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted partition {entry.id}" in result.stdout
        out, _ = proc.communicate(timeout=60)  # far less than the 600 s hold
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ensure_healthy(sandbox)
    assert proc.returncode == 3, out
    assert f"{entry.id} was reverted early by chaosgate cleanup (pid " in out, out
    assert "Traceback" not in out
    assert links_clean(sandbox)
    assert Ledger(ledger).open_entries() == []
    assert [r["op"] for r in Ledger(ledger).records()].count("reverted") == 1


def test_sigkill_then_cleanup_leaves_nothing(sandbox, tmp_path):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    proc = start_partition(target, ledger)
    try:
        wait_applied(proc, ledger)
        proc.kill()
        proc.wait(timeout=30)
        assert links_down(sandbox), "the partition should outlive a SIGKILLed harness"
        [entry] = Ledger(ledger).open_entries()
        result = chaosgate("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted partition {entry.id}" in result.stdout
        assert "healed" in result.stdout
        assert links_clean(sandbox)
        assert Ledger(ledger).open_entries() == []
        again = chaosgate("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert again.returncode == 0 and "nothing to clean up" in again.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ensure_healthy(sandbox)


def test_sigkill_during_a_freeze_thaws_the_pod_at_once_then_cleanup_closes_it(sandbox,
                                                                              tmp_path):
    target, ledger = write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosgate.cli", "fault", "stress", "--target", str(target),
         "--selector", "app=catalog", "--mode", "freeze", "--duration", "60",
         "--ledger", str(ledger)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "CHAOSGATE_LEDGER": str(ledger)})
    try:
        wait_applied(proc, ledger)
        [entry] = Ledger(ledger).open_entries()
        [pod] = entry.change.data["pods"]
        pidfile = Path(entry.change.data["pidfile"])
        eventually(lambda: find_hogs(pidfile) != [], "the freeze watchdog to run", 30)
        watchdog = find_hogs(pidfile)
        assert process_state(pod["pid"]) == "T"
        [record] = ChildRegistry(tmp_path / "children").records()  # the watchdog, recorded
        assert record.child in watchdog and record.owner.pid == proc.pid
        proc.kill()
        proc.wait(timeout=30)
        # the watchdog dies with its owner, thawing the pod first (the acceptance bound is
        # 5 s; polled generously here)
        eventually(lambda: process_state(pod["pid"]) != "T", "the pod to thaw", 15)
        eventually(lambda: not any(identify(i.pid) == i for i in watchdog),
                   "the watchdog to end with its owner", 15)
        result = chaosgate("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted stress {entry.id}" in result.stdout
        assert find_hogs(pidfile) == []
        assert Ledger(ledger).open_entries() == []
        assert ChildRegistry(tmp_path / "children").records() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ensure_healthy(sandbox)


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
