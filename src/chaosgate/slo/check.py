"""Asking Prometheus about SLOs: window verdicts and raw counters for timelines.

The I/O goes through :class:`~chaosgate.clients.prometheus.PrometheusClient`
(the only Prometheus client); the judging is done by the pure
:mod:`chaosgate.slo.evaluate` and :mod:`chaosgate.slo.counters`.

- :func:`check_slos`: each ratio SLO over a window ending now (or ``at``):
  the PromQL of the catalogue, rendered, as instant queries; counts rounded
  (``increase()`` extrapolates to the window's edges); the burn rate over the
  window and over a twelfth of it (the workbook's short window). Prometheus
  unreachable makes every remaining SLO inconclusive, never a pass.
- measured SLOs over the same window: ``mean_latency`` from its ``sum`` and
  ``count`` queries (their ratio: both ``increase()`` extrapolations scale
  alike), ``throughput`` from its ``events`` count (the window less one
  scrape interval at each edge is credited for the lower bound: that much
  of ``increase()`` is extrapolation), ``gauge_bound`` from its ``value``
  query evaluated over the window every scrape interval (a range query);
- :func:`fetch_bins`: the SLO's raw counter samples (range selectors, one
  sample per scrape) as per-scrape bins for the server-side timeline; a
  ``gauge_bound`` SLO's samples as bins of one event each (bad above the
  threshold), so a recovery SLO can name it.
- :func:`fetch_alert`: when a named Prometheus alert first fired.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..clients.prometheus import PrometheusClient
from ..exceptions import Inconclusive, UsageError
from .catalog import SLO, prom_duration
from .counters import Bin, alert_fired, bin_counters
from .evaluate import (
    SLOVerdict,
    gauge_verdict,
    ratio_verdict,
    server_mean_verdict,
    throughput_verdict,
    unjudged,
)
from .stats import multiwindow_burn
from .timeline import Estimate

__all__ = ["MAX_RANGE_POINTS", "check_slos", "fetch_alert", "fetch_bins", "gauge_samples"]

#: Steps of one range query (Prometheus refuses more than 11 000 points per series).
MAX_RANGE_POINTS = 10_000


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


def gauge_samples(client: PrometheusClient, slo: SLO, start: float, end: float,
                  scrape_interval: float) -> list[tuple[float, float]]:
    """``(t, value)`` of a gauge_bound SLO's query every scrape interval in ``[start, end]``
    (the largest over series at each time), in range queries of at most
    :data:`MAX_RANGE_POINTS` steps (Prometheus refuses more than 11 000)."""
    by_time: dict[float, float] = {}
    chunk = scrape_interval * (MAX_RANGE_POINTS - 1)
    lo = start
    while lo <= end:
        hi = min(lo + chunk, end)
        for series in client.query_range(slo.query["value"], lo, hi, scrape_interval):
            for t, v in series.samples:
                by_time[t] = max(v, by_time.get(t, v))
        lo = hi + scrape_interval
    return sorted(by_time.items())


def _measured(client: PrometheusClient, slo: SLO, window: float, at: float,
              confidence: float, scrape_interval: float) -> SLOVerdict:
    """A mean_latency, throughput or gauge_bound SLO over ``window`` ending at ``at``."""
    queries = slo.promql(window)
    if slo.type == "mean_latency":
        return server_mean_verdict(slo, client.value(queries["sum"], at),
                                   client.value(queries["count"], at), query=queries)
    if slo.type == "throughput":
        events = client.value(queries["events"], at)
        if events is None:
            return unjudged(slo, "no data: the events query returned no series (is the "
                            "counter scraped?)", query=queries)
        n = max(round(events), 0)
        credited = int(n * max(window - 2 * scrape_interval, 0.0) / window)
        return throughput_verdict(slo, n, window, credited=credited, confidence=confidence,
                                  query=queries)
    shown = {"value": slo.query["value"],
             "range": f"every {scrape_interval:g} s over {prom_duration(window)}"}
    samples = gauge_samples(client, slo, at - window, at, scrape_interval)
    return gauge_verdict(slo, samples, window=window, scrape_interval=scrape_interval,
                         query=shown)


def check_slos(client: PrometheusClient, slos: Iterable[SLO], *, window: float | None = None,
               at: float | None = None, confidence: float = 0.95,
               scrape_interval: float = 15.0) -> list[SLOVerdict]:
    """Server-side verdicts of the SLOs judged over a window (every type but recovery) over
    ``window`` (default: each SLO's own); ``scrape_interval``: the target's.

    A query Prometheus rejects raises :class:`~chaosgate.clients.prometheus.PromQLError`
    (exit 2); an unreachable Prometheus gives inconclusive verdicts.
    """
    when = time.time() if at is None else at
    verdicts = []
    for slo in slos:
        if not slo.is_window:
            continue
        span = slo.window if window is None else window
        try:
            verdicts.append(_check(client, slo, span, when, confidence) if slo.is_ratio
                            else _measured(client, slo, span, when, confidence,
                                           scrape_interval))
        except Inconclusive as exc:
            verdicts.append(unjudged(slo, str(exc), query=slo.promql(span)))
    return verdicts


def fetch_bins(client: PrometheusClient, slo: SLO, start: float, end: float,
               scrape_interval: float) -> list[Bin]:
    """Per-scrape bad/total bins of a ratio SLO's raw counters in ``[start, end]``; of a
    gauge_bound SLO, one bin per sample (bad when over the threshold)."""
    if slo.type == "gauge_bound":
        return [Bin(t - scrape_interval, t, int(v > slo.objective), 1)
                for t, v in gauge_samples(client, slo, start, end, scrape_interval)]
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
