"""Circuit breaker: orders fails fast while its database is unreachable.

Fault: the links between orders and PostgreSQL go down for 10 s (as in the
network-partition game day).

Hypothesis, checked on top of the usual gates:

- the orders circuit breaker OPENS on every replica:
  ``shop_circuit_breaker_state == 2`` is seen in Prometheus during the
  fault (after 5 consecutive database failures);
- the catalogue stays available: every browse request (``/api/products``,
  ``/api/products/{id}``) started during the fault succeeds;
- checkouts FAIL FAST instead of timing out: the p95 of the durations of
  the checkouts that failed during the fault is under 100 ms, far below the
  2.5 s database deadline a checkout would wait without the breaker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig
from chaosgate.gameday.checks import breaker_opens, fails_fast, routes_stay_available

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="partition")]

FAIL_FAST_MS = 100  # vs. the orders service's 2.5 s client-side database deadline
BROWSE_ROUTES = ("/api/products", "/api/products/{id}")
BREAKER_STATE = "shop_circuit_breaker_state"  # 0 closed, 1 half-open, 2 open


def test_circuit_breaker(gameday: GameDayRunner) -> None:
    """The breaker opens, browsing stays up, checkouts fail fast."""
    gameday(GameDayConfig(name="circuit breaker",
                          fault={"kind": "partition", "selector": "app=orders",
                                 "dependency": "postgres", "duration": 10},
                          warmup=8, observe=15),
            feature="circuit breaker",
            story="the breaker opens, browsing stays up, checkouts fail fast",
            checks=[breaker_opens("orders", BREAKER_STATE),
                    routes_stay_available(BROWSE_ROUTES, "catalogue"),
                    fails_fast("/api/checkout", limit_ms=FAIL_FAST_MS)])
