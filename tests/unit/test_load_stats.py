"""Exact load statistics (chaosgate.load.stats): plain data and property tests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.load.requestlog import RequestRecord
from chaosgate.load.stats import (
    LocustEntry,
    compare_with_locust,
    locust_entries,
    percentile,
    route_key,
    summarize,
)

durations = st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1,
                     max_size=300)
percents = st.floats(min_value=0.001, max_value=100.0)


def rec(t: float, ms: float, name: str = "/api/products", method: str = "GET",
        error: str | None = None, status: int | None = 200) -> RequestRecord:
    return RequestRecord(t=t, ms=ms, name=name, method=method, ok=error is None,
                         status=status, error=error)


# -- percentile: exact values ----------------------------------------------------
def test_percentile_nearest_rank_on_known_data() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0.5) == 1.0


def test_percentile_is_an_observed_value_not_an_interpolation() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 20.0  # rank ceil(0.5 * 4) = 2
    assert percentile(values, 51) == 30.0
    assert percentile(values, 75) == 30.0
    assert percentile(values, 76) == 40.0


def test_percentile_keeps_precision_locust_rounds_away() -> None:
    # Locust counts 147 ms as 150 ms and 1234 ms as 1200 ms.
    values = sorted([147.0] * 96 + [1234.0] * 4)
    assert percentile(values, 95) == 147.0
    assert percentile(values, 99) == 1234.0
    entry = LocustEntry("/x", "GET", 100, 0, {150: 96, 1200: 4})
    assert entry.rounded_percentile(95) == 150.0
    assert entry.rounded_percentile(99) == 1200.0


def test_locust_percentile_overshoots_at_an_exact_boundary() -> None:
    # Exactly 95 % at 147 ms: nearest rank says 147 ms, Locust's scan from
    # the top already returns the next (rounded) time.
    values = sorted([147.0] * 95 + [1234.0] * 5)
    assert percentile(values, 95) == 147.0
    assert LocustEntry("/x", "GET", 100, 0, {150: 95, 1200: 5}).rounded_percentile(95) == 1200.0


@pytest.mark.parametrize("p", [0.0, -1.0, 100.5])
def test_percentile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], p)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


# -- percentile: properties ------------------------------------------------------
@given(durations, percents, percents)
def test_percentile_is_monotone_in_p(values: list[float], p: float, q: float) -> None:
    values.sort()
    lo, hi = sorted((p, q))
    assert percentile(values, lo) <= percentile(values, hi)


@given(durations, percents)
def test_percentile_is_bounded_by_min_and_max(values: list[float], p: float) -> None:
    values.sort()
    assert values[0] <= percentile(values, p) <= values[-1]


@given(durations, percents)
def test_percentile_meets_the_nearest_rank_definition(values: list[float], p: float) -> None:
    values.sort()
    v = percentile(values, p)
    n = len(values)
    assert v in values
    # at least p % of the values are <= v, and fewer than p % are < v
    assert sum(1 for x in values if x <= v) >= math.ceil(p / 100 * n)
    assert sum(1 for x in values if x < v) < max(math.ceil(p / 100 * n), 1)


@given(st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=1, max_size=50))
def test_summary_counts_every_record_and_orders_its_percentiles(ms: list[float]) -> None:
    records = [rec(1000.0 + i, m, error="timeout" if i % 3 == 0 else None)
               for i, m in enumerate(ms)]
    total = summarize(records).total
    assert total.count == len(ms)
    assert total.failures == sum(1 for i in range(len(ms)) if i % 3 == 0)
    assert total.min_ms <= total.p50_ms <= total.p95_ms <= total.p99_ms <= total.max_ms


# -- summarize ---------------------------------------------------------------------
def test_summarize_counts_exactly_per_route_and_by_error_kind() -> None:
    records = [
        rec(100.0, 10.0),
        rec(100.5, 20.0),
        rec(101.0, 2000.0, error="timeout", status=None),
        rec(101.0, 5.0, "/api/checkout", "POST", status=201),
        rec(102.0, 7.0, "/api/checkout", "POST", error="http_5xx", status=503),
        rec(102.5, 0.0, "/api/checkout", "POST", error="overload", status=None),
    ]
    stats = summarize(records)
    products = stats.routes[route_key("GET", "/api/products")]
    checkout = stats.routes["POST /api/checkout"]
    assert (products.count, products.failures, products.ok) == (3, 1, 2)
    assert products.errors_by_kind == {"timeout": 1}
    assert checkout.errors_by_kind == {"http_5xx": 1, "overload": 1}
    assert stats.total.count == 6
    assert stats.total.errors_by_kind == {"http_5xx": 1, "overload": 1, "timeout": 1}
    assert stats.total.error_ratio == pytest.approx(0.5)
    assert products.p50_ms == 20.0
    assert products.max_ms == 2000.0
    assert products.mean_ms == pytest.approx(2030.0 / 3)


def test_rps_is_count_over_first_start_to_last_end() -> None:
    # 0.5 s apart for 10 s, each 100 ms long: span 9.5 s + 0.1 s
    records = [rec(1000.0 + 0.5 * i, 100.0) for i in range(20)]
    stats = summarize(records)
    assert stats.first_start == 1000.0
    assert stats.last_end == pytest.approx(1009.6)
    assert stats.span_s == pytest.approx(9.6)
    assert stats.total.rps == pytest.approx(20 / 9.6)


def test_summary_of_an_empty_log_is_zero_not_an_error() -> None:
    stats = summarize([])
    assert stats.total.count == 0
    assert stats.routes == {}
    assert stats.span_s == 0.0
    assert stats.to_json()["total"]["count"] == 0


def test_quantile_lookup_and_json() -> None:
    stats = summarize([rec(1.0, float(v)) for v in range(1, 101)])
    assert stats.total.quantile(95) == 95.0
    data = stats.to_json()
    assert data["routes"]["GET /api/products"]["p99_ms"] == 99.0


# -- Locust's numbers --------------------------------------------------------------
LOCUST_JSON = [
    {"name": "/api/products", "method": "GET", "num_requests": 3, "num_failures": 1,
     "response_times": {"10": 1, "20": 1, "2000": 1}, "num_none_requests": 0},
    {"name": "/api/checkout", "method": "POST", "num_requests": 2, "num_failures": 1,
     "response_times": {"5": 1, "7": 1}},
]


def test_locust_entries_parse_its_json() -> None:
    entries = locust_entries(LOCUST_JSON)
    assert [e.key for e in entries] == ["GET /api/products", "POST /api/checkout"]
    assert entries[0].response_times == {10: 1, 20: 1, 2000: 1}
    with pytest.raises(ValueError):
        locust_entries({"not": "a list"})


def test_comparison_is_empty_when_counts_agree() -> None:
    records = [rec(1.0, 10.0), rec(2.0, 20.0), rec(3.0, 2000.0, error="timeout"),
               rec(4.0, 5.0, "/api/checkout", "POST"),
               rec(5.0, 7.0, "/api/checkout", "POST", error="http_5xx")]
    assert compare_with_locust(summarize(records), locust_entries(LOCUST_JSON)) == []


def test_comparison_names_the_routes_that_differ() -> None:
    records = [rec(1.0, 10.0), rec(2.0, 20.0), rec(3.0, 2000.0, error="timeout"),
               rec(4.0, 1.0, "/api/cart", "POST")]
    mismatches = compare_with_locust(summarize(records), locust_entries(LOCUST_JSON))
    assert [(m.route, m.log_count, m.locust_count) for m in mismatches] == [
        ("POST /api/cart", 1, 0),
        ("POST /api/checkout", 0, 2),
    ]
    assert mismatches[0].missing_in_locust == 1


def test_a_request_log_line_is_the_records_json_and_reads_back() -> None:
    import json
    from dataclasses import asdict

    from chaosgate.load.requestlog import RequestRecord, record_line, records_from

    records = [RequestRecord(t=1732170000.123456, ms=12.345, name='/api/"q"\u00e9', method="GET",
                             ok=True, status=200, error=None),
               RequestRecord(t=5, ms=0.0, name="/x", method="POST", ok=False, status=None,
                             error="timeout")]
    lines = [record_line(r.t, r.ms, r.name, r.method, r.ok, r.status, r.error) for r in records]
    assert lines == [json.dumps(asdict(r), separators=(",", ":")) + "\n" for r in records]
    assert list(records_from(lines)) == records
