"""A tiny CloudNativePG operator for the fake cluster.

What chaosgate's adapter relies on, as CloudNativePG does it:

- instance pods ``<cluster>-<n>`` labelled ``cnpg.io/cluster``,
  ``cnpg.io/instanceName`` and ``cnpg.io/instanceRole`` (plus the legacy
  ``role``), owned by the Cluster;
- ``status.currentPrimary`` names the primary; a switchover is requested by
  setting ``status.targetPrimary`` (what ``kubectl cnpg promote`` patches),
  and the operator promotes that instance, then sets ``currentPrimary``,
  ``currentPrimaryTimestamp`` and a new ``timelineID``;
- if the primary pod disappears (or is terminating), the operator fails
  over to the first ready replica by the same route;
- a missing instance pod is recreated with the same name and a new uid (the
  PVC is still there), and rejoins as a replica.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resources import CLUSTER, POD
from .store import Obj, rfc3339

if TYPE_CHECKING:
    from .controllers import Controllers

__all__ = ["HEALTHY", "instance_labels", "reconcile_clusters"]

HEALTHY = "Cluster in healthy state"
WAITING = "Waiting for the instances to become active"


def instance_labels(cluster: str, instance: str, role: str) -> dict[str, str]:
    """The labels CloudNativePG puts on an instance pod."""
    return {"cnpg.io/cluster": cluster, "cnpg.io/instanceName": instance,
            "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": role, "role": role}


def _ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def reconcile_clusters(ctl: Controllers, now: float) -> None:
    """Reconcile every Cluster once."""
    for cluster in list(ctl.store.find(CLUSTER)):
        _reconcile(ctl, cluster, now)


def _initial_status(name: str, instances: int, now: float) -> dict[str, Any]:
    first = f"{name}-1"
    return {"instances": instances, "readyInstances": 0, "phase": WAITING,
            "instanceNames": [f"{name}-{i}" for i in range(1, instances + 1)],
            "currentPrimary": first, "targetPrimary": first, "timelineID": 1,
            "latestGeneratedNode": instances,
            "currentPrimaryTimestamp": rfc3339(now, micro=True),
            "targetPrimaryTimestamp": rfc3339(now, micro=True)}


def _reconcile(ctl: Controllers, cluster: Obj, now: float) -> None:
    store, meta = ctl.store, cluster["metadata"]
    ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
    before = dict(cluster.get("status") or {})
    status = cluster["status"] = dict(before) or _initial_status(
        name, int(cluster["spec"]["instances"]), now)
    pods = {p["metadata"]["name"]: p for p in store.find(POD, ns)
            if (p["metadata"].get("labels") or {}).get("cnpg.io/cluster") == name}
    live = {n: p for n, p in pods.items() if p["metadata"]["uid"] not in store.deadlines}
    current, target = status["currentPrimary"], status["targetPrimary"]

    if target == current and current not in live:
        replicas = sorted(n for n, p in live.items() if n != current and _ready(p))
        if replicas:
            target = replicas[0]
            status.update(targetPrimary=target, targetPrimaryTimestamp=rfc3339(now, micro=True),
                          phase="Failing over",
                          phaseReason=f"Failing over from {current} to {target}")
    if target != current:
        since = ctl.promote_since.setdefault(f"{uid}/{target}", now)
        if target in live and _ready(live[target]) and now >= since + ctl.timing.promote_delay:
            status.update(currentPrimary=target, currentPrimaryTimestamp=rfc3339(now, micro=True),
                          timelineID=int(status.get("timelineID", 1)) + 1)
            status.pop("phaseReason", None)
            ctl.promote_since.pop(f"{uid}/{target}", None)

    owner = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": name,
             "uid": uid, "controller": True}
    for instance in status["instanceNames"]:
        if instance not in pods:
            role = "primary" if instance == status["currentPrimary"] else "replica"
            pods[instance] = ctl.new_pod(ns, instance, instance_labels(name, instance, role),
                                         owner, ready=not before)
    for instance, pod in pods.items():
        role = "primary" if instance == status["currentPrimary"] else "replica"
        labels = pod["metadata"].setdefault("labels", {})
        if labels.get("cnpg.io/instanceRole") != role:
            labels.update({"cnpg.io/instanceRole": role, "role": role})
            store.bump(pod)

    ready = sum(1 for p in pods.values() if _ready(p) and p["metadata"]["uid"]
                not in store.deadlines)
    status["readyInstances"] = ready
    if status["currentPrimary"] == status["targetPrimary"]:
        status["phase"] = HEALTHY if ready == len(status["instanceNames"]) else WAITING
    if status != before:
        store.bump(cluster)
