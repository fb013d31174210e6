"""Verdicts: pass only when proven, fail when the budget is spent, never a silent pass."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.exceptions import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from chaosgate.load.requestlog import RequestRecord
from chaosgate.slo.catalog import SLO, load_catalog
from chaosgate.slo.counters import Bin
from chaosgate.slo.evaluate import (
    SLOVerdict,
    is_server_error,
    objective_text,
    ratio_verdict,
    records_verdicts,
    recovery_verdict,
    request_judge,
)
from chaosgate.slo.measure import measure, timeline_slos
from chaosgate.slo.timeline import Estimate, Timeline
from chaosgate.verdict import combine, exit_code

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "probes")
AVAILABILITY = CATALOG.get("availability")
TTR = CATALOG.get("time-to-recover")


def slo_exit_code(verdicts: Sequence[SLOVerdict]) -> int:
    """The exit code of several SLO verdicts, as ``slo check`` exits."""
    return exit_code(combine(v.status for v in verdicts))


def test_availability_at_99_99_needs_proof() -> None:
    few = ratio_verdict(AVAILABILITY, 1_200, 1_200)
    assert few.status == "inconclusive"
    assert "not yet provable" in few.reason and "29956 events without a failure" in few.reason
    assert exit_code(few.status) == EXIT_INCONCLUSIVE
    assert ratio_verdict(AVAILABILITY, 29_956, 29_956).status == "pass"
    assert ratio_verdict(AVAILABILITY, 29_955, 29_955).status == "inconclusive"


def test_a_spent_budget_fails_whatever_the_sample() -> None:
    v = ratio_verdict(AVAILABILITY, 4_999, 5_000)
    assert v.status == "fail" and exit_code(v.status) == EXIT_FAIL
    assert v.budget_consumed == pytest.approx(2.0)
    assert "200 % of the error budget spent" in v.reason
    assert "1000 times the error budget spent" in ratio_verdict(AVAILABILITY, 90, 100).reason
    assert ratio_verdict(AVAILABILITY, 9_999, 10_000).status == "inconclusive"  # exactly on it


def test_no_data_is_never_a_pass() -> None:
    v = ratio_verdict(AVAILABILITY, 0, 0)
    assert v.status == "inconclusive" and "no data" in v.reason
    assert slo_exit_code([]) == EXIT_INCONCLUSIVE


@given(good=st.integers(0, 50_000), extra=st.integers(0, 50_000))
def test_a_pass_always_clears_the_objective_with_its_lower_bound(good: int, extra: int) -> None:
    v = ratio_verdict(AVAILABILITY, good, good + extra)
    if v.status == "pass":
        assert v.bounds is not None and v.bounds[0] >= AVAILABILITY.objective
    if good + extra == 0:
        assert v.status == "inconclusive"


def test_exit_code_precedence() -> None:
    def v(status: str) -> SLOVerdict:
        return SLOVerdict("x", "availability", status, "", "server", 0.9)  # type: ignore[arg-type]

    assert slo_exit_code([v("pass"), v("pass")]) == EXIT_PASS
    assert slo_exit_code([v("pass"), v("inconclusive")]) == EXIT_INCONCLUSIVE
    assert slo_exit_code([v("inconclusive"), v("fail")]) == EXIT_FAIL


def test_objective_texts() -> None:
    assert [objective_text(CATALOG.get(n)) for n in (
        "availability", "checkout-latency-p95", "checkout-error-ratio", "time-to-recover")] == [
        "≥ 99.99 %", "p95 ≤ 500 ms", "≤ 0.1 % errors", "TTR ≤ 30 s"]


def rec(t: float, ms: float, name: str = "/api/checkout", status: int | None = 201,
        ok: bool = True) -> RequestRecord:
    return RequestRecord(t, ms, name, "POST", ok, status, None if ok else "x")


def test_request_judges() -> None:
    assert is_server_error(rec(0, 1, status=503, ok=False))
    assert is_server_error(rec(0, 1, status=None, ok=False))
    assert not is_server_error(rec(0, 1, status=404, ok=False))  # the client's fault
    latency = request_judge(CATALOG.get("checkout-latency-p95"))
    assert latency(rec(0, 500.0)) is False and latency(rec(0, 500.001)) is True
    assert latency(rec(0, 900.0, name="/api/products")) is None
    with pytest.raises(ValueError):
        request_judge(TTR)


def test_client_verdicts_with_exact_percentiles() -> None:
    records = [rec(float(i), 10.0 + i) for i in range(200)]
    records += [rec(200.0, 600.0), rec(201.0, 700.0)]
    records += [rec(float(i), 3.0, name="/api/products", status=200) for i in range(80)]
    by = {v.slo: v for v in records_verdicts(CATALOG, records)}
    checkout = by["checkout-latency-p95"]
    assert (checkout.good, checkout.total) == (200, 202)
    assert checkout.percentile_ms == 201.0  # nearest rank 192 of 202, an observed value
    assert checkout.status == "pass"
    few = records_verdicts([CATALOG.get("checkout-latency-p95")], records[100:])
    assert few[0].status == "inconclusive"  # 100 of 102 fast: not enough to prove p95
    assert by["browse-latency-p95"].status == "pass"
    assert by["availability"].status == "inconclusive"
    assert "product-latency-p95" in by and by["product-latency-p95"].status == "inconclusive"
    assert "time-to-recover" not in by
    windowed = records_verdicts([AVAILABILITY], records, start=50.0, end=60.0)
    assert windowed[0].total == 20


def tl(impact: float | None, recover: float | None, total: int = 100,
       end: float = 200.0) -> Timeline:
    def est(t: float | None) -> Estimate | None:
        return None if t is None else Estimate(t, t - 0.5, t + 0.5)
    return Timeline("server", 100.0, end, est(impact), None, est(recover), total=total)


@pytest.mark.parametrize(("timeline", "status", "words"), [
    (tl(101.0, 111.0), "pass", "TTR 10.000 s"),
    (tl(101.0, 160.0), "fail", "over 30 s"),
    (tl(101.0, 130.6), "inconclusive", "too close to call"),
    (tl(None, None), "pass", "no impact observed"),
    (tl(None, None, total=0), "inconclusive", "no data"),
    (tl(101.0, None), "fail", "not recovered 99.0 s after"),
    (tl(101.0, None, end=120.0), "inconclusive", "observation ended"),
])
def test_recovery_verdicts(timeline: Timeline, status: str, words: str) -> None:
    v = recovery_verdict(TTR, timeline)
    assert v.status == status and words in v.reason


def test_measure_combines_the_slos_of_a_recovery_slo() -> None:
    records = [RequestRecord(1000 + i / 25, 4.0, route, "GET", not (10 <= i / 25 < 20),
                             200 if not (10 <= i / 25 < 20) else 502)
               for i in range(1000) for route in ("/api/products",)]
    bins = {s.name: [Bin(1000 + k - 1, 1000 + k, 25 if 10 < k <= 20 else 0, 25)
                     for k in range(1, 40)]
            for s in timeline_slos(TTR, CATALOG) if s.type == "availability"}
    m = measure(TTR, CATALOG, t_inject=1010.0, records=records, bins=bins)
    assert m.client is not None and m.server is not None
    assert m.client.slos == TTR.of
    assert m.client.ttr is not None and m.client.ttr.t == pytest.approx(10.0)
    assert m.server.ttr is not None and abs(m.server.ttr.t - 10.0) <= m.server.ttr.err
    assert m.disagreements == ()
    assert [v.status for v in m.verdicts] == ["pass", "pass"]


def _slo(**kw: object) -> SLO:
    return SLO(**{"name": "x", "type": "availability", "objective": 0.9, **kw})  # type: ignore[arg-type]


def test_verdict_json_is_plain() -> None:
    data = ratio_verdict(_slo(), 99, 100, query={"bad": "q"}).to_json()
    assert data["status"] == "pass" and data["query"] == {"bad": "q"}
    assert data["bounds"][0] >= 0.9
