"""A stateful fake Kubernetes API server for chaosgate's tests.

Kubernetes cannot run on the test machine, so the Kubernetes platform is
tested against this fake over real HTTP, through the official ``kubernetes``
client and a generated kubeconfig (docs/architecture.md §12). It keeps state and
reacts like a cluster: pods with labels, readiness and uids; Deployments that
replace deleted pods; NetworkPolicies; and, when "installed", the Chaos Mesh
(``chaos-mesh.org/v1alpha1`` NetworkChaos, StressChaos) and CloudNativePG
(``postgresql.cnpg.io/v1`` Cluster) custom resources with their operators'
reactions. Errors are the ``Status`` bodies the real server sends.

    with FakeKube(chaos_mesh=True) as kube:
        kube.add_namespace("shop")
        kube.add_deployment("shop", "orders", {"app": "orders"}, replicas=2)
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
"""

from __future__ import annotations

from .controllers import Timing
from .resources import (
    CLUSTER,
    DEPLOYMENT,
    NAMESPACE,
    NETWORKCHAOS,
    NETWORKPOLICY,
    POD,
    STRESSCHAOS,
    ResourceType,
)
from .server import TOKEN, FakeKube, Request

__all__ = ["CLUSTER", "DEPLOYMENT", "NAMESPACE", "NETWORKCHAOS", "NETWORKPOLICY", "POD",
           "STRESSCHAOS", "TOKEN", "FakeKube", "Request", "ResourceType", "Timing"]
