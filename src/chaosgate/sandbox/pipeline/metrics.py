"""The events system's Prometheus metrics: names, labels and bucket edges.

None is ``shop_*``: the pipeline's own SLO catalogue reads these names.
``events_end_to_end_seconds`` and ``events_ingest_request_duration_seconds``
have a bucket edge at exactly 0.1 s (the "processed within 100 ms" SLO
counts the bucket ``le="0.1"``; no interpolation).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

__all__ = ["LATENCY_BUCKETS", "ConsumerMetrics", "IngestMetrics", "new_registry"]

LATENCY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
)


def new_registry() -> CollectorRegistry:
    """A registry for one replica, with the process collector (CPU, memory, fds)."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


class IngestMetrics:
    """The ingest API: requests and their duration, events accepted, the group's lag."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "events_ingest_requests", "Ingest API requests, by route, method and status code.",
            ["route", "method", "code"], registry=registry)
        self.duration = Histogram(
            "events_ingest_duration_seconds", "Time to answer an ingest API request.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.ingested = Counter(
            "events_ingested", "Events appended to the stream (accepted).", registry=registry)
        self.lag = Gauge(
            "events_consumer_lag",
            "Events of the stream the consumer group has not acknowledged yet "
            "(never delivered + pending), as the broker last reported it.",
            ["group"], registry=registry)

    def observe(self, route: str, method: str, code: int, seconds: float) -> None:
        """One request answered."""
        self.requests.labels(route, method, str(code)).inc()
        self.duration.labels(route, method).observe(seconds)


class ConsumerMetrics:
    """The consumers: events processed and their end-to-end latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "events_processed", "Events processed and acknowledged.", registry=registry)
        self.end_to_end = Histogram(
            "events_end_to_end_seconds",
            "From the ingest accepting an event to a consumer having processed it.",
            buckets=LATENCY_BUCKETS, registry=registry)
        self.broker_errors = Counter(
            "events_consumer_broker_errors", "Failed reads or acknowledgements.",
            registry=registry)
