"""The real Kubernetes control plane of the test suite, and what the tests do with it.

``scripts/kube`` builds kube-apiserver, kube-controller-manager and
kube-scheduler v1.20.2 from Debian's source package and starts them with
etcd and a node agent on 127.0.0.1 (docs/kubernetes.md). This module starts
and stops it for a pytest session (:func:`start`, :func:`stop`) and gives
the tests an admin's hands (:class:`Cluster`): namespaces with the Role and
RoleBinding of ``deploy/rbac.yaml``, Deployments whose pods the real
ReplicaSet controller makes and the agent runs, the published Chaos Mesh and
CloudNativePG CRDs, and the apiserver's audit log of what the ``chaosgate``
ServiceAccount asked for.

No operator runs: :func:`play_chaos_mesh` and :class:`PlayedCnpg` do, when
a test calls them, what those controllers would do, and the tests say so.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kube"
RBAC_FILE = ROOT / "deploy" / "rbac.yaml"
CRDS = Path(__file__).resolve().parent / "crds"
CHAOS_MESH_CRDS = ("chaos-mesh.org_networkchaos.yaml", "chaos-mesh.org_stresschaos.yaml")
CNPG_CRDS = ("postgresql.cnpg.io_clusters.yaml",)
CHAOS_MESH = ("chaos-mesh.org", "v1alpha1")
CNPG = ("postgresql.cnpg.io", "v1")
SA_USER = "system:serviceaccount:chaosgate:chaosgate"
HEALTHY = "Cluster in healthy state"  # CloudNativePG's status.phase
_loader: Any = config


@dataclass(frozen=True)
class ControlPlane:
    """A running control plane: what ``scripts/kube up`` wrote to state.json."""

    version: str
    server: str
    admin_kubeconfig: Path
    chaosgate_kubeconfig: Path
    audit_log: Path
    state_dir: Path
    ready_seconds: float

    @classmethod
    def from_state(cls, state_dir: Path, doc: dict[str, Any]) -> ControlPlane:
        return cls(doc["version"], doc["server"], Path(doc["admin_kubeconfig"]),
                   Path(doc["chaosgate_kubeconfig"]), Path(doc["audit_log"]), state_dir,
                   float(doc["ready_seconds"]))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``scripts/kube ARGS`` with this interpreter (its Python parts need the venv's)."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHON": sys.executable})


def start(state_dir: Path, port_base: int) -> ControlPlane:
    """``scripts/kube up`` (building the binaries first when they are not cached), owned
    by this process: if it dies without stopping the control plane (SIGKILL), the node
    agent stops it."""
    done = _run("up", "--state-dir", str(state_dir), "--port-base", str(port_base),
                "--owner-pid", str(os.getpid()))
    if done.returncode != 0:
        raise RuntimeError(f"scripts/kube up failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return ControlPlane.from_state(state_dir, json.loads(done.stdout.strip().splitlines()[-1]))


def stop(state_dir: Path) -> None:
    """``scripts/kube down``: stops exactly what ``up`` started."""
    done = _run("down", "--state-dir", str(state_dir))
    if done.returncode != 0:
        raise RuntimeError(f"scripts/kube down failed ({done.returncode}):\n{done.stderr}")


def running(state_dir: Path) -> ControlPlane | None:
    """The control plane ``state_dir`` describes, when all of it runs (``scripts/kube status``)."""
    if _run("status", "--state-dir", str(state_dir)).returncode != 0:
        return None
    doc = json.loads((state_dir / "state.json").read_text())
    return ControlPlane.from_state(state_dir, doc)


@functools.cache
def crd(file: str) -> dict[str, Any]:
    """A vendored CRD, parsed once (the CloudNativePG one is 460 KB of YAML)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc: dict[str, Any] = yaml.load((CRDS / file).read_text(encoding="utf-8"), Loader=loader)
    return doc


@dataclass(frozen=True)
class AuditedRequest:
    """One request of the chaosgate ServiceAccount, from the apiserver's audit log."""

    verb: str
    group: str
    resource: str  # with "/subresource"; "" for a non-resource URL
    namespace: str
    uri: str
    code: int


def wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something true; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Cluster:
    """An admin's view of the control plane, for setting scenes and looking at results."""

    _names = itertools.count(1)

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.api = _loader.new_client_from_config(config_file=str(plane.admin_kubeconfig))
        self.core: Any = client.CoreV1Api(self.api)
        self.apps: Any = client.AppsV1Api(self.api)
        self.custom: Any = client.CustomObjectsApi(self.api)
        self.net: Any = client.NetworkingV1Api(self.api)
        self.ext: Any = client.ApiextensionsV1Api(self.api)
        self.rbac: Any = client.RbacAuthorizationV1Api(self.api)

    # -- namespaces -------------------------------------------------------------------
    def namespace(self, prefix: str = "shop", *, rbac: bool = True) -> str:
        """A fresh namespace; with ``rbac``, the Role and RoleBinding of deploy/rbac.yaml
        in it (as deploy/README.md says: one pair per namespace)."""
        name = f"{prefix}-{os.getpid() % 10000}-{next(self._names)}"
        self.core.create_namespace({"metadata": {"name": name, "labels": {"chaosgate-test": "1"}}})
        wait(f"ServiceAccount default in {name}",
             lambda: self.core.list_namespaced_service_account(name).items)
        if rbac:
            for doc in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")):
                if doc and doc["kind"] in ("Role", "RoleBinding"):
                    doc["metadata"]["namespace"] = name
                    create = (self.rbac.create_namespaced_role if doc["kind"] == "Role"
                              else self.rbac.create_namespaced_role_binding)
                    create(name, doc)
        return name

    def delete_namespace(self, name: str) -> None:
        try:
            self.core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    # -- workloads --------------------------------------------------------------------
    @staticmethod
    def pod_spec() -> dict[str, Any]:
        return {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 30,
                "containers": [{"name": "app", "image": "registry.local/app:1"}]}

    def deployment(self, namespace: str, name: str, labels: dict[str, str],
                   replicas: int = 2) -> None:
        self.apps.create_namespaced_deployment(namespace, {
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": self.pod_spec()}}})

    def pod(self, namespace: str, name: str, labels: dict[str, str],
            owner: dict[str, Any] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "labels": labels}
        if owner is not None:
            meta["ownerReferences"] = [owner]
        created: Any = self.core.create_namespaced_pod(namespace, {"metadata": meta,
                                                                   "spec": self.pod_spec()})
        return self.api.sanitize_for_serialization(created)  # type: ignore[no-any-return]

    def pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        listed = self.core.list_namespaced_pod(namespace, label_selector=selector)
        return [self.api.sanitize_for_serialization(p) for p in listed.items]

    def wait_ready(self, namespace: str, selector: str, count: int) -> list[dict[str, Any]]:
        """Wait until exactly ``count`` live pods match and all are Ready."""
        def ready() -> list[dict[str, Any]]:
            pods = [p for p in self.pods(namespace, selector)
                    if not p["metadata"].get("deletionTimestamp")]
            ok = len(pods) == count and all(
                any(c["type"] == "Ready" and c["status"] == "True"
                    for c in (p.get("status") or {}).get("conditions") or []) for p in pods)
            return pods if ok else []
        return wait(f"{count} ready pods {selector} in {namespace}", ready)  # type: ignore[no-any-return]

    # -- custom resources -------------------------------------------------------------
    def install_crds(self, files: Iterable[str]) -> list[str]:
        """Create the vendored CRDs (when missing); wait until they are Established."""
        names = []
        for file in files:
            doc = crd(file)
            names.append(doc["metadata"]["name"])
            try:
                self.ext.create_custom_resource_definition(doc)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        for name in names:
            wait(f"CRD {name} established", lambda n=name: any(  # type: ignore[misc]
                c.type == "Established" and c.status == "True"
                for c in self.ext.read_custom_resource_definition(n).status.conditions or []))
        return names

    def remove_crds(self, files: Iterable[str]) -> None:
        """Delete the CRDs and wait until they are gone (discovery forgets the group)."""
        names = [crd(f)["metadata"]["name"] for f in files]
        for name in names:
            try:
                self.ext.delete_custom_resource_definition(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise

        def gone() -> bool:
            present = {c.metadata.name for c in self.ext.list_custom_resource_definition().items}
            return not present & set(names)
        wait("CRDs deleted", gone)

    def objects(self, namespace: str, group: str, version: str,
                plural: str) -> list[dict[str, Any]]:
        """Custom objects (or, for group "networking.k8s.io", NetworkPolicies) in ``namespace``."""
        if plural == "networkpolicies":
            items = self.net.list_namespaced_network_policy(namespace).items
            return [self.api.sanitize_for_serialization(p) for p in items]
        listed = self.custom.list_namespaced_custom_object(group, version, namespace, plural)
        return list(listed["items"])

    def policies(self, namespace: str) -> list[dict[str, Any]]:
        return self.objects(namespace, "networking.k8s.io", "v1", "networkpolicies")

    # -- the audit log ----------------------------------------------------------------
    def audit(self, namespace: str | None = None) -> list[AuditedRequest]:
        """The chaosgate ServiceAccount's requests (in ``namespace``, or cluster-wide ones
        with ``namespace`` ""; all when None), as the apiserver logged them."""
        found = []
        for line in self.plane.audit_log.read_text().splitlines():
            event = json.loads(line)
            if event.get("user", {}).get("username") != SA_USER:
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource", "")
            if ref.get("subresource"):
                resource += "/" + ref["subresource"]
            request = AuditedRequest(event["verb"], ref.get("apiGroup", ""), resource,
                                     ref.get("namespace", ""), event["requestURI"],
                                     int(event.get("responseStatus", {}).get("code", 0)))
            if namespace is None or request.namespace == namespace:
                found.append(request)
        return found


# --- controllers the tests play -------------------------------------------------------------

def play_chaos_mesh(cluster: Cluster, namespace: str, plural: str, name: str, *,
                    injected: bool = True) -> dict[str, Any]:
    """Do what the Chaos Mesh controller does once it has handled an experiment: set
    ``status.conditions`` (Selected, AllInjected) and one container record per selected
    pod. The published CRDs have no status subresource: the status is part of the object."""
    group, version = CHAOS_MESH
    obj = cluster.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
    spec = obj.get("spec", {})
    selected = []
    for key, selector in ((".", spec.get("selector", {})),
                          (".Target", (spec.get("target") or {}).get("selector"))):
        if selector is None:
            continue
        labels = ",".join(f"{k}={v}" for k, v in (selector.get("labelSelectors") or {}).items())
        for ns in selector.get("namespaces") or [namespace]:
            pods = selector.get("pods") or {}
            selected += [(key, p) for p in cluster.pods(ns, labels)
                         if not pods or p["metadata"]["name"] in pods.get(ns, [])]
    ok = bool(selected) and injected
    flag = {True: "True", False: "False"}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = [{"id": f"{p['metadata']['namespace']}/{p['metadata']['name']}",
                "selectorKey": key, "phase": "Injected" if ok else "Not Injected",
                "injectedCount": int(ok), "recoveredCount": 0,
                "events": [{"type": "Succeeded" if ok else "Failed", "operation": "Apply",
                            "timestamp": now}]} for key, p in selected]
    obj["status"] = {"conditions": [
        {"type": "Selected", "status": flag[bool(selected)]},
        {"type": "AllInjected", "status": flag[ok]},
        {"type": "AllRecovered", "status": "False"}, {"type": "Paused", "status": "False"}],
        "experiment": {"desiredPhase": "Run", "containerRecords": records}}
    replaced: dict[str, Any] = cluster.custom.replace_namespaced_custom_object(
        group, version, namespace, plural, name, obj)
    return replaced


def chaos_names(cluster: Cluster, namespace: str, plural: str) -> list[str]:
    group, version = CHAOS_MESH
    return [o["metadata"]["name"] for o in cluster.objects(namespace, group, version, plural)]


def instance_labels(cluster: str, instance: str, role: str) -> dict[str, str]:
    """The labels CloudNativePG puts on an instance pod."""
    return {"cnpg.io/cluster": cluster, "cnpg.io/instanceName": instance,
            "cnpg.io/podRole": "instance", "cnpg.io/instanceRole": role, "role": role}


class PlayedCnpg:
    """What the CloudNativePG operator does for one Cluster, done when a test asks:
    instance pods ``<cluster>-<n>`` owned by the Cluster, ``status`` through the real
    ``/status`` subresource, promotion of ``status.targetPrimary``, failover when the
    primary pod is gone, and recreation of a missing instance pod with the same name."""

    def __init__(self, cluster: Cluster, namespace: str, name: str, instances: int = 3) -> None:
        self.k, self.ns, self.name = cluster, namespace, name
        group, version = CNPG
        created = cluster.custom.create_namespaced_custom_object(group, version, namespace,
                                                                 "clusters", {
            "apiVersion": f"{group}/{version}", "kind": "Cluster",
            "metadata": {"name": name}, "spec": {"instances": instances,
                                                 "storage": {"size": "1Gi"}}})
        self.uid = created["metadata"]["uid"]
        self.instances = [f"{name}-{i}" for i in range(1, instances + 1)]
        first = self.instances[0]
        self.patch_status({"instances": instances, "instanceNames": self.instances,
                           "currentPrimary": first, "targetPrimary": first, "timelineID": 1,
                           "phase": HEALTHY, "readyInstances": instances,
                           "currentPrimaryTimestamp": self.stamp(),
                           "targetPrimaryTimestamp": self.stamp()})
        for instance in self.instances:
            self.make_pod(instance, "primary" if instance == first else "replica")
        cluster.wait_ready(namespace, f"cnpg.io/cluster={name}", instances)

    @staticmethod
    def stamp() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

    def status(self) -> dict[str, Any]:
        group, version = CNPG
        obj = self.k.custom.get_namespaced_custom_object(group, version, self.ns, "clusters",
                                                         self.name)
        return dict(obj.get("status") or {})

    def patch_status(self, status: dict[str, Any]) -> None:
        group, version = CNPG
        self.k.custom.patch_namespaced_custom_object_status(
            group, version, self.ns, "clusters", self.name, {"status": status})

    def make_pod(self, instance: str, role: str) -> None:
        owner = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": self.name,
                 "uid": self.uid, "controller": True}
        self.k.pod(self.ns, instance, instance_labels(self.name, instance, role), owner)

    def reconcile(self) -> dict[str, Any]:
        """One pass of the operator: fail over from a vanished primary, promote the
        target, relabel the instances, recreate missing instance pods."""
        status = self.status()
        before = dict(status)
        pods = self.k.pods(self.ns, f"cnpg.io/cluster={self.name}")
        live = {p["metadata"]["name"]: p for p in pods
                if not p["metadata"].get("deletionTimestamp")}
        current, target = status["currentPrimary"], status["targetPrimary"]
        if target == current and current not in live:
            target = sorted(n for n in live if n != current)[0]
        if target != current and target in live:
            status.update(currentPrimary=target, targetPrimary=target,
                          currentPrimaryTimestamp=self.stamp(),
                          timelineID=int(status.get("timelineID", 1)) + 1)
        healthy = status["currentPrimary"] == status["targetPrimary"] and len(live) == len(
            self.instances)
        phase = HEALTHY if healthy else status.get("phase")
        if status != before or phase != before.get("phase"):
            status.update(phase=phase, readyInstances=len(live))
            self.patch_status(status)
        for instance in self.instances:
            role = "primary" if instance == status["currentPrimary"] else "replica"
            if instance not in live:
                self.make_pod(instance, role)
            elif live[instance]["metadata"]["labels"].get("cnpg.io/instanceRole") != role:
                self.k.core.patch_namespaced_pod(instance, self.ns, {"metadata": {"labels": {
                    "cnpg.io/instanceRole": role, "role": role}}})
        return status
