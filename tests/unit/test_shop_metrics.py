"""Shop metrics: bucket edges, route templating, breaker-state mapping (no network)."""

from __future__ import annotations

import asyncio

import pybreaker
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry

from chaosgate.sandbox.shop import catalog, gateway
from chaosgate.sandbox.shop.common import UNMATCHED_ROUTE, method_label, route_template
from chaosgate.sandbox.shop.metrics import (
    LATENCY_BUCKETS,
    BreakerMetrics,
    BreakerMetricsListener,
    HttpMetrics,
    UpstreamMetrics,
    breaker_state_value,
)


def test_latency_buckets_hold_the_slo_thresholds_exactly() -> None:
    assert 0.25 in LATENCY_BUCKETS
    assert 0.5 in LATENCY_BUCKETS
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))
    assert LATENCY_BUCKETS == (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0,
                               2.0, 5.0)


def test_histogram_exposes_those_edges() -> None:
    registry = CollectorRegistry()
    HttpMetrics("gateway", registry).observe("/api/products", "GET", 200, 0.25)
    labels = {"app": "gateway", "route": "/api/products", "method": "GET"}
    get = registry.get_sample_value
    assert get("shop_http_request_duration_seconds_bucket", {**labels, "le": "0.2"}) == 0
    assert get("shop_http_request_duration_seconds_bucket", {**labels, "le": "0.25"}) == 1
    assert get("shop_http_request_duration_seconds_bucket", {**labels, "le": "0.5"}) == 1
    assert get("shop_http_requests_total", {**labels, "code": "200"}) == 1


@pytest.mark.parametrize(("state", "value"), [("closed", 0), ("half-open", 1), ("open", 2)])
def test_breaker_state_value(state: str, value: int) -> None:
    assert breaker_state_value(state) == value


def test_breaker_state_value_refuses_unknown_states() -> None:
    with pytest.raises(ValueError, match="unknown circuit breaker state 'ajar'"):
        breaker_state_value("ajar")


def _fail() -> None:
    raise ConnectionError("down")


def test_listener_keeps_the_gauge_in_sync_with_a_real_breaker() -> None:
    registry = CollectorRegistry()
    metrics = BreakerMetrics("postgres", registry)
    breaker = pybreaker.CircuitBreaker(
        fail_max=2, reset_timeout=0, listeners=[BreakerMetricsListener(metrics)],
        throw_new_error_on_trip=False,
    )

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"breaker": "postgres", **labels})

    assert value("shop_circuit_breaker_state") == 0
    assert value("shop_circuit_breaker_transitions_total", to="open") == 0
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    assert value("shop_circuit_breaker_state") == 2
    assert registry.get_sample_value("shop_db_errors_total") == 2
    assert breaker.call(lambda: "ok") == "ok"  # reset_timeout 0: half-open, then closed
    assert value("shop_circuit_breaker_state") == 0
    for to in ("open", "half-open", "closed"):
        assert value("shop_circuit_breaker_transitions_total", to=to) == 1


def test_upstream_series_start_at_zero_and_refuse_unknown_outcomes() -> None:
    registry = CollectorRegistry()
    metrics = UpstreamMetrics("gateway", ("catalog",), registry)
    labels = {"app": "gateway", "upstream": "catalog"}
    assert registry.get_sample_value("shop_upstream_requests_total",
                                     {**labels, "outcome": "timeout"}) == 0
    metrics.count("catalog", "timeout")
    assert registry.get_sample_value("shop_upstream_requests_total",
                                     {**labels, "outcome": "timeout"}) == 1
    with pytest.raises(ValueError, match="unknown upstream outcome"):
        metrics.count("catalog", "meh")


def _template(app: web.Application, method: str, path: str) -> str:
    async def resolve() -> str:
        match_info = await app.router.resolve(make_mocked_request(method, path))
        return route_template(match_info)

    return asyncio.run(resolve())


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/api/products", "/api/products"),
        ("GET", "/api/products/17", "/api/products/{id}"),
        ("GET", "/api/products/not-a-number", "/api/products/{id}"),
        ("GET", "/api/orders/123456", "/api/orders/{id}"),
        ("POST", "/api/checkout", "/api/checkout"),
        ("GET", "/healthz", "/healthz"),
        ("GET", "/wp-admin/setup.php", UNMATCHED_ROUTE),
        ("DELETE", "/api/cart", UNMATCHED_ROUTE),
    ],
)
def test_route_template_never_leaks_the_raw_path(method: str, path: str, route: str) -> None:
    app = gateway.build_app("gateway-0", "http://127.0.0.1:1", "http://127.0.0.1:2")
    assert _template(app, method, path) == route


def test_catalog_routes_are_templated() -> None:
    assert _template(catalog.build_app("catalog-0"), "GET", "/products/3") == "/products/{id}"


@pytest.mark.parametrize(("method", "label"), [("GET", "GET"), ("POST", "POST"),
                                               ("BREW", "other"), ("get", "other")])
def test_method_label_is_bounded(method: str, label: str) -> None:
    assert method_label(method) == label
