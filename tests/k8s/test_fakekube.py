"""The fake API server itself, through the official client: state, reactions, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fakekube import CLUSTER, NETWORKCHAOS, POD, FakeKube, Timing


class Clock:
    """A clock the test moves by hand: no sleeps, no timing assumptions."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeKube]:
    with FakeKube(chaos_mesh=True, cnpg=True, clock=clock,
                  timing=Timing(ready_delay=5, inject_delay=1, recover_delay=1,
                                promote_delay=3)) as kube:
        kube.add_namespace("shop")
        kube.add_deployment("shop", "orders", {"app": "orders", "tier": "backend"}, replicas=2)
        kube.add_deployment("shop", "web", {"app": "web"}, replicas=1)
        yield kube


@pytest.fixture
def api(fake: FakeKube, tmp_path: Path) -> client.ApiClient:
    built: client.ApiClient = kubeconfig.new_client_from_config(
        config_file=str(fake.write_kubeconfig(tmp_path / "kubeconfig")), context="fake")
    return built


kubeconfig: Any = config  # untyped module


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body or "")
    return body


def test_label_selectors_and_readiness(api: client.ApiClient) -> None:
    core: Any = client.CoreV1Api(api)

    def names(sel: str) -> list[str]:
        return sorted(p.metadata.name.split("-")[0]
                      for p in core.list_namespaced_pod("shop", label_selector=sel).items)

    assert names("app=orders") == ["orders", "orders"]
    assert names("app in (orders,web),tier!=backend") == ["web"]
    assert names("tier") == ["orders", "orders"]
    assert names("!tier") == ["web"]
    assert names("app notin (orders)") == ["web"]
    pod = core.list_namespaced_pod("shop", label_selector="app=web").items[0]
    ready = {c.type: c.status for c in pod.status.conditions}
    assert ready["Ready"] == "True" and pod.status.phase == "Running"
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_pod("shop", label_selector="app in (")
    assert bad.value.status == 400


def test_deployment_recreates_a_killed_pod(api: client.ApiClient, clock: Clock,
                                           fake: FakeKube) -> None:
    core: Any = client.CoreV1Api(api)
    old = core.list_namespaced_pod("shop", label_selector="app=web").items[0]
    core.delete_namespaced_pod(old.metadata.name, "shop", grace_period_seconds=0)
    assert any(r.verb == "delete" and r.query.get("gracePeriodSeconds") == "0"
               for r in fake.requests)
    new = core.list_namespaced_pod("shop", label_selector="app=web").items
    assert len(new) == 1 and new[0].metadata.uid != old.metadata.uid
    assert new[0].metadata.name != old.metadata.name
    assert new[0].status.phase == "Pending"
    clock.now += 5
    again = core.read_namespaced_pod(new[0].metadata.name, "shop")
    assert {c.type: c.status for c in again.status.conditions}["Ready"] == "True"


def test_graceful_delete_keeps_a_terminating_pod_until_its_deadline(
        api: client.ApiClient, clock: Clock) -> None:
    core: Any = client.CoreV1Api(api)
    pod = core.list_namespaced_pod("shop", label_selector="app=web").items[0]
    core.delete_namespaced_pod(pod.metadata.name, "shop", grace_period_seconds=10)
    terminating = core.read_namespaced_pod(pod.metadata.name, "shop")
    assert terminating.metadata.deletion_timestamp is not None
    assert len(core.list_namespaced_pod("shop", label_selector="app=web").items) == 2
    clock.now += 10
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_pod(pod.metadata.name, "shop")
    assert gone.value.status == 404


def test_status_bodies_match_the_real_server(api: client.ApiClient) -> None:
    core: Any = client.CoreV1Api(api)
    net: Any = client.NetworkingV1Api(api)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("nope", "shop")
    assert status_of(missing.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"}, "code": 404}
    policy = {"metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    net.create_namespaced_network_policy("shop", policy)
    with pytest.raises(ApiException) as exists:
        net.create_namespaced_network_policy("shop", policy)
    assert exists.value.status == 409
    assert status_of(exists.value)["reason"] == "AlreadyExists"
    assert status_of(exists.value)["message"] == \
        'networkpolicies.networking.k8s.io "deny" already exists'
    with pytest.raises(ApiException) as invalid:
        net.create_namespaced_network_policy("shop", {"metadata": {"name": "x"}, "spec": {
            "podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}})
    assert invalid.value.status == 422
    assert status_of(invalid.value)["details"]["causes"][0]["field"] == \
        "spec.podSelector.matchExpressions[0].values"
    with pytest.raises(ApiException) as no_ns:
        net.create_namespaced_network_policy("nowhere", policy)
    assert status_of(no_ns.value)["message"] == 'namespaces "nowhere" not found'
    pod = core.list_namespaced_pod("shop", label_selector="app=web").items[0]
    with pytest.raises(ApiException) as precondition:
        core.delete_namespaced_pod(pod.metadata.name, "shop", body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid="another-incarnation")))
    assert precondition.value.status == 409
    assert "Precondition failed: UID in precondition" in status_of(precondition.value)["message"]


def test_auth_and_rbac(fake: FakeKube, api: client.ApiClient, tmp_path: Path) -> None:
    fake.rbac = {"role": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
                 "cluster": []}
    core: Any = client.CoreV1Api(api)
    assert core.list_namespaced_pod("shop").items
    with pytest.raises(ApiException) as denied:
        core.delete_namespaced_pod("anything", "shop")
    assert denied.value.status == 403
    assert 'cannot delete resource "pods" in API group ""' in status_of(denied.value)["message"]
    wrong = fake.write_kubeconfig(tmp_path / "wrong", token="wrong")
    with pytest.raises(ApiException) as unauthorized:
        other: Any = client.CoreV1Api(kubeconfig.new_client_from_config(config_file=str(wrong)))
        other.list_pod_for_all_namespaces()
    assert unauthorized.value.status == 401


def test_discovery_shows_crds_only_when_installed(fake: FakeKube, api: client.ApiClient) -> None:
    custom: Any = client.CustomObjectsApi(api)
    names = {r.name for r in custom.get_api_resources("chaos-mesh.org", "v1alpha1").resources}
    assert {"networkchaos", "stresschaos", "networkchaos/status"} <= names
    fake.chaos_mesh = False
    with pytest.raises(ApiException) as absent:
        custom.get_api_resources("chaos-mesh.org", "v1alpha1")
    assert absent.value.status == 404
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert "chaos-mesh.org" not in groups and "postgresql.cnpg.io" in groups
    with pytest.raises(ApiException):
        custom.list_namespaced_custom_object("chaos-mesh.org", "v1alpha1", "shop", "networkchaos")


def test_chaos_mesh_status_and_finalizer(fake: FakeKube, api: client.ApiClient,
                                         clock: Clock) -> None:
    custom: Any = client.CustomObjectsApi(api)
    body: dict[str, Any] = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"name": "cut"},
            "spec": {"action": "partition", "mode": "all", "direction": "to",
                     "selector": {"namespaces": ["shop"], "labelSelectors": {"app": "web"}},
                     "target": {"mode": "all", "selector": {"labelSelectors": {"app": "orders"}}}}}
    custom.create_namespaced_custom_object("chaos-mesh.org", "v1alpha1", "shop", "networkchaos",
                                           body)
    clock.now += 1
    obj = fake.objects(NETWORKCHAOS, "shop")[0]
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Selected"] == conditions["AllInjected"] == "True"
    assert len(obj["status"]["experiment"]["containerRecords"]) == 3
    custom.delete_namespaced_custom_object("chaos-mesh.org", "v1alpha1", "shop", "networkchaos",
                                           "cut")
    assert fake.objects(NETWORKCHAOS, "shop")[0]["metadata"]["deletionTimestamp"]
    clock.now += 1
    assert fake.objects(NETWORKCHAOS, "shop") == []
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object("chaos-mesh.org", "v1alpha1", "shop",
                                               "networkchaos", {**body, "spec": {
                                                   **body["spec"], "action": "explode"}})
    assert invalid.value.status == 422


def test_cnpg_switchover_and_failover(fake: FakeKube, api: client.ApiClient,
                                      clock: Clock) -> None:
    fake.add_cnpg_cluster("shop", "db", instances=3)
    custom: Any = client.CustomObjectsApi(api)

    def status() -> dict[str, Any]:
        found: dict[str, Any] = custom.get_namespaced_custom_object(
            "postgresql.cnpg.io", "v1", "shop", "clusters", "db")
        return dict(found["status"])

    assert status()["currentPrimary"] == "db-1" and status()["phase"] == "Cluster in healthy state"
    custom.patch_namespaced_custom_object_status("postgresql.cnpg.io", "v1", "shop", "clusters",
                                                 "db", {"status": {"targetPrimary": "db-3"}})
    assert status()["currentPrimary"] == "db-1"
    clock.now += 3
    assert status()["currentPrimary"] == "db-3" and status()["timelineID"] == 2
    roles = {p["metadata"]["name"]: p["metadata"]["labels"]["cnpg.io/instanceRole"]
             for p in fake.objects(POD, "shop") if p["metadata"]["name"].startswith("db-")}
    assert roles == {"db-1": "replica", "db-2": "replica", "db-3": "primary"}

    core: Any = client.CoreV1Api(api)
    old_uid = core.read_namespaced_pod("db-3", "shop").metadata.uid
    core.delete_namespaced_pod("db-3", "shop", grace_period_seconds=0)
    assert status()["targetPrimary"] == "db-1" and status()["phase"] == "Failing over"
    recreated = core.read_namespaced_pod("db-3", "shop")
    assert recreated.metadata.uid != old_uid
    clock.now += 5
    assert status()["currentPrimary"] == "db-1"
    assert status()["phase"] == "Cluster in healthy state"
    assert fake.objects(CLUSTER, "shop")[0]["status"]["readyInstances"] == 3


def test_merge_patch_with_stale_resource_version_conflicts(api: client.ApiClient,
                                                           fake: FakeKube) -> None:
    fake.add_cnpg_cluster("shop", "db", instances=2)
    custom: Any = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as stale:
        custom.patch_namespaced_custom_object_status(
            "postgresql.cnpg.io", "v1", "shop", "clusters", "db",
            {"metadata": {"resourceVersion": "1"}, "status": {"targetPrimary": "db-2"}})
    assert stale.value.status == 409
    assert "the object has been modified" in status_of(stale.value)["message"]
