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
  or under its threshold, no server errors), with a minimum of requests.

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
    "BudgetBurn",
    "Gate",
    "budget_burn",
    "budget_gate",
    "steady_state_gates",
]

DEFAULT_BUDGET_PERIOD = 30 * 86400.0
DEFAULT_MAX_BUDGET_BURN = 0.10
MIN_STEADY_REQUESTS = 20


@dataclass(frozen=True)
class Gate:
    """One judgement that decides the game day."""

    name: str
    status: VerdictName
    value: str
    objective: str
    detail: str
    query: str = ""


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
    return Gate(name, status, f"{used.burn:.2%}", objective, used.text(slo, period_s))


def steady_state_gates(phase: str, slos: Iterable[SLO], records: Sequence[RequestRecord], *,
                       start: float, end: float,
                       min_requests: int = MIN_STEADY_REQUESTS) -> list[Gate]:
    """Tolerances of the steady state in ``[start, end)``: latency percentiles and 5xx."""
    window = [r for r in records if start <= r.t < end]
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
    for slo in slos:
        if slo.type != "latency" or slo.threshold is None or slo.percentile is None:
            continue
        name = f"steady state {phase}: {slo.name}"
        objective = f"p{slo.percentile:g} ≤ {slo.threshold * 1000:g} ms"
        durations = [r.ms for r in window if r.name == slo.route and r.ok]
        if len(durations) < min_requests:
            gates.append(Gate(name, "inconclusive", f"{len(durations)} requests", objective,
                              f"fewer than {min_requests} {slo.route} requests in the {span}"))
            continue
        value = percentile(durations, slo.percentile)
        status: VerdictName = "pass" if value <= slo.threshold * 1000 else "fail"
        gates.append(Gate(name, status, f"{value:.1f} ms", objective,
                          f"exact p{slo.percentile:g} of {len(durations)} {slo.route} "
                          f"requests in the {span}"))
    return gates
