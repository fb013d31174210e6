"""NetworkPolicy semantics, as a CNI that enforces them would apply them.

Used by the tests to check what a set of policies *does* (which pod may
open a connection to which), independently of how chaosgate built them:

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

from .labels import match_object_selector

__all__ = ["Endpoint", "allowed"]

Endpoint = tuple[str, Mapping[str, str], Mapping[str, str]]  # (namespace, pod labels, ns labels)


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
