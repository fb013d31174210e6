"""DatabaseFailover: move the primary role, planned or by crashing the primary.

Methods depend on the database (see :data:`chaosgate.platforms.DB_METHODS`):
Patroni ``switchover``, ``failover`` and ``node-crash``; CloudNativePG and
RDS through their adapters. The active probe: another member is the
healthy primary. Revert brings a crashed node back (a failover is never
"undone" by failing back); healed means the cluster is healthy again with
the old primary as a replica.
"""

from __future__ import annotations

from ..platforms import database_for
from ..platforms.base import Change, DatabaseAdapter, FaultKind
from .base import Actuator, Fault, FaultContext
from .selection import check_namespace

__all__ = ["DatabaseFailover"]


class DatabaseFailover(Fault):
    """Fail the target's database over by ``method`` (to ``candidate`` if given)."""

    kind = FaultKind.FAILOVER_DB

    def __init__(self, ctx: FaultContext, method: str, candidate: str | None = None,
                 adapter: DatabaseAdapter | None = None) -> None:
        super().__init__(ctx)
        self.method = method
        self.candidate = candidate
        self.adapter = adapter

    def prepare(self) -> tuple[Change, Actuator]:
        """Check the namespace (if the database has one) and plan the failover."""
        database = self.ctx.target.database
        if database is not None and database.namespace:
            check_namespace(self.ctx.target.safety, database.namespace)
        adapter = self.adapter or database_for(self.ctx.target, self.ctx.platform)
        return adapter.plan_failover(self.method, self.fault_id, self.candidate), adapter
