"""Baseline: the events pipeline at 150 events/s with nothing broken.

Hypothesis: with no fault the pipeline keeps its SLOs: every event is
accepted, answered and processed in time, not one request fails, and it
sustains more than the 116 events/s (10 million a day) of the throughput
SLO (the load runs at 150 events/s). A baseline that does not pass means the
environment is not fit for game days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = pytest.mark.gameday

RATE = 150.0  # events per second; the throughput SLO asks for 116


def test_baseline(gameday: GameDayRunner) -> None:
    """The pipeline keeps its SLOs, throughput included, with nothing broken."""
    gameday(GameDayConfig(name="events baseline", rate=RATE, warmup=8, observe=15,
                          gate_slos=("throughput",)),
            feature="baseline", story="the pipeline keeps its SLOs with nothing broken",
            severity="blocker")
