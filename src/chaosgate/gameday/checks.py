"""Scenario-specific judgements of a game day, as gates (see :func:`.engine.apply_checks`).

Each ``*_gate`` function is pure: requests of the request log (or samples
Prometheus returned) and the fault window in, a :class:`~.gates.Gate` out.
The check factories at the bottom bind them to a finished
:class:`~.engine.GameDayRun` for ``run_gameday(..., checks=[...])``; only
:func:`breaker_opens` (Prometheus, through
:class:`~chaosgate.clients.prometheus.PrometheusClient`) and
:func:`writes_survive` (the acknowledged writes on the database's primary, by the
target's ``database.recovery_point`` query) read anything.

All windows are the fault's ``[t_inject, t_revert)`` by request start. Too
little data is *inconclusive*, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..clients.prometheus import PrometheusClient
from ..exceptions import Inconclusive
from ..load.requestlog import RequestRecord
from ..slo.stats import percentile
from .engine import Check, GameDayRun
from .gates import Gate
from .recovery_point import acknowledged, recovery_point, recovery_point_gate

__all__ = [
    "breaker_open_gate",
    "breaker_opens",
    "fail_fast_gate",
    "fails_fast",
    "fault_window",
    "latency_band_gates",
    "latency_stays_within",
    "routes_stay_available",
    "routes_succeed_gate",
    "writes_survive",
]

BREAKER_OPEN = 2.0  # a circuit breaker state gauge: 0 closed, 1 half-open, 2 open


def fault_window(run: GameDayRun) -> tuple[float, float]:
    """``(t_inject, t_revert)`` of the run's fault; Inconclusive when no fault took place."""
    tl = run.fault_timeline
    if tl is None or tl.t_inject is None or tl.t_revert is None:
        raise Inconclusive("no fault window: the fault was not applied and reverted")
    return tl.t_inject, tl.t_revert


def _within(records: Iterable[RequestRecord], routes: Sequence[str], start: float,
            end: float) -> list[RequestRecord]:
    return [r for r in records if r.name in routes and start <= r.t < end]


def routes_succeed_gate(name: str, records: Iterable[RequestRecord], routes: Sequence[str],
                        start: float, end: float, *, min_requests: int = 20) -> Gate:
    """Every request of ``routes`` started in ``[start, end)`` succeeded."""
    window = _within(records, routes, start, end)
    failed = [r for r in window if not r.ok]
    objective = "every request succeeds"
    span = f"{len(window)} {' and '.join(routes)} requests in the {end - start:.1f} s fault window"
    if len(window) < min_requests:
        return Gate(name, "inconclusive", f"{len(window)} requests", objective,
                    f"fewer than {min_requests} requests: {span}")
    kinds = sorted({str(r.status or r.error) for r in failed})
    return Gate(name, "fail" if failed else "pass", f"{len(window) - len(failed)}/{len(window)} ok",
                objective, f"{len(failed)} failed ({', '.join(kinds) or 'none'}) of {span}")


def fail_fast_gate(name: str, records: Iterable[RequestRecord], route: str, start: float,
                   end: float, *, limit_ms: float, pct: float = 95.0,
                   min_failures: int = 10) -> Gate:
    """The failed requests of ``route`` in the window failed fast: their p``pct`` < ``limit_ms``."""
    failed = [r.ms for r in _within(records, (route,), start, end) if not r.ok]
    objective = f"p{pct:g} of failed requests < {limit_ms:g} ms"
    if len(failed) < min_failures:
        return Gate(name, "inconclusive", f"{len(failed)} failures", objective,
                    f"fewer than {min_failures} {route} requests failed during the fault: "
                    "nothing to judge (did the fault bite?)")
    value = percentile(failed, pct)
    return Gate(name, "pass" if value < limit_ms else "fail", f"{value:.1f} ms", objective,
                f"exact p{pct:g} of the durations of {len(failed)} failed {route} requests "
                f"(slowest {max(failed):.0f} ms) in the {end - start:.1f} s fault window")


def latency_band_gates(records: Iterable[RequestRecord], route: str, start: float, end: float,
                       *, at_least_ms: float, at_most_ms: float, pct: float = 95.0,
                       min_requests: int = 20) -> list[Gate]:
    """p``pct`` of ``route``'s successful requests in the window: at least ``at_least_ms``
    (the fault is visible to clients, else inconclusive) and at most ``at_most_ms`` (else fail)."""
    ok = [r.ms for r in _within(records, (route,), start, end) if r.ok]
    names = (f"{route} p{pct:g} during the fault: fault visible",
             f"{route} p{pct:g} during the fault: within the SLO")
    objectives = (f"≥ {at_least_ms:g} ms", f"≤ {at_most_ms:g} ms")
    if len(ok) < min_requests:
        detail = f"fewer than {min_requests} successful {route} requests in the fault window"
        return [Gate(n, "inconclusive", f"{len(ok)} requests", o, detail)
                for n, o in zip(names, objectives, strict=True)]
    value = percentile(ok, pct)
    detail = (f"exact p{pct:g} of {len(ok)} successful {route} requests in the "
              f"{end - start:.1f} s fault window")
    return [Gate(names[0], "pass" if value >= at_least_ms else "inconclusive", f"{value:.1f} ms",
                 objectives[0], detail + ("" if value >= at_least_ms else
                                          ": the added latency did not reach the clients")),
            Gate(names[1], "pass" if value <= at_most_ms else "fail", f"{value:.1f} ms",
                 objectives[1], detail)]


def breaker_open_gate(name: str, samples: Mapping[str, Sequence[tuple[float, float]]],
                      start: float, end: float, *, query: str = "") -> Gate:
    """Every series (one per replica) showed the breaker OPEN (value 2) within ``[start, end]``."""
    objective = "open (2) on every replica during the fault"
    if not samples:
        return Gate(name, "inconclusive", "no series", objective,
                    "Prometheus returned no breaker state series", query)
    first_open = {who: min((t for t, v in s if start <= t <= end and v == BREAKER_OPEN),
                           default=None) for who, s in samples.items()}
    opened = {who: t for who, t in first_open.items() if t is not None}
    closed = sorted(set(samples) - set(opened))
    detail = ", ".join(f"{who} open {t - start:.1f} s after the injection"
                       for who, t in sorted(opened.items()))
    if closed:
        detail = (detail + "; " if detail else "") + f"never open: {', '.join(closed)}"
    return Gate(name, "pass" if not closed else "fail", f"{len(opened)} of {len(samples)} open",
                objective, detail, query)


# -- check factories for run_gameday(..., checks=[...]) -----------------------------
def routes_stay_available(routes: Sequence[str], what: str) -> Check:
    """Check: every request of ``routes`` started during the fault succeeded; the gate
    reads "``what`` available during the fault"."""
    def routes_available(run: GameDayRun) -> list[Gate]:
        start, end = fault_window(run)
        return [routes_succeed_gate(f"{what} available during the fault", run.records,
                                    routes, start, end)]
    return routes_available


def fails_fast(route: str, limit_ms: float = 100.0) -> Check:
    """Check: requests of ``route`` that failed during the fault failed fast."""
    def checkouts_fail_fast(run: GameDayRun) -> list[Gate]:
        start, end = fault_window(run)
        return [fail_fast_gate(f"{route} fails fast during the fault", run.records, route,
                               start, end, limit_ms=limit_ms)]
    return checkouts_fail_fast


def latency_stays_within(route: str, *, at_least_ms: float, at_most_ms: float) -> Check:
    """Check: ``route``'s p95 during the fault shows the fault, and stays within a bound."""
    def latency_within(run: GameDayRun) -> list[Gate]:
        start, end = fault_window(run)
        return latency_band_gates(run.records, route, start, end, at_least_ms=at_least_ms,
                                  at_most_ms=at_most_ms)
    return latency_within


def breaker_opens(app: str, metric: str) -> Check:
    """Check: Prometheus saw ``app``'s circuit breaker OPEN on every replica during the fault.

    ``metric`` is the system's breaker state gauge (0 closed, 1 half-open, 2 open),
    labelled ``app`` and ``pod`` (or ``instance``), e.g. ``breaker_opens("api",
    "api_circuit_breaker_state")``.
    """
    def breaker_opened(run: GameDayRun) -> list[Gate]:
        start, end = fault_window(run)
        selector = f'{metric}{{app="{app}"}}'
        series = PrometheusClient.from_config(run.target.prometheus).raw_samples(
            selector, start - 1.0, end + run.target.prometheus.scrape_interval)
        samples = {s.labels.get("pod") or s.labels.get("instance", "?"): s.samples
                   for s in series}
        return [breaker_open_gate(f"{app} circuit breaker opens during the fault", samples,
                                  start, end + run.target.prometheus.scrape_interval,
                                  query=selector)]
    return breaker_opened


def writes_survive(max_lost: int = 0) -> Check:
    """Check: every write the system acknowledged (the checkout log: 201 with its id)
    before, during and after the fault is stored on the primary afterwards (the recovery
    point: :mod:`.recovery_point`; read back by the target's ``database.recovery_point``,
    :mod:`chaosgate.platforms.recovery`)."""
    def acknowledged_writes(run: GameDayRun) -> list[Gate]:
        from ..platforms.recovery import stored_writes, unchecked_reason

        if run.load is None:
            return [recovery_point_gate(None, why_unchecked="no load ran: no checkout log")]
        reason = unchecked_reason(run.target)
        if reason is not None:
            return [recovery_point_gate(None, why_unchecked=reason)]
        checkouts = run.load.checkouts()
        acked = acknowledged(checkouts)
        since = min((c.t for c in acked), default=run.started) - 5.0
        try:
            found = stored_writes(run.target, [c.client_seq for c in acked], since)
        except Inconclusive as exc:
            return [recovery_point_gate(None, why_unchecked=str(exc))]
        return [recovery_point_gate(recovery_point(checkouts, found), max_lost=max_lost)]
    return acknowledged_writes
