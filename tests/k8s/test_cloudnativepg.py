"""The CloudNativePG adapter against the fake's CloudNativePG operator."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Factory, eventually, target_doc

from chaosgate.clients.kubernetes import KubeApi, api_client
from chaosgate.exceptions import Inconclusive, UsageError
from chaosgate.platforms.base import Change, DatabaseAdapter
from chaosgate.platforms.cloudnativepg import CloudNativePG
from chaosgate.platforms.kubernetes import KubernetesPlatform, kubernetes_database
from chaosgate.targets import parse_target
from fakekube import CLUSTER, POD, FakeKube


def adapter(make_kube: Factory) -> tuple[CloudNativePG, FakeKube]:
    fake, target = make_kube()
    db = kubernetes_database(target, KubernetesPlatform(target))
    assert isinstance(db, CloudNativePG) and isinstance(db, DatabaseAdapter)
    return db, fake


def test_members_primary_health(make_kube: Factory) -> None:
    db, _ = adapter(make_kube)
    assert db.methods() == ("switchover", "delete-primary")
    assert [(m.name, m.role, m.healthy) for m in db.members()] == [
        ("shop-db-1", "primary", True), ("shop-db-2", "replica", True),
        ("shop-db-3", "replica", True)]
    assert db.primary() == "shop-db-1" and db.healthy()


def test_switchover_promotes_the_candidate(make_kube: Factory) -> None:
    db, _ = adapter(make_kube)
    change = db.plan_failover("promote", "cg-00000000e1", candidate="shop-db-3")
    assert change.data["method"] == "switchover" and change.data["candidate"] == "shop-db-3"
    assert change.subjects == ("shop-db-1",)
    db.apply(change)
    result = eventually(lambda: db.verify(change))
    assert "from shop-db-1 to shop-db-3 (timeline 2)" in result.detail
    db.revert(change)  # a switchover is not undone
    reloaded = Change.from_json(change.to_json())
    eventually(lambda: db.verify_reverted(reloaded))
    assert db.primary() == "shop-db-3"
    assert [m.what for m in db.moments(change, 0)] == ["primary change requested", "promoted"]


def test_delete_primary_fails_over_and_the_pod_rejoins(make_kube: Factory) -> None:
    db, fake = adapter(make_kube)
    change = db.plan_failover("delete-primary", "cg-00000000e2")
    old_uid = change.data["old_primary_uid"]
    assert change.subjects == ("shop-db-1",)
    db.apply(change)
    db.apply(change)  # again: the uid precondition spares the recreated pod
    eventually(lambda: db.verify(change))
    assert db.primary() == "shop-db-2"
    eventually(lambda: db.verify_reverted(change))
    [pod] = [p for p in fake.objects(POD, "shop")
             if p["metadata"]["name"] == "shop-db-1"]
    assert pod["metadata"]["uid"] != old_uid
    assert pod["metadata"]["labels"]["cnpg.io/instanceRole"] == "replica"
    deletes = [r for r in fake.requests if r.verb == "delete"]
    assert [r.query.get("gracePeriodSeconds") for r in deletes] == ["0", "0"]


def test_refusals(make_kube: Factory) -> None:
    db, fake = adapter(make_kube)
    with pytest.raises(UsageError, match="unknown"):
        db.plan_failover("node-crash", "cg-00000000e3")
    with pytest.raises(UsageError, match="not a ready replica"):
        db.plan_failover("switchover", "cg-00000000e3", candidate="shop-db-1")
    cluster = fake.objects(CLUSTER, "shop")[0]
    cluster["status"]["targetPrimary"] = "shop-db-2"  # a switchover is under way
    with pytest.raises(Inconclusive, match="not healthy"):
        db.plan_failover("switchover", "cg-00000000e3")
    _, elsewhere = make_kube(namespaces=["other"])
    with pytest.raises(UsageError, match=r"safety\.namespaces"):
        CloudNativePG(elsewhere, KubeApi(api_client(elsewhere.platform)))
    doc = target_doc(Path(str(elsewhere.platform.kubeconfig)))
    doc["database"]["cluster"] = "nope"
    missing = parse_target(doc)
    with pytest.raises(UsageError, match="no CloudNativePG Cluster shop/nope"):
        CloudNativePG(missing, KubeApi(api_client(missing.platform))).members()
