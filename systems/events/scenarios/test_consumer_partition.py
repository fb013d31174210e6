"""Partition the consumers from the broker for 8 s under load.

Fault: the ``consumer-redis`` link (both consumers to Redis) is cut.

Hypothesis: ingestion is untouched (events are still accepted), the backlog
grows while the consumers cannot read; when the link comes back they
reconnect by themselves and work the backlog off, so the pipeline is back
within its SLOs (and the lag under its bound) within 30 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="partition")]


def test_consumer_partition(gameday: GameDayRunner) -> None:
    """The consumers catch up by themselves after losing the broker."""
    gameday(GameDayConfig(name="consumer partition", rate=150.0,
                          fault={"kind": "partition", "links": ["consumer-redis"],
                                 "duration": 8},
                          warmup=8, observe=15),
            feature="consumer partition",
            story="the consumers catch up after losing the broker")
