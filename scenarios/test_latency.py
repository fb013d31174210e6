"""Latency: the link from the gateway to orders gets 200 ms ± 20 ms slower.

Fault: a latency toxic of 200 ms with 20 ms jitter on ``gateway-orders``
(the gateway's requests to orders) for 10 s. The active probe checks a
request through the link really takes that long.

Hypothesis, as numbers: a checkout makes one call to orders, so during the
fault its p95 rises by about the added latency, from ~15 ms to ~230 ms,
and stays within the 500 ms checkout SLO: the SLO has room for one slow
dependency call. Two gates make this a statement rather than a vacuous
pass:

- *fault visible*: checkout p95 during the fault ≥ 180 ms (the smallest
  delay the toxic adds). Below that the latency never reached the clients
  and the game day is inconclusive, not a pass;
- *within the SLO*: checkout p95 during the fault ≤ 500 ms. Above it the
  SLO is violated and the game day fails.

Browsing does not use the link; the usual gates (steady state, error
budget, time to recover) apply too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig
from chaosgate.gameday.checks import latency_stays_within

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="latency")]

LATENCY_MS, JITTER_MS = 200, 20
CHECKOUT_SLO_MS = 500  # the checkout-latency-p95 threshold of probes/shop.yaml


def test_latency(gameday: GameDayRunner) -> None:
    """Checkout p95 absorbs a 200 ms slower orders call within its 500 ms SLO."""
    gameday(GameDayConfig(name="latency",
                          fault={"kind": "latency", "links": ["gateway-orders"],
                                 "latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS,
                                 "duration": 10},
                          warmup=8, observe=15),
            feature="latency", story="checkout p95 stays within 500 ms with a slow orders link",
            severity="normal",
            checks=[latency_stays_within("/api/checkout", at_least_ms=LATENCY_MS - JITTER_MS,
                                         at_most_ms=CHECKOUT_SLO_MS)])
