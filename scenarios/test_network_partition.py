"""Network partition: orders loses its database for 10 s.

Fault: every link between the ``app=orders`` pods and the ``postgres``
dependency (both Patroni members) goes down for 10 s (sandbox: the fault
proxy closes the links and cuts open connections; Kubernetes: a
NetworkPolicy, or Chaos Mesh). The active probe checks that a new
connection through each link fails.

Hypothesis: checkouts fail during the partition (they need the database)
while browsing is untouched; when the links come back, orders reconnects
by itself and the shop is back within its SLOs within 30 s of the first
failure, having spent at most 10 % of the 30-day error budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="partition")]


def test_network_partition(gameday: GameDayRunner) -> None:
    """Orders recovers by itself after losing its database."""
    gameday(GameDayConfig(name="network partition",
                          fault={"kind": "partition", "selector": "app=orders",
                                 "dependency": "postgres", "duration": 10},
                          warmup=8, observe=15,
                          # the page alert must notice within 30 s (the sandbox's alerts run
                          # at time scale 1/30: the page looks at 10 s and 2 min)
                          expect_alert="ShopAvailabilityBurn", detect_within=30),
            feature="network partition", story="orders recovers after losing its database")
