"""Baseline: the shop under load with nothing broken.

Hypothesis: with no fault, the shop keeps its SLOs. The steady state holds
before and after (no server error, every latency SLO's p95 within its
threshold), not one request fails (no error budget is spent) and there is
nothing to recover from. A baseline that does not pass means the
environment is not fit for game days: every other verdict would be noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = pytest.mark.gameday


def test_baseline(gameday: GameDayRunner) -> None:
    """The shop keeps its SLOs with nothing broken."""
    gameday(GameDayConfig(name="baseline", warmup=8, observe=15),
            feature="baseline", story="the shop keeps its SLOs with nothing broken",
            severity="blocker")
