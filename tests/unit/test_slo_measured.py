"""Measured SLO types (mean_latency, throughput, gauge_bound): their maths, verdicts,
catalogue validation, rules, gates and the recovery of a gauge. Pure, plain data."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaosgate.exceptions import UsageError
from chaosgate.gameday.evaluation import gating_slos, window_gates
from chaosgate.load.requestlog import RequestRecord
from chaosgate.report.score import gate_class
from chaosgate.slo.catalog import CatalogError, build_catalog, load_catalog, parse_catalog
from chaosgate.slo.counters import Bin
from chaosgate.slo.evaluate import (
    MIN_MEAN_SAMPLES,
    client_blind_spot,
    gauge_verdict,
    mean_latency_verdict,
    objective_text,
    records_verdicts,
    server_mean_verdict,
    throughput_verdict,
    value_text,
)
from chaosgate.slo.measure import covered, measure
from chaosgate.slo.model import SLO, Catalog
from chaosgate.slo.rules import RuleOptions, build_rules
from chaosgate.slo.stats import (
    gamma_cdf,
    gamma_ppf,
    mean_bounds,
    poisson_bounds,
    student_t_ppf,
)

#: The SLO contract of issue 9 (the events system's catalogue uses exactly this schema).
CONTRACT = (Path(__file__).parent / "data" / "measured_slos.yaml").read_text()


def catalog(tmp_path: Path, text: str = CONTRACT) -> Catalog:
    path = tmp_path / "events.yaml"
    path.write_text(text)
    return load_catalog(path)


def rec(t: float, ms: float, ok: bool = True, name: str = "/events",
        method: str = "POST") -> RequestRecord:
    return RequestRecord(t, ms, name, method, ok, 200 if ok else 503, None if ok else "x")


# -- statistics ---------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "dof", "expected"), [
    (0.95, 1, 6.313752), (0.95, 2, 2.919986), (0.95, 10, 1.812461), (0.975, 30, 2.042272),
    (0.95, 1000, 1.646379), (0.05, 10, -1.812461),
])
def test_student_t_quantiles_match_the_tables(q: float, dof: int, expected: float) -> None:
    assert student_t_ppf(q, dof) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("count", "lower", "upper"), [
    (0, 0.0, 2.995732), (1, 0.051293, 4.743865), (10, 5.425406, 16.962219),
    (100, 84.1393, 118.0793),
])
def test_poisson_bounds_match_garwood(count: int, lower: float, upper: float) -> None:
    lo, hi = poisson_bounds(count, 0.95)
    assert lo == pytest.approx(lower, rel=1e-4, abs=1e-6)
    assert hi == pytest.approx(upper, rel=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.5, 5000.0), st.floats(0.01, 0.99))
def test_gamma_ppf_inverts_gamma_cdf(shape: float, q: float) -> None:
    assert gamma_cdf(gamma_ppf(q, shape), shape) == pytest.approx(q, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200_000))
def test_poisson_bounds_bracket_the_count(count: int) -> None:
    lo, hi = poisson_bounds(count)
    assert lo <= count < hi
    assert poisson_bounds(count + 1)[0] > lo or count == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=2, max_size=200))
def test_mean_bounds_bracket_the_mean_and_widen_with_confidence(values: list[float]) -> None:
    mean, lo, hi = mean_bounds(values, 0.95)
    assert lo <= mean + 1e-12 and mean - 1e-12 <= hi
    _, lo99, hi99 = mean_bounds(values, 0.99)
    assert lo99 <= lo + 1e-12 and hi <= hi99 + 1e-12


def test_mean_upper_bound_covers_the_true_mean_about_as_often_as_it_says() -> None:
    """A one-sided 95 % bound of exponential latencies (n = 60) holds in about 95 % of runs."""
    import random
    rng = random.Random(7)
    held = sum(mean_bounds([rng.expovariate(10.0) for _ in range(60)], 0.95)[2] >= 0.1
               for _ in range(2000))
    assert 0.90 <= held / 2000 <= 0.99


# -- verdicts -----------------------------------------------------------------------------
def test_mean_latency_pass_fail_inconclusive(tmp_path: Path) -> None:
    slo = catalog(tmp_path).get("ingest-latency-mean")
    fast = [0.05 + 0.001 * (i % 10) for i in range(100)]
    assert mean_latency_verdict(slo, fast).status == "pass"
    slow = [0.25] * 100
    failed = mean_latency_verdict(slo, slow)
    assert failed.status == "fail" and "misses mean ≤ 200 ms" in failed.reason
    few = fast[: MIN_MEAN_SAMPLES - 1]
    assert mean_latency_verdict(slo, few).status == "inconclusive"
    # mean within, but its upper bound is not: too noisy to prove
    noisy = [0.0, 0.38] * 20
    v = mean_latency_verdict(slo, noisy)
    assert v.status == "inconclusive" and v.bounds is not None and v.bounds[1] > 0.2
    assert mean_latency_verdict(slo, []).status == "inconclusive"


def test_server_mean_is_exact_for_the_requests_counted(tmp_path: Path) -> None:
    slo = catalog(tmp_path).get("ingest-latency-mean")
    assert server_mean_verdict(slo, 10.0, 100.0).status == "pass"
    assert server_mean_verdict(slo, 30.0, 100.0).status == "fail"
    assert server_mean_verdict(slo, 1.0, 10.0).status == "inconclusive"
    assert server_mean_verdict(slo, None, None).status == "inconclusive"
    assert server_mean_verdict(slo, 0.0, 0.0).status == "inconclusive"


def test_throughput_needs_the_lower_bound_and_a_fail_is_a_rate_under(tmp_path: Path) -> None:
    slo = catalog(tmp_path).get("throughput")
    assert throughput_verdict(slo, 130 * 600, 600.0).status == "pass"
    assert throughput_verdict(slo, 110 * 600, 600.0).status == "fail"
    # 117/s over 10 s: above the objective, not provable with 1170 events
    close = throughput_verdict(slo, 1170, 10.0)
    assert close.status == "inconclusive" and close.bounds is not None
    assert close.bounds[0] < 116 <= close.value  # type: ignore[operator]
    # the edges of the window are not credited
    credited = throughput_verdict(slo, 120 * 600, 600.0, credited=120 * 540)
    assert credited.status == "inconclusive"
    # the client cannot show a rate its load never offered
    offered = throughput_verdict(slo, 40 * 60, 60.0, offered=40 * 60, observer="client")
    assert offered.status == "inconclusive" and "offered only 40.0" in offered.reason
    assert throughput_verdict(slo, 0, 0.0).status == "inconclusive"


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 100_000), st.floats(1.0, 3600.0), st.floats(0.5, 500.0))
def test_throughput_never_passes_under_the_objective(events: int, seconds: float,
                                                     objective: float) -> None:
    slo = SLO("t", "throughput", objective, query={"events": "x"})
    v = throughput_verdict(slo, events, seconds)
    if v.status == "pass":
        assert v.bounds is not None and v.bounds[0] >= objective
        assert events / seconds >= objective
    if events / seconds < objective:
        assert v.status == "fail"


def test_gauge_bound_fails_on_one_sample_and_needs_coverage(tmp_path: Path) -> None:
    slo = catalog(tmp_path).get("consumer-lag")
    covered_ok = [(1000.0 + i, 10.0 * i) for i in range(60)]
    assert gauge_verdict(slo, covered_ok, window=60, scrape_interval=1).status == "pass"
    spike = [*covered_ok[:30], (1030.0, 1001.0), *covered_ok[31:]]
    failed = gauge_verdict(slo, spike, window=60, scrape_interval=1)
    assert failed.status == "fail" and failed.value == 1001.0
    sparse = covered_ok[::3]
    assert gauge_verdict(slo, sparse, window=60, scrape_interval=1).status == "inconclusive"
    assert gauge_verdict(slo, [], window=60, scrape_interval=1).status == "inconclusive"


def test_client_observer_reads_mean_latency_and_throughput_on_the_route(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    records = [rec(1000 + i / 200, 20.0) for i in range(200 * 30)]  # 200/s for 30 s
    records += [rec(1000 + i, 900.0, name="/other", method="GET") for i in range(30)]
    found = {v.slo: v for v in records_verdicts(cat, records, start=1000, end=1030)}
    assert set(found) == {"ingest-latency-mean", "throughput"}  # the gauge is server-only
    assert found["ingest-latency-mean"].status == "pass"
    assert found["ingest-latency-mean"].value == pytest.approx(0.02)
    assert found["throughput"].status == "pass"
    assert found["throughput"].value == pytest.approx(200.0)
    failing = [rec(r.t, r.ms, ok=r.t < 1015) for r in records if r.name == "/events"]
    late = {v.slo: v for v in records_verdicts(cat, failing, start=1000, end=1030)}
    assert late["throughput"].status == "fail"  # 100/s succeeded of 200/s offered


def test_texts(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    assert [objective_text(s) for s in cat] == ["mean ≤ 200 ms", "≥ 116 /s", "max ≤ 1000",
                                                 "TTR ≤ 30 s"]
    assert value_text(cat.get("ingest-latency-mean"), 0.1234) == "mean 123.4 ms"
    assert value_text(cat.get("throughput"), 120.25) == "120.25 /s"
    assert value_text(cat.get("consumer-lag"), 12.0) == "max 12"


# -- the catalogue ------------------------------------------------------------------------
def test_the_contract_loads(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    mean, rate, gauge, rec_slo = cat
    assert (mean.type, mean.objective, mean.threshold, mean.route) == (
        "mean_latency", 0.2, 0.2, "POST /events")
    assert (rate.type, rate.objective, rate.threshold) == ("throughput", 116.0, None)
    assert gauge.query == {"value": "max(events_consumer_lag)"} and gauge.series == {}
    assert rec_slo.of == ("consumer-lag",)
    assert mean.source.endswith("events.yaml:4")
    assert [s.client_readable for s in cat] == [True, True, False, False]


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("threshold: 0.2", "threshold: -1", "slos[0].threshold", "positive"),
    ("threshold: 0.2", "objective: 0.2", "slos[0].objective", "`threshold"),
    ("objective: 116", "threshold: 116", "slos[1].threshold", "`objective: 116`"),
    ("threshold: 1000", "objective: 1000", "slos[2].objective", "`threshold: 1000`"),
    ("    count: sum(increase(events_ingest_duration_seconds_count[$window]))\n", "",
     "slos[0].query.count", "missing"),
    ("events: sum(increase(events_processed_total[$window]))",
     "events: sum(events_processed_total)", "slos[1].query.events", "$window"),
    ("events: sum", "total: sum", "slos[1].query.total", "events"),
    ("value: max(events_consumer_lag)", "value: max_over_time(events_consumer_lag[$window])",
     "slos[2].query.value", "instant gauge"),
    ("  threshold: 1000\n", "  threshold: 1000\n  route: /x\n", "slos[2].route",
     "gauge_bound"),
])
def test_errors_name_file_line_field_and_fix(tmp_path: Path, old: str, new: str, field: str,
                                             words: str) -> None:
    assert old in CONTRACT
    with pytest.raises(CatalogError) as info:
        catalog(tmp_path, CONTRACT.replace(old, new, 1))
    text = str(info.value)
    assert info.value.field == field, text
    assert text.startswith(str(tmp_path / "events.yaml") + ":"), text
    assert words in text and "Fix:" in text


def test_a_recovery_names_ratio_or_gauge_slos_only(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="'throughput' is a throughput SLO"):
        catalog(tmp_path, CONTRACT.replace("of: [consumer-lag]", "of: [throughput]"))


def test_parse_is_pure() -> None:
    import yaml
    slos = parse_catalog(yaml.safe_load(CONTRACT), "mem")
    assert [s.type for s in build_catalog(slos)] == [
        "mean_latency", "throughput", "gauge_bound", "recovery"]


# -- rules --------------------------------------------------------------------------------
def test_rules_write_the_threshold_alert_a_measured_slo_declares(tmp_path: Path) -> None:
    bare = build_rules(catalog(tmp_path), RuleOptions(service="events", time_scale=0.1))
    assert not [r for g in bare["groups"] for r in g["rules"] if "alert" in r]  # opt-in
    declared = CONTRACT
    for name, bound in (("IngestLatencyMeanBreach", "  threshold: 0.2\n"),
                        ("ThroughputBreach", "  objective: 116\n"),
                        ("ConsumerLagBreach", "  threshold: 1000\n")):
        declared = declared.replace(bound, f"{bound}  threshold_alert: {{name: {name}}}\n", 1)
    doc = build_rules(catalog(tmp_path, declared), RuleOptions(service="events",
                                                               time_scale=0.1))
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == {"IngestLatencyMeanBreach", "ThroughputBreach", "ConsumerLagBreach"}
    assert "[6s]" in alerts["IngestLatencyMeanBreach"]["expr"]  # window = for (1m), scaled
    assert alerts["ThroughputBreach"]["expr"].endswith("/ 6\n< 116")
    assert alerts["ConsumerLagBreach"]["expr"].endswith("> 1000")
    assert all(a["labels"]["chaosgate_kind"] == "threshold" for a in alerts.values())
    assert not any("sli_error" in str(g) for g in doc["groups"])  # no burn rate: no budget


# -- gates --------------------------------------------------------------------------------
def test_gating_slos_gate_by_both_observers(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    slos = gating_slos(cat, ["throughput", "consumer-lag"])
    records = [rec(1000 + i / 200, 20.0) for i in range(200 * 30)]
    server = [gauge_verdict(cat.get("consumer-lag"), [(1000.0 + i, 5.0) for i in range(30)],
                            window=30, scrape_interval=1)]
    gates = {g.name: g for g in window_gates(slos, records, server, start=1000, end=1030)}
    assert {n: g.status for n, g in gates.items()} == {
        "throughput (client observer)": "pass", "throughput (server observer)": "inconclusive",
        "consumer-lag (server observer)": "pass"}
    assert gates["consumer-lag (server observer)"].value == "max 5"
    assert {gate_class(n) for n in gates} == {"scenario check"}  # not a recovery gate
    with pytest.raises(UsageError, match="recovery SLO"):
        gating_slos(cat, ["lag-recovers"])
    with pytest.raises(UsageError, match=r"gate_slos: no SLO named 'thruput'.*did you mean"):
        gating_slos(cat, ["thruput"])


# -- a recovery of a gauge ----------------------------------------------------------------
def test_a_recovery_of_a_gauge_is_measured_on_its_samples(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    rec_slo = cat.get("lag-recovers")
    assert [(c.name, c.objective) for c in covered(rec_slo, cat, client=False)] == [
        ("consumer-lag", 1.0)]
    assert covered(rec_slo, cat, client=True) == []
    lag = [0.0] * 20 + [5000.0] * 12 + [0.0] * 20  # out from t=20 to t=32
    bins = {"consumer-lag": [Bin(i - 1.0, float(i), int(v > 1000), 1)
                             for i, v in enumerate(lag, start=1)]}
    m = measure(rec_slo, cat, t_inject=19.5, records=[rec(1.0, 5.0)], bins=bins,
                scrape_interval=1.0, t_end=52.0)
    assert m.client is None  # the request log cannot see a lag gauge
    assert m.server is not None and m.server.ttr is not None
    assert m.server.ttr.lo <= 12.0 <= m.server.ttr.hi
    assert math.isclose(statistics.fmean([m.server.ttr.lo, m.server.ttr.hi]), 12.0, abs_tol=1.5)
    (verdict,) = m.verdicts
    assert verdict.observer == "server" and verdict.status == "pass"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.0, 2.0), max_size=120), st.floats(0.01, 1.0))
def test_a_mean_latency_never_passes_unless_its_upper_bound_is_within(
        durations: list[float], threshold: float) -> None:
    slo = SLO("m", "mean_latency", threshold, threshold=threshold, route="/x",
              query={"sum": "s", "count": "c"})
    v = mean_latency_verdict(slo, durations)
    if v.status == "pass":
        assert len(durations) >= MIN_MEAN_SAMPLES
        assert v.bounds is not None and v.bounds[1] <= threshold
    if durations and statistics.fmean(durations) > threshold:
        assert v.status == "fail"
    if not durations:
        assert v.status == "inconclusive"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0.0, 2000.0), max_size=80), st.floats(1.0, 1500.0))
def test_a_gauge_bound_fails_exactly_when_a_sample_is_over(values: list[float],
                                                          threshold: float) -> None:
    slo = SLO("g", "gauge_bound", threshold, threshold=threshold, query={"value": "v"})
    v = gauge_verdict(slo, [(float(i), x) for i, x in enumerate(values)], window=60,
                      scrape_interval=1)
    assert (v.status == "fail") == any(x > threshold for x in values)
    if v.status == "pass":
        assert len(values) >= 54


def test_the_client_observer_says_what_it_cannot_read(tmp_path: Path) -> None:
    cat = catalog(tmp_path, CONTRACT.replace("  route: POST /events\n  objective",
                                             "  objective"))
    assert client_blind_spot(cat.get("ingest-latency-mean")) is None
    assert "has no `route`" in str(client_blind_spot(cat.get("throughput")))
    assert "only the server observer" in str(client_blind_spot(cat.get("consumer-lag")))
    assert "fault's timeline" in str(client_blind_spot(cat.get("lag-recovers")))


def test_a_measured_threshold_alert_takes_name_for_and_window_not_above(tmp_path: Path) -> None:
    tuned = CONTRACT.replace("  objective: 116\n", "  objective: 116\n  threshold_alert: "
                             "{name: EventsSlow, for: 30s, window: 2m}\n")
    doc = build_rules(catalog(tmp_path, tuned), RuleOptions(service="events"))
    alert = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "EventsSlow")
    assert alert["for"] == "30s" and "[2m]" in alert["expr"] and "/ 120\n< 116" in alert["expr"]
    with pytest.raises(CatalogError, match=r"above.*its own bound"):
        catalog(tmp_path, CONTRACT.replace("  objective: 116\n", "  objective: 116\n  "
                                           "threshold_alert: {name: X, above: 0.1}\n"))
