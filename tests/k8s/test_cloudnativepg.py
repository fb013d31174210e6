"""The CloudNativePG adapter on the real control plane and the published Cluster CRD.

No CloudNativePG operator runs: the fixture plays it (tests/k8s/conftest.py,
:class:`realkube.PlayedCnpg`) through the real ``/status`` subresource: it
promotes ``status.targetPrimary``, fails over from a vanished primary and
recreates a missing instance pod with the same name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Factory, Shop, eventually, target_doc

from chaosgate.clients.kubernetes import KubeApi, api_client
from chaosgate.exceptions import Inconclusive, UsageError
from chaosgate.platforms.base import Change, DatabaseAdapter
from chaosgate.platforms.cloudnativepg import CloudNativePG
from chaosgate.platforms.kubernetes import KubernetesPlatform, kubernetes_database
from chaosgate.targets import parse_target


def adapter(make_kube: Factory) -> tuple[CloudNativePG, Shop]:
    shop, target = make_kube()
    db = kubernetes_database(target, KubernetesPlatform(target))
    assert isinstance(db, CloudNativePG) and isinstance(db, DatabaseAdapter)
    return db, shop


def test_members_primary_health(make_kube: Factory) -> None:
    db, _ = adapter(make_kube)
    assert db.methods() == ("switchover", "delete-primary")
    assert [(m.name, m.role, m.healthy) for m in db.members()] == [
        ("shop-db-1", "primary", True), ("shop-db-2", "replica", True),
        ("shop-db-3", "replica", True)]
    assert db.primary() == "shop-db-1" and db.healthy()


def test_switchover_promotes_the_candidate(make_kube: Factory) -> None:
    db, shop = adapter(make_kube)
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
    patches = [r for r in shop.audit() if r.verb == "patch"]
    assert [r.resource for r in patches] == ["clusters/status"]


def test_delete_primary_fails_over_and_the_pod_rejoins(make_kube: Factory) -> None:
    db, shop = adapter(make_kube)
    change = db.plan_failover("delete-primary", "cg-00000000e2")
    old_uid = change.data["old_primary_uid"]
    assert change.subjects == ("shop-db-1",)
    db.apply(change)
    eventually(lambda: db.verify(change))
    db.apply(change)  # again: the uid precondition spares the recreated pod
    assert db.primary() == "shop-db-2"
    eventually(lambda: db.verify_reverted(change))
    [pod] = shop.pods("cnpg.io/instanceName=shop-db-1")
    assert pod["metadata"]["uid"] != old_uid
    assert pod["metadata"]["labels"]["cnpg.io/instanceRole"] == "replica"
    deletes = [r for r in shop.audit() if r.verb == "delete"]
    assert deletes and all("gracePeriodSeconds=0" in r.uri for r in deletes)
    assert deletes[0].code == 200


def test_refusals(make_kube: Factory) -> None:
    db, shop = adapter(make_kube)
    with pytest.raises(UsageError, match="unknown"):
        db.plan_failover("node-crash", "cg-00000000e3")
    with pytest.raises(UsageError, match="not a ready replica"):
        db.plan_failover("switchover", "cg-00000000e3", candidate="shop-db-1")
    kubeconfig = Path(str(db.target.platform.kubeconfig))
    with pytest.raises(UsageError, match=r"safety\.namespaces: namespace .* of the "
                                         r"CloudNativePG cluster shop-db"):
        parse_target(target_doc(kubeconfig, shop.namespace, ["other"]))  # when read
    doc = target_doc(kubeconfig, shop.namespace)
    doc["database"]["cluster"] = "nope"
    missing = parse_target(doc)
    with pytest.raises(UsageError, match=f"no CloudNativePG Cluster {shop.namespace}/nope"):
        CloudNativePG(missing, KubeApi(api_client(missing.platform))).members()
    assert shop.db is not None
    shop.operators.close()  # the operator stops: the switchover below stays pending
    shop.db.patch_status({"targetPrimary": "shop-db-2"})
    with pytest.raises(Inconclusive, match="not healthy"):
        db.plan_failover("switchover", "cg-00000000e3")
