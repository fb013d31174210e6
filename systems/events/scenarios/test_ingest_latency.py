"""Latency on ingest -> broker: 30 ms (+-5 ms) on the ``ingest-redis`` link for 10 s.

Hypothesis: every append takes about 30 ms longer, so ingest answers and
end-to-end processing slow down by as much but stay within their SLOs
(250 ms for 95 % of requests, 100 ms end to end for 99 % of events): the
pipeline keeps its SLOs and nothing needs to recover.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="latency")]


def test_ingest_latency(gameday: GameDayRunner) -> None:
    """A slow broker link slows ingest down within its SLOs."""
    gameday(GameDayConfig(name="ingest latency", rate=150.0,
                          fault={"kind": "latency", "links": ["ingest-redis"],
                                 "latency_ms": 30, "jitter_ms": 5, "duration": 10},
                          warmup=8, observe=15),
            feature="ingest latency", story="a slow broker link slows ingest within its SLOs",
            severity="normal")
