"""Judge a game day's data: the gates, both observers' timelines, the reported verdicts.

Shared by every front end, so that a game day is decided the same way
wherever it ran: :func:`chaosgate.gameday.run_gameday` (``chaosgate gameday``,
the pytest fixtures) and the Chaos Toolkit ``slo`` control
(:mod:`chaosgate.ctk.controls.slo`) both call :func:`evaluate` with the request
log of the run, the fault's ``t_inject`` and the run's phase lengths.

What it decides with (see :mod:`.gates`): the steady state before the fault
(the requests from 2 s after the first one that completed before the fault
began: ``before_end``, by default ``t_inject``) and after it (from
``after_start``, by default the second half of the ``observe`` seconds that
end the load, to the load's end), the error budget burned
by the whole run, and the recovery SLO judged by each observer (the request
log, and Prometheus' raw samples). The server-side verdicts of every SLO
judged over a window (ratio and measured types) over the load window are
reported beside the gates, not gating, except those the game day names in
``gate_slos``: their verdicts, by the server and (where the request log can
judge them) the client, are gates like the others (:func:`window_gates`).

A run that meant to apply a fault and never did (its action failed, or the
fault never took hold: ``fault_applied=False``) has nothing to recover
from: its recovery gates are inconclusive with the value
:data:`NO_FAULT` ("n/a — no fault applied"), never "pass ... no impact
observed" with a TTR of 0.0, and no timeline is measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..clients.prometheus import PrometheusClient
from ..exceptions import ChaosgateError, UsageError
from ..faults import FaultTimeline
from ..load.requestlog import RequestRecord
from ..slo.check import check_slos, fetch_bins
from ..slo.evaluate import SLOVerdict, objective_text, records_verdicts, value_text
from ..slo.measure import Measurement, measure, timeline_slos
from ..slo.model import SLO, Catalog
from ..targets import Target
from ..targets._reader import did_you_mean
from ..verdict import VerdictName, combine
from .gates import (
    DEFAULT_BUDGET_PERIOD,
    DEFAULT_MAX_BUDGET_BURN,
    Gate,
    budget_gate,
    steady_state_gates,
)

__all__ = ["NO_FAULT", "Evaluation", "evaluate", "fault_took_hold", "gating_slos",
           "measure_recovery", "no_fault_recovery", "steady_states", "verdict_gate",
           "window_gates"]

#: The TTR, and the recovery gates' value, of a run whose fault was never applied.
NO_FAULT = "n/a — no fault applied"
_OBSERVERS = ("client", "server")


@dataclass
class Evaluation:
    """The gates that decide a game day, the timelines behind them, reported verdicts."""

    gates: list[Gate] = field(default_factory=list)
    measurement: Measurement | None = None
    reported: list[SLOVerdict] = field(default_factory=list)  # server side, not gating
    no_fault: bool = False  # a fault was meant and never applied: no TTR (NO_FAULT)

    @property
    def verdict(self) -> VerdictName:
        """pass, fail or inconclusive: the gates combined (no gate at all: inconclusive)."""
        return combine(g.status for g in self.gates)


def evaluate(target: Target, catalog: Catalog, records: Sequence[RequestRecord], *,
             t_inject: float | None, warmup: float, observe: float,
             before_end: float | None = None, after_start: float | None = None,
             recovery_slo: str = "time-to-recover",
             gate_slos: Sequence[str] = (),
             max_budget_burn: float = DEFAULT_MAX_BUDGET_BURN,
             budget_period: float = DEFAULT_BUDGET_PERIOD,
             prometheus: PrometheusClient | None = None,
             fault_applied: bool | None = None,
             log: Callable[[str], None] = lambda _m: None,
             clock_uncertainty: float = 0.0, t_healed: float | None = None) -> Evaluation:
    """Judge one run: ``records`` by start time, ``t_inject`` of its fault (None: baseline).

    ``warmup`` is the steady state before the fault when there is none;
    ``observe`` the seconds of load that end the run after the fault.
    A caller that timed its steady states itself (:func:`~.engine.run_gameday`
    extends them until they hold enough requests) passes where they were:
    ``before_end``, when the steady state before ended and the fault began
    (the injection takes hold *before* its call returns at ``t_inject``,
    so a request sent meanwhile is no steady state), and ``after_start``.
    Only requests that completed by then count as the steady state before.
    ``prometheus`` defaults to a client built from the target (its own
    credentials); callers holding other credentials pass their own.
    ``fault_applied``: False when a fault was meant but never took hold (the
    recovery is then :func:`no_fault_recovery`); None (a baseline) or True
    measure it from ``t_inject`` (a baseline: from the load's start).
    ``gate_slos``: SLOs whose window verdicts over the load gate the run
    (:func:`window_gates`); UsageError (exit 2) for an unknown or recovery SLO.
    ``t_healed``: when the fault was over (its heal, else its revert): an
    incident that begins later than that plus a margin is not the fault's.
    """
    gating = gating_slos(catalog, gate_slos)
    result = Evaluation(no_fault=fault_applied is False)
    if not records:
        result.gates.append(Gate("load", "inconclusive", "0 requests", "> 0",
                                 "the load generator recorded no request"))
        return result
    load_start = min(r.t for r in records)
    load_end = max(r.end for r in records)
    result.gates += steady_states(catalog, records, t_inject=t_inject, warmup=warmup,
                                  observe=observe, before_end=before_end,
                                  after_start=after_start)
    for slo in catalog:
        if slo.type in ("availability", "error_ratio"):
            result.gates.append(budget_gate(slo, records, duration_s=load_end - load_start,
                                            max_burn=max_budget_burn,
                                            period_s=budget_period))
    prom = prometheus or PrometheusClient.from_config(target.prometheus)
    time.sleep(2 * target.prometheus.scrape_interval)  # the last scrapes land
    recovery = catalog.get(recovery_slo)
    if result.no_fault:
        result.measurement, gates = no_fault_recovery(recovery)
        result.gates += gates
        log(f"{recovery.name}: {NO_FAULT}: nothing to recover from")
    else:
        _recovery_gates(result, recovery, catalog, prom, records, t_inject or load_start,
                        load_start, load_end, target.prometheus.scrape_interval, log,
                        clock_uncertainty, target.prometheus.fail_within, t_healed)
    server: list[SLOVerdict] = []
    try:
        server = check_slos(prom, [s for s in catalog if s.is_window],
                            window=max(load_end - load_start, 10.0), at=load_end,
                            scrape_interval=target.prometheus.scrape_interval)
    except ChaosgateError as exc:
        log(f"server-side SLO check failed: {exc}")
    names = {s.name for s in gating}
    result.reported = [v for v in server if v.slo not in names]
    result.gates += window_gates(gating, records, [v for v in server if v.slo in names],
                                 start=load_start, end=load_end)
    return result


def gating_slos(catalog: Catalog, names: Iterable[str]) -> list[SLO]:
    """The SLOs ``names`` picks to gate a game day (UsageError, exit 2, for an unknown one
    and for a recovery SLO, which gates through ``recovery_slo``). Pure."""
    chosen = []
    for name in names:
        if name not in catalog.names():
            usable = [s.name for s in catalog if s.is_window]
            raise UsageError(f"gate_slos: no SLO named {name!r} in the catalogue. Fix: "
                             f"{did_you_mean(name, usable)}use one of: {', '.join(usable)}")
        chosen.append(catalog.get(name))
    for slo in chosen:
        if not slo.is_window:
            raise UsageError(f"gate_slos: {slo.name!r} is a recovery SLO: it gates as the game "
                             "day's recovery_slo. Fix: leave it out of gate_slos")
    return chosen


def verdict_gate(slo: SLO, verdict: SLOVerdict) -> Gate:
    """One SLO verdict as a gate named ``<slo> (<observer> observer)`` (the score counts
    it as a scenario check: the recovery gates are the ones named ``(client)``). Pure."""
    return Gate(f"{slo.name} ({verdict.observer} observer)", verdict.status,
                value_text(slo, verdict.value, verdict.percentile_ms)
                if verdict.value is not None else "no data",
                objective_text(slo), verdict.reason,
                query="\n".join(f"{k}: {q}" for k, q in verdict.query.items()))


def window_gates(slos: Sequence[SLO], records: Sequence[RequestRecord],
                 server: Sequence[SLOVerdict], *, start: float, end: float) -> list[Gate]:
    """The gates of the gating SLOs over ``[start, end)``: the client's verdict of each SLO
    the request log can judge, and the server's (``server``: its verdicts; an SLO without
    one, Prometheus having failed, is an inconclusive server gate). Pure."""
    client = {v.slo: v for v in records_verdicts(slos, records, start=start, end=end)}
    by_server = {v.slo: v for v in server}
    gates = []
    for slo in slos:
        if slo.name in client:
            gates.append(verdict_gate(slo, client[slo.name]))
        found = by_server.get(slo.name)
        gates.append(verdict_gate(slo, found) if found is not None else Gate(
            f"{slo.name} (server observer)", "inconclusive", "no data", objective_text(slo),
            "Prometheus gave no verdict (see the log)"))
    return gates


def fault_took_hold(meant: bool, timelines: Iterable[FaultTimeline | None]) -> bool | None:
    """``evaluate``'s ``fault_applied``: None when no fault was meant (a baseline), else
    whether one of ``timelines`` took hold (its active probe saw it: ``t_verified``). Pure."""
    if not meant:
        return None
    return any(tl is not None and tl.t_verified is not None for tl in timelines)


def no_fault_recovery(recovery: SLO) -> tuple[Measurement, list[Gate]]:
    """The recovery of a run whose fault was never applied: no timeline, and per observer an
    inconclusive verdict and gate whose value is :data:`NO_FAULT`. Pure."""
    why = ("the fault was never applied (its action failed, or it never took hold): "
           "there is nothing to recover from, so no time to recover")
    verdicts = tuple(SLOVerdict(recovery.name, recovery.type, "inconclusive",
                                f"{NO_FAULT}: {why}", obs, recovery.objective)
                     for obs in _OBSERVERS)
    gates = [Gate(f"{recovery.name} ({obs})", "inconclusive", NO_FAULT,
                  f"≤ {recovery.objective:g} s", why) for obs in _OBSERVERS]
    return Measurement(recovery.name, None, None, (), verdicts), gates


def _recovery_gates(result: Evaluation, recovery: SLO, catalog: Catalog,
                    prom: PrometheusClient, records: Sequence[RequestRecord], t_inject: float,
                    load_start: float, load_end: float, scrape_interval: float,
                    log: Callable[[str], None], clock_uncertainty: float = 0.0,
                    fail_within: float = 0.0, t_healed: float | None = None) -> None:
    """Measure the recovery from ``t_inject`` by both observers; its gates."""
    result.measurement = measure_recovery(recovery, catalog, prom, records,
                                          t_inject, load_start, load_end,
                                          scrape_interval, log, clock_uncertainty,
                                          fail_within=fail_within, t_healed=t_healed)
    for verdict in result.measurement.verdicts:
        result.gates.append(Gate(f"{recovery.name} ({verdict.observer})", verdict.status,
                                 "" if verdict.value is None else f"{verdict.value:.2f} s",
                                 f"≤ {recovery.objective:g} s", verdict.reason))
    if not result.measurement.verdicts:
        result.gates.append(Gate(recovery.name, "inconclusive", "no data",
                                 f"≤ {recovery.objective:g} s", "neither observer had data"))


def steady_states(slos: Iterable[SLO], records: Sequence[RequestRecord], *,
                  t_inject: float | None, warmup: float, observe: float,
                  before_end: float | None = None,
                  after_start: float | None = None) -> list[Gate]:
    """The steady-state gates before the fault and after it (``records`` not empty).

    Before: the requests from 2 s after the first one to ``before_end``
    (default ``t_inject``; without a fault ``warmup`` s) that also completed
    by then, so none was in flight when the fault began. After: from
    ``after_start`` (default: the second half of ``observe``) to the load's end.
    """
    slos = list(slos)
    load_start = min(r.t for r in records)
    load_end = max(r.end for r in records)
    if before_end is not None:
        pre_end = before_end
    else:
        pre_end = t_inject if t_inject is not None else load_start + warmup + 2.0
    post_start = after_start if after_start is not None else load_end - observe / 2
    settled = [r for r in records if r.end <= pre_end]
    return [*steady_state_gates("before", slos, settled, start=load_start + 2.0, end=pre_end),
            *steady_state_gates("after", slos, records, start=max(post_start, pre_end),
                                end=load_end)]


def measure_recovery(slo: SLO, catalog: Catalog, prom: PrometheusClient,
                     records: Sequence[RequestRecord], t_inject: float, start: float,
                     end: float, scrape_interval: float,
                     log: Callable[[str], None] = lambda _m: None,
                     clock_uncertainty: float = 0.0, *,
                     fail_within: float = 0.0, t_healed: float | None = None) -> Measurement:
    """Both observers' timelines of ``slo`` around the fault applied at ``t_inject`` (the
    hint that picks its incident, :mod:`chaosgate.slo.incidents`); Prometheus' may be
    missing. ``fail_within``: the target's ``prometheus.fail_within``; ``t_healed``:
    when the fault was over (bounds which incident is the fault's)."""
    bins = None
    try:
        bins = {s.name: fetch_bins(prom, s, start - 5, end + 2, scrape_interval)
                for s in timeline_slos(slo, catalog)}
    except ChaosgateError as exc:
        log(f"Prometheus timeline unavailable: {exc}")
    return measure(slo, catalog, t_inject=t_inject, records=records, bins=bins,
                   scrape_interval=scrape_interval, t_end=end,
                   clock_uncertainty=clock_uncertainty, fail_within=fail_within,
                   t_healed=t_healed)
