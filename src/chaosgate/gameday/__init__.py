"""Game days: a fault under load, judged by both observers (shared by every front end).

:func:`run_gameday` (:mod:`.engine`) is what the pytest fixtures, the
``chaosgate gameday`` command and the Chaos Toolkit controls build on;
:mod:`.gates` (pure) says what decides a game day and :func:`evaluate`
(:mod:`.evaluation`) applies it to a run's data; :mod:`.faultspec` turns a
fault written as data into a fault.
"""

from .engine import GameDayConfig, GameDayRun, Phase, run_gameday
from .evaluation import Evaluation, evaluate
from .faultspec import FAULT_KINDS, build_fault, describe_fault
from .gates import Gate, combine

__all__ = [
    "FAULT_KINDS",
    "Evaluation",
    "GameDayConfig",
    "GameDayRun",
    "Gate",
    "Phase",
    "build_fault",
    "combine",
    "describe_fault",
    "evaluate",
    "run_gameday",
]
