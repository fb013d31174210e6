"""Game-day gates and fault specs, with plain data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.exceptions import UsageError
from chaosgate.faults.spec import FAULT_FIELDS, check_spec, describe_fault
from chaosgate.gameday.gates import budget_gate, steady_state_gates
from chaosgate.load.requestlog import RequestRecord
from chaosgate.slo.model import SLO
from chaosgate.verdict import combine

AVAIL = SLO(name="availability", type="availability", objective=0.9999)
P95 = SLO(name="browse-latency-p95", type="latency", objective=0.95, route="/api/products",
          threshold=0.25, percentile=95)


def req(t: float, ms: float = 10.0, name: str = "/api/products",
        status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, ms=ms, name=name, method="GET", ok=status < 400, status=status,
                         error=None if status < 400 else f"http_{status}")


@given(st.lists(st.sampled_from(["pass", "fail", "inconclusive"])))
def test_combine_fail_wins_then_inconclusive(statuses: list[str]) -> None:
    result = combine(statuses)  # type: ignore[arg-type]
    if not statuses:
        assert result == "inconclusive"
    elif "fail" in statuses:
        assert result == "fail"
    elif "inconclusive" in statuses:
        assert result == "inconclusive"
    else:
        assert result == "pass"


def test_budget_gate_counts_failures_against_the_monthly_budget() -> None:
    # 40 requests/s for 100 s; 99.99 % over 30 days allows 1e-4 * 40 * 2_592_000 = 10 368
    records = [req(i / 40) for i in range(4000)]
    records += [req(100 + i / 40, status=503) for i in range(104)]  # 1.0 % of the budget
    gate = budget_gate(AVAIL, records, duration_s=(4000 + 104) / 40, max_burn=0.10)
    assert gate.status == "pass"
    assert gate.value == "1.00%"
    strict = budget_gate(AVAIL, records, duration_s=(4000 + 104) / 40, max_burn=0.005)
    assert strict.status == "fail"


def test_budget_gate_without_requests_is_inconclusive() -> None:
    assert budget_gate(AVAIL, [], duration_s=10).status == "inconclusive"


def test_client_errors_do_not_spend_the_budget() -> None:
    records = [req(i / 10, status=404) for i in range(100)]
    assert budget_gate(AVAIL, records, duration_s=10).value == "0.00%"


def test_steady_state_tolerance_uses_the_exact_percentile() -> None:
    fast = [req(i * 0.05, ms=20.0) for i in range(100)]
    gates = {g.name: g for g in steady_state_gates("before", [P95], fast, start=0, end=10)}
    assert gates["steady state before: browse-latency-p95"].status == "pass"
    assert gates["steady state before: no server errors"].status == "pass"
    slow = fast[:90] + [req(4.5 + i * 0.05, ms=300.0) for i in range(10)]
    gates = {g.name: g for g in steady_state_gates("before", [P95], slow, start=0, end=10)}
    assert gates["steady state before: browse-latency-p95"].status == "fail"
    assert gates["steady state before: browse-latency-p95"].value == "300.0 ms"


def test_steady_state_with_too_few_requests_is_inconclusive() -> None:
    gates = steady_state_gates("after", [P95], [req(1.0)], start=0, end=10)
    assert {g.status for g in gates} == {"inconclusive"}


def test_a_server_error_in_the_steady_state_fails_it() -> None:
    records = [req(i * 0.05) for i in range(60)] + [req(3.01, status=500)]
    gate = steady_state_gates("after", [], records, start=0, end=10)[0]
    assert gate.status == "fail" and gate.value == "1 errors"


@pytest.mark.parametrize("spec, field", [
    ({"kind": "explode"}, "fault.kind"),
    ({"kind": "kill-pods"}, "fault.selector"),
    ({"kind": "latency", "link": "x", "latency_ms": 5}, "fault.link"),
    ({"kind": "failover-db"}, "fault.method"),
])
def test_bad_fault_specs_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(UsageError, match=field.replace(".", r"\.")):
        check_spec(spec, "scenario.py")


def test_every_kind_accepts_a_duration() -> None:
    for kind, (required, _) in FAULT_FIELDS.items():
        spec = {"kind": kind, "duration": 5, **{f: "x" for f in required}}
        assert check_spec(spec, "s") == kind


def test_describe_fault() -> None:
    spec = {"kind": "kill-pods", "selector": "app=orders", "qty": 1}
    assert describe_fault(spec) == "kill-pods (selector=app=orders, qty=1)"
