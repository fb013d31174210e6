"""The resource types the fake serves, their discovery documents and validation.

Validation is what the real server (or the CRD's OpenAPI schema and the
operator's admission webhook) would refuse with 422, limited to what a
client of these resources can get wrong: names, labels, required fields and
enums.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import invalid
from .labels import valid_label_key, valid_label_value

__all__ = ["CHAOS_MESH", "CLUSTER", "CNPG", "CORE", "DEPLOYMENT", "NAMESPACE", "NETWORKCHAOS",
           "NETWORKPOLICY", "POD", "STRESSCHAOS", "ResourceType", "api_group_list",
           "api_resource_list", "validate"]

Cause = tuple[str, str, str]  # (reason, field, message)


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives and what it is called."""

    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update")

    @property
    def group_version(self) -> str:
        """``v1`` or ``group/version``, the objects' ``apiVersion``."""
        return f"{self.group}/{self.version}" if self.group else self.version


NAMESPACE = ResourceType("", "v1", "namespaces", "namespace", "Namespace", namespaced=False)
POD = ResourceType("", "v1", "pods", "pod", "Pod", status_subresource=True)
DEPLOYMENT = ResourceType("apps", "v1", "deployments", "deployment", "Deployment",
                          status_subresource=True)
NETWORKPOLICY = ResourceType("networking.k8s.io", "v1", "networkpolicies", "networkpolicy",
                             "NetworkPolicy")
NETWORKCHAOS = ResourceType("chaos-mesh.org", "v1alpha1", "networkchaos", "networkchaos",
                            "NetworkChaos", status_subresource=True)
STRESSCHAOS = ResourceType("chaos-mesh.org", "v1alpha1", "stresschaos", "stresschaos",
                           "StressChaos", status_subresource=True)
CLUSTER = ResourceType("postgresql.cnpg.io", "v1", "clusters", "cluster", "Cluster",
                       status_subresource=True)

CORE = (NAMESPACE, POD, DEPLOYMENT, NETWORKPOLICY)
CHAOS_MESH = (NETWORKCHAOS, STRESSCHAOS)
CNPG = (CLUSTER,)


def api_group_list(types: list[ResourceType]) -> dict[str, Any]:
    """``GET /apis``: every named group with its version."""
    groups: dict[str, str] = {}
    for rt in types:
        if rt.group:
            groups.setdefault(rt.group, rt.version)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
         "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
        for g, v in groups.items()
    ]}


def api_resource_list(group_version: str, types: list[ResourceType]) -> dict[str, Any]:
    """``GET /apis/<group>/<version>`` (or ``/api/v1``): its resources and subresources."""
    resources: list[dict[str, Any]] = []
    for rt in types:
        if rt.group_version != group_version:
            continue
        resources.append({"name": rt.plural, "singularName": rt.singular,
                          "namespaced": rt.namespaced, "kind": rt.kind, "verbs": list(rt.verbs)})
        if rt.status_subresource:
            resources.append({"name": f"{rt.plural}/status", "singularName": "",
                              "namespaced": rt.namespaced, "kind": rt.kind,
                              "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def _meta_causes(rt: ResourceType, obj: Mapping[str, Any]) -> list[Cause]:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    causes: list[Cause] = []
    if not name:
        causes.append(("FieldValueRequired", "metadata.name",
                       "Required value: name or generateName is required"))
    else:
        pattern = _DNS_LABEL if rt.kind == "Namespace" else _DNS_SUBDOMAIN
        if not pattern.match(name) or len(name) > (63 if rt.kind == "Namespace" else 253):
            causes.append(("FieldValueInvalid", "metadata.name",
                           f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of '
                           "lower case alphanumeric characters, '-' or '.'"))
    for key, value in (meta.get("labels") or {}).items():
        if not valid_label_key(key):
            causes.append(("FieldValueInvalid", "metadata.labels", f'Invalid value: "{key}"'))
        if not isinstance(value, str) or not valid_label_value(value):
            causes.append(("FieldValueInvalid", "metadata.labels", f'Invalid value: "{value}"'))
    return causes


def _selector_causes(selector: Any, field: str) -> list[Cause]:
    if selector is None:
        return []
    if not isinstance(selector, Mapping):
        return [("FieldValueInvalid", field, "Invalid value: must be an object")]
    causes: list[Cause] = []
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        op, values = expr.get("operator"), expr.get("values") or []
        where = f"{field}.matchExpressions[{i}]"
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(("FieldValueNotSupported", f"{where}.operator",
                           f'Unsupported value: "{op}"'))
        elif op in ("In", "NotIn") and not values:
            causes.append(("FieldValueRequired", f"{where}.values",
                           "Required value: must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            causes.append(("FieldValueForbidden", f"{where}.values",
                           "Forbidden: may not be specified when `operator` is 'Exists' or "
                           "'DoesNotExist'"))
    return causes


def _networkpolicy(spec: Mapping[str, Any]) -> list[Cause]:
    causes = _selector_causes(spec.get("podSelector"), "spec.podSelector")
    if "podSelector" not in spec:
        causes.append(("FieldValueRequired", "spec.podSelector", "Required value"))
    for ptype in spec.get("policyTypes") or []:
        if ptype not in ("Ingress", "Egress"):
            causes.append(("FieldValueNotSupported", "spec.policyTypes",
                           f'Unsupported value: "{ptype}"'))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            for j, peer in enumerate(rule.get(peers_key) or []):
                where = f"spec.{direction}[{i}].{peers_key}[{j}]"
                if not any(k in peer for k in ("podSelector", "namespaceSelector", "ipBlock")):
                    causes.append(("FieldValueRequired", where,
                                   "Required value: must specify a peer"))
                if "ipBlock" in peer and len(peer) > 1:
                    causes.append(("FieldValueForbidden", where,
                                   "Forbidden: may not specify both ipBlock and another peer"))
                causes += _selector_causes(peer.get("podSelector"), f"{where}.podSelector")
                causes += _selector_causes(peer.get("namespaceSelector"),
                                           f"{where}.namespaceSelector")
    return causes


_MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")


def _pod_selector_causes(spec: Mapping[str, Any], prefix: str) -> list[Cause]:
    causes: list[Cause] = []
    if spec.get("mode") not in _MODES:
        causes.append(("FieldValueNotSupported", f"{prefix}mode",
                       f'Unsupported value: "{spec.get("mode")}"'))
    elif spec["mode"] not in ("one", "all") and not spec.get("value"):
        causes.append(("FieldValueRequired", f"{prefix}value", "Required value"))
    if "duration" in spec and not _DURATION.match(str(spec["duration"])):
        causes.append(("FieldValueInvalid", f"{prefix}duration",
                       f'Invalid value: "{spec["duration"]}": not a duration'))
    if not isinstance(spec.get("selector"), Mapping):
        causes.append(("FieldValueRequired", f"{prefix}selector", "Required value"))
    else:
        for i, expr in enumerate(spec["selector"].get("expressionSelectors") or []):
            causes += _selector_causes({"matchExpressions": [expr]},
                                       f"{prefix}selector.expressionSelectors[{i}]")
    return causes


def _networkchaos(spec: Mapping[str, Any]) -> list[Cause]:
    causes = _pod_selector_causes(spec, "spec.")
    action = spec.get("action")
    if action not in ("netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"):
        causes.append(("FieldValueNotSupported", "spec.action", f'Unsupported value: "{action}"'))
    if spec.get("direction", "") not in ("to", "from", "both", ""):
        causes.append(("FieldValueNotSupported", "spec.direction",
                       f'Unsupported value: "{spec.get("direction")}"'))
    if action == "delay":
        delay = spec.get("delay") or {}
        if not _DURATION.match(str(delay.get("latency", ""))):
            causes.append(("FieldValueInvalid", "spec.delay.latency",
                           f'Invalid value: "{delay.get("latency")}": not a duration'))
        if "jitter" in delay and not _DURATION.match(str(delay["jitter"])):
            causes.append(("FieldValueInvalid", "spec.delay.jitter",
                           f'Invalid value: "{delay["jitter"]}": not a duration'))
    if spec.get("target") is not None:
        causes += _pod_selector_causes(spec["target"], "spec.target.")
    return causes


def _stresschaos(spec: Mapping[str, Any]) -> list[Cause]:
    causes = _pod_selector_causes(spec, "spec.")
    stressors = spec.get("stressors") or {}
    if not stressors and not spec.get("stressngStressors"):
        causes.append(("FieldValueRequired", "spec.stressors", "Required value: missing stressors"))
    for name in ("cpu", "memory"):
        stressor = stressors.get(name)
        if stressor is not None and not (isinstance(stressor.get("workers"), int)
                                         and stressor["workers"] > 0):
            causes.append(("FieldValueInvalid", f"spec.stressors.{name}.workers",
                           "Invalid value: workers must be a positive integer"))
    memory = stressors.get("memory")
    if memory is not None and "size" in memory and not re.match(
            r"^\d+(\.\d+)?([KMGT]i?B|%)?$", str(memory["size"])):
        causes.append(("FieldValueInvalid", "spec.stressors.memory.size",
                       f'Invalid value: "{memory["size"]}"'))
    return causes


def _cluster(spec: Mapping[str, Any]) -> list[Cause]:
    instances = spec.get("instances")
    if not isinstance(instances, int) or instances < 1:
        return [("FieldValueInvalid", "spec.instances", "Invalid value: must be at least 1")]
    return []


_SPEC_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[Cause]]] = {
    "NetworkPolicy": _networkpolicy,
    "NetworkChaos": _networkchaos,
    "StressChaos": _stresschaos,
    "Cluster": _cluster,
}


def validate(rt: ResourceType, obj: Mapping[str, Any]) -> None:
    """Raise the 422 the real server would send for ``obj``, if any."""
    causes = _meta_causes(rt, obj)
    check = _SPEC_CHECKS.get(rt.kind)
    if check is not None:
        spec = obj.get("spec")
        causes += check(spec if isinstance(spec, Mapping) else {})
    if causes:
        name = (obj.get("metadata") or {}).get("name", "")
        raise invalid(rt.kind, rt.group, name, causes)
