"""Game days: a fault under load, judged by both observers.

:func:`run_gameday` (:mod:`.engine`) is the engine the pytest ``gameday``
fixture (:mod:`chaosgate.pytest`) and ``chaosgate gameday`` build on;
:mod:`.gates` (pure) says what decides a game day and :func:`evaluate`
(:mod:`.evaluation`) applies it to a run's data. Faults written as data are
:mod:`chaosgate.faults.spec`'s. The engine imports no front end.
"""

from .engine import GameDayConfig, GameDayRun, Phase, run_gameday
from .evaluation import Evaluation, evaluate
from .gates import Gate

__all__ = [
    "Evaluation",
    "GameDayConfig",
    "GameDayRun",
    "Gate",
    "Phase",
    "evaluate",
    "run_gameday",
]
