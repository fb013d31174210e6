"""Fixtures for the Kubernetes platform tests: a real control plane, a namespace per test.

The session's control plane (``scripts/kube``: kube-apiserver,
kube-controller-manager and kube-scheduler v1.20.2, etcd, and a node agent
in place of kubelets) is started by the :mod:`kubeplane` plugin. Every test
that asks :func:`make_kube` gets a fresh namespace holding the shop's
Deployments (their pods made by the real ReplicaSet controller, scheduled by
the real scheduler, set Running by the agent), optionally a CloudNativePG
Cluster, and a chaosgate target whose kubeconfig is the ``chaosgate``
ServiceAccount's: the Role and RoleBinding of ``deploy/rbac.yaml`` are
applied to the namespace, so the real RBAC authorizer decides every call
chaosgate makes, and a call the manifest does not grant is a real 403.

No operator runs. :class:`Operators` plays Chaos Mesh and CloudNativePG in a
background thread for the tests that ask for them (``chaos_mesh=True``,
``cnpg=True``): it sets an experiment's status as Chaos Mesh's controller
does, and promotes, fails over and recreates instance pods as CloudNativePG's
operator does.

Tests marked ``live_kubernetes`` (tests/k8s/test_live.py) run against
``CHAOSGATE_KUBECONFIG``: the session's control plane unless
``--chaos-kubeconfig`` names another cluster.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubeplane
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from realkube import (
    CHAOS_MESH,
    CHAOS_MESH_CRDS,
    CNPG_CRDS,
    AuditedRequest,
    Cluster,
    PlayedCnpg,
    play_chaos_mesh,
)

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # tests/ is not a package
    sys.path.insert(0, str(TESTS))

from chaosgate.platforms.base import ProbeResult  # noqa: E402
from chaosgate.targets import Target, parse_target  # noqa: E402

RBAC_FILE = TESTS.parent / "deploy" / "rbac.yaml"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live_kubernetes: needs a real cluster (CHAOSGATE_KUBECONFIG)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("CHAOSGATE_KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="set CHAOSGATE_KUBECONFIG (or --chaos-kubeconfig) to run "
                                   "the live Kubernetes suite")
    for item in items:
        if item.get_closest_marker("live_kubernetes") is not None:
            item.add_marker(skip)


def eventually(probe: Callable[[], ProbeResult], timeout: float = 30.0) -> ProbeResult:
    """Poll ``probe`` until it is ok; fail the test with its last detail after ``timeout``.

    The timeout is generous on purpose: tests assert what happens, not how fast.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result.ok or time.monotonic() > deadline:
            assert result.ok, result.detail
            return result
        time.sleep(0.05)


def rbac_rules() -> dict[str, list[dict[str, Any]]]:
    """The rules of deploy/rbac.yaml's Role and ClusterRole."""
    rules: dict[str, list[dict[str, Any]]] = {"role": [], "cluster": []}
    for doc in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")):
        if doc and doc.get("kind") == "Role":
            rules["role"] += doc.get("rules", [])
        elif doc and doc.get("kind") == "ClusterRole":
            rules["cluster"] += doc.get("rules", [])
    return rules


def target_doc(kubeconfig: Path, namespace: str = "shop",
               namespaces: list[str] | None = None) -> dict[str, Any]:
    """A Kubernetes target: shop services in ``namespace``, a CNPG database, safety."""
    return {
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "kube",
        "platform": {"type": "kubernetes", "kubeconfig": str(kubeconfig)},
        "prometheus": {"url": "http://127.0.0.1:9", "scrape_interval": "15s"},
        "ingress": {"url": "http://127.0.0.1:9"},
        "namespace": namespace,
        "services": {
            "gateway": {"selector": "app=gateway", "replicas": 2},
            "orders": {"selector": "app=orders", "replicas": 2},
            "catalog": {"selector": "app=catalog,tier=backend", "replicas": 2},
            "shop-db": {"selector": "cnpg.io/cluster=shop-db"},
        },
        "links": [{"name": "gateway-orders", "from": "gateway", "to": "orders"},
                  {"name": "orders-db", "from": "orders", "to": "shop-db"}],
        "dependencies": {"postgres": {"links": ["orders-db"]}},
        "database": {"type": "cloudnativepg", "cluster": "shop-db", "namespace": namespace},
        "safety": {"namespaces": namespaces or [namespace], "max_pods_per_fault": 1,
                   "max_percent_per_fault": 50, "min_ready_replicas": 1},
    }


class Operators:
    """Chaos Mesh's controller and CloudNativePG's operator, played in a thread for one
    namespace (no operator runs on the control plane; see the module docstring)."""

    def __init__(self, cluster: Cluster, namespace: str, *, chaos_mesh: bool,
                 db: PlayedCnpg | None) -> None:
        self.cluster, self.namespace, self.chaos_mesh, self.db = cluster, namespace, chaos_mesh, db
        self.chaos_broken = False  # True: Chaos Mesh selects pods but fails to inject
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                if self.chaos_mesh:
                    group, version = CHAOS_MESH
                    for plural in ("networkchaos", "stresschaos"):
                        for obj in self.cluster.objects(self.namespace, group, version, plural):
                            if not obj.get("status", {}).get("conditions"):
                                play_chaos_mesh(self.cluster, self.namespace, plural,
                                                obj["metadata"]["name"],
                                                injected=not self.chaos_broken)
                if self.db is not None:
                    self.db.reconcile()
            except ApiException as exc:
                if exc.status not in (404, 409):  # races with the test's own changes
                    self.errors.append(exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self.errors, f"the played operators failed: {self.errors[:3]}"


@dataclass
class Shop:
    """One test's namespace on the real control plane, and an admin's hands on it."""

    cluster: Cluster
    namespace: str
    operators: Operators
    db: PlayedCnpg | None
    extra: list[str] = field(default_factory=list)

    def policies(self) -> list[dict[str, Any]]:
        return self.cluster.policies(self.namespace)

    def chaos(self, plural: str) -> list[dict[str, Any]]:
        group, version = CHAOS_MESH
        return self.cluster.objects(self.namespace, group, version, plural)

    def pods(self, selector: str = "") -> list[dict[str, Any]]:
        return self.cluster.pods(self.namespace, selector)

    def audit(self) -> list[AuditedRequest]:
        """What the chaosgate ServiceAccount asked for in this namespace (and cluster-wide)."""
        return [r for r in self.cluster.audit() if r.namespace in ("", self.namespace)]


Factory = Callable[..., tuple[Shop, Target]]

_chaos_mesh_installed: list[bool] = []  # the CRDs' state across tests (cluster-scoped)
_cnpg_installed: list[bool] = []


def chaos_mesh_crds(cluster: Cluster, wanted: bool) -> None:
    """Install or remove the published Chaos Mesh CRDs (cluster-scoped, so shared)."""
    if _chaos_mesh_installed[-1:] == [wanted]:
        return
    if wanted:
        cluster.install_crds(CHAOS_MESH_CRDS)
    else:
        cluster.remove_crds(CHAOS_MESH_CRDS)
    _chaos_mesh_installed.append(wanted)


@pytest.fixture
def make_kube(cluster: Cluster) -> Iterator[Factory]:
    """Make a populated namespace (gateway, orders, catalog; a CNPG cluster ``shop-db``)
    and a target for it that uses the chaosgate ServiceAccount."""
    if not _cnpg_installed:
        cluster.install_crds(CNPG_CRDS)  # kept for the session: nothing else uses the group
        _cnpg_installed.append(True)
    with ExitStack() as stack:
        def factory(*, chaos_mesh: bool = False, cnpg: bool = True,
                    namespaces: list[str] | None = None) -> tuple[Shop, Target]:
            chaos_mesh_crds(cluster, chaos_mesh)
            ns = cluster.namespace("shop")
            stack.callback(cluster.delete_namespace, ns)
            cluster.deployment(ns, "gateway", {"app": "gateway"})
            cluster.deployment(ns, "orders", {"app": "orders"})
            cluster.deployment(ns, "catalog", {"app": "catalog", "tier": "backend"})
            db = PlayedCnpg(cluster, ns, "shop-db", instances=3) if cnpg else None
            for app in ("gateway", "orders", "catalog"):
                cluster.wait_ready(ns, f"app={app}", 2)
            operators = Operators(cluster, ns, chaos_mesh=chaos_mesh, db=db)
            stack.callback(operators.close)
            allowed = [ns if n == "shop" else n for n in namespaces] if namespaces else None
            doc = target_doc(cluster.plane.chaosgate_kubeconfig, ns, allowed)
            return Shop(cluster, ns, operators, db), parse_target(doc, "kube-target.yaml")

        yield factory


@pytest.fixture(autouse=True)
def _live_suite_without_chaos_mesh(request: pytest.FixtureRequest) -> None:
    """The live suite on the session's control plane sees no Chaos Mesh CRDs: no Chaos
    Mesh controller runs here, and nothing but a test's fixture would play one."""
    if request.node.get_closest_marker("live_kubernetes") is None:
        return
    plane = request.config.stash.get(kubeplane.STATE, None)
    if plane is not None and os.environ.get("CHAOSGATE_KUBECONFIG") == str(
            plane.admin_kubeconfig):
        chaos_mesh_crds(request.getfixturevalue("cluster"), False)
