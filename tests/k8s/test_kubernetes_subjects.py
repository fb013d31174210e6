"""Kubernetes changes name their pods as Chaos Mesh's records do, so the fault summary
finds those records; the subjects survive the ledger's JSON. On the real control plane;
Chaos Mesh's records are written by the fixture, which plays its controller."""

from __future__ import annotations

import json
import time

from conftest import Factory, Shop, eventually

from chaosgate.faults.summary import summarize
from chaosgate.faults.timeline import FaultTimeline
from chaosgate.platforms.base import Change, LatencySpec, NetworkScope, PartitionSpec, StressSpec
from chaosgate.platforms.kubernetes import KubernetesPlatform
from chaosgate.targets import Selector


def to_db(shop: Shop) -> NetworkScope:
    return NetworkScope(shop.namespace, "app=orders", dependency="postgres")


def reloaded(change: Change) -> Change:
    return Change.from_json(json.loads(json.dumps(change.to_json())))


def test_network_changes_name_the_selected_pods(make_kube: Factory) -> None:
    shop, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    orders = tuple(f"{shop.namespace}/{p.name}" for p in platform.list_pods(
        Selector.parse("app=orders"), shop.namespace))
    assert len(orders) == 2
    cut = platform.plan_partition(PartitionSpec(to_db(shop), "both"), "cg-00000000s1")
    slow = platform.plan_latency(LatencySpec(to_db(shop), 100), "cg-00000000s2")
    for change in (cut, slow):
        assert change.subjects == orders
        assert reloaded(change) == change


def test_policy_partition_names_the_selected_pods(make_kube: Factory) -> None:
    shop, target = make_kube()
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "to"), "cg-00000000s3")
    assert "NetworkPolicy" in change.description
    assert [s.split("/")[0] for s in change.subjects] == [shop.namespace] * 2
    assert all(s.startswith(f"{shop.namespace}/orders-") for s in change.subjects)


def test_stress_names_its_pods(make_kube: Factory) -> None:
    shop, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(Selector.parse("app=orders"), shop.namespace)[:1]
    change = platform.plan_stress(StressSpec("cpu"), victim, "cg-00000000s4")
    assert change.subjects == (f"{shop.namespace}/{victim[0].name}",)
    assert reloaded(change) == change
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    assert {m.subject for m in platform.moments(change, 0)} == set(change.subjects)
    platform.revert(change)


def test_summary_finds_the_chaos_records_of_a_partitions_subjects(make_kube: Factory) -> None:
    shop, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "both"), "cg-00000000s5")
    start = time.time()
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    timeline = FaultTimeline(change.fault_id, change.kind, change.description,
                             subjects=change.subjects, t_inject=start, t_revert=time.time())
    timeline.add(platform.moments(reloaded(change), start - 1))
    lines = summarize(timeline)[:-1]
    assert [line.split(":")[0] for line in lines] == list(change.subjects)
    assert all("apply succeeded" in line for line in lines), lines
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))
