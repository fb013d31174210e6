"""Database failover: the PostgreSQL primary crashes under load.

Fault: a Patroni node crash (SIGKILL of Patroni and its postmaster on the
primary, held down for 12 s); the active probe waits for the replica to be
promoted. The revert starts the old node again, and healed means it has
rejoined as a replica (Kubernetes: CloudNativePG or RDS failover instead).

Hypothesis: Patroni promotes the replica within its TTL (about 9 s in the
sandbox), orders' multi-host connection string
(``target_session_attrs=read-write``) finds the new primary by itself, and
the shop is back within its SLOs within 30 s of the first failed checkout,
having spent at most 10 % of the 30-day error budget, and every checkout it
acknowledged (201 with an order id) before, during or after the failover is
on the new primary afterwards: 0 lost (duplicates are reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig
from chaosgate.gameday.checks import writes_survive

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="failover-db")]


def test_database_failover(gameday: GameDayRunner) -> None:
    """Checkouts come back on the promoted replica."""
    gameday(GameDayConfig(name="database failover",
                          fault={"kind": "failover-db", "method": "node-crash", "duration": 12},
                          warmup=8, observe=15),
            feature="database failover", story="checkouts come back on the promoted replica",
            checks=[writes_survive()])
