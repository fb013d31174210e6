"""What the fake's "controllers" do between requests: the cluster's reactions.

Run lazily by :meth:`Controllers.reconcile` before every request (under the
server's lock), with the store's clock, so that nothing happens in the
background and tests need no sleeps beyond polling with a generous deadline:

- kubelet: a new pod is Pending and not ready, then Running and Ready after
  ``ready_delay``; a terminating pod is not ready and disappears at its
  deadline.
- Deployment controller: keeps ``spec.replicas`` live (non-terminating) pods,
  creating replacements with new names and uids; updates ``status``.
- Chaos Mesh: sets ``status.conditions`` (Selected, AllInjected) and
  per-pod records ``inject_delay`` after creation; a deleted experiment keeps
  its finalizer for ``recover_delay`` while it "recovers".
- CloudNativePG: a patched ``status.targetPrimary`` (or a deleted primary
  pod) promotes that instance after ``promote_delay``; missing instance pods
  are recreated with the same name and a new uid.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .cnpg import reconcile_clusters
from .labels import match_object_selector
from .resources import DEPLOYMENT, NETWORKCHAOS, POD, STRESSCHAOS, ResourceType
from .store import Obj, Store, rfc3339

__all__ = ["Controllers", "Timing", "is_ready"]

CHAOS_FINALIZER = "chaos-mesh/records"


@dataclass
class Timing:
    """Delays (seconds) of the simulated reactions; small by default."""

    ready_delay: float = 0.3
    inject_delay: float = 0.1
    recover_delay: float = 0.1
    promote_delay: float = 0.3


def is_ready(pod: Obj) -> bool:
    """Whether a pod's Ready condition is True."""
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def _owned_by(pod: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in pod["metadata"].get("ownerReferences") or [])


class Controllers:
    """The simulated kubelet and operators of one fake cluster."""

    def __init__(self, store: Store, timing: Timing) -> None:
        self.store = store
        self.timing = timing
        self.ready_at: dict[str, float] = {}  # pod uid -> when it turns ready
        self.created_at: dict[str, float] = {}  # chaos uid -> first seen
        self.promote_since: dict[str, float] = {}  # "<cluster uid>/<instance>" -> requested
        self.chaos_broken = False  # True: Chaos Mesh selects pods but fails to inject
        self._ips = iter(range(10, 10**6))

    # -- pods -------------------------------------------------------------------

    def new_pod(self, namespace: str, name: str, labels: dict[str, str],
                owner: dict[str, Any] | None = None, ready: bool = False) -> Obj:
        """Create a scheduled pod that turns ready ``ready_delay`` from now (or at once)."""
        now = self.store.clock()
        pod: Obj = {"metadata": {"name": name, "labels": dict(labels)},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}],
                             "nodeName": "fake-node-1", "restartPolicy": "Always",
                             "terminationGracePeriodSeconds": 30}}
        if owner is not None:
            pod["metadata"]["ownerReferences"] = [owner]
        self.store.stamp(POD, pod, namespace)
        n = next(self._ips)
        pod["status"] = {"hostIP": "172.18.0.2", "podIP": f"10.244.{n // 250}.{n % 250 + 2}",
                         "startTime": rfc3339(now)}
        self.ready_at[pod["metadata"]["uid"]] = now if ready else now + self.timing.ready_delay
        self._set_ready(pod, ready)
        return self.store.put(POD, pod)

    def _set_ready(self, pod: Obj, ready: bool) -> None:
        flag, now = ("True" if ready else "False"), rfc3339(self.store.clock())
        status = pod["status"]
        status["phase"] = "Running" if ready or status.get("phase") == "Running" else "Pending"
        status["conditions"] = [
            {"type": t, "status": s, "lastTransitionTime": now}
            for t, s in (("PodScheduled", "True"), ("Initialized", "True"),
                         ("ContainersReady", flag), ("Ready", flag))]
        state = ({"running": {"startedAt": now}} if ready
                 else {"waiting": {"reason": "ContainerCreating"}})
        status["containerStatuses"] = [{"name": "app", "image": "registry.local/app:1",
                                        "imageID": "", "ready": ready, "restartCount": 0,
                                        "started": ready, "state": state}]

    def _kubelet(self, now: float) -> None:
        for pod in list(self.store.find(POD)):
            meta = pod["metadata"]
            deadline = self.store.deadlines.get(meta["uid"])
            if deadline is not None:
                if now >= deadline:
                    self.store.remove(POD, meta["namespace"], meta["name"])
                    del self.store.deadlines[meta["uid"]]
                elif is_ready(pod):
                    self._set_ready(pod, False)
                    self.store.bump(pod)
            elif not is_ready(pod) and now >= self.ready_at.get(meta["uid"], now):
                self._set_ready(pod, True)
                self.store.bump(pod)

    # -- deployments ------------------------------------------------------------

    def _deployments(self) -> None:
        for dep in list(self.store.find(DEPLOYMENT)):
            meta, spec = dep["metadata"], dep.get("spec", {})
            ns, rs_uid = meta["namespace"], f"{meta['uid']}-rs"
            template_hash = hashlib.sha256(meta["uid"].encode()).hexdigest()[:10]
            live = [p for p in self.store.find(POD, ns)
                    if _owned_by(p, rs_uid) and p["metadata"]["uid"] not in self.store.deadlines]
            labels = {**spec["template"]["metadata"]["labels"],
                      "pod-template-hash": template_hash}
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                     "name": f"{meta['name']}-{template_hash}", "uid": rs_uid}
            for _ in range(int(spec.get("replicas", 1)) - len(live)):
                base = f"{meta['name']}-{template_hash}-"
                suffix = hashlib.sha256(str(self.store.clock()).encode()
                                        + str(next(self._ips)).encode()).hexdigest()[:5]
                live.append(self.new_pod(ns, base + suffix, labels, owner))
            ready = sum(1 for p in live if is_ready(p))
            status = {"observedGeneration": meta.get("generation", 1), "replicas": len(live),
                      "updatedReplicas": len(live), "readyReplicas": ready,
                      "availableReplicas": ready}
            if dep.get("status") != status:
                dep["status"] = status
                self.store.bump(dep)

    # -- Chaos Mesh ---------------------------------------------------------------

    def _selected(self, selector: dict[str, Any], default_ns: str) -> list[Obj]:
        pods_by_ns: dict[str, list[str]] = selector.get("pods") or {}
        namespaces = selector.get("namespaces") or list(pods_by_ns) or [default_ns]
        label_sel = {"matchLabels": selector.get("labelSelectors") or {},
                     "matchExpressions": selector.get("expressionSelectors") or []}
        chosen = []
        for ns in namespaces:
            for pod in self.store.find(POD, ns):
                if pods_by_ns and pod["metadata"]["name"] not in pods_by_ns.get(ns, []):
                    continue
                if match_object_selector(label_sel, pod["metadata"].get("labels") or {}):
                    chosen.append(pod)
        return chosen

    def _chaos(self, rt: ResourceType, now: float) -> None:
        for obj in list(self.store.find(rt)):
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                if now >= self.store.deadlines.get(meta["uid"], now):
                    self.store.remove(rt, meta["namespace"], meta["name"])
                    self.store.deadlines.pop(meta["uid"], None)
                continue
            if CHAOS_FINALIZER not in (meta.get("finalizers") or []):
                meta["finalizers"] = [*(meta.get("finalizers") or []), CHAOS_FINALIZER]
                self.store.bump(obj)
            created = self.created_at.setdefault(meta["uid"], now)
            if obj.get("status", {}).get("conditions") or now < created + self.timing.inject_delay:
                continue
            spec = obj.get("spec", {})
            pods = [(".", p) for p in self._selected(spec.get("selector", {}), meta["namespace"])]
            if spec.get("target"):
                pods += [(".Target", p) for p in
                         self._selected(spec["target"].get("selector", {}), meta["namespace"])]
            injected = bool(pods) and not self.chaos_broken
            phase = "Injected" if injected else "Not Injected"
            records = [{"id": f"{p['metadata']['namespace']}/{p['metadata']['name']}",
                        "selectorKey": key, "phase": phase, "injectedCount": int(injected),
                        "recoveredCount": 0,
                        "events": [{"type": "Succeeded" if injected else "Failed",
                                    "operation": "Apply", "timestamp": rfc3339(now)}]}
                       for key, p in pods]
            flag = {True: "True", False: "False"}
            obj["status"] = {"conditions": [
                {"type": "Selected", "status": flag[bool(pods)]},
                {"type": "AllInjected", "status": flag[injected]},
                {"type": "AllRecovered", "status": "False"},
                {"type": "Paused", "status": "False"}],
                "experiment": {"desiredPhase": "Run", "containerRecords": records}}
            self.store.bump(obj)

    def on_delete(self, rt: ResourceType, obj: Obj) -> None:
        """A finalizer-guarded delete started: schedule when the object really goes."""
        if rt in (NETWORKCHAOS, STRESSCHAOS):
            self.store.deadlines[obj["metadata"]["uid"]] = (
                self.store.clock() + self.timing.recover_delay)

    def reconcile(self) -> None:
        """Run every controller once, at the store's current time."""
        now = self.store.clock()
        self._kubelet(now)
        self._deployments()
        self._chaos(NETWORKCHAOS, now)
        self._chaos(STRESSCHAOS, now)
        reconcile_clusters(self, now)
        self._kubelet(now)
