"""deploy/rbac.yaml grants exactly what the Kubernetes code uses, and nothing risky.

Two checks: the manifest read as data (no wildcards, no secrets, no exec or
escalation, bindings consistent), and a run of every Kubernetes code path on
the real control plane as the ``chaosgate`` ServiceAccount that the manifest
binds: the real RBAC authorizer allows each call (or the run fails), and the
apiserver's audit log of the account's requests must use every grant.
Chaos Mesh and CloudNativePG are played by the fixture (tests/k8s/conftest.py).
"""

from __future__ import annotations

from typing import Any

import yaml
from conftest import RBAC_FILE, Factory, eventually, rbac_rules

from chaosgate.exceptions import UsageError
from chaosgate.platforms.base import (
    LatencySpec,
    NetworkScope,
    PartitionSpec,
    ProbeResult,
    StressSpec,
)
from chaosgate.platforms.kubernetes import KubernetesPlatform, kubernetes_database
from chaosgate.targets import Selector

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")) if d]


def grants(rules: list[dict[str, Any]]) -> set[Grant]:
    return {(g, r, v) for rule in rules for g in rule.get("apiGroups", [])
            for r in rule.get("resources", []) for v in rule.get("verbs", [])}


def test_manifest_is_least_privilege() -> None:
    docs = documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Namespace", "Role", "RoleBinding",
                     "ServiceAccount"]
    rules = rbac_rules()
    for rule in rules["role"] + rules["cluster"]:
        for key in ("apiGroups", "resources", "verbs", "nonResourceURLs", "resourceNames"):
            assert "*" not in rule.get(key, []), rule
        assert not {"secrets", "pods/exec", "pods/attach", "serviceaccounts/token"} & set(
            rule.get("resources", [])), rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(
            rule.get("verbs", [])), rule
    assert grants(rules["role"]) == {
        ("", "pods", "get"), ("", "pods", "list"), ("", "pods", "delete"),
        ("networking.k8s.io", "networkpolicies", "create"),
        ("networking.k8s.io", "networkpolicies", "list"),
        ("networking.k8s.io", "networkpolicies", "delete"),
        *{("chaos-mesh.org", r, v) for r in ("networkchaos", "stresschaos")
          for v in ("create", "get", "delete")},
        ("postgresql.cnpg.io", "clusters", "get"),
        ("postgresql.cnpg.io", "clusters/status", "patch"),
    }
    assert rules["cluster"] == [{"nonResourceURLs": ["/apis/chaos-mesh.org/v1alpha1"],
                                 "verbs": ["get"]}]
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]
    for binding in (d for d in docs if d["kind"].endswith("Binding")):
        role_kind = binding["kind"].removesuffix("Binding")
        assert any(d["kind"] == role_kind and d["metadata"]["name"] == binding["roleRef"]["name"]
                   for d in docs)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                        "namespace": account["namespace"]}]
    role = next(d for d in docs if d["kind"] == "Role")["metadata"]["namespace"]
    assert next(d for d in docs if d["kind"] == "RoleBinding")["metadata"]["namespace"] == role


def test_every_grant_is_used_by_the_code(make_kube: Factory) -> None:
    """Run every Kubernetes code path under the real authorizer; compare grants and use."""
    plain, target = make_kube()
    ns = plain.namespace
    scope = NetworkScope(ns, "app=orders", dependency="postgres")
    platform = KubernetesPlatform(target)
    victim = platform.list_pods(Selector.parse("app=orders"), ns)[0]
    platform.kill_pod(victim)
    assert platform.pod_gone(victim)
    cut = platform.plan_partition(PartitionSpec(scope, "both"), "cg-0000000a01")
    platform.apply(cut)
    eventually(lambda: platform.verify(cut))
    platform.revert(cut)
    eventually(lambda: platform.verify_reverted(cut))
    db = kubernetes_database(target, platform)
    switchover = db.plan_failover("switchover", "cg-0000000a02")
    db.apply(switchover)
    eventually(lambda: db.verify(switchover))
    eventually(lambda: db.verify_reverted(switchover))
    crash = db.plan_failover("delete-primary", "cg-0000000a03")
    db.apply(crash)
    eventually(lambda: db.verify(crash))

    mesh, mesh_target = make_kube(chaos_mesh=True)
    scope = NetworkScope(mesh.namespace, "app=orders", dependency="postgres")
    platform = KubernetesPlatform(mesh_target)
    pods = platform.list_pods(Selector.parse("app=orders"), mesh.namespace)
    for change in (platform.plan_partition(PartitionSpec(scope), "cg-0000000a04"),
                   platform.plan_latency(LatencySpec(scope, 100), "cg-0000000a05"),
                   platform.plan_stress(StressSpec("cpu"), pods[:1], "cg-0000000a06")):
        platform.apply(change)
        eventually(lambda c=change: platform.verify(c))  # type: ignore[misc]
        platform.moments(change, 0)
        platform.revert(change)
        eventually(lambda c=change: platform.verify_reverted(c))  # type: ignore[misc]

    requests = plain.audit() + [r for r in mesh.audit() if r.namespace == mesh.namespace]
    assert requests, "the audit log has no request of the chaosgate ServiceAccount"
    denied = [r for r in requests if r.code == 403]
    assert not denied, denied
    used = {(r.group, r.resource, r.verb) for r in requests if r.resource}
    urls = {r.uri for r in requests if not r.resource}
    rules = rbac_rules()
    assert used == grants(rules["role"])
    assert urls == {url for rule in rules["cluster"] for url in rule["nonResourceURLs"]}
    assert {r.namespace for r in requests if r.resource} == {plain.namespace, mesh.namespace}


def test_anything_else_is_a_403_the_user_sees_clearly(make_kube: Factory) -> None:
    """A call deploy/rbac.yaml does not grant is refused by the real authorizer, and
    chaosgate says which credentials lack what, naming the manifest."""
    shop, target = make_kube(cnpg=False)
    shop.cluster.rbac.delete_namespaced_role_binding("chaosgate-faults", shop.namespace)
    platform = KubernetesPlatform(target)

    def refused() -> ProbeResult:
        try:
            platform.list_pods(Selector.parse("app=orders"), shop.namespace)
        except UsageError as exc:
            return ProbeResult(True, str(exc))
        return ProbeResult(False, "still allowed")

    message = eventually(refused).detail  # the authorizer's cache follows the binding
    assert "deploy/rbac.yaml" in message and "Traceback" not in message
    assert any(r.code == 403 and r.verb == "list" for r in shop.audit())
