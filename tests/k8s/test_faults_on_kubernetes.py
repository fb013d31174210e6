"""chaosgate's faults (ledger, session, cleanup) on the Kubernetes platform, on the fake.

The fault layer is platform-agnostic; these tests check that the Kubernetes
platform keeps its side of the contract end to end: inject through the
write-ahead ledger, verify, revert, heal, and ``cleanup`` of what a killed
process left behind.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Factory

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
from fakekube import NETWORKCHAOS, NETWORKPOLICY, STRESSCHAOS


def run_fault(fault: Fault, duration: float, **options: float) -> FaultRun:
    """Run ``fault`` end to end through a fault session on its own context."""
    ctx = fault.ctx
    return FaultSession(ctx.target, ctx.platform, ctx.ledger).run(fault, duration, **options)


def test_pod_kill_and_failover_through_the_runner(make_kube: Factory, tmp_path: Path) -> None:
    fake, target = make_kube()
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger, seed=7)
    before = {p.uid for p in ctx.platform.list_pods(Selector.parse("app=orders"), "shop")}
    outcome = run_fault(PodKill(ctx, "app=orders", qty=1), duration=0, verify_timeout=30,
                        heal_timeout=60)
    assert outcome.verified.ok and outcome.healed is not None and outcome.healed.ok
    after = {p.uid for p in ctx.platform.list_pods(Selector.parse("app=orders"), "shop")}
    assert len(before - after) == 1 and len(after) == 2
    outcome = run_fault(DatabaseFailover(ctx, "switchover"), duration=0, verify_timeout=30,
                        heal_timeout=60)
    assert outcome.verified.ok, outcome.verified.detail
    assert ledger.open_entries() == []
    assert next(r for r in fake.requests if r.verb == "delete").query["gracePeriodSeconds"] == "0"


def test_partition_and_stress_through_the_runner(make_kube: Factory, tmp_path: Path) -> None:
    for chaos_mesh in (False, True):
        fake, target = make_kube(chaos_mesh=chaos_mesh)
        ctx = FaultContext(target, platform_for(target), Ledger(tmp_path / f"{chaos_mesh}.jsonl"))
        scope = build_scope(target, "app=orders", None, None, "postgres", ())
        outcome = run_fault(NetworkPartition(ctx, scope, "both"), duration=0)
        assert outcome.verified.ok, outcome.verified.detail
        assert outcome.healed is not None and outcome.healed.ok
        assert fake.objects(NETWORKPOLICY) == fake.objects(NETWORKCHAOS) == []
    stress = ResourceExhaustion(ctx, "app=orders", "memory", qty=1, memory_mb=64, duration=5)
    outcome = run_fault(stress, duration=0)
    assert outcome.verified.ok, outcome.verified.detail
    assert fake.objects(STRESSCHAOS) == []


def test_cleanup_reverts_what_a_killed_process_left(make_kube: Factory, tmp_path: Path) -> None:
    fake, target = make_kube()
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger)
    scope = build_scope(target, "app=orders", None, None, "postgres", ())
    applied = NetworkPartition(ctx, scope, "to").inject()  # ... and the process dies here
    assert len(fake.objects(NETWORKPOLICY)) == 1
    report = cleanup(target, Ledger(tmp_path / "ledger.jsonl"), platform_for(target), force=True)
    assert report.clean and [e.id for e, _ in report.reverted] == [applied.fault_id]
    assert all(healed.ok for _, healed in report.reverted)
    assert fake.objects(NETWORKPOLICY) == [] and ledger.open_entries() == []
