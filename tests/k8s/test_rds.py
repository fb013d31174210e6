"""The RDS adapter against moto's server mode (a real HTTP endpoint on 127.0.0.1).

moto models ``failover_db_cluster`` (the writer moves to the target
instance) but not the Availability Zone swap of
``reboot_db_instance(ForceFailover=True)``: the reboot is accepted and the
instance stays where it was, so the adapter rightly reports the fault as not
(yet) effective there.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import target_doc

from chaosgate.exceptions import Inconclusive, UsageError
from chaosgate.platforms.base import DatabaseAdapter
from chaosgate.platforms.rds import RdsDatabase
from chaosgate.targets import Target, parse_target

moto_server = pytest.importorskip("moto.server", reason="moto[server] is a dev dependency")
boto3 = pytest.importorskip("boto3", reason="boto3 is the optional aws extra")

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A moto server; boto3 reaches it through AWS_ENDPOINT_URL, as a user's would."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10)  # moto state is global
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                       "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield boto3.client("rds", region_name=REGION)
    server.stop()


def rds_target(tmp_path: Path, identifier: str) -> Target:
    doc = target_doc(tmp_path / "kubeconfig")
    doc["database"] = {"type": "rds", "cluster_identifier": identifier, "region": REGION}
    return parse_target(doc)


def aurora(client: Any, members: int = 2) -> None:
    client.create_db_cluster(DBClusterIdentifier="shop-db", Engine="aurora-postgresql",
                             MasterUsername="shop", MasterUserPassword="not-a-secret-1")
    for n in range(1, members + 1):
        client.create_db_instance(DBInstanceIdentifier=f"shop-db-{n}",
                                  DBClusterIdentifier="shop-db", Engine="aurora-postgresql",
                                  DBInstanceClass="db.r6g.large")


def test_cluster_failover_moves_the_writer(aws: Any, tmp_path: Path) -> None:
    aurora(aws, members=3)
    db = RdsDatabase(rds_target(tmp_path, "shop-db"))
    assert isinstance(db, DatabaseAdapter)
    assert db.methods() == ("failover",)
    assert [(m.name, m.role, m.healthy) for m in db.members()] == [
        ("shop-db-1", "primary", True), ("shop-db-2", "replica", True),
        ("shop-db-3", "replica", True)]
    assert db.primary() == "shop-db-1" and db.healthy()
    change = db.plan_failover("failover", "cg-00000000f1", candidate="shop-db-3")
    assert change.data["candidate"] == "shop-db-3"
    assert change.subjects == ("shop-db-1",)
    db.apply(change)
    result = db.verify(change)
    assert result.ok, result.detail
    assert "from shop-db-1 to shop-db-3" in result.detail
    db.revert(change)
    assert db.verify_reverted(change).ok
    assert isinstance(db.moments(change, 0), list)
    with pytest.raises(UsageError, match="not a reader"):
        db.plan_failover("failover", "cg-00000000f2", candidate="shop-db-3")
    with pytest.raises(UsageError, match="not 'reboot'"):
        db.plan_failover("reboot", "cg-00000000f2")


def test_multi_az_instance_reboot_with_force_failover(aws: Any, tmp_path: Path) -> None:
    aws.create_db_instance(DBInstanceIdentifier="legacy", Engine="postgres", MultiAZ=True,
                           DBInstanceClass="db.m6g.large", AllocatedStorage=20,
                           MasterUsername="shop", MasterUserPassword="not-a-secret-1")
    db = RdsDatabase(rds_target(tmp_path, "legacy"))
    assert db.methods() == ("reboot",)
    before = db.primary()
    assert before is not None and before.startswith("legacy@")
    change = db.plan_failover("reboot", "cg-00000000f3")
    assert change.subjects == (before,)
    db.apply(change)  # moto accepts ForceFailover but does not move the instance
    result = db.verify(change)
    assert not result.ok and "still" in result.detail
    with pytest.raises(UsageError, match="not 'failover'"):
        db.plan_failover("failover", "cg-00000000f4")


def test_refusals(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="no RDS DB cluster or instance 'ghost'"):
        RdsDatabase(rds_target(tmp_path, "ghost")).methods()
    aurora(aws, members=1)
    with pytest.raises(Inconclusive, match="not healthy"):
        RdsDatabase(rds_target(tmp_path, "shop-db")).plan_failover("failover", "cg-00000000f5")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UsageError, match="credentials"):
        RdsDatabase(rds_target(tmp_path, "shop-db")).members()
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(UsageError, match=r"chaosgate\[aws\]"):
        RdsDatabase(rds_target(tmp_path, "shop-db")).members()
