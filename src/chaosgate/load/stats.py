"""Exact load statistics from the request log, and how Locust's own numbers compare.

Pure: plain records in, frozen dataclasses out; no file or network I/O.

- Counts are exact: every record of the request log counts once, by route
  (``METHOD name``) and by error kind.
- Percentiles are *nearest-rank* over the exact durations: the p-th
  percentile is the smallest observed duration ``x`` such that at least p %
  of the durations are ``<= x`` (index ``ceil(p/100 * n) - 1`` of the sorted
  durations). It is always an observed value, monotone in p, and between
  the minimum and the maximum. Locust instead rounds every duration to 2
  significant digits before it counts it (e.g. 147 ms counts as 150 ms).
- RPS is ``count / span``, with ``span`` from the first request's start to
  the last request's end.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..slo.stats import percentile_sorted as percentile
from .requestlog import RequestRecord

__all__ = [
    "LoadStats",
    "LocustEntry",
    "Mismatch",
    "RouteStats",
    "compare_with_locust",
    "locust_entries",
    "percentile",
    "route_key",
    "summarize",
]

PERCENTILES = (50.0, 95.0, 99.0)
TOTAL = "Aggregated"


def route_key(method: str, name: str) -> str:
    """How routes are keyed: ``"GET /api/products/{id}"``."""
    return f"{method} {name}"


@dataclass(frozen=True)
class RouteStats:
    """Exact figures for one route, or for all of them (``name == "Aggregated"``)."""

    name: str
    count: int
    failures: int
    errors_by_kind: Mapping[str, int]
    min_ms: float
    max_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float

    @property
    def ok(self) -> int:
        """Requests that succeeded."""
        return self.count - self.failures

    @property
    def error_ratio(self) -> float:
        """Failures over requests (0 when there were none)."""
        return self.failures / self.count if self.count else 0.0

    def quantile(self, p: float) -> float:
        """One of the precomputed percentiles (50, 95 or 99)."""
        return {50.0: self.p50_ms, 95.0: self.p95_ms, 99.0: self.p99_ms}[float(p)]


@dataclass(frozen=True)
class LoadStats:
    """Everything :func:`summarize` computes from a request log."""

    total: RouteStats
    routes: Mapping[str, RouteStats]  # by route_key()
    first_start: float | None  # epoch seconds
    last_end: float | None

    @property
    def span_s(self) -> float:
        """Seconds from the first request's start to the last request's end."""
        if self.first_start is None or self.last_end is None:
            return 0.0
        return max(self.last_end - self.first_start, 0.0)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (route figures keyed like :attr:`routes`)."""

        def one(r: RouteStats) -> dict[str, Any]:
            return {
                "count": r.count, "failures": r.failures, "errors_by_kind": dict(r.errors_by_kind),
                "min_ms": r.min_ms, "max_ms": r.max_ms, "mean_ms": r.mean_ms,
                "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "p99_ms": r.p99_ms, "rps": r.rps,
            }

        return {
            "total": one(self.total),
            "routes": {k: one(v) for k, v in sorted(self.routes.items())},
            "first_start": self.first_start,
            "last_end": self.last_end,
        }


def _route_stats(name: str, records: Sequence[RequestRecord], span: float) -> RouteStats:
    durations = sorted(r.ms for r in records)
    kinds = Counter(r.error or "unknown" for r in records if not r.ok)
    if not durations:
        return RouteStats(name, 0, 0, {}, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p50, p95, p99 = (percentile(durations, p) for p in PERCENTILES)
    return RouteStats(
        name=name,
        count=len(durations),
        failures=sum(kinds.values()),
        errors_by_kind=dict(sorted(kinds.items())),
        min_ms=durations[0],
        max_ms=durations[-1],
        mean_ms=math.fsum(durations) / len(durations),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        rps=len(durations) / span if span > 0 else 0.0,
    )


def summarize(records: Iterable[RequestRecord]) -> LoadStats:
    """Exact counts, error kinds, percentiles and RPS, per route and in total."""
    rows = list(records)
    if not rows:
        return LoadStats(_route_stats(TOTAL, [], 0.0), {}, None, None)
    first = min(r.t for r in rows)
    last = max(r.end for r in rows)
    span = max(last - first, 0.0)
    by_route: dict[str, list[RequestRecord]] = {}
    for r in rows:
        by_route.setdefault(route_key(r.method, r.name), []).append(r)
    routes = {key: _route_stats(key, recs, span) for key, recs in sorted(by_route.items())}
    return LoadStats(_route_stats(TOTAL, rows, span), routes, first, last)


# -- Locust's own numbers ------------------------------------------------------
@dataclass(frozen=True)
class LocustEntry:
    """One entry of Locust's ``--json`` output (per name and method)."""

    name: str
    method: str
    num_requests: int
    num_failures: int
    response_times: Mapping[int, int] = field(default_factory=dict)  # rounded ms -> count

    @property
    def key(self) -> str:
        """The entry's :func:`route_key`."""
        return route_key(self.method, self.name)

    def rounded_percentile(self, p: float) -> float:
        """The percentile as Locust computes it, from its rounded durations."""
        total = sum(self.response_times.values())
        if total == 0:
            return 0.0
        # As locust.stats.calculate_response_time_percentile: scan from the top.
        processed = 0
        need = int(total * p / 100.0)
        for ms in sorted(self.response_times, reverse=True):
            processed += self.response_times[ms]
            if total - processed <= need:
                return float(ms)
        return 0.0


def locust_entries(data: Any) -> list[LocustEntry]:
    """Parse the list that ``locust --json`` / ``--json-file`` writes."""
    if not isinstance(data, list):
        raise ValueError("Locust JSON stats must be a list of entries")
    entries = []
    for item in data:
        times = {int(float(k)): int(v) for k, v in (item.get("response_times") or {}).items()}
        entries.append(
            LocustEntry(
                name=str(item["name"]),
                method=str(item["method"]),
                num_requests=int(item["num_requests"]),
                num_failures=int(item["num_failures"]),
                response_times=times,
            )
        )
    return entries


@dataclass(frozen=True)
class Mismatch:
    """A route whose request-log figures differ from Locust's."""

    route: str
    log_count: int
    locust_count: int
    log_failures: int
    locust_failures: int

    @property
    def missing_in_locust(self) -> int:
        """Requests in the log that Locust's summary does not count (report lag)."""
        return self.log_count - self.locust_count


def compare_with_locust(stats: LoadStats, entries: Iterable[LocustEntry]) -> list[Mismatch]:
    """Routes whose counts or failures differ between the request log and Locust."""
    theirs = {e.key: e for e in entries}
    out = []
    for key in sorted(set(theirs) | set(stats.routes)):
        mine = stats.routes.get(key)
        other = theirs.get(key)
        counts = (mine.count if mine else 0, other.num_requests if other else 0)
        fails = (mine.failures if mine else 0, other.num_failures if other else 0)
        if counts[0] != counts[1] or fails[0] != fails[1]:
            out.append(Mismatch(key, counts[0], counts[1], fails[0], fails[1]))
    return out
