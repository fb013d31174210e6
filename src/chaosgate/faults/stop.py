"""Stop conditions, watched through Prometheus while a fault is applied.

:class:`StopWatch` evaluates the target's ``safety.stop_when`` and the
run's own (``--stop-when``, a game day's, an experiment's) each time the
fault session's hold loop asks (every half second,
``faults.session.STOP_CHECK_EVERY``): each condition becomes one
PromQL instant query (:func:`stop_query`, pure) that returns a sample when
the condition holds. The first that does ends the hold; the session reverts
the fault at once and raises :class:`~chaosgate.exceptions.FaultAborted`
(verdict ``aborted``, exit 4).

A condition that cannot be evaluated (Prometheus down, a query it refuses)
for :data:`MAX_BLIND_CHECKS` checks in a row trips too: a fault whose
safety net cannot be seen is not left running. :meth:`StopWatch.preflight`
runs every query once before the fault is applied, so a bad PromQL is
exit 2 and a condition already true refuses to start (exit 4 with nothing
touched), as AWS FIS refuses to start an experiment whose stop alarm is in
ALARM.

:func:`admit` is the check before a run (a game day, a ``chaos run``): every
gating SLO must keep the share of its period's error budget the target's
``safety.min_error_budget`` asks (:func:`budget_admission`), or the run does
not start ("budget too low", inconclusive) unless forced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..clients.prometheus import PrometheusClient
from ..exceptions import ChaosgateError, FaultAborted, Inconclusive, UsageError
from ..frontends import FrontEnd, option
from ..slo.model import SLO, Catalog
from ..slo.rules import sli_error_expr
from ..targets import StopCondition

__all__ = ["MAX_BLIND_CHECKS", "StopWatch", "Tripped", "admit", "already_true", "budget_admission",
           "remaining_budget_query", "stop_query"]

#: Checks in a row a condition may be unreadable before it counts as tripped.
MAX_BLIND_CHECKS = 3
#: The shortest window the live budget burn is read over (two 1 s scrapes and some).
MIN_BURN_WINDOW_S = 5.0


@dataclass(frozen=True)
class Tripped:
    """A stop condition that held: which, when (epoch s, this machine) and what was seen."""

    condition: StopCondition
    t: float
    seen: str

    def __str__(self) -> str:
        return f"stop condition tripped: {self.condition} ({self.seen})"


def stop_query(condition: StopCondition, *, catalog: Catalog | None, since: float, now: float,
               period_s: float) -> str:
    """The PromQL that returns a sample while ``condition`` holds. Pure.

    ``burn``: the share of the SLO's error budget over ``period_s`` burned in
    ``[since, now]`` — the error ratio over that window, divided by the
    budget (``1 - objective``), times the window's share of the period
    (the same burn the game days' budget gate reports).
    """
    if condition.kind == "alert":
        return f'ALERTS{{alertname="{condition.subject}",alertstate="firing"}}'
    if condition.kind == "promql":
        return condition.subject
    if catalog is None:
        raise UsageError(f"{condition.source}: {condition}: a budget burn needs the SLO "
                         "catalogue. Fix: run it with a catalogue (--catalog)")
    slo = catalog.get(condition.subject)
    if not slo.is_ratio or slo.objective >= 1.0:
        raise UsageError(f"{condition.source}: {condition}: {slo.name!r} has no error budget "
                         "(a ratio SLO with an objective under 1 has). Fix: name an "
                         "availability or error-ratio SLO")
    window = max(now - since, MIN_BURN_WINDOW_S)
    ratio = sli_error_expr(slo, window)
    budget = 1.0 - slo.objective
    share = window / period_s
    return f"({ratio}) / {budget:.12g} * {share:.12g} > {condition.threshold:g}"


class StopWatch:
    """The stop conditions of one run, checked through ``prometheus``.

    ``since`` is when the run began (its budget burn counts from there);
    ``period_s`` the error budget's period (30 days by default).
    """

    def __init__(self, conditions: Sequence[StopCondition], prometheus: PrometheusClient, *,
                 catalog: Catalog | None = None, since: float | None = None,
                 period_s: float = 30 * 86400.0) -> None:
        self.conditions = tuple(conditions)
        self.prometheus = prometheus
        self.catalog = catalog
        self.since = time.time() if since is None else since
        self.period_s = period_s
        self._blind: dict[StopCondition, int] = {}

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def _query(self, condition: StopCondition, now: float) -> str:
        return stop_query(condition, catalog=self.catalog, since=self.since, now=now,
                          period_s=self.period_s)

    def _seen(self, condition: StopCondition, now: float) -> str | None:
        """What Prometheus returns while ``condition`` holds; None while it does not."""
        try:
            samples = self.prometheus.query(self._query(condition, now), at=now)
        except UsageError as exc:
            raise UsageError(f"{condition.source or 'a stop condition'}: {condition}: "
                             f"Prometheus refused it: {exc}") from None
        if not samples:
            return None
        first = samples[0]
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(first.labels.items())
                          if k != "__name__")
        more = f" and {len(samples) - 1} more series" if len(samples) > 1 else ""
        return f"{{{labels}}} = {first.value:g}, {now - self.since:.1f} s into the run{more}"

    def check(self) -> Tripped | None:
        """Evaluate every condition now; the first that holds (or stayed unreadable for
        :data:`MAX_BLIND_CHECKS` checks), else None. A PromQL error is bad input (raised)."""
        now = time.time()
        for condition in self.conditions:
            try:
                seen = self._seen(condition, now)
            except UsageError:
                raise
            except ChaosgateError as exc:
                self._blind[condition] = self._blind.get(condition, 0) + 1
                if self._blind[condition] >= MAX_BLIND_CHECKS:
                    return Tripped(condition, now, f"could not be checked "
                                   f"{MAX_BLIND_CHECKS} times in a row: {exc}")
                continue
            self._blind[condition] = 0
            if seen is not None:
                return Tripped(condition, now, seen)
        return None

    def preflight(self) -> None:
        """Evaluate every condition once before the fault: a query Prometheus refuses is
        :class:`UsageError` (exit 2), a condition already true :class:`FaultAborted`
        (exit 4); nothing has been touched either way. An unreachable Prometheus is
        :class:`~chaosgate.exceptions.Inconclusive` (exit 3)."""
        now = time.time()
        for condition in self.conditions:
            seen = self._seen(condition, now)
            if seen is not None:
                exc = FaultAborted(already_true(Tripped(condition, now, seen)))
                exc.tripped = Tripped(condition, now, seen)
                raise exc


def already_true(tripped: Tripped) -> str:
    """The message of a run refused because a stop condition held before it began."""
    return (f"{tripped}, before the fault was applied: nothing was touched. Fix: wait until "
            f"the system is healthy again (or correct the condition, given in "
            f"{tripped.condition.source or 'the run'})")


def remaining_budget_query(slo: SLO, period_s: float) -> str:
    """PromQL for the share of ``slo``'s error budget left over its period (1 = untouched,
    0 = spent, below 0 = overspent): ``1 - error ratio / (1 - objective)``. Pure."""
    ratio = sli_error_expr(slo, period_s)
    return f"1 - ({ratio}) / {1.0 - slo.objective:.12g}"


def admit(prometheus: PrometheusClient, catalog: Catalog, *, minimum: float | None,
          period_s: float, force: bool, who: str, front_end: FrontEnd,
          log: Callable[[str], None]) -> None:
    """Error-budget admission of the run ``who`` names, before any load or fault: raises
    :class:`~chaosgate.exceptions.Inconclusive` ("error budget too low", nothing started)
    when a gating SLO has less budget left than ``minimum`` (the target's
    ``safety.min_error_budget``; None: no admission), unless ``force`` (then it logs what
    was short and lets the run start). The fix names ``front_end``'s force option."""
    if minimum is None:
        return
    short = budget_admission(prometheus, catalog, minimum=minimum, period_s=period_s)
    if not short:
        log(f"{who}: error budget admission: every gating SLO keeps at least "
            f"{minimum:.0%} of its budget")
        return
    if force:
        log(f"{who}: error budget too low, starting anyway (forced): " + "; ".join(short))
        return
    raise Inconclusive(f"{who}: error budget too low: " + "; ".join(short)
                       + ". Nothing was started. Fix: wait until the budget recovers, or "
                       f"force it ({option('force', front_end)})")


def budget_admission(prometheus: PrometheusClient, catalog: Catalog, *, minimum: float,
                     period_s: float) -> list[str]:
    """Error-budget admission: one line per gating SLO (availability, error ratio) whose
    remaining budget over ``period_s`` is under ``minimum``; empty: the run may start.
    An SLO with no data over the period is not refused (nothing was spent that Prometheus
    knows of); Prometheus unreachable raises Inconclusive."""
    short = []
    for slo in catalog:
        if slo.type not in ("availability", "error_ratio") or slo.objective >= 1.0:
            continue
        left = prometheus.value(remaining_budget_query(slo, period_s))
        if left is not None and left < minimum:
            short.append(f"{slo.name}: {max(left, -9.99):.1%} of its "
                         f"{period_s / 86400:g}-day error budget left, under the "
                         f"{minimum:.0%} the target's safety.min_error_budget requires")
    return short
