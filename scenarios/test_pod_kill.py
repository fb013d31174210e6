"""Pod kill: an orders replica is SIGKILLed under load.

Fault: kill 1 of the 2 pods selected by ``app=orders`` (sandbox: SIGKILL of
the supervised process; Kubernetes: delete with grace period 0). The
active probe checks the pod really died; healed means a new incarnation
serves again.

Hypothesis: HAProxy's health checks and retries route around the dead
replica and the supervisor (a Deployment) restarts it, so the shop
recovers within the 30 s time-to-recover SLO, spends at most 10 % of the
30-day error budget, and is back in its steady state afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaosgate.gameday import GameDayConfig

if TYPE_CHECKING:
    from chaosgate.pytest.scenario import GameDayRunner

pytestmark = [pytest.mark.gameday, pytest.mark.fault(kind="kill-pods")]


def test_pod_kill(gameday: GameDayRunner) -> None:
    """Orders survives losing a replica."""
    gameday(GameDayConfig(name="pod kill",
                          fault={"kind": "kill-pods", "selector": "app=orders", "qty": 1},
                          warmup=8, observe=15),
            feature="pod kill", story="orders survives losing a replica")
