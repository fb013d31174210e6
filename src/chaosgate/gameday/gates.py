"""What decides a game day: pure judgements on plain data.

A game day is short, so it cannot *prove* a 99.99 % availability objective
(that takes ~30 000 requests without a failure). It is gated instead on what
it can decide honestly in its own volume (docs/decisions.md, "Game days"):

- **recovery**: the time-to-recover SLO, judged by each observer
  (request log and Prometheus); either one failing fails the game day;
- **error budget**: the failed requests of the whole game day as a share of
  each availability/error-ratio SLO's error budget over a budget period
  (default 30 days at the game day's own request rate): an exact count, so
  pass or fail, never "not provable";
- **steady state** before the fault and after recovery: Chaos Toolkit-style
  tolerances on exact client-side values (each latency SLO's percentile at
  or under its threshold, no server errors), with a minimum of requests per
  gate (:func:`steady_state_shortfall` says which are short; the engine
  runs a steady state on until none is, bounded).

Every statistical SLO verdict is still reported beside the gates. A game
day's gates combine with :func:`chaosgate.verdict.combine`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..load.requestlog import RequestRecord
from ..slo.evaluate import is_server_error, request_judge
from ..slo.model import SLO
from ..slo.stats import percentile
from ..verdict import VerdictName

__all__ = [
    "DEFAULT_BUDGET_PERIOD",
    "DEFAULT_MAX_BUDGET_BURN",
    "MIN_STEADY_REQUESTS",
    "STEADY_ALL_REQUESTS",
    "BudgetBurn",
    "Gate",
    "budget_burn",
    "budget_gate",
    "steady_state_counts",
    "steady_state_gates",
    "steady_state_shortfall",
]

DEFAULT_BUDGET_PERIOD = 30 * 86400.0
DEFAULT_MAX_BUDGET_BURN = 0.10
MIN_STEADY_REQUESTS = 20
#: The key of :func:`steady_state_counts` for every request of the window.
STEADY_ALL_REQUESTS = "all requests"


@dataclass(frozen=True)
class Gate:
    """One judgement that decides the game day."""

    name: str
    status: VerdictName
    value: str
    objective: str
    detail: str
    query: str = ""
    #: The measured figure behind ``value`` where reports need it as a number
    #: (an error-budget gate's burn, 1.0 = the whole period's budget); else None.
    measure: float | None = None


@dataclass(frozen=True)
class BudgetBurn:
    """How much of an SLO's error budget a run's failed requests used (exact counts)."""

    failed: int
    judged: int
    rate: float  # the SLO's requests per second during the run
    budget: float  # failures the objective allows over the budget period at that rate
    burn: float  # failed / budget: 1.0 is the whole period's budget

    def text(self, slo: SLO, period_s: float) -> str:
        """One line saying what the burn is made of."""
        return (f"{self.failed} failed of {self.judged} requests at {self.rate:.1f}/s; a "
                f"{slo.objective:.4%} objective allows {self.budget:,.0f} failures in "
                f"{period_s / 86400:g} days at that rate")


def budget_burn(slo: SLO, records: Sequence[RequestRecord], *, duration_s: float,
                period_s: float = DEFAULT_BUDGET_PERIOD) -> BudgetBurn | None:
    """The share of ``slo``'s budget over ``period_s`` that ``records`` burned; None: no data.

    The budget is ``(1 - objective) * rate * period`` failed requests, where
    ``rate`` is the run's own request rate on the SLO's requests.
    """
    judge = request_judge(slo)
    judged: list[bool] = [bad for r in records if (bad := judge(r)) is not None]
    if not judged or duration_s <= 0:
        return None
    failed = sum(judged)
    rate = len(judged) / duration_s
    budget = (1.0 - slo.objective) * rate * period_s
    burn = failed / budget if budget > 0 else (0.0 if failed == 0 else float("inf"))
    return BudgetBurn(failed, len(judged), rate, budget, burn)


def budget_gate(slo: SLO, records: Sequence[RequestRecord], *, duration_s: float,
                max_burn: float = DEFAULT_MAX_BUDGET_BURN,
                period_s: float = DEFAULT_BUDGET_PERIOD) -> Gate:
    """Share of ``slo``'s error budget over ``period_s`` that the game day's failures used.

    The budget is ``(1 - objective) * rate * period`` failed requests, where
    ``rate`` is the game day's own request rate on the SLO's requests.
    """
    name = f"{slo.name}: error budget"
    objective = f"≤ {max_burn:.0%} of the {period_s / 86400:g}-day budget"
    used = budget_burn(slo, records, duration_s=duration_s, period_s=period_s)
    if used is None:
        return Gate(name, "inconclusive", "no data", objective,
                    "no requests of this SLO were sent during the game day")
    status: VerdictName = "pass" if used.burn <= max_burn else "fail"
    return Gate(name, status, f"{used.burn:.2%}", objective, used.text(slo, period_s),
                measure=used.burn)


def _window(records: Iterable[RequestRecord], start: float,
            end: float) -> list[RequestRecord]:
    return [r for r in records if start <= r.t < end]


def _latency_slos(slos: Iterable[SLO]) -> list[tuple[SLO, float, float]]:
    """The latency SLOs a steady state judges, with their percentile and threshold (ms)."""
    return [(s, s.percentile, s.threshold * 1000) for s in slos
            if s.type == "latency" and s.threshold is not None and s.percentile is not None]


def _latency_sample(slo: SLO, window: Iterable[RequestRecord]) -> list[float]:
    """The durations ``slo``'s steady-state gate judges: its route's successful requests."""
    return [r.ms for r in window if r.name == slo.route and r.ok]


def _subject(slo: SLO) -> str:
    return slo.route or slo.name


def steady_state_counts(slos: Iterable[SLO], records: Iterable[RequestRecord], *,
                        start: float, end: float) -> dict[str, int]:
    """The requests each gate of :func:`steady_state_gates` judges in ``[start, end)``.

    Keys: :data:`STEADY_ALL_REQUESTS` (every request: the server-error gate)
    and the route of each latency SLO (its successful requests: the
    percentile gate). A gate is inconclusive below ``min_requests`` of its own.
    """
    window = _window(records, start, end)
    counts = {STEADY_ALL_REQUESTS: len(window)}
    for slo, _pct, _ms in _latency_slos(slos):
        counts[_subject(slo)] = len(_latency_sample(slo, window))
    return counts


def steady_state_shortfall(slos: Iterable[SLO], records: Iterable[RequestRecord], *,
                           start: float, end: float,
                           min_requests: int = MIN_STEADY_REQUESTS) -> dict[str, int]:
    """What ``[start, end)`` lacks for every steady-state gate to judge: the counts under
    ``min_requests``, by the key of :func:`steady_state_counts`; empty when none is short.

    The game-day engine keeps a steady-state phase going until this is empty
    (bounded), so the steady state lasts until it holds enough data to be judged.
    """
    return {k: n for k, n in steady_state_counts(slos, records, start=start, end=end).items()
            if n < min_requests}


def steady_state_gates(phase: str, slos: Iterable[SLO], records: Sequence[RequestRecord], *,
                       start: float, end: float,
                       min_requests: int = MIN_STEADY_REQUESTS) -> list[Gate]:
    """Tolerances of the steady state in ``[start, end)``: latency percentiles and 5xx.

    Each gate is inconclusive with fewer than ``min_requests`` requests of its
    own (:func:`steady_state_counts` counts them the same way).
    """
    window = _window(records, start, end)
    gates = []
    errors = [r for r in window if is_server_error(r)]
    span = f"{end - start:.0f} s {phase}"
    if len(window) < min_requests:
        gates.append(Gate(f"steady state {phase}: no server errors", "inconclusive",
                          f"{len(window)} requests", "0 errors",
                          f"fewer than {min_requests} requests in the {span}"))
    else:
        gates.append(Gate(f"steady state {phase}: no server errors",
                          "pass" if not errors else "fail", f"{len(errors)} errors", "0 errors",
                          f"{len(errors)} of {len(window)} requests failed in the {span}"))
    for slo, pct, threshold_ms in _latency_slos(slos):
        name = f"steady state {phase}: {slo.name}"
        objective = f"p{pct:g} ≤ {threshold_ms:g} ms"
        durations = _latency_sample(slo, window)
        if len(durations) < min_requests:
            gates.append(Gate(name, "inconclusive", f"{len(durations)} requests", objective,
                              f"fewer than {min_requests} {slo.route} requests in the {span}"))
            continue
        value = percentile(durations, pct)
        status: VerdictName = "pass" if value <= threshold_ms else "fail"
        gates.append(Gate(name, status, f"{value:.1f} ms", objective,
                          f"exact p{pct:g} of {len(durations)} {slo.route} "
                          f"requests in the {span}"))
    return gates
