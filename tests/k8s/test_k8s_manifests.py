"""Pure manifest builders and scope resolution.

The NetworkPolicies are checked for what they *do* with an independent
NetworkPolicy evaluator (:mod:`policy_semantics`: the real control plane
stores policies but cannot enforce them), and every manifest for what the
real API server accepts: a server-side dry run (``dryRun=All``) on the
session's control plane, against the real NetworkPolicy validation and the
published Chaos Mesh CRD schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import chaos_mesh_crds, target_doc
from hypothesis import given
from hypothesis import strategies as st
from policy_semantics import allowed
from realkube import CHAOS_MESH, Cluster

from chaosgate.exceptions import UsageError
from chaosgate.platforms import k8s_manifests as mf
from chaosgate.platforms.base import NetworkScope
from chaosgate.targets import Requirement, Selector, parse_target

DB = Selector.parse("role=db")
FAULT = "cg-0123456789"
Validate = Callable[[Mapping[str, Any]], None]


@pytest.fixture
def validate(cluster: Cluster) -> Iterator[Validate]:
    """Create the manifest with ``dryRun=All`` in a scratch namespace (its own is
    replaced): the real server validates it, stores nothing, and a 422 fails the test."""
    chaos_mesh_crds(cluster, True)
    ns = cluster.namespace("manifests", rbac=False)

    def check(manifest: Mapping[str, Any]) -> None:
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": ns}}
        if manifest["kind"] == "NetworkPolicy":
            cluster.net.create_namespaced_network_policy(ns, body, dry_run="All")
        else:
            group, version = CHAOS_MESH
            plural = {"NetworkChaos": "networkchaos", "StressChaos": "stresschaos"}
            cluster.custom.create_namespaced_custom_object(
                group, version, ns, plural[manifest["kind"]], body, dry_run="All")

    yield check
    cluster.delete_namespace(ns)


def ns_labels(ns: str) -> dict[str, str]:
    return {mf.NAMESPACE_NAME_LABEL: ns}


def reaches(policy: Mapping[str, Any], src_ns: str, labels: Mapping[str, str],
            dst_ns: str = "shop") -> bool:
    """Whether a pod (src_ns, labels) may connect to a role=db pod in dst_ns."""
    return allowed([policy], (src_ns, labels, ns_labels(src_ns)),
                   (dst_ns, {"role": "db"}, ns_labels(dst_ns)))


def test_isolation_policy_cuts_only_the_excluded_pods(validate: Validate) -> None:
    policy = mf.isolation_policy("cg-x-to-0", FAULT, "shop", DB,
                                 [(Selector.parse("app=orders"), "shop")])
    validate(policy)
    assert policy["metadata"]["labels"] == {mf.MANAGED_BY_LABEL: "chaosgate",
                                            mf.FAULT_LABEL: FAULT}
    assert not reaches(policy, "shop", {"app": "orders"})
    assert not reaches(policy, "shop", {"app": "orders", "pod-template-hash": "abc"})
    assert reaches(policy, "shop", {"app": "gateway"})
    assert reaches(policy, "shop", {})
    assert reaches(policy, "other", {"app": "orders"})  # same labels, other namespace
    assert allowed([policy], ("shop", {"role": "db"}, ns_labels("shop")),
                   ("shop", {"app": "orders"}, ns_labels("shop")))  # the other way is open


def test_multi_requirement_and_set_based_exclusions(validate: Validate) -> None:
    both = mf.isolation_policy("p", FAULT, "shop", DB,
                               [(Selector.parse("app=catalog,tier=backend"), "shop")])
    assert not reaches(both, "shop", {"app": "catalog", "tier": "backend"})
    assert reaches(both, "shop", {"app": "catalog", "tier": "frontend"})
    assert reaches(both, "shop", {"tier": "backend"})
    sets = mf.isolation_policy("p", FAULT, "shop", DB,
                               [(Selector.parse("app in (a,b),!canary"), "shop")])
    validate(sets)
    assert not reaches(sets, "shop", {"app": "b"})
    assert reaches(sets, "shop", {"app": "a", "canary": "1"})
    assert reaches(sets, "shop", {"app": "c"})


def test_several_excluded_selectors_in_several_namespaces(validate: Validate) -> None:
    policy = mf.isolation_policy("p", FAULT, "shop", DB, [
        (Selector.parse("app=a"), "shop"), (Selector.parse("app=b"), "shop"),
        (Selector.parse("app=c"), "other")])
    validate(policy)
    assert not reaches(policy, "shop", {"app": "a"})
    assert not reaches(policy, "shop", {"app": "b"})
    assert not reaches(policy, "other", {"app": "c"})
    assert reaches(policy, "shop", {"app": "c"})
    assert reaches(policy, "other", {"app": "a"})
    assert reaches(policy, "third", {"app": "c"})


KEYS, VALUES = ["a", "b", "c"], ["x", "y", "z"]
requirement = st.one_of(
    st.builds(lambda k, op, v: Requirement(k, op, (v,)), st.sampled_from(KEYS),
              st.sampled_from(["=", "!="]), st.sampled_from(VALUES)),
    st.builds(lambda k, op, vs: Requirement(k, op, tuple(sorted(vs))), st.sampled_from(KEYS),
              st.sampled_from(["in", "notin"]),
              st.sets(st.sampled_from(VALUES), min_size=1, max_size=3)),
    st.builds(lambda k, op: Requirement(k, op), st.sampled_from(KEYS),
              st.sampled_from(["exists", "!"])),
)
labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES))


@given(st.lists(requirement, min_size=1, max_size=3), labels)
def test_the_policy_blocks_exactly_what_the_selector_selects(
        reqs: list[Requirement], pod: dict[str, str]) -> None:
    excluded = Selector.of(reqs)
    policy = mf.isolation_policy("p", FAULT, "shop", DB, [(excluded, "shop")])
    assert reaches(policy, "shop", pod) == (not excluded.matches(pod))
    assert reaches(policy, "other", pod)


def test_policy_isolates_follows_policy_types() -> None:
    ingress = {"spec": {"podSelector": {"matchLabels": {"app": "x"}}}}
    egress_only = {"spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    assert mf.policy_isolates(ingress, {"app": "x"})
    assert not mf.policy_isolates(ingress, {"app": "y"})
    assert not mf.policy_isolates(egress_only, {"app": "x"})


def test_network_chaos_partition_and_delay(validate: Validate) -> None:
    source = (Selector.parse("app=orders"), "shop")
    peer = (Selector.parse("app=catalog,tier in (backend)"), "shop")
    cut = mf.network_chaos("cg-x-part-0", FAULT, source, peer, "both")
    validate(cut)
    assert cut["spec"]["action"] == "partition" and cut["spec"]["direction"] == "both"
    assert cut["spec"]["selector"] == {"namespaces": ["shop"], "labelSelectors": {"app": "orders"}}
    assert cut["spec"]["target"] == {"mode": "all", "selector": {
        "namespaces": ["shop"], "labelSelectors": {"app": "catalog"},
        "expressionSelectors": [{"key": "tier", "operator": "In", "values": ["backend"]}]}}
    slow = mf.network_chaos("cg-x-delay-0", FAULT, source, peer, "to", delay_ms=250, jitter_ms=20)
    validate(slow)
    assert slow["spec"]["delay"] == {"latency": "250ms", "jitter": "20ms", "correlation": "0"}


def test_stress_chaos_cpu_memory_and_no_freeze(validate: Validate) -> None:
    cpu = mf.stress_chaos("cg-x-stress", FAULT, "shop", {"shop": ["b", "a"]}, "cpu", cpu_workers=2)
    validate(cpu)
    assert cpu["spec"]["selector"] == {"namespaces": ["shop"], "pods": {"shop": ["a", "b"]}}
    assert cpu["spec"]["stressors"] == {"cpu": {"workers": 2, "load": 100}}
    assert "duration" not in cpu["spec"]
    memory = mf.stress_chaos("s", FAULT, "shop", {"shop": ["a"]}, "memory", memory_mb=512,
                             duration_s=90.2)
    validate(memory)
    assert memory["spec"]["duration"] == "91s"
    assert memory["spec"]["stressors"] == {"memory": {"workers": 1, "size": "512MB"}}
    with pytest.raises(UsageError, match="freeze"):
        mf.stress_chaos("s", FAULT, "shop", {"shop": ["a"]}, "freeze")


def test_names_and_times() -> None:
    assert mf.object_name(FAULT, "to-0") == "cg-0123456789-to-0"
    with pytest.raises(UsageError):
        mf.object_name(FAULT, "x" * 60)
    assert mf.epoch("1970-01-01T00:01:00Z") == 60.0
    assert mf.epoch("1970-01-01T00:01:00.500000Z") == 60.5


def test_resolve_scope(tmp_path: Path) -> None:
    target = parse_target(target_doc(tmp_path / "kubeconfig"))
    orders = (Selector.parse("app=orders"), "shop")
    db = (Selector.parse("cnpg.io/cluster=shop-db"), "shop")
    assert mf.resolve_scope(target, NetworkScope("shop", "app=orders", dependency="postgres")) \
        == (orders, [db])
    assert mf.resolve_scope(target, NetworkScope("shop", links=("gateway-orders",))) == (
        (Selector.parse("app=gateway"), "shop"), [orders])
    links = NetworkScope("shop", "app=gateway", peer_selector="app=orders",
                         links=("gateway-orders",))  # as faults.network.scope_for_links builds it
    assert mf.resolve_scope(target, links) == ((Selector.parse("app=gateway"), "shop"), [orders])
    peer = NetworkScope("shop", "app=orders", peer_selector="app=x", peer_namespace="other")
    assert mf.resolve_scope(target, peer) == (orders, [(Selector.parse("app=x"), "other")])
    with pytest.raises(UsageError, match="both sides"):
        mf.resolve_scope(target, NetworkScope("shop", "app=orders", peer_selector="app=orders"))
    with pytest.raises(UsageError, match="needs a selector"):
        mf.resolve_scope(target, NetworkScope("shop", "app=orders"))
    doc = target_doc(tmp_path / "kubeconfig")
    doc["links"].append({"name": "orders-ext", "from": "orders", "to": "postgres"})
    doc["dependencies"]["postgres"]["links"].append("orders-ext")
    with pytest.raises(UsageError, match="not a service"):
        mf.resolve_scope(parse_target(doc), NetworkScope("shop", "app=orders",
                                                         dependency="postgres"))
