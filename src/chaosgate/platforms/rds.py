"""Amazon RDS / Aurora failover through boto3 (the optional ``aws`` extra).

``database.cluster_identifier`` names either

- a DB cluster (Aurora, or a Multi-AZ DB cluster): method ``failover``,
  ``failover_db_cluster`` with ``TargetDBInstanceIdentifier`` (default: the
  first available reader by promotion tier); verified when the writer
  (``DBClusterMembers[].IsClusterWriter``) is another instance; or
- a Multi-AZ DB instance: method ``reboot``, ``reboot_db_instance`` with
  ``ForceFailover=True``; verified when the instance runs in another
  Availability Zone than before (the standby's).

Credentials come from boto3's usual chain (environment, profile, IRSA or an
instance role), never from the target file; ``AWS_ENDPOINT_URL`` works as in
any boto3 program. A failover is not undone: ``revert`` is a no-op and
``verify_reverted`` waits for every member to be available again.

The change's data (:class:`RdsFailoverData`) is private to this module; its
``subjects`` are ``(old_primary,)``.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict, cast

from ..exceptions import Inconclusive, UsageError
from ..targets import Target
from .base import DB_METHODS, Change, DbMemberState, FaultKind, Moment, ProbeResult

__all__ = ["RdsDatabase", "RdsFailoverData"]

_NOT_FOUND = ("DBClusterNotFoundFault", "DBInstanceNotFound", "DBInstanceNotFoundFault")


class RdsFailoverData(TypedDict):
    """The data of an RDS failover :class:`Change`.

    Written by :meth:`RdsDatabase.plan_failover`, read only by :class:`RdsDatabase`.
    """

    method: Literal["failover", "reboot"]  # failover: a DB cluster; reboot: an instance
    identifier: str  # the DB cluster or instance identifier
    shape: Literal["cluster", "instance"]
    old_primary: str | None  # the writer (cluster) or ``<id>@<availability zone>`` (instance)
    candidate: NotRequired[str]  # failover only: the reader to fail over to


def _data(change: Change) -> RdsFailoverData:
    """``change.data`` as :meth:`RdsDatabase.plan_failover` wrote it."""
    return cast(RdsFailoverData, change.data)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class RdsDatabase:
    """:class:`~chaosgate.platforms.base.DatabaseAdapter` for an RDS cluster or instance."""

    kind = "rds"

    def __init__(self, target: Target, client: Any | None = None) -> None:
        db = target.database
        if db is None or db.type != "rds" or not db.cluster_identifier:
            raise UsageError(f"{target.source}: database: an rds database needs "
                             "cluster_identifier (and region)")
        self.target, self.identifier, self.region = target, db.cluster_identifier, db.region
        self._client = client
        self._shape: str | None = None

    @property
    def rds(self) -> Any:
        """The boto3 RDS client (boto3 imported on first use)."""
        if self._client is None:
            try:
                boto3 = importlib.import_module("boto3")
            except ImportError:
                raise UsageError("RDS failover needs boto3. Fix: pip install 'chaosgate[aws]'") \
                    from None
            self._client = boto3.session.Session(region_name=self.region).client("rds")
        return self._client

    def _call(self, operation: str, **params: Any) -> Any:
        method = getattr(self.rds, operation)
        try:
            return method(**params)
        except Exception as exc:
            name, code = type(exc).__name__, _code(exc)
            if code in _NOT_FOUND:
                raise
            if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError") or \
                    code in ("AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
                             "UnrecognizedClientException"):
                raise UsageError(f"AWS refused RDS {operation}: {exc}. Fix: provide AWS "
                                 "credentials allowed to call it (and database.region)") from None
            if code.startswith("Invalid") or code.endswith("StateFault"):
                raise Inconclusive(f"RDS {operation} on {self.identifier} refused: {exc}") \
                    from None
            raise Inconclusive(f"cannot reach RDS for {operation} on {self.identifier}: "
                               f"{exc}") from None

    # -- reading ------------------------------------------------------------------------

    def shape(self) -> str:
        """``"cluster"`` or ``"instance"``: what the identifier names (asked once)."""
        if self._shape is None:
            try:
                self._call("describe_db_clusters", DBClusterIdentifier=self.identifier)
                self._shape = "cluster"
            except Exception as exc:
                if _code(exc) not in _NOT_FOUND:
                    raise
                try:
                    self._call("describe_db_instances", DBInstanceIdentifier=self.identifier)
                except Exception as inner:
                    if _code(inner) not in _NOT_FOUND:
                        raise
                    raise UsageError(f"no RDS DB cluster or instance {self.identifier!r} in "
                                     f"{self.region or 'the default region'}") from None
                self._shape = "instance"
        return self._shape

    def _cluster(self) -> dict[str, Any]:
        found = self._call("describe_db_clusters", DBClusterIdentifier=self.identifier)
        return dict(found["DBClusters"][0])

    def _instances(self) -> dict[str, dict[str, Any]]:
        if self.shape() == "instance":
            found = self._call("describe_db_instances", DBInstanceIdentifier=self.identifier)
        else:
            found = self._call("describe_db_instances", Filters=[
                {"Name": "db-cluster-id", "Values": [self.identifier]}])
        return {i["DBInstanceIdentifier"]: i for i in found["DBInstances"]}

    def methods(self) -> tuple[str, ...]:
        """``("failover",)`` for a DB cluster, ``("reboot",)`` for a Multi-AZ instance."""
        method = "failover" if self.shape() == "cluster" else "reboot"
        return tuple(m for m in DB_METHODS["rds"] if m == method)

    def members(self) -> list[DbMemberState]:
        """Cluster members (writer = primary) or the one instance; healthy when available."""
        instances = self._instances()
        if self.shape() == "instance":
            inst = instances[self.identifier]
            return [DbMemberState(self.identifier, "primary",
                                  inst.get("DBInstanceStatus") == "available")]
        return [DbMemberState(m["DBInstanceIdentifier"],
                              "primary" if m.get("IsClusterWriter") else "replica",
                              instances.get(m["DBInstanceIdentifier"], {}).get(
                                  "DBInstanceStatus") == "available")
                for m in sorted(self._cluster().get("DBClusterMembers", []),
                                key=lambda m: str(m["DBInstanceIdentifier"]))]

    def primary(self) -> str | None:
        """The available writer; for a Multi-AZ instance ``<id>@<availability zone>``."""
        if self.shape() == "instance":
            inst = self._instances()[self.identifier]
            ok = inst.get("DBInstanceStatus") == "available"
            return f"{self.identifier}@{inst.get('AvailabilityZone')}" if ok else None
        return next((m.name for m in self.members() if m.role == "primary" and m.healthy), None)

    def healthy(self) -> bool:
        """Every member available, one writer (cluster) or Multi-AZ (instance)."""
        members = self.members()
        if self.shape() == "instance":
            return members[0].healthy and bool(
                self._instances()[self.identifier].get("MultiAZ"))
        return all(m.healthy for m in members) and \
            sum(m.role == "primary" for m in members) == 1 and len(members) > 1

    # -- the fault --------------------------------------------------------------------------

    def plan_failover(self, method: str, fault_id: str, candidate: str | None = None) -> Change:
        """Resolve ``failover`` (cluster) or ``reboot`` (Multi-AZ instance); no side effect."""
        if method not in self.methods():
            raise UsageError(f"RDS {self.shape()} {self.identifier} supports failover method "
                             f"{', '.join(self.methods())}, not {method!r}")
        if not self.healthy():
            raise Inconclusive(f"RDS {self.shape()} {self.identifier} is not healthy (every "
                               "member available, a standby or reader to fail over to)")
        old = self.primary()
        data = RdsFailoverData(method="reboot" if method == "reboot" else "failover",
                               identifier=self.identifier,
                               shape="cluster" if self.shape() == "cluster" else "instance",
                               old_primary=old)
        subjects = (old,) if old is not None else ()
        if method == "reboot":
            return Change(FaultKind.FAILOVER_DB, "kubernetes", fault_id,
                          f"reboot RDS instance {self.identifier} with ForceFailover "
                          f"(primary now {old})", data, subjects=subjects)
        cluster = self._cluster()
        readers = sorted((m for m in cluster["DBClusterMembers"] if not m.get("IsClusterWriter")),
                         key=lambda m: (m.get("PromotionTier", 15), m["DBInstanceIdentifier"]))
        names = [m["DBInstanceIdentifier"] for m in readers]
        if candidate is not None and candidate not in names:
            raise UsageError(f"{candidate} is not a reader of {self.identifier}; readers: "
                             f"{', '.join(names)}")
        data["candidate"] = candidate or names[0]
        return Change(FaultKind.FAILOVER_DB, "kubernetes", fault_id,
                      f"fail RDS cluster {self.identifier} over from {old} to "
                      f"{data['candidate']}", data, subjects=subjects)

    def apply(self, change: Change) -> None:
        """``failover_db_cluster`` or ``reboot_db_instance(ForceFailover=True)``."""
        data = _data(change)
        if data["method"] == "reboot":
            self._call("reboot_db_instance", DBInstanceIdentifier=data["identifier"],
                       ForceFailover=True)
        else:
            self._call("failover_db_cluster", DBClusterIdentifier=data["identifier"],
                       TargetDBInstanceIdentifier=data["candidate"])

    def verify(self, change: Change) -> ProbeResult:
        """Ok when another writer (or another Availability Zone) is the available primary."""
        now, old = self.primary(), _data(change)["old_primary"]
        if now is None:
            return ProbeResult(False, f"{self.identifier} has no available primary yet")
        if now == old:
            return ProbeResult(False, f"{self.identifier}: the primary is still {old}")
        return ProbeResult(True, f"{self.identifier}: primary moved from {old} to {now}")

    def revert(self, change: Change) -> None:
        """Nothing to undo: RDS keeps the new primary (no failback)."""

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when every member is available again (the old writer now a reader)."""
        if self.healthy():
            return ProbeResult(True, f"{self.identifier} healthy, primary {self.primary()}")
        return ProbeResult(False, f"{self.identifier} is not healthy yet")

    def moments(self, change: Change, since: float) -> list[Moment]:
        """RDS events (e.g. "Completed failover to DB instance") since ``since``."""
        source_type = "db-cluster" if self.shape() == "cluster" else "db-instance"
        try:
            found = self._call("describe_events", SourceIdentifier=self.identifier,
                               SourceType=source_type,
                               StartTime=datetime.fromtimestamp(since, UTC))
        except (Inconclusive, UsageError):
            return []
        return sorted((Moment(e["Date"].timestamp(), str(e.get("Message", "")), self.identifier,
                              "rds events") for e in found.get("Events", [])
                       if e["Date"].timestamp() >= since), key=lambda m: m.t)
