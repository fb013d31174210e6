"""CloudNativePG failover: a switchover to a replica, or deleting the primary pod.

CloudNativePG (``postgresql.cnpg.io/v1`` Cluster) records the primary in
``status.currentPrimary``. Two ways to move it, both what an operator does
by hand:

- ``switchover`` (alias ``promote``): set ``status.targetPrimary`` to a
  ready replica, as ``kubectl cnpg promote <cluster> <instance>`` does (with
  ``phase: Switchover in progress``); the operator demotes the primary and
  promotes the target.
- ``delete-primary``: delete the primary's pod with grace period 0; the
  operator fails over to the most advanced replica and recreates the pod,
  which rejoins as a replica.

``verify`` is ok once ``currentPrimary`` names another instance whose pod is
ready. Neither method is undone (no failback): ``revert`` is a no-op and
``verify_reverted`` waits for the cluster to be healthy with the old primary
back as a ready replica.

The change's data (:class:`CnpgFailoverData`) is private to this module; its
``subjects`` are ``(old_primary,)``, the instance name the Cluster status
(and so :meth:`CloudNativePG.moments`) uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict, cast

from ..clients.kubernetes import KubeApi
from ..exceptions import Inconclusive, UsageError
from ..targets import Target
from . import k8s_manifests as mf
from .base import DB_METHODS, Change, DbMemberState, FaultKind, Moment, ProbeResult

__all__ = ["CNPG", "HEALTHY_PHASE", "CloudNativePG", "CnpgFailoverData"]

CNPG = ("postgresql.cnpg.io", "v1", "clusters")
HEALTHY_PHASE = "Cluster in healthy state"
_ALIASES = {"promote": "switchover"}

CnpgMethod = Literal["switchover", "delete-primary"]


class CnpgFailoverData(TypedDict):
    """The data of a CloudNativePG failover :class:`Change`.

    Written by :meth:`CloudNativePG.plan_failover`, read only by :class:`CloudNativePG`.
    """

    method: CnpgMethod  # ``promote`` is recorded as ``switchover``
    namespace: str  # the Cluster's namespace
    cluster: str  # the Cluster's name
    old_primary: str  # the primary instance when planned
    old_primary_uid: str  # its pod's metadata.uid (delete-primary deletes only that one)
    candidate: NotRequired[str]  # switchover only: the replica to promote


def _data(change: Change) -> CnpgFailoverData:
    """``change.data`` as :meth:`CloudNativePG.plan_failover` wrote it."""
    return cast(CnpgFailoverData, change.data)


def _ready(pod: dict[str, Any] | None) -> bool:
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class CloudNativePG:
    """:class:`~chaosgate.platforms.base.DatabaseAdapter` for a CloudNativePG Cluster."""

    kind = "cloudnativepg"

    def __init__(self, target: Target, kube: KubeApi) -> None:
        db = target.database
        if db is None or db.type != "cloudnativepg" or not db.cluster:
            raise UsageError(f"{target.source}: database: a cloudnativepg database needs "
                             "cluster (and namespace)")
        self.target, self.kube = target, kube
        self.cluster = db.cluster
        self.namespace = db.namespace or target.namespace
        if not target.safety.allows_namespace(self.namespace):
            raise UsageError(f"namespace {self.namespace!r} of CloudNativePG cluster "
                             f"{self.cluster} is not allowed by safety.namespaces of "
                             f"{target.source}. Fix: add it to safety.namespaces")

    def methods(self) -> tuple[str, ...]:
        """switchover (alias promote) and delete-primary."""
        return DB_METHODS["cloudnativepg"]

    # -- reading ------------------------------------------------------------------------

    def _status(self) -> dict[str, Any]:
        found = self.kube.get_custom(*CNPG[:2], CNPG[2], self.namespace, self.cluster)
        if found is None:
            raise UsageError(f"no CloudNativePG Cluster {self.namespace}/{self.cluster} on "
                             f"{self.kube.host} (is the operator installed, the name right?)")
        status: dict[str, Any] = dict(found.get("status") or {})
        status["_instances"] = int((found.get("spec") or {}).get("instances", 0))
        return status

    def _pods(self) -> dict[str, dict[str, Any]]:
        pods = self.kube.list_pods(self.namespace, f"cnpg.io/cluster={self.cluster}")
        return {p["metadata"]["name"]: p for p in pods}

    def _members(self, status: dict[str, Any],
                 pods: dict[str, dict[str, Any]]) -> list[DbMemberState]:
        names = sorted(set(status.get("instanceNames") or []) | set(pods))
        current = status.get("currentPrimary")
        return [DbMemberState(name, "primary" if name == current else "replica",
                              _ready(pods.get(name)),
                              status.get("timelineID") if name == current else None)
                for name in names]

    def members(self) -> list[DbMemberState]:
        """Every instance: primary per ``status.currentPrimary``, healthy when its pod is ready."""
        return self._members(self._status(), self._pods())

    def primary(self) -> str | None:
        """``status.currentPrimary`` when its pod is ready."""
        current = self._status().get("currentPrimary")
        return current if current and _ready(self._pods().get(current)) else None

    def _health(self, status: dict[str, Any], pods: dict[str, dict[str, Any]]) -> str | None:
        """None when healthy, else why not."""
        members = self._members(status, pods)
        if status.get("currentPrimary") != status.get("targetPrimary"):
            return (f"a switchover to {status.get('targetPrimary')} is in progress "
                    f"({status.get('phase')})")
        if status.get("phase") != HEALTHY_PHASE:
            return f"phase is {status.get('phase')!r}"
        sick = [m.name for m in members if not m.healthy]
        if sick or len(members) < status["_instances"]:
            return f"instances not ready: {', '.join(sick) or 'missing pods'}"
        return None

    def healthy(self) -> bool:
        """Healthy phase, no switchover pending, every instance pod ready."""
        return self._health(self._status(), self._pods()) is None

    # -- the fault --------------------------------------------------------------------------

    def plan_failover(self, method: str, fault_id: str, candidate: str | None = None) -> Change:
        """Resolve a switchover or delete-primary; Inconclusive if the cluster is not healthy."""
        method = _ALIASES.get(method, method)
        if method not in self.methods():
            raise UsageError(f"CloudNativePG failover method {method!r} is unknown; use one of: "
                             f"{', '.join(self.methods())} (promote is switchover)")
        status, pods = self._status(), self._pods()
        why = self._health(status, pods)
        if why is not None:
            raise Inconclusive(f"CloudNativePG cluster {self.cluster} is not healthy ({why}); "
                               "chaosgate fails over only a healthy cluster")
        old = str(status["currentPrimary"])
        data = CnpgFailoverData(method=cast(CnpgMethod, method),  # one of methods(), checked
                                namespace=self.namespace, cluster=self.cluster,
                                old_primary=old,
                                old_primary_uid=str(pods[old]["metadata"]["uid"]))
        if method == "switchover":
            replicas = sorted(n for n, p in pods.items() if n != old and _ready(p))
            if candidate is not None and candidate not in replicas:
                raise UsageError(f"{candidate} is not a ready replica of {self.cluster}; "
                                 f"ready replicas: {', '.join(replicas) or '(none)'}")
            if not replicas:
                raise Inconclusive(f"{self.cluster} has no ready replica to promote")
            data["candidate"] = candidate or replicas[0]
            text = f"switch {self.cluster} over from {old} to {data['candidate']}"
        else:
            text = f"delete primary pod {self.namespace}/{old} of {self.cluster} (grace 0)"
        return Change(FaultKind.FAILOVER_DB, "kubernetes", fault_id, text + " (CloudNativePG)",
                      data, subjects=(old,))

    def apply(self, change: Change) -> None:
        """Patch ``status.targetPrimary`` (switchover) or delete the primary's pod."""
        data = _data(change)
        if data["method"] == "delete-primary":
            self.kube.delete_pod(data["namespace"], data["old_primary"], data["old_primary_uid"])
            return
        current = self._status().get("currentPrimary")
        if current != data["old_primary"]:
            raise Inconclusive(f"the primary of {self.cluster} changed to {current} since the "
                               "plan; not switching over")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.kube.patch_custom_status(*CNPG[:2], CNPG[2], data["namespace"], data["cluster"], {
            "status": {"targetPrimary": data["candidate"], "targetPrimaryTimestamp": now,
                       "phase": "Switchover in progress",
                       "phaseReason": f"Switching over to {data['candidate']}"}})

    def verify(self, change: Change) -> ProbeResult:
        """Ok when another instance than the old primary is the primary and ready."""
        status, pods = self._status(), self._pods()
        current, old = status.get("currentPrimary"), _data(change)["old_primary"]
        if current == old or not current:
            return ProbeResult(False, f"{old} is still the primary of {self.cluster} "
                                      f"(phase {status.get('phase')!r})")
        if not _ready(pods.get(current)):
            return ProbeResult(False, f"{current} is the primary but its pod is not ready")
        return ProbeResult(True, f"primary of {self.cluster} moved from {old} to {current} "
                                 f"(timeline {status.get('timelineID')})")

    def revert(self, change: Change) -> None:
        """Nothing to undo: CloudNativePG recreates the pod and it rejoins as a replica."""

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when the cluster is healthy and the old primary is a ready replica again."""
        status, pods = self._status(), self._pods()
        why = self._health(status, pods)
        old = _data(change)["old_primary"]
        if why is not None:
            return ProbeResult(False, f"{self.cluster} is not healthy yet: {why}")
        if status.get("currentPrimary") == old or not _ready(pods.get(old)):
            return ProbeResult(False, f"{old} is not back as a ready replica yet")
        return ProbeResult(True, f"{self.cluster} healthy, primary {status['currentPrimary']}, "
                                 f"{old} a ready replica")

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Switchover requested and primary promoted, from the Cluster status timestamps."""
        status, found = self._status(), []
        stamps = (("targetPrimaryTimestamp", "primary change requested", "targetPrimary"),
                  ("currentPrimaryTimestamp", "promoted", "currentPrimary"))
        for key, what, who_key in stamps:
            who = status.get(who_key)
            if status.get(key):
                t = mf.epoch(str(status[key]))
                if t >= since:
                    found.append(Moment(t, what, str(who), "cloudnativepg status"))
        return sorted(found, key=lambda m: m.t)
