"""Kill a consumer: one of the two consumers is SIGKILLed under load.

Fault: kill 1 of the 2 pods selected by ``app=consumer``. The events it had
read but not acknowledged stay pending in the consumer group.

Hypothesis: the other consumer keeps up with the stream alone, supervisord
restarts the killed one, which processes its pending events first; the
pipeline is back within its SLOs well within the 30 s recovery objective
and no event is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="kill-pods")]


def test_consumer_kill(gameday: GameDayRunner) -> None:
    """The pipeline survives losing a consumer."""
    gameday(GameDayConfig(name="consumer kill", rate=150.0,
                          fault={"kind": "kill-pods", "selector": "app=consumer", "qty": 1},
                          warmup=8, observe=15),
            feature="consumer kill", story="the pipeline survives losing a consumer")
