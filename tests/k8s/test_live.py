"""The Kubernetes platform against a real cluster (kind in CI, or your own).

Runs against ``CHAOSGATE_KUBECONFIG``: the pytest option
``--chaos-kubeconfig`` sets it, and otherwise the session's own control plane
(``scripts/kube``, started by tests/k8s/kubeplane.py) does, with its admin
kubeconfig; there no Chaos Mesh is installed (no controller would act on it)
and the agent stands in for kubelets. Skipped when neither is there.
``CHAOSGATE_CONTEXT`` picks a context (default: the current one). Everything
happens in a namespace of its own, ``CHAOSGATE_LIVE_NAMESPACE`` (default
``chaosgate-live``), which the suite creates with a two-replica Deployment
(``registry.k8s.io/pause``) and deletes afterwards; the target's safety block
allows only that namespace. The credentials need to create namespaces and
Deployments besides what deploy/rbac.yaml grants (a kind admin kubeconfig does).

Latency and stress run only where Chaos Mesh is installed. A partition made
of NetworkPolicies is verified at the API level; whether packets are dropped
depends on the CNI (kind's default, kindnet, enforces policies only in
recent releases).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import eventually
from kubernetes import client, config

from chaosgate.platforms.base import (
    LatencySpec,
    NetworkScope,
    PartitionSpec,
    ProbeResult,
    StressSpec,
)
from chaosgate.platforms.kubernetes import KubernetesPlatform
from chaosgate.targets import Selector, Target, parse_target

pytestmark = pytest.mark.live_kubernetes

NAMESPACE = os.environ.get("CHAOSGATE_LIVE_NAMESPACE", "chaosgate-live")
LABELS = {"app": "chaosgate-live-echo"}
PEER = {"app": "chaosgate-live-peer"}
TIMEOUT = 180.0


def deployment(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "pause",
                                         "image": "registry.k8s.io/pause:3.9"}]}}}}


@pytest.fixture(scope="module")
def live_target() -> Iterator[Target]:
    kubeconfig, context = os.environ["CHAOSGATE_KUBECONFIG"], os.environ.get("CHAOSGATE_CONTEXT")
    loader: Any = config
    api = loader.new_client_from_config(config_file=kubeconfig, context=context)
    core: Any = client.CoreV1Api(api)
    apps: Any = client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    try:
        apps.create_namespaced_deployment(NAMESPACE, deployment("echo", LABELS))
        apps.create_namespaced_deployment(NAMESPACE, deployment("peer", PEER))
        yield parse_target({
            "apiVersion": "chaosgate/v1", "kind": "Target", "name": "live",
            "platform": {"type": "kubernetes", "kubeconfig": kubeconfig,
                         **({"context": context} if context else {})},
            "prometheus": {"url": "http://127.0.0.1:9", "scrape_interval": "15s"},
            "ingress": {"url": "http://127.0.0.1:9"},
            "namespace": NAMESPACE,
            "services": {"echo": {"selector": "app=chaosgate-live-echo"},
                         "peer": {"selector": "app=chaosgate-live-peer"}},
            "safety": {"namespaces": [NAMESPACE]},
        }, "live-target")
    finally:
        core.delete_namespace(NAMESPACE)


def all_ready(platform: KubernetesPlatform, labels: dict[str, str]) -> ProbeResult:
    pods = platform.list_pods(Selector.parse(",".join(f"{k}={v}" for k, v in labels.items())),
                              NAMESPACE)
    return ProbeResult(len(pods) == 2 and all(p.ready for p in pods), repr(pods))


def test_live_kill_pod(live_target: Target) -> None:
    platform = KubernetesPlatform(live_target)
    eventually(lambda: all_ready(platform, LABELS), TIMEOUT)
    victim = platform.list_pods(Selector.parse("app=chaosgate-live-echo"), NAMESPACE)[0]
    platform.kill_pod(victim)
    eventually(lambda: ProbeResult(platform.pod_gone(victim), "still there"), TIMEOUT)
    eventually(lambda: all_ready(platform, LABELS), TIMEOUT)


def test_live_network_and_stress(live_target: Target) -> None:
    platform = KubernetesPlatform(live_target)
    eventually(lambda: all_ready(platform, PEER), TIMEOUT)
    scope = NetworkScope(NAMESPACE, "app=chaosgate-live-echo",
                         peer_selector="app=chaosgate-live-peer")
    changes = [platform.plan_partition(PartitionSpec(scope, "both"), f"cg-{int(time.time()):010x}")]
    if platform.chaos_mesh():
        pods = platform.list_pods(Selector.parse("app=chaosgate-live-echo"), NAMESPACE)
        changes += [platform.plan_latency(LatencySpec(scope, 50, 5), "cg-00000live01"),
                    platform.plan_stress(StressSpec("cpu"), pods[:1], "cg-00000live02")]
    for change in changes:
        try:
            platform.apply(change)
            eventually(lambda c=change: platform.verify(c), TIMEOUT)  # type: ignore[misc]
        finally:
            platform.revert(change)
        eventually(lambda c=change: platform.verify_reverted(c), TIMEOUT)  # type: ignore[misc]
