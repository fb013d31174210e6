"""Raw Prometheus counter samples -> events per scrape interval. Pure: plain data in and out.

The server-side observer reads every scrape of an SLO's counters through a
range selector (:meth:`chaosgate.clients.prometheus.PrometheusClient.raw_samples`),
so each increment is known to lie between two consecutive scrapes. This
module turns those samples into :class:`Bin` s (bad and total events in one
scrape interval) for :func:`chaosgate.slo.timeline.server_timeline`:

- a counter that went down was reset (a restarted pod): the new value is the
  increase since the reset;
- a series whose first sample comes more than 1.5 scrape intervals after the
  start of the read was born then (client libraries create a labelled series
  at its first event, e.g. the first ``code="502"``): its first value counts
  from zero. Prometheus' own ``increase()`` misses those first events;
- series of several instances (scraped at different phases) are put on the
  grid of the first total series; a bin's bounds are widened to the
  increments it holds, so its uncertainty stays honest;
- bad events are attributed to the scrape in which they were counted, never
  capped at that scrape's total: a total counted when requests arrive (a
  proxy's request counter) and errors counted when they fail (a timeout
  seconds later) fall in different scrapes, and a stall ends with more
  errors than arrivals in one interval. How long after the outage hit them
  requests fail is the server observer's ``fail_within`` (:mod:`.incidents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["Bin", "Samples", "alert_fired", "bin_counters", "counter_increments"]

#: One series' samples: ``(timestamp, value)`` in time order.
Samples = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Bin:
    """Events counted in ``(lo, hi]``: ``bad`` of ``total`` (``bad`` may exceed ``total``
    when errors of requests that arrived earlier were counted here)."""

    lo: float
    hi: float
    bad: int
    total: int


def counter_increments(samples: Samples, *, start: float,
                       scrape_interval: float) -> list[tuple[float, float, float]]:
    """``(lo, hi, increase)`` between consecutive samples of one counter series."""
    if not samples:
        return []
    out = []
    t0, v0 = samples[0]
    if t0 > start + 1.5 * scrape_interval and v0 > 0:
        out.append((t0 - scrape_interval, t0, v0))
    for (ta, va), (tb, vb) in pairwise(samples):
        out.append((ta, tb, vb - va if vb >= va else vb))
    return out


def bin_counters(total: Sequence[Samples], *, bad: Sequence[Samples] | None = None,
                 good: Sequence[Samples] | None = None, start: float,
                 scrape_interval: float) -> list[Bin]:
    """Bad and total events per scrape interval, from the series of each counter.

    Give the bad-event series (``bad``) or the good-event series (``good``,
    e.g. a latency bucket), and the total series; the sums over series of
    each are taken per interval. Bins are returned in time order; intervals
    without a scrape are absent.
    """
    if (bad is None) == (good is None):
        raise ValueError("give exactly one of bad or good")
    ref = next((s[0][0] for s in total if s), None)
    if ref is None:
        return []
    grid: dict[int, list[float]] = {}  # k -> [lo, hi, numerator, total]

    def add(series: Sequence[Samples], slot: int) -> None:
        for samples in series:
            for lo, hi, inc in counter_increments(samples, start=start,
                                                  scrape_interval=scrape_interval):
                k = round((hi - ref) / scrape_interval)
                cell = grid.setdefault(k, [hi - scrape_interval, hi, 0.0, 0.0])
                cell[0], cell[1] = min(cell[0], lo), max(cell[1], hi)
                cell[slot] += inc

    add(total, 3)
    add(bad if bad is not None else good or (), 2)
    bins = []
    for k in sorted(grid):
        lo, hi, numerator, count = grid[k]
        n = round(count)
        m = max(round(numerator), 0)
        bins.append(Bin(lo, hi, m if bad is not None else n - min(m, n), n))
    return bins


def alert_fired(series: Sequence[Samples], *, t_inject: float,
                evaluation_interval: float) -> tuple[float, float] | None:
    """``(lo, hi)`` of when an alert started firing after ``t_inject``, from ``ALERTS`` samples.

    ``series``: raw samples of ``ALERTS{alertname=..., alertstate="firing"}``
    (1 while firing), read from a little before ``t_inject``. A firing
    episode starts at a sample with no firing sample in the 1.5 evaluation
    intervals before it, so an alert already firing at ``t_inject`` does not
    count; the rule fired within one evaluation interval before that sample.
    None if no episode started.
    """
    fired = sorted(t for samples in series for t, v in samples if v >= 1)
    previous = None
    for t in fired:
        fresh = previous is None or t - previous > 1.5 * evaluation_interval
        if fresh and t >= t_inject:
            return t - evaluation_interval, t
        previous = t
    return None
