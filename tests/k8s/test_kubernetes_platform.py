"""The Kubernetes platform against the real control plane, through the official client.

Every test runs as the ``chaosgate`` ServiceAccount with exactly the grants of
deploy/rbac.yaml, decided by the real RBAC authorizer. Chaos Mesh's controller
is played by the test fixture (tests/k8s/conftest.py, :class:`Operators`):
none runs here. NetworkPolicies are admitted and stored by the real
apiserver but not enforced (no CNI): whether a policy cuts a given
connection is checked on the manifests (tests/k8s/test_k8s_manifests.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Factory, Shop, eventually, target_doc
from kubernetes.client.exceptions import ApiException

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

ORDERS = Selector.parse("app=orders")


def to_db(shop: Shop) -> NetworkScope:
    return NetworkScope(shop.namespace, "app=orders", dependency="postgres")


def test_list_pods_with_readiness(make_kube: Factory) -> None:
    shop, target = make_kube(cnpg=False)
    platform = KubernetesPlatform(target)
    pods = platform.list_pods(Selector.parse("app in (orders,catalog),tier!=backend"),
                              shop.namespace)
    assert [p.labels["app"] for p in pods] == ["orders", "orders"]
    assert all(p.ready and p.namespace == shop.namespace and p.node.startswith("kube-node-")
               for p in pods)
    assert pods == sorted(pods, key=lambda p: p.name)
    assert PodRef.from_json(pods[0].to_json()) == pods[0]


def test_kill_pod_and_the_replicaset_replaces_it(make_kube: Factory) -> None:
    """The real ReplicaSet controller makes the replacement; the agent runs it."""
    shop, target = make_kube(cnpg=False)
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(ORDERS, shop.namespace)[0]
    platform.kill_pod(victim)
    assert platform.pod_gone(victim)
    deletes = [r for r in shop.audit() if r.verb == "delete" and r.resource == "pods"]
    assert len(deletes) == 1 and "gracePeriodSeconds=0" in deletes[0].uri

    def replaced() -> ProbeResult:
        pods = platform.list_pods(ORDERS, shop.namespace)
        fresh = [p for p in pods if p.uid != victim.uid and p.name != victim.name]
        ok = len(pods) == 2 and all(p.ready for p in pods) and victim.uid not in {p.uid
                                                                                for p in pods}
        return ProbeResult(ok and bool(fresh), f"pods now: {pods}")

    eventually(replaced)
    platform.kill_pod(victim)  # that incarnation is gone: nothing happens
    assert len([r for r in shop.audit() if r.verb == "delete"]) == 1


def test_kill_refuses_a_pod_without_controller(make_kube: Factory) -> None:
    shop, target = make_kube(cnpg=False)
    shop.cluster.pod(shop.namespace, "bare", {"app": "bare"})
    shop.cluster.wait_ready(shop.namespace, "app=bare", 1)
    platform = KubernetesPlatform(target)
    [bare] = platform.list_pods(Selector.parse("app=bare"), shop.namespace)
    with pytest.raises(UsageError, match="no controller"):
        platform.kill_pod(bare)
    assert not platform.pod_gone(bare)


def test_namespace_safety(make_kube: Factory) -> None:
    shop, target = make_kube(cnpg=False)
    platform = KubernetesPlatform(target)
    with pytest.raises(UsageError, match="kube-system"):
        platform.list_pods(Selector.parse("k8s-app=kube-dns"), "kube-system")
    with pytest.raises(UsageError, match="'other'"):
        platform.plan_partition(PartitionSpec(NetworkScope(
            shop.namespace, "app=orders", peer_selector="app=x", peer_namespace="other")),
            "cg-0000000001")
    assert not [r for r in shop.cluster.audit() if r.namespace in ("kube-system", "other")]
    other = shop.cluster.namespace("other")  # with the Role and RoleBinding of rbac.yaml
    try:
        shop.cluster.deployment(other, "coredns", {"k8s-app": "kube-dns"})
        shop.cluster.wait_ready(other, "k8s-app=kube-dns", 2)
        _, listed = make_kube(cnpg=False, namespaces=["shop", other])
        assert len(KubernetesPlatform(listed).list_pods(Selector.parse("k8s-app=kube-dns"),
                                                        other)) == 2
    finally:
        shop.cluster.delete_namespace(other)


def test_partition_with_networkpolicies(make_kube: Factory) -> None:
    """The real apiserver validates and stores the policies (it does not enforce them)."""
    shop, target = make_kube()
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "both"), "cg-00000000a1")
    assert "NetworkPolicy" in change.description
    assert shop.policies() == []  # planning changes nothing
    platform.apply(change)
    result = eventually(lambda: platform.verify(change))
    assert "CNI" in result.detail
    policies = shop.policies()
    assert sorted(p["metadata"]["name"] for p in policies) == ["cg-00000000a1-from",
                                                              "cg-00000000a1-to-0"]
    assert all(p["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "chaosgate"
               for p in policies)

    other_process = KubernetesPlatform(target)  # e.g. `chaosgate cleanup` after a SIGKILL
    reloaded = Change.from_json(change.to_json())
    other_process.revert(reloaded)
    eventually(lambda: other_process.verify_reverted(reloaded))
    assert shop.policies() == []
    other_process.revert(reloaded)  # idempotent: already gone is fine


def test_the_real_validation_rejects_a_bad_policy(make_kube: Factory) -> None:
    """What the platform creates passes the real validation; a broken policy would not."""
    shop, _ = make_kube(cnpg=False)
    with pytest.raises(ApiException) as refused:
        shop.cluster.net.create_namespaced_network_policy(shop.namespace, {
            "metadata": {"name": "bad"}, "spec": {"podSelector": {}, "policyTypes": ["Sideways"]}})
    assert refused.value.status == 422


def test_partition_one_way(make_kube: Factory) -> None:
    shop, target = make_kube()
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "to"), "cg-00000000a2")
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    [policy] = shop.policies()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))


def test_partition_refuses_policies_that_would_union(make_kube: Factory) -> None:
    shop, target = make_kube()
    platform = KubernetesPlatform(target)
    net, ns = shop.cluster.net, shop.namespace
    net.create_namespaced_network_policy(ns, {"metadata": {"name": "db-allow-app"}, "spec": {
        "podSelector": {"matchLabels": {"cnpg.io/cluster": "shop-db"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "orders"}}}]}]}})
    with pytest.raises(UsageError, match="db-allow-app"):
        platform.plan_partition(PartitionSpec(to_db(shop), "to"), "cg-00000000a3")
    net.delete_namespaced_network_policy("db-allow-app", ns)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "to"), "cg-00000000a3")
    platform.apply(change)
    assert platform.verify(change).ok
    net.create_namespaced_network_policy(ns, {"metadata": {"name": "late"},
                                              "spec": {"podSelector": {}}})
    late = platform.verify(change)
    assert not late.ok and "late" in late.detail
    platform.revert(change)


def test_partition_with_chaos_mesh(make_kube: Factory) -> None:
    """On the published NetworkChaos CRD; the fixture plays Chaos Mesh's controller."""
    shop, target = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop), "from"), "cg-00000000b1")
    assert "NetworkChaos" in change.description
    platform.apply(change)
    platform.apply(change)  # applying twice keeps the one object
    result = eventually(lambda: platform.verify(change))
    assert "injected into 5 target(s)" in result.detail  # 2 orders + 3 db instances
    [chaos] = shop.chaos("networkchaos")
    assert chaos["spec"]["action"] == "partition" and chaos["spec"]["direction"] == "from"
    assert chaos["metadata"]["labels"]["chaosgate.io/fault-id"] == "cg-00000000b1"
    assert shop.policies() == []
    assert any(m.what == "apply succeeded" for m in platform.moments(change, 0))
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))
    platform.revert(change)


def test_chaos_mesh_that_does_not_inject_is_not_effective(make_kube: Factory) -> None:
    """The played Chaos Mesh selects the pods but reports the injection failed."""
    shop, target = make_kube(chaos_mesh=True)
    shop.operators.chaos_broken = True
    platform = KubernetesPlatform(target)
    change = platform.plan_partition(PartitionSpec(to_db(shop)), "cg-00000000b2")
    platform.apply(change)
    with pytest.raises(AssertionError, match="not injected"):
        eventually(lambda: platform.verify(change), timeout=2.0)
    platform.revert(change)


def test_latency_needs_chaos_mesh(make_kube: Factory) -> None:
    shop, target = make_kube(cnpg=False)
    with pytest.raises(UsageError, match="needs Chaos Mesh"):
        KubernetesPlatform(target).plan_latency(LatencySpec(to_db(shop), 200, 20), "cg-00000000c1")
    shop2, target2 = make_kube(chaos_mesh=True)
    platform = KubernetesPlatform(target2)
    change = platform.plan_latency(LatencySpec(to_db(shop2), 200, 20), "cg-00000000c2")
    platform.apply(change)
    eventually(lambda: platform.verify(change))
    [chaos] = shop2.chaos("networkchaos")
    assert chaos["spec"]["action"] == "delay"
    assert chaos["spec"]["delay"] == {"latency": "200ms", "jitter": "20ms", "correlation": "0"}
    platform.revert(change)
    eventually(lambda: platform.verify_reverted(change))
    with pytest.raises(UsageError, match="latency must be"):
        platform.plan_latency(LatencySpec(to_db(shop2), 0), "cg-00000000c3")


def test_stress_with_stresschaos(make_kube: Factory) -> None:
    shop, target = make_kube(chaos_mesh=True, cnpg=False)
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(ORDERS, shop.namespace)[:1]
    modes: tuple[StressMode, ...] = ("cpu", "memory")
    for mode in modes:
        change = platform.plan_stress(StressSpec(mode, cpu_workers=2, memory_mb=128), victim,
                                      f"cg-00000000d{len(mode)}")
        platform.apply(change)
        eventually(lambda c=change: platform.verify(c))  # type: ignore[misc]
        [chaos] = shop.chaos("stresschaos")
        assert list(chaos["spec"]["stressors"]) == [mode]
        assert chaos["spec"]["selector"]["pods"] == {shop.namespace: [victim[0].name]}
        platform.revert(change)
        eventually(lambda c=change: platform.verify_reverted(c))  # type: ignore[misc]
    with pytest.raises(UsageError, match="freeze"):
        platform.plan_stress(StressSpec("freeze"), victim, "cg-00000000d9")
    plain_shop, plain = make_kube(cnpg=False)
    without = KubernetesPlatform(plain)
    with pytest.raises(UsageError, match="needs Chaos Mesh"):
        without.plan_stress(StressSpec("cpu"), without.list_pods(ORDERS, plain_shop.namespace),
                            "cg-00000000d8")


def test_configuration_and_access_errors(make_kube: Factory, tmp_path: Path) -> None:
    shop, target = make_kube(cnpg=False)
    doc = target_doc(tmp_path / "missing-kubeconfig")
    with pytest.raises(UsageError, match="cannot configure the Kubernetes client"):
        KubernetesPlatform(parse_target(doc))
    doc["platform"] = {"type": "kubernetes", "in_cluster": True}
    with pytest.raises(UsageError, match="in-cluster"):
        KubernetesPlatform(parse_target(doc))
    bare = shop.cluster.namespace("bare", rbac=False)  # no Role, no RoleBinding: real 403s
    try:
        doc = target_doc(Path(str(target.platform.kubeconfig)), bare)
        with pytest.raises(UsageError, match=r"deploy/rbac\.yaml"):
            KubernetesPlatform(parse_target(doc)).list_pods(ORDERS, bare)
    finally:
        shop.cluster.delete_namespace(bare)
    denied = [r for r in shop.cluster.audit(bare) if r.verb == "list"]
    assert [r.code for r in denied] == [403]
    dead = tmp_path / "dead"
    dead.write_text(Path(str(target.platform.kubeconfig)).read_text().replace(
        shop.cluster.plane.server, "https://127.0.0.1:9"))
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
    with pytest.raises(UsageError, match=r"database\.type: Patroni failover is not supported "
                                         r"on Kubernetes"):
        parse_target(doc)  # refused when the file is read, not first at fault time
