"""Latency on ingest -> broker: 30 ms (+-5 ms) on the ``ingest-redis`` link for 10 s.

Hypothesis: every append takes about 30 ms longer, so ingest answers slow
down by as much (p95 during the fault at least 25 ms, the fault took hold)
and stay within the 250 ms ingest SLO; no event is refused. End-to-end
processing is stamped before the append, so it comes close to its 100 ms
bound and may miss "99 % within 100 ms" while the latency lasts: the
pipeline must be back within its SLOs within 30 s and spend at most 10 % of
its error budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig
from chaosgate.gameday.checks import latency_stays_within

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="latency")]

LATENCY_MS, JITTER_MS = 30, 5
INGEST_SLO_MS = 250  # the ingest-latency-p95 threshold of probes/events.yaml


def test_ingest_latency(gameday: GameDayRunner) -> None:
    """A slow broker link slows ingest down within its SLO."""
    gameday(GameDayConfig(name="ingest latency", rate=150.0,
                          fault={"kind": "latency", "links": ["ingest-redis"],
                                 "latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS,
                                 "duration": 10},
                          warmup=8, observe=15),
            feature="ingest latency", story="a slow broker link slows ingest within its SLO",
            severity="normal",
            checks=[latency_stays_within("/events", at_least_ms=LATENCY_MS - JITTER_MS,
                                         at_most_ms=INGEST_SLO_MS)])
