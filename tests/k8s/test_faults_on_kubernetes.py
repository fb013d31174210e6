"""chaosgate's faults (ledger, session, cleanup) on the Kubernetes platform, on the real
control plane (as the chaosgate ServiceAccount; Chaos Mesh and CloudNativePG played by
the fixture, tests/k8s/conftest.py).

The fault layer is platform-agnostic; these tests check that the Kubernetes
platform keeps its side of the contract end to end: inject through the
write-ahead ledger, verify, revert, heal, and ``cleanup`` of what a killed
process left behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import Factory, target_doc
from realkube import wait

from chaosgate.faults.base import Fault, FaultContext
from chaosgate.faults.cleanup import cleanup
from chaosgate.faults.database import DatabaseFailover
from chaosgate.faults.ledger import Ledger
from chaosgate.faults.network import NetworkPartition, build_scope
from chaosgate.faults.pods import PodKill
from chaosgate.faults.resources import ResourceExhaustion
from chaosgate.faults.session import FaultRun, FaultSession
from chaosgate.platforms import platform_for
from chaosgate.targets import Selector


def run_fault(fault: Fault, duration: float, **options: float) -> FaultRun:
    """Run ``fault`` end to end through a fault session on its own context."""
    ctx = fault.ctx
    return FaultSession(ctx.target, ctx.platform, ctx.ledger).run(fault, duration, **options)


def test_pod_kill_and_failover_through_the_runner(make_kube: Factory, tmp_path: Path) -> None:
    """The real ReplicaSet controller replaces the pod; "ready again" sees the new one."""
    shop, target = make_kube()
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger, seed=7)
    before = {p.uid for p in ctx.platform.list_pods(Selector.parse("app=orders"),
                                                    shop.namespace)}
    outcome = run_fault(PodKill(ctx, "app=orders", qty=1), duration=0, verify_timeout=30,
                        heal_timeout=60)
    assert outcome.verified.ok and outcome.healed is not None and outcome.healed.ok
    after = {p.uid for p in ctx.platform.list_pods(Selector.parse("app=orders"),
                                                   shop.namespace)}
    assert len(before - after) == 1 and len(after) == 2
    outcome = run_fault(DatabaseFailover(ctx, "switchover"), duration=0, verify_timeout=30,
                        heal_timeout=60)
    assert outcome.verified.ok, outcome.verified.detail
    assert ledger.open_entries() == []
    assert "gracePeriodSeconds=0" in next(r for r in shop.audit() if r.verb == "delete").uri


def test_partition_and_stress_through_the_runner(make_kube: Factory, tmp_path: Path) -> None:
    for chaos_mesh in (False, True):
        shop, target = make_kube(chaos_mesh=chaos_mesh)
        ctx = FaultContext(target, platform_for(target), Ledger(tmp_path / f"{chaos_mesh}.jsonl"))
        scope = build_scope(target, "app=orders", None, None, "postgres", ())
        outcome = run_fault(NetworkPartition(ctx, scope, "both"), duration=0)
        assert outcome.verified.ok, outcome.verified.detail
        assert outcome.healed is not None and outcome.healed.ok
        assert shop.policies() == []
        if chaos_mesh:
            assert shop.chaos("networkchaos") == []
    stress = ResourceExhaustion(ctx, "app=orders", "memory", qty=1, memory_mb=64, duration=5)
    outcome = run_fault(stress, duration=0)
    assert outcome.verified.ok, outcome.verified.detail
    assert shop.chaos("stresschaos") == []


def test_cleanup_reverts_what_a_killed_process_left(make_kube: Factory, tmp_path: Path) -> None:
    shop, target = make_kube()
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger)
    scope = build_scope(target, "app=orders", None, None, "postgres", ())
    applied = NetworkPartition(ctx, scope, "to").inject()  # ... and the process dies here
    assert len(shop.policies()) == 1
    report = cleanup(target, Ledger(tmp_path / "ledger.jsonl"), platform_for(target), force=True)
    assert report.clean and [e.id for e, _ in report.reverted] == [applied.fault_id]
    assert all(healed.ok for _, healed in report.reverted)
    assert shop.policies() == [] and ledger.open_entries() == []


def test_sigkill_mid_partition_then_cleanup(make_kube: Factory, tmp_path: Path) -> None:
    """A real ``chaosgate fault partition`` is SIGKILLed once its policies exist: they
    outlive it on the server, and ``chaosgate cleanup`` removes them from the ledger."""
    shop, target = make_kube()
    target_file, ledger = tmp_path / "target.yaml", tmp_path / "ledger.jsonl"
    target_file.write_text(yaml.safe_dump(target_doc(
        Path(str(target.platform.kubeconfig)), shop.namespace)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosgate.cli", "fault", "partition", "--target",
         str(target_file), "--selector", "app=orders", "--dependency", "postgres",
         "--duration", "120", "--ledger", str(ledger)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def applied() -> bool:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            return any(e.state == "applied" for e in Ledger(ledger).open_entries())

        wait("the ledger to show the partition applied", applied)
        proc.kill()
        proc.wait(timeout=30)
        assert len(shop.policies()) == 2, "the partition should outlive a SIGKILLed harness"
        [entry] = Ledger(ledger).open_entries()
        result = subprocess.run(
            [sys.executable, "-m", "chaosgate.cli", "cleanup", "--target", str(target_file),
             "--ledger", str(ledger)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted partition {entry.id}" in result.stdout
        assert shop.policies() == [] and Ledger(ledger).open_entries() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
