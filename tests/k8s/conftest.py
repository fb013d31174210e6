"""Fixtures for the Kubernetes platform tests: a fake API server per test.

Every test gets its own :class:`fakekube.FakeKube` on 127.0.0.1 (an
ephemeral port), a kubeconfig written for it, and a chaosgate target that
points at that kubeconfig, so the official client is exercised end to end
(config loading, auth header, HTTP, (de)serialisation, error bodies). By
default the fake enforces the Role and ClusterRole of ``deploy/rbac.yaml``:
a call the manifest does not grant fails the test with a 403.

Tests marked ``live_kubernetes`` run against a real cluster only when
``CHAOSGATE_KUBECONFIG`` names a kubeconfig (e.g. a kind cluster in CI).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # tests/ is not a package; fakekube lives there
    sys.path.insert(0, str(TESTS))

from chaosgate.platforms.base import ProbeResult  # noqa: E402
from chaosgate.targets import Target, parse_target  # noqa: E402
from fakekube import FakeKube, Timing  # noqa: E402

RBAC_FILE = TESTS.parent / "deploy" / "rbac.yaml"
Factory = Callable[..., tuple[FakeKube, Target]]


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
    """The rules of deploy/rbac.yaml's Role and ClusterRole, for the fake to enforce."""
    rules: dict[str, list[dict[str, Any]]] = {"role": [], "cluster": []}
    for doc in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")):
        if doc and doc.get("kind") == "Role":
            rules["role"] += doc.get("rules", [])
        elif doc and doc.get("kind") == "ClusterRole":
            rules["cluster"] += doc.get("rules", [])
    return rules


def target_doc(kubeconfig: Path, namespaces: list[str] | None = None) -> dict[str, Any]:
    """A Kubernetes target for the fake: shop services, a CNPG database, safety."""
    return {
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "fake",
        "platform": {"type": "kubernetes", "kubeconfig": str(kubeconfig), "context": "fake"},
        "prometheus": {"url": "http://127.0.0.1:9", "scrape_interval": "15s"},
        "ingress": {"url": "http://127.0.0.1:9"},
        "namespace": "shop",
        "services": {
            "gateway": {"selector": "app=gateway", "replicas": 2},
            "orders": {"selector": "app=orders", "replicas": 2},
            "catalog": {"selector": "app=catalog,tier=backend", "replicas": 2},
            "shop-db": {"selector": "cnpg.io/cluster=shop-db"},
        },
        "links": [{"name": "gateway-orders", "from": "gateway", "to": "orders"},
                  {"name": "orders-db", "from": "orders", "to": "shop-db"}],
        "dependencies": {"postgres": {"links": ["orders-db"]}},
        "database": {"type": "cloudnativepg", "cluster": "shop-db", "namespace": "shop"},
        "safety": {"namespaces": namespaces or ["shop"], "max_pods_per_fault": 1,
                   "max_percent_per_fault": 50, "min_ready_replicas": 1},
    }


@pytest.fixture
def make_kube(tmp_path: Path) -> Iterator[Factory]:
    """Start a populated fake (namespaces shop, other, kube-system) and its target."""
    with ExitStack() as stack:
        def factory(*, chaos_mesh: bool = False, cnpg: bool = True, rbac: bool = True,
                    namespaces: list[str] | None = None,
                    timing: Timing | None = None) -> tuple[FakeKube, Target]:
            fake = stack.enter_context(FakeKube(chaos_mesh=chaos_mesh, cnpg=cnpg,
                                                rbac=rbac_rules() if rbac else None,
                                                timing=timing))
            for ns in ("shop", "other", "kube-system"):
                fake.add_namespace(ns)
            fake.add_deployment("shop", "gateway", {"app": "gateway"})
            fake.add_deployment("shop", "orders", {"app": "orders"})
            fake.add_deployment("shop", "catalog", {"app": "catalog", "tier": "backend"})
            fake.add_deployment("kube-system", "coredns", {"k8s-app": "kube-dns"})
            if cnpg:
                fake.add_cnpg_cluster("shop", "shop-db", instances=3)
            kubeconfig = fake.write_kubeconfig(tmp_path / f"kubeconfig-{id(fake)}")
            return fake, parse_target(target_doc(kubeconfig, namespaces), "fake-target.yaml")

        yield factory
