"""Broker crash and restart: Redis is SIGKILLed under load.

Fault: kill the one pod selected by ``app=redis`` (the target's safety block
lets a fault take the single broker down); supervisord restarts it and it
reloads the stream from its append-only file.

Hypothesis: ingest answers 503 while the broker is down, the services
reconnect by themselves once it is back, the events accepted before the
crash are still there (AOF, fsync every second) and processed, and the
pipeline is back within its SLOs within 30 s, having spent at most 10 % of
its 30-day error budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="kill-pods")]


def test_broker_crash(gameday: GameDayRunner) -> None:
    """The pipeline comes back by itself after the broker crashed."""
    gameday(GameDayConfig(name="broker crash", rate=150.0,
                          fault={"kind": "kill-pods", "selector": "app=redis", "qty": 1},
                          warmup=8, observe=15),
            feature="broker crash", story="the pipeline comes back after a broker crash")
