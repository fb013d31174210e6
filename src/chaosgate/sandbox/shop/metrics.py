"""The shop's Prometheus metrics: names, labels, bucket edges, breaker mapping.

Every service owns one :class:`~prometheus_client.CollectorRegistry` (so tests
can build several apps in one process) holding :class:`HttpMetrics`; the
gateway adds :class:`UpstreamMetrics`, the orders service
:class:`BreakerMetrics`, kept in sync with its circuit breaker by
:class:`BreakerMetricsListener`.

The SLO probes compare latency against 0.25 s and 0.5 s with
``histogram_quantile``/bucket ratios, so those edges must exist exactly in
:data:`LATENCY_BUCKETS`; ``tests/unit/test_shop_metrics.py`` pins them.
"""

from __future__ import annotations

import logging
from typing import Final

import pybreaker
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

__all__ = [
    "BREAKER_STATES",
    "LATENCY_BUCKETS",
    "UPSTREAM_OUTCOMES",
    "BreakerMetrics",
    "BreakerMetricsListener",
    "HttpMetrics",
    "UpstreamMetrics",
    "breaker_state_value",
    "new_registry",
]

log = logging.getLogger("chaosgate.shop.breaker")

LATENCY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0,
)

# Gauge values of shop_circuit_breaker_state, keyed by pybreaker's state names.
BREAKER_STATES: Final = {
    pybreaker.STATE_CLOSED: 0,
    pybreaker.STATE_HALF_OPEN: 1,
    pybreaker.STATE_OPEN: 2,
}

# Outcomes of a gateway -> upstream call: an HTTP answer below 500, an answer
# of 500 or more, no answer in time, no connection at all.
UPSTREAM_OUTCOMES: Final = ("ok", "http_error", "timeout", "connection_error")

def new_registry() -> CollectorRegistry:
    """A registry for one service, with the process collector (CPU, memory, fds)."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


def breaker_state_value(state: str) -> int:
    """Gauge value for a pybreaker state name (``closed``, ``half-open``, ``open``)."""
    try:
        return BREAKER_STATES[state]
    except KeyError:
        raise ValueError(f"unknown circuit breaker state {state!r}") from None


class HttpMetrics:
    """Requests served, by route template, method and status code; their latency."""

    def __init__(self, app: str, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "shop_http_requests",
            "HTTP requests served, by route template, method and status code.",
            ["app", "route", "method", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "shop_http_request_duration_seconds",
            "Time to serve an HTTP request, by route template and method.",
            ["app", "route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, route: str, method: str, code: int, seconds: float) -> None:
        """Record one served request."""
        self.requests.labels(self.app, route, method, str(code)).inc()
        self.duration.labels(self.app, route, method).observe(seconds)


class UpstreamMetrics:
    """Calls from the gateway to its upstreams, by outcome."""

    def __init__(self, app: str, upstreams: tuple[str, ...], registry: CollectorRegistry) -> None:
        self.app = app
        self.calls = Counter(
            "shop_upstream_requests",
            "Calls to an upstream service, by outcome "
            "(ok, http_error, timeout, connection_error).",
            ["app", "upstream", "outcome"],
            registry=registry,
        )
        for upstream in upstreams:  # start every series at 0 so increase() sees the first
            for outcome in UPSTREAM_OUTCOMES:
                self.calls.labels(app, upstream, outcome)

    def count(self, upstream: str, outcome: str) -> None:
        """Record one upstream call."""
        if outcome not in UPSTREAM_OUTCOMES:
            raise ValueError(f"unknown upstream outcome {outcome!r}")
        self.calls.labels(self.app, upstream, outcome).inc()


class BreakerMetrics:
    """A circuit breaker's state and transitions, and the errors it counted."""

    def __init__(self, breaker: str, registry: CollectorRegistry) -> None:
        self.breaker = breaker
        self.state = Gauge(
            "shop_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            registry=registry,
        )
        self.transitions = Counter(
            "shop_circuit_breaker_transitions",
            "Circuit breaker state changes, by the state entered.",
            ["breaker", "to"],
            registry=registry,
        )
        self.db_errors = Counter(
            "shop_db_errors",
            "Database calls that failed (connection, timeout or query error).",
            registry=registry,
        )
        self.state.labels(breaker).set(BREAKER_STATES[pybreaker.STATE_CLOSED])
        for state in BREAKER_STATES:
            self.transitions.labels(breaker, state)

    def entered(self, state: str) -> None:
        """Record that the breaker entered ``state``."""
        self.state.labels(self.breaker).set(breaker_state_value(state))
        self.transitions.labels(self.breaker, state).inc()


class BreakerMetricsListener(pybreaker.CircuitBreakerListener):
    """Keeps :class:`BreakerMetrics` in sync with a pybreaker breaker; logs transitions."""

    def __init__(self, metrics: BreakerMetrics) -> None:
        self.metrics = metrics

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        """Mirror a state change into the gauge and the transitions counter, log it."""
        self.metrics.entered(new_state.name)
        old = old_state.name if old_state else "-"
        log.warning("circuit breaker %s: %s -> %s", self.metrics.breaker, old, new_state.name)

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        """Count a failed guarded call as a database error."""
        self.metrics.db_errors.inc()
