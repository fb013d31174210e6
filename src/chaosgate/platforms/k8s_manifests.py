"""Kubernetes manifests for faults, built from plain inputs with no I/O.

Every object chaosgate creates carries two labels, so that a revert (or
``chaosgate cleanup`` after a SIGKILL) finds it again, and so that people
looking at the cluster know what it is::

    app.kubernetes.io/managed-by: chaosgate
    chaosgate.io/fault-id: cg-0123456789

NetworkPolicies only *allow* traffic, and the policies that select a pod
are unioned. A partition is therefore built as a policy that selects the
pods to isolate and allows ingress from everything *except* the other side.
The complement of a label selector is a disjunction (``not (a and b)`` is
``not a or not b``), written as one ``from`` peer per negated requirement;
excluding several selectors at once takes their cross product. Such a
policy only restricts traffic while no other policy selects the same pods
(:func:`policy_isolates`, checked by the platform before and after).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..exceptions import UsageError
from ..targets import Requirement, Selector, Target
from .base import NetworkScope

__all__ = [
    "FAULT_LABEL",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "NAMESPACE_NAME_LABEL",
    "chaos_pod_selector",
    "epoch",
    "fault_labels",
    "isolation_policy",
    "network_chaos",
    "object_name",
    "policy_isolates",
    "resolve_scope",
    "selector_object_matches",
    "stress_chaos",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "chaosgate"
FAULT_LABEL = "chaosgate.io/fault-id"
#: Set by Kubernetes (1.21+) on every namespace: its own name.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: Most ``from`` peers one isolation policy may list (cross products grow fast).
MAX_PEERS = 64

Manifest = dict[str, Any]
Scoped = tuple[Selector, str]  # a selector and the namespace it selects in

_NEGATED = {"=": "NotIn", "in": "NotIn", "!=": "In", "notin": "In", "exists": "DoesNotExist",
            "!": "Exists"}


def epoch(stamp: str) -> float:
    """A Kubernetes timestamp (RFC 3339, ``Z`` or offset) as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def fault_labels(fault_id: str) -> dict[str, str]:
    """The labels of every object a fault creates."""
    return {MANAGED_BY_LABEL: MANAGED_BY, FAULT_LABEL: fault_id}


def object_name(fault_id: str, part: str) -> str:
    """A DNS-label name for one object of a fault: ``<fault_id>-<part>``."""
    name = f"{fault_id}-{part}".lower()
    if len(name) > 63:
        raise UsageError(f"object name {name!r} is longer than 63 characters")
    return name


def _negated(req: Requirement) -> dict[str, Any]:
    """The match expression that holds exactly when ``req`` does not."""
    expr: dict[str, Any] = {"key": req.key, "operator": _NEGATED[req.operator]}
    if req.values:
        expr["values"] = list(req.values)
    return expr


def _complement(excluded: Sequence[Scoped]) -> list[dict[str, Any]]:
    """``from`` peers that match every pod except those ``excluded`` selects."""
    peers: list[dict[str, Any]] = []
    namespaces = sorted({ns for _, ns in excluded})
    peers.append({"namespaceSelector": {"matchExpressions": [
        {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": namespaces}]}})
    for ns in namespaces:
        selectors = [sel for sel, sel_ns in excluded if sel_ns == ns]
        for combo in itertools.product(*(sel.requirements for sel in selectors)):
            expressions = sorted({repr(e): e for e in map(_negated, combo)}.items())
            peers.append({"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: ns}},
                          "podSelector": {"matchExpressions": [e for _, e in expressions]}})
    if len(peers) > MAX_PEERS:
        raise UsageError(
            f"excluding {', '.join(str(s) for s, _ in excluded)} takes {len(peers)} "
            f"NetworkPolicy peers (at most {MAX_PEERS}); use simpler selectors or Chaos Mesh")
    return peers


def isolation_policy(name: str, fault_id: str, namespace: str, isolated: Selector,
                     excluded: Sequence[Scoped]) -> Manifest:
    """A NetworkPolicy: pods ``isolated`` selects accept ingress from all but ``excluded``."""
    if not excluded:
        raise UsageError("a partition needs pods on the other side to exclude")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": fault_labels(fault_id),
                     "annotations": {"chaosgate.io/isolates": str(isolated),
                                     "chaosgate.io/excludes": "; ".join(
                                         f"{ns}/{sel}" for sel, ns in excluded)}},
        "spec": {"podSelector": isolated.to_kubernetes(), "policyTypes": ["Ingress"],
                 "ingress": [{"from": _complement(excluded)}]},
    }


def chaos_pod_selector(selector: Selector, namespace: str) -> dict[str, Any]:
    """A Chaos Mesh ``PodSelectorSpec`` for ``selector`` in ``namespace``."""
    k8s = selector.to_kubernetes()
    spec: dict[str, Any] = {"namespaces": [namespace]}
    if "matchLabels" in k8s:
        spec["labelSelectors"] = k8s["matchLabels"]
    if "matchExpressions" in k8s:
        spec["expressionSelectors"] = k8s["matchExpressions"]
    return spec


def network_chaos(name: str, fault_id: str, source: Scoped, peer: Scoped, direction: str,
                  delay_ms: int | None = None, jitter_ms: int = 0) -> Manifest:
    """A Chaos Mesh NetworkChaos: a partition, or a delay when ``delay_ms`` is given.

    Every pod of ``source`` and of ``peer`` is selected (mode ``all``);
    ``direction`` is Chaos Mesh's, seen from ``source``.
    """
    spec: dict[str, Any] = {
        "action": "partition" if delay_ms is None else "delay",
        "mode": "all",
        "selector": chaos_pod_selector(*source),
        "direction": direction,
        "target": {"mode": "all", "selector": chaos_pod_selector(*peer)},
    }
    if delay_ms is not None:
        spec["delay"] = {"latency": f"{delay_ms}ms", "jitter": f"{jitter_ms}ms",
                         "correlation": "0"}
    return {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"name": name, "namespace": source[1], "labels": fault_labels(fault_id)},
            "spec": spec}


def stress_chaos(name: str, fault_id: str, namespace: str, pods: Mapping[str, Iterable[str]],
                 mode: str, cpu_workers: int = 1, memory_mb: int = 256,
                 duration_s: float | None = None) -> Manifest:
    """A Chaos Mesh StressChaos on exactly ``pods`` (namespace -> names): cpu or memory.

    ``duration_s`` (rounded up to whole seconds) makes Chaos Mesh end the
    stress by itself, should nobody delete the object.
    """
    if mode == "cpu":
        stressors: dict[str, Any] = {"cpu": {"workers": cpu_workers, "load": 100}}
    elif mode == "memory":
        stressors = {"memory": {"workers": 1, "size": f"{memory_mb}MB"}}
    else:
        raise UsageError(f"stress mode {mode!r} has no Chaos Mesh StressChaos form; "
                         "use cpu or memory")
    spec: dict[str, Any] = {"mode": "all",
                            "selector": {"namespaces": sorted(pods),
                                         "pods": {ns: sorted(names) for ns, names in pods.items()}},
                            "stressors": stressors}
    if duration_s is not None:
        spec["duration"] = f"{math.ceil(duration_s)}s"
    return {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos",
            "metadata": {"name": name, "namespace": namespace, "labels": fault_labels(fault_id)},
            "spec": spec}


def selector_object_matches(selector: Mapping[str, Any] | None,
                            labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a LabelSelector object (``{}`` selects every pod)."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if ((op == "In" and not (present and labels[key] in values))
                or (op == "NotIn" and present and labels[key] in values)
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present)):
            return False
    return True


def policy_isolates(policy: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether ``policy`` governs ingress of a pod with ``labels`` (so it unions with ours)."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes") or ["Ingress"]
    return "Ingress" in types and selector_object_matches(spec.get("podSelector"), labels)


def resolve_scope(target: Target, scope: NetworkScope) -> tuple[Scoped, list[Scoped]]:
    """The two sides of a network fault as (selector, namespace): the source and its peers.

    Peers are the destinations of the links named directly or through
    ``dependency`` (each end must be a service of the target: Kubernetes
    faults need pods on both sides), plus ``peer_selector`` unless it is
    one of those destinations already.
    """
    source = None if scope.selector is None else (Selector.parse(scope.selector),
                                                  scope.namespace)
    links = list(scope.links)
    if scope.dependency is not None and (
            not links or scope.dependency in {d.name for d in target.dependencies}):
        links += [link.name for link in target.links_of(scope.dependency)]
    services = {s.name: s for s in target.services}
    peers: list[Scoped] = []
    for name in dict.fromkeys(links):
        link = target.link(name)
        for end in (link.destination, link.source):
            if end not in services:
                raise UsageError(
                    f"{target.source}: link {name}: {end!r} is not a service of the target, so "
                    f"it has no pod selector; Kubernetes network faults need pods on both "
                    f"sides. Fix: add a service {end} with the selector of its pods")
        if source is None:
            src = services[link.source]
            source = (src.selector, src.namespace)
        dest = services[link.destination]
        peers.append((dest.selector, dest.namespace))
    if scope.peer_selector is not None:
        peer = Selector.parse(scope.peer_selector)
        if peer not in {sel for sel, _ in peers}:
            peers.append((peer, scope.peer_namespace or scope.namespace))
    if source is None or not peers:
        raise UsageError("a network fault on Kubernetes needs a selector for the pods on one "
                         "side and a peer selector, dependency or link for the other")
    unique = list(dict.fromkeys(peers))
    if source in unique:
        raise UsageError(f"{source[0]} in {source[1]} is on both sides of the network fault")
    return source, unique
