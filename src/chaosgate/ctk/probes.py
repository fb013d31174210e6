"""Chaos Toolkit probes: is the system within its SLOs, how available, how fast, how soon back.

Use them as ``provider: {type: python, module: chaosgate.ctk.probes, func: ...}``
with a tolerance, e.g. ``slo_met`` with ``tolerance: true`` or
``recovery_time`` with ``tolerance: {type: range, range: [0, 30]}``.

Observers (``observer``): ``client`` reads the request log of the load the
``load`` control drives (exact counts and percentiles), ``server`` asks
Prometheus with the SLO catalogue's PromQL, ``auto`` (default) is client
when the load control runs, else server. Prometheus credentials come from
the target file, or from a ``prometheus`` secrets scope
(``bearer_token``, or ``username``/``password``) listed in the provider's
``secrets``; they never appear in a result. A probe with no data fails
(no data is never a pass). The SLOs are those of the catalogue named by
``chaosgate_catalog`` (default: ``probes/`` beside the target file, else the
shipped one). Every probe, its arguments and a tolerance for it are in
docs/experiments.md.
"""

from chaoslib.types import Configuration, Secrets

from ..exceptions import Inconclusive, UsageError
from ..gameday.gates import budget_burn
from ..slo.stats import percentile as nearest_rank
from ..targets import Selector
from .applying import interruptible
from .observe import catalog, recovery, verdicts, window_records
from .state import current, log

__all__ = [
    "acknowledged_writes_lost",
    "availability",
    "error_budget_burn",
    "faults_applied",
    "p95_latency",
    "pods_ready",
    "recovery_time",
    "slo_met",
]


@interruptible
def slo_met(slos: list[str] | None = None, window: float = 10.0, observer: str = "auto",
            configuration: Configuration = None, secrets: Secrets = None) -> bool:
    """True when every named SLO (all of the catalogue's judged over a window when none:
    ratio and measured types) kept its objective over the last ``window`` seconds.

    "Kept" means the observed ratio (mean, rate, gauge maximum) meets the
    objective (a short window can show a 99.99 % SLO is kept, not prove it:
    the ``slo`` control reports the statistical verdicts). Fails (no data is
    never a pass) when an SLO had no event in the window. ``observer``:
    client, server or auto. Blocks about the request timeout + 0.5 s (the
    requests in flight are recorded).
    """
    cat = catalog(configuration)
    found = verdicts(cat.select(slos or ()), window, observer, configuration, secrets)
    missed = [f"{v.slo}: {v.reason}" for v in found if v.status == "fail"]
    for line in missed:
        log.warning("SLO not kept: %s", line)
    return not missed


@interruptible
def availability(window: float = 10.0, slo: str = "availability", observer: str = "auto",
                 configuration: Configuration = None, secrets: Secrets = None) -> float:
    """The good ratio (0..1) of the availability SLO ``slo`` over the last ``window`` seconds.

    Client side: requests without a 5xx or a missing answer; server side:
    the SLO's PromQL. E.g. ``tolerance: {type: range, range: [0.999, 1.0]}``.
    Blocks about the request timeout + 0.5 s.
    """
    found = verdicts([catalog(configuration).get(slo)], window, observer, configuration,
                     secrets)
    return float(found[0].value or 0.0)


@interruptible
def p95_latency(route: str = "/api/checkout", window: float = 10.0, percentile: float = 95.0,
                configuration: Configuration = None, secrets: Secrets = None) -> float:
    """The exact p95 (or ``percentile``) latency in ms of successful ``route`` requests over
    the last ``window`` seconds, from the load control's request log (nearest rank, no
    interpolation). E.g. ``tolerance: {type: range, range: [0, 500]}``.
    Client side only: needs the ``load`` control. Blocks about the request
    timeout + 0.5 s.
    """
    records, _, _ = window_records(window)
    durations = [r.ms for r in records if r.name == route and r.ok]
    if not durations:
        raise Inconclusive(f"no successful {route} request in the last {window:g} s")
    return float(nearest_rank(durations, percentile))


@interruptible
def recovery_time(slo: str = "time-to-recover", observer: str = "auto",
                  timeout: float | None = None, configuration: Configuration = None,
                  secrets: Secrets = None) -> float:
    """Seconds from the first impact of this run's first fault until the SLOs recovered.

    Recovered: the start of the first hold-down window (the recovery SLO's,
    10 s by default) back within every SLO it names. Waits until that is
    seen, or until it can no longer meet the objective (``timeout`` caps
    the wait). 0.0 when nothing was impacted (or no fault was applied yet);
    when not recovered, the time since the impact (over the objective).
    E.g. ``tolerance: {type: range, range: [0, 30]}``. In the conventional
    shape (the revert in the rollbacks) leave it out of the hypothesis: after
    the method the fault is still applied; the ``slo`` control judges the TTR.
    """
    return recovery(slo, observer, timeout, configuration, secrets)


@interruptible
def error_budget_burn(slo: str = "availability", period_days: float = 30.0,
                      configuration: Configuration = None, secrets: Secrets = None) -> float:
    """The share of ``slo``'s error budget over ``period_days`` that this run's failed
    requests burned so far (1.0: the whole period's budget), at the run's own request rate.

    From the load control's request log (exact counts). E.g. ``tolerance:
    {type: range, range: [0, 0.1]}``.
    """
    target = catalog(configuration).get(slo)
    if target.type not in ("availability", "error_ratio"):
        raise UsageError(f"slo: {slo!r} is a {target.type} SLO; the budget burn is read "
                         "for availability and error_ratio SLOs")
    end = current().settle()
    records = current().records(until=end)
    span = end - records[0].t if records else 0.0
    used = budget_burn(target, records, duration_s=span, period_s=period_days * 86400)
    if used is None:
        raise Inconclusive(f"no request of SLO {slo!r} in this run yet")
    return used.burn


@interruptible
def pods_ready(selector: str, namespace: str | None = None,
               configuration: Configuration = None, secrets: Secrets = None) -> int:
    """How many pods ``selector`` selects that are ready (processes: alive and its readiness
    URL answers).

    E.g. ``tolerance: 2`` for a service of two replicas.
    """
    run = current()
    target = run.target(configuration)
    pods = run.platform(configuration).list_pods(Selector.parse(selector),
                                                 namespace or target.namespace)
    return sum(1 for p in pods if p.ready)


@interruptible
def faults_applied(configuration: Configuration = None, secrets: Secrets = None) -> int:
    """How many faults this run applied that are not reverted yet (in the ledger).

    E.g. ``tolerance: 0`` after the rollbacks (not in the hypothesis after the
    method of the conventional shape: the fault is still applied then).
    """
    run = current()
    return len(run.session(configuration).open_entries())


@interruptible
def acknowledged_writes_lost(configuration: Configuration = None,
                             secrets: Secrets = None) -> int:
    """How many checkouts the shop acknowledged (201 with an order id) in this run are
    not on the database's primary now (the recovery point after a failover).

    Needs the ``load`` control (its checkout log) and a target whose database
    sets ``recovery_point`` (the sandbox's does); the
    lost and duplicated writes are logged. E.g. ``tolerance: 0`` in the
    hypothesis after the method. No acknowledged write yet fails the probe
    (no data is never a pass).
    """
    from ..gameday.recovery_point import acknowledged, recovery_point
    from ..load.run import read_checkout_log
    from ..platforms.recovery import stored_writes, unchecked_reason

    run = current()
    if run.load is None:
        raise Inconclusive("acknowledged_writes_lost needs the load control (its checkout log)")
    target = run.target(configuration)
    reason = unchecked_reason(target)
    if reason is not None:
        raise Inconclusive(reason)
    run.settle()
    checkouts = read_checkout_log(run.load.spec.checkout_log)
    acked = acknowledged(checkouts)
    if not acked:
        raise Inconclusive("no checkout was acknowledged yet: nothing to look up")
    found = stored_writes(target, [c.client_seq for c in acked], min(c.t for c in acked) - 5)
    point = recovery_point(checkouts, found)
    log.info("recovery point: %s", point.describe())
    return len(point.lost)
