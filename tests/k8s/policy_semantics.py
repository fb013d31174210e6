"""NetworkPolicy semantics, as a CNI that enforces them would apply them.

Kept from the retired fake API server because the real control plane of the
test suite (scripts/kube) stores NetworkPolicies but cannot enforce them: no
CNI, no containers. Used by tests/k8s/test_k8s_manifests.py to check what a
set of policies *does* (which pod may open a connection to which),
independently of how chaosgate built them (no code shared with
:mod:`chaosgate.targets`, so a bug there cannot agree with itself):

- a pod is isolated for ingress (egress) when some policy in its namespace
  selects it with that policy type (``policyTypes`` defaults to Ingress,
  plus Egress when the policy has egress rules);
- an isolated pod accepts what *any* selecting policy allows (union);
- a peer with only ``podSelector`` means pods of the policy's namespace,
  with only ``namespaceSelector`` any pod of those namespaces, with both the
  selected pods of the selected namespaces; ``ipBlock`` never matches a pod.
Ports are not modelled (chaosgate's policies name none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Endpoint", "allowed", "match_object_selector"]

Endpoint = tuple[str, Mapping[str, str], Mapping[str, str]]  # (namespace, pod labels, ns labels)


def match_object_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a LabelSelector object (``{}`` selects everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _types(spec: Mapping[str, Any]) -> list[str]:
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Endpoint) -> bool:
    ns, labels, ns_labels = other
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not match_object_selector(peer["namespaceSelector"], ns_labels):
            return False
    elif ns != policy_ns:
        return False
    return "podSelector" not in peer or match_object_selector(peer["podSelector"], labels)


def _side_allows(policies: Iterable[Mapping[str, Any]], me: Endpoint, other: Endpoint,
                 kind: str) -> bool:
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    selecting = [p for p in policies
                 if p["metadata"]["namespace"] == me[0] and kind in _types(p["spec"])
                 and match_object_selector(p["spec"].get("podSelector"), me[1])]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if not peers or any(_peer_matches(peer, me[0], other) for peer in peers):
                return True
    return False


def allowed(policies: Iterable[Mapping[str, Any]], source: Endpoint, dest: Endpoint) -> bool:
    """Whether ``source`` may open a connection to ``dest`` under ``policies``."""
    policies = list(policies)
    return (_side_allows(policies, source, dest, "Egress")
            and _side_allows(policies, dest, source, "Ingress"))
