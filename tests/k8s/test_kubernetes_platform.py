"""The Kubernetes platform against the fake API server, through the official client.

Every test runs with the RBAC of deploy/rbac.yaml enforced by the fake.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Factory, eventually, target_doc

from chaosgate.exceptions import Inconclusive, UsageError
from chaosgate.platforms.base import (
    Change,
    LatencySpec,
    NetworkScope,
    PartitionSpec,
    PodRef,
    ProbeResult,
    StressMode,
    StressSpec,
)
from chaosgate.platforms.cloudnativepg import CloudNativePG
from chaosgate.platforms.kubernetes import KubernetesPlatform, kubernetes_database
from chaosgate.targets import Selector, parse_target
from fakekube import NETWORKCHAOS, NETWORKPOLICY, POD, STRESSCHAOS, FakeKube

ORDERS = Selector.parse("app=orders")
TO_DB = NetworkScope("shop", "app=orders", dependency="postgres")


def test_list_pods_with_readiness(make_kube: Factory) -> None:
    _, target = make_kube()
    platform = KubernetesPlatform(target)
    pods = platform.list_pods(Selector.parse("app in (orders,catalog),tier!=backend"), "shop")
    assert [p.labels["app"] for p in pods] == ["orders", "orders"]
    assert all(p.ready and p.namespace == "shop" and p.node == "fake-node-1" for p in pods)
    assert pods == sorted(pods, key=lambda p: p.name)
    assert PodRef.from_json(pods[0].to_json()) == pods[0]


def test_kill_pod_and_the_deployment_replaces_it(make_kube: Factory) -> None:
    fake, target = make_kube()
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(ORDERS, "shop")[0]
    platform.kill_pod(victim)
    assert platform.pod_gone(victim)
    deletes = [r for r in fake.requests if r.verb == "delete" and r.resource == "pods"]
    assert [r.query.get("gracePeriodSeconds") for r in deletes] == ["0"]

    def replaced() -> ProbeResult:
        pods = platform.list_pods(ORDERS, "shop")
        fresh = [p for p in pods if p.uid != victim.uid and p.name != victim.name]
        ok = len(pods) == 2 and all(p.ready for p in pods) and victim.uid not in {p.uid
                                                                                for p in pods}
        return ProbeResult(ok and bool(fresh), f"pods now: {pods}")

    eventually(replaced)
    platform.kill_pod(victim)  # that incarnation is gone: nothing happens
    assert len([r for r in fake.requests if r.verb == "delete"]) == 1


def test_kill_refuses_a_pod_without_controller(make_kube: Factory) -> None:
    fake, target = make_kube()
    fake.add_pod("shop", "bare", {"app": "bare"})
    platform = KubernetesPlatform(target)
    [bare] = platform.list_pods(Selector.parse("app=bare"), "shop")
    with pytest.raises(UsageError, match="no controller"):
        platform.kill_pod(bare)
    assert not platform.pod_gone(bare)


def test_namespace_safety(make_kube: Factory) -> None:
    fake, target = make_kube()
    platform = KubernetesPlatform(target)
    with pytest.raises(UsageError, match="kube-system"):
        platform.list_pods(Selector.parse("k8s-app=kube-dns"), "kube-system")
    with pytest.raises(UsageError, match="'other'"):
        platform.plan_partition(PartitionSpec(NetworkScope(
            "shop", "app=orders", peer_selector="app=x", peer_namespace="other")), "cg-0000000001")
    assert not [r for r in fake.requests if r.namespace == "kube-system"]
    _, listed = make_kube(namespaces=["shop", "kube-system"])
    assert len(KubernetesPlatform(listed).list_pods(Selector.parse("k8s-app=kube-dns"),
                                                    "kube-system")) == 2


def db_and_orders(fake: FakeKube) -> tuple[tuple[str, str], ...]:
    """(namespace, name) of an orders pod, the database primary and a gateway pod."""
    def first(key: str, value: str) -> tuple[str, str]:
        pods = [p for p in fake.objects(POD, "shop") if p["metadata"]["labels"].get(key) == value]
        return "shop", pods[0]["metadata"]["name"]

    return first("app", "orders"), first("cnpg.io/instanceRole", "primary"), first("app",
                                                                                   "gateway")


def test_partition_with_networkpolicies(make_kube: Factory) -> None:
    fake, target = make_kube()
    platform = KubernetesPlatform(target)
    orders, db, gateway = db_and_orders(fake)
    change = platform.plan_partition(PartitionSpec(TO_DB, "both"), "cg-00000000a1")
    assert "NetworkPolicy" in change.description
    assert fake.objects(NETWORKPOLICY) == []  # planning changes nothing
    platform.apply(change)
    result = eventually(lambda: platform.verify(change))
    assert "CNI" in result.detail
    policies = fake.objects(NETWORKPOLICY, "shop")
    assert sorted(p["metadata"]["name"] for p in policies) == ["cg-00000000a1-from",
                                                              "cg-00000000a1-to-0"]
    assert all(p["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaosgate"
               for p in policies)
    assert not fake.connects(orders, db) and not fake.connects(db, orders)
    assert fake.connects(gateway, db) and fake.connects(gateway, orders)

    other_process = KubernetesPlatform(target)  # e.g. `chaosgate cleanup` after a SIGKILL
    reloaded = Change.from_json(change.to_json())
    other_process.revert(reloaded)
    eventually(lambda: other_process.verify_reverted(reloaded))
    assert fake.objects(NETWORKPOLICY) == []
    assert fake.connects(orders, db) and fake.connects(db, orders)
    other_process.revert(reloaded)  # idempotent: already gone is fine


def test_partition_one_way(make_kube: Factory) -> None:
    fake, target = make_kube()
    platform = KubernetesPlatform(target)
    orders, db, _ = db_and_orders(fake)
    change = platform.plan_partition(PartitionSpec(TO_DB, "to"), "cg-00000000a2")
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    assert not fake.connects(orders, db) and fake.connects(db, orders)
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))


def test_partition_refuses_policies_that_would_union(make_kube: Factory) -> None:
    fake, target = make_kube()
    platform = KubernetesPlatform(target)
    fake.add(NETWORKPOLICY, "shop", {"metadata": {"name": "db-allow-app"}, "spec": {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": "shop-db"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "orders"}}}]}]}})
    with pytest.raises(UsageError, match="db-allow-app"):
        platform.plan_partition(PartitionSpec(TO_DB, "to"), "cg-00000000a3")
    fake.store.remove(NETWORKPOLICY, "shop", "db-allow-app")
    change = platform.plan_partition(PartitionSpec(TO_DB, "to"), "cg-00000000a3")
    platform.apply(change)
    assert platform.verify(change).ok
    fake.add(NETWORKPOLICY, "shop", {"metadata": {"name": "late"}, "spec": {"podSelector": {}}})
    late = platform.verify(change)
    assert not late.ok and "late" in late.detail
    platform.revert(change)


def test_partition_with_chaos_mesh(make_kube: Factory) -> None:
    fake, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(TO_DB, "from"), "cg-00000000b1")
    assert "NetworkChaos" in change.description
    platform.apply(change)
    platform.apply(change)  # applying twice keeps the one object
    result = eventually(lambda: platform.verify(change))
    assert "injected into 5 target(s)" in result.detail  # 2 orders + 3 db instances
    [chaos] = fake.objects(NETWORKCHAOS, "shop")
    assert chaos["spec"]["action"] == "partition" and chaos["spec"]["direction"] == "from"
    assert chaos["metadata"]["labels"]["chaosgate.io/fault-id"] == "cg-00000000b1"
    assert fake.objects(NETWORKPOLICY) == []
    assert any(m.what == "apply succeeded" for m in platform.moments(change, 0))
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))
    platform.revert(change)


def test_chaos_mesh_that_does_not_inject_is_not_effective(make_kube: Factory) -> None:
    fake, target = make_kube(chaos_mesh=True)
    fake.controllers.chaos_broken = True
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(TO_DB), "cg-00000000b2")
    platform.apply(change)
    with pytest.raises(AssertionError, match="not injected"):
        eventually(lambda: platform.verify(change), timeout=1.0)
    platform.revert(change)


def test_latency_needs_chaos_mesh(make_kube: Factory) -> None:
    _, target = make_kube()
    with pytest.raises(UsageError, match="needs Chaos Mesh"):
        KubernetesPlatform(target).plan_latency(LatencySpec(TO_DB, 200, 20), "cg-00000000c1")
    fake2, target2 = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target2)
    change = platform.plan_latency(LatencySpec(TO_DB, 200, 20), "cg-00000000c2")
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    [chaos] = fake2.objects(NETWORKCHAOS, "shop")
    assert chaos["spec"]["action"] == "delay"
    assert chaos["spec"]["delay"] == {"latency": "200ms", "jitter": "20ms", "correlation": "0"}
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))
    with pytest.raises(UsageError, match="latency must be"):
        platform.plan_latency(LatencySpec(TO_DB, 0), "cg-00000000c3")


def test_stress_with_stresschaos(make_kube: Factory) -> None:
    fake, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(ORDERS, "shop")[:1]
    modes: tuple[StressMode, ...] = ("cpu", "memory")
    for mode in modes:
        change = platform.plan_stress(StressSpec(mode, cpu_workers=2, memory_mb=128), victim,
                                      f"cg-00000000d{len(mode)}")
        platform.apply(change)
        eventually(lambda c=change: platform.verify(c))  # type: ignore[misc]
        [chaos] = fake.objects(STRESSCHAOS, "shop")
        assert list(chaos["spec"]["stressors"]) == [mode]
        assert chaos["spec"]["selector"]["pods"] == {"shop": [victim[0].name]}
        platform.revert(change)
        eventually(lambda c=change: platform.verify_reverted(c))  # type: ignore[misc]
    with pytest.raises(UsageError, match="freeze"):
        platform.plan_stress(StressSpec("freeze"), victim, "cg-00000000d9")
    _, plain = make_kube()
    with pytest.raises(UsageError, match="needs Chaos Mesh"):
        KubernetesPlatform(plain).plan_stress(StressSpec("cpu"), victim, "cg-00000000d8")


def test_configuration_and_access_errors(make_kube: Factory, tmp_path: Path) -> None:
    fake, target = make_kube()
    doc = target_doc(tmp_path / "missing-kubeconfig")
    with pytest.raises(UsageError, match="cannot configure the Kubernetes client"):
        KubernetesPlatform(parse_target(doc))
    doc["platform"] = {"type": "kubernetes", "in_cluster": True}
    with pytest.raises(UsageError, match="in-cluster"):
        KubernetesPlatform(parse_target(doc))
    fake.rbac = {"role": [], "cluster": []}
    with pytest.raises(UsageError, match=r"deploy/rbac\.yaml"):
        KubernetesPlatform(target).list_pods(ORDERS, "shop")
    with FakeKube() as stopped:
        dead = stopped.write_kubeconfig(tmp_path / "dead")
    unreachable = KubernetesPlatform(parse_target(target_doc(dead)))
    with pytest.raises(Inconclusive, match="cannot reach"):
        unreachable.list_pods(ORDERS, "shop")
    with pytest.raises(Inconclusive, match="cannot reach"):
        unreachable.pod_gone(PodRef("orders-1", "shop", {}, True, "uid"))


def test_database_adapter_for_the_target(make_kube: Factory, tmp_path: Path) -> None:
    _, target = make_kube()
    platform = KubernetesPlatform(target)
    assert isinstance(kubernetes_database(target, platform), CloudNativePG)
    doc = target_doc(tmp_path / "kubeconfig")
    doc["database"] = {"type": "patroni", "scope": "db", "members": [
        {"name": "db-0", "patroni_url": "http://db-0:8008"}]}
    with pytest.raises(UsageError, match="not supported on Kubernetes"):
        kubernetes_database(parse_target(doc), platform)
