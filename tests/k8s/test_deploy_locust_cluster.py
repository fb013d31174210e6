"""deploy/locust/ applied to the session's real control plane.

The ConfigMap, the master's Deployment and Service and the workers'
Deployment are created as written (only their namespace replaced): the
real API server validates them, the real Deployment and ReplicaSet
controllers create their pods, and the node agent runs them (no container
runs here: the pods' processes are not started, so this proves the
manifests are accepted and wired, not that Locust runs in them — the
netns test does that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from realkube import Cluster

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "locust"
RBAC = DEPLOY.parent / "rbac.yaml"


def _objects() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_the_manifests_are_accepted_and_their_pods_run(cluster: Cluster) -> None:
    ns = cluster.namespace("locust", rbac=False)
    try:
        # deploy/README.md: rbac.yaml first, the master runs as its `chaosgate` ServiceAccount
        # (the real ServiceAccount admission refuses pods that name a missing one)
        for doc in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")):
            if doc and doc["kind"] == "ServiceAccount":
                cluster.core.create_namespaced_service_account(
                    ns, {**doc, "metadata": {**doc["metadata"], "namespace": ns}})
        deployments = []
        for doc in _objects():
            body = {**doc, "metadata": {**doc["metadata"], "namespace": ns}}
            kind = doc["kind"]
            if kind == "ConfigMap":
                cluster.core.create_namespaced_config_map(ns, body)
            elif kind == "Service":
                cluster.core.create_namespaced_service(ns, body)
            elif kind == "Deployment":
                cluster.apps.create_namespaced_deployment(ns, body)
                deployments.append(body)
            else:
                raise AssertionError(f"deploy/locust has a {kind} this test does not know")
        assert len(deployments) == 2  # the master and the workers
        for body in deployments:
            labels = body["spec"]["selector"]["matchLabels"]
            selector = ",".join(f"{k}={v}" for k, v in labels.items())
            pods = cluster.wait_ready(ns, selector, int(body["spec"]["replicas"]))
            volumes = {v["name"] for p in pods for v in p["spec"].get("volumes", [])}
            assert "load" in volumes  # the ConfigMap with the profile reaches every pod
        service = cluster.core.read_namespaced_service("chaosgate-locust-master", ns)
        master = next(b for b in deployments if b["metadata"]["name"] == "chaosgate-locust-master")
        assert service.spec.selector == master["spec"]["selector"]["matchLabels"]
    finally:
        cluster.delete_namespace(ns)
