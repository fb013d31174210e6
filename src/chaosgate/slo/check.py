"""Asking Prometheus about SLOs: window verdicts and raw counters for timelines.

The I/O goes through :class:`~chaosgate.clients.prometheus.PrometheusClient`
(the only Prometheus client); the judging is done by the pure
:mod:`chaosgate.slo.evaluate` and :mod:`chaosgate.slo.counters`.

- :func:`check_slos`: each ratio SLO over a window ending now (or ``at``):
  the PromQL of the catalogue, rendered, as instant queries; counts rounded
  (``increase()`` extrapolates to the window's edges); the burn rate over the
  window and over a twelfth of it (the workbook's short window). Prometheus
  unreachable makes every remaining SLO inconclusive, never a pass.
- :func:`fetch_bins`: the SLO's raw counter samples (range selectors, one
  sample per scrape) as per-scrape bins for the server-side timeline.
- :func:`fetch_alert`: when a named Prometheus alert first fired.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..clients.prometheus import PrometheusClient
from ..exceptions import Inconclusive, UsageError
from .catalog import SLO
from .counters import Bin, alert_fired, bin_counters
from .evaluate import SLOVerdict, ratio_verdict, unjudged
from .stats import multiwindow_burn
from .timeline import Estimate

__all__ = ["check_slos", "fetch_alert", "fetch_bins"]


def _counts(client: PrometheusClient, slo: SLO, window: float,
            at: float) -> tuple[dict[str, str], float | None, float | None]:
    """(queries, numerator, total) over ``window``; None where a query returned nothing."""
    queries = slo.promql(window)
    total = client.value(queries["total"], at)
    numerator = client.value(queries[slo.numerator], at)
    return queries, numerator, total


def _check(client: PrometheusClient, slo: SLO, window: float, at: float,
           confidence: float) -> SLOVerdict:
    queries, numerator, total = _counts(client, slo, window, at)
    if total is None or round(total) <= 0:
        return unjudged(slo, "no data: no events in the window (is traffic flowing, and are "
                        "the series scraped?)", query=queries)
    n = round(total)
    if numerator is None and slo.numerator == "good":
        return unjudged(slo, "the good-events query returned no series (is the threshold a "
                        "bucket edge of this histogram?)", query=queries)
    count = min(max(round(numerator or 0.0), 0), n)  # no bad series yet: no bad event yet
    good = count if slo.numerator == "good" else n - count
    _, short_num, short_total = _counts(client, slo, max(window / 12, 1.0), at)
    st = round(short_total or 0.0)
    short_count = min(max(round(short_num or 0.0), 0), st)
    short_bad = st - short_count if slo.numerator == "good" else short_count
    burn = multiwindow_burn((n - good, n), (short_bad, st), slo.objective)
    return ratio_verdict(slo, good, n, confidence=confidence, query=queries, burn=burn)


def check_slos(client: PrometheusClient, slos: Iterable[SLO], *, window: float | None = None,
               at: float | None = None, confidence: float = 0.95) -> list[SLOVerdict]:
    """Server-side verdicts of the ratio SLOs over ``window`` (default: each SLO's own).

    A query Prometheus rejects raises :class:`~chaosgate.clients.prometheus.PromQLError`
    (exit 2); an unreachable Prometheus gives inconclusive verdicts.
    """
    when = time.time() if at is None else at
    verdicts = []
    for slo in slos:
        if not slo.is_ratio:
            continue
        span = slo.window if window is None else window
        try:
            verdicts.append(_check(client, slo, span, when, confidence))
        except Inconclusive as exc:
            verdicts.append(unjudged(slo, str(exc), query=slo.promql(span)))
    return verdicts


def fetch_bins(client: PrometheusClient, slo: SLO, start: float, end: float,
               scrape_interval: float) -> list[Bin]:
    """Per-scrape bad/total bins of a ratio SLO's raw counters in ``[start, end]``."""
    if not slo.series:
        raise UsageError(
            f"{slo.source}: SLO {slo.name!r} has no raw counter series for a timeline. Fix: "
            "write its queries as sum(increase(<counter>[$window])) or add `series:`")
    raw = {key: [s.samples for s in client.raw_samples(selector, start, end)]
           for key, selector in slo.series.items()}
    return bin_counters(raw["total"], bad=raw.get("bad"), good=raw.get("good"), start=start,
                        scrape_interval=scrape_interval)


def fetch_alert(client: PrometheusClient, alertname: str, *, t_inject: float, end: float,
                evaluation_interval: float) -> Estimate | None:
    """When the alert ``alertname`` first fired after ``t_inject`` (None: it did not)."""
    selector = f'ALERTS{{alertname="{alertname}",alertstate="firing"}}'
    series = client.raw_samples(selector, t_inject - 5 * evaluation_interval, end)
    fired = alert_fired([s.samples for s in series], t_inject=t_inject,
                        evaluation_interval=evaluation_interval)
    return None if fired is None else Estimate(fired[1], fired[0], fired[1])
