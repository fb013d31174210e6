"""The resilience score: a weighted share of the gates that passed. Pure.

The score is computed from the *measured gates* that decided each game day
(the SLO rows of :class:`~chaosgate.report.model.GameDayResult`), never from
how many experiments ran. Each gate falls into one class with a weight:

==================  ======  =====================================================
class               weight  gates
==================  ======  =====================================================
recovery            3       the time-to-recover SLO, per observer (``... (client)``,
                            ``... (server)``)
error budget        3       ``<slo>: error budget``: the share of the budget burned
scenario check      2       a scenario's own judgements (breaker opened, fault took
                            hold, ...)
steady state        1       ``steady state before/after: ...``
==================  ======  =====================================================

A gate scores 1 when it passed and 0 otherwise: a failed gate and an
inconclusive one (no data is never a pass) both score 0. Rows that only
report (``... (reported, not gating)``) and the MTTR summary rows of a
repeated game day (derived from the recovery gates) do not count; the gates
of every repetition do.

- game day: ``score = 100 * sum(weight * passed) / sum(weight)`` over its gates;
- overall: the mean of the game days' scores (each game day counts once).

A game day without a single gate has no score (None), and the overall
score is None when no game day has one. :func:`score_gameday` returns the
inputs beside the figure (:class:`GateInput`), so a reader can recompute it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import GameDayResult, SLORow

__all__ = [
    "FORMULA",
    "WEIGHTS",
    "GameDayScore",
    "GateInput",
    "gate_class",
    "overall_score",
    "score_gameday",
]

#: The weight of each class of gate.
WEIGHTS: Mapping[str, int] = {"recovery": 3, "error budget": 3, "scenario check": 2,
                              "steady state": 1}
#: The formula, as the reports and the docs print it.
FORMULA = ("game day score = 100 * sum(weight * passed) / sum weight over its gates "
           "(passed = 1 for a passed gate, 0 for a failed or inconclusive one; weights: "
           + ", ".join(f"{k} {v}" for k, v in WEIGHTS.items())
           + "); overall score = mean of the game days' scores")

_REPORTED = "(reported, not gating)"
_REPETITION = re.compile(r"^#\d+ ")


def gate_class(slo: str) -> str | None:
    """The class of an SLO row's gate (a key of :data:`WEIGHTS`); None: not a gate."""
    name = _REPETITION.sub("", slo)
    if name.endswith(_REPORTED) or name.startswith("MTTR"):
        return None
    if name.endswith((" (client)", " (server)")):
        return "recovery"
    if name.endswith(": error budget"):
        return "error budget"
    if name.startswith("steady state"):
        return "steady state"
    return "scenario check"


@dataclass(frozen=True, slots=True)
class GateInput:
    """One gate as the score counts it."""

    gate: str
    kind: str  # a key of WEIGHTS
    weight: int
    passed: bool
    verdict: str


@dataclass(frozen=True, slots=True)
class GameDayScore:
    """A game day's score (0-100, None without gates) and the gates it is made of."""

    gameday: str
    score: float | None
    inputs: tuple[GateInput, ...]

    @property
    def earned(self) -> int:
        """sum weight * passed."""
        return sum(g.weight for g in self.inputs if g.passed)

    @property
    def possible(self) -> int:
        """sum weight."""
        return sum(g.weight for g in self.inputs)


def _inputs(rows: Sequence[SLORow]) -> tuple[GateInput, ...]:
    out = []
    for row in rows:
        kind = gate_class(row.slo)
        if kind is not None:
            out.append(GateInput(row.slo, kind, WEIGHTS[kind], row.verdict == "pass",
                                 row.verdict))
    return tuple(out)


def score_gameday(result: GameDayResult) -> GameDayScore:
    """The score of one game day, with its inputs."""
    inputs = _inputs(result.slos)
    possible = sum(g.weight for g in inputs)
    earned = sum(g.weight for g in inputs if g.passed)
    return GameDayScore(result.name, 100.0 * earned / possible if possible else None, inputs)


def overall_score(scores: Sequence[GameDayScore]) -> float | None:
    """The mean of the game days' scores (those that have one); None when none has."""
    known = [s.score for s in scores if s.score is not None]
    return sum(known) / len(known) if known else None
