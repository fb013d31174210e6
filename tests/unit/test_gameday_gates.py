"""Game-day gates and fault specs, with plain data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.exceptions import UsageError
from chaosgate.faults.spec import FAULT_FIELDS, check_spec, describe_fault
from chaosgate.gameday import engine
from chaosgate.gameday.evaluation import steady_states
from chaosgate.gameday.gates import (
    MIN_STEADY_REQUESTS,
    STEADY_ALL_REQUESTS,
    budget_gate,
    steady_state_counts,
    steady_state_gates,
    steady_state_shortfall,
)
from chaosgate.load.requestlog import RequestRecord
from chaosgate.slo.model import SLO
from chaosgate.verdict import combine

AVAIL = SLO(name="availability", type="availability", objective=0.9999)
P95 = SLO(name="browse-latency-p95", type="latency", objective=0.95, route="/api/products",
          threshold=0.25, percentile=95)
CHECKOUT = SLO(name="checkout-latency-p95", type="latency", objective=0.95,
               route="/api/checkout", threshold=0.5, percentile=95)


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


def test_steady_state_counts_what_each_gate_judges() -> None:
    records = ([req(i * 0.1) for i in range(30)]
               + [req(0.05 + i * 0.5, name="/api/checkout") for i in range(19)]
               + [req(0.07, name="/api/checkout", status=503),  # not a latency sample
                  req(0.08, name="/api/checkout", status=404),
                  req(20.0, name="/api/checkout")])  # outside the window
    slos = [AVAIL, P95, CHECKOUT,
            SLO(name="no-percentile", type="latency", objective=0.95, route="/x")]
    assert steady_state_counts(slos, records, start=0, end=10) == {
        STEADY_ALL_REQUESTS: 51, "/api/products": 30, "/api/checkout": 19}
    assert steady_state_shortfall(slos, records, start=0, end=10) == {"/api/checkout": 19}
    more = [*records, req(9.9, name="/api/checkout")]
    assert steady_state_shortfall(slos, more, start=0, end=10) == {}
    assert steady_state_shortfall([AVAIL], [], start=0, end=10) == {STEADY_ALL_REQUESTS: 0}


def test_the_steady_state_before_ends_when_the_fault_began() -> None:
    # 30 s of load; the fault began at 10.0 s, its call returned (t_inject) at 10.05 s
    records = [req(i * 0.1) for i in range(300)]
    records += [req(10.02, status=503),  # sent while the fault was taking hold
                req(9.99, ms=30.0, status=503)]  # in flight when it began
    gates = {g.name: g for g in steady_states([P95], records, t_inject=10.05, warmup=8,
                                              observe=15, before_end=10.0, after_start=20.0)}
    before = gates["steady state before: no server errors"]
    assert before.status == "pass" and before.detail.startswith("0 of 80 requests")
    after = gates["steady state after: no server errors"]
    assert after.status == "pass" and after.detail.startswith("0 of 100 requests")
    # without the engine's marks: up to t_inject, the second half of observe
    old = {g.name: g for g in steady_states([P95], records, t_inject=10.05, warmup=8,
                                            observe=15)}
    assert old["steady state before: no server errors"].status == "fail"
    assert old["steady state after: browse-latency-p95"].detail.startswith("exact p95 of 75 ")


ROUTES = ["/api/products", "/api/checkout", "/api/orders"]


@given(st.lists(st.tuples(st.floats(0, 12), st.sampled_from(ROUTES),
                          st.sampled_from([200, 200, 200, 404, 500, 503]))),
       st.floats(0, 6), st.integers(1, 8))
def test_the_shortfall_is_exactly_the_gates_without_enough_data(
        rows: list[tuple[float, str, int]], start: float, min_requests: int) -> None:
    records = [req(t, name=name, status=status) for t, name, status in rows]
    slos = [AVAIL, P95, CHECKOUT]
    short = steady_state_shortfall(slos, records, start=start, end=10,
                                   min_requests=min_requests)
    gates = steady_state_gates("before", slos, records, start=start, end=10,
                               min_requests=min_requests)
    unjudged = {g.name for g in gates if g.status == "inconclusive"}
    expected = {"steady state before: no server errors"} if STEADY_ALL_REQUESTS in short \
        else set()
    expected |= {f"steady state before: {s.name}" for s in (P95, CHECKOUT) if s.route in short}
    assert unjudged == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeLoad:
    """A load session whose request log gains ``per_tick`` records of ``name`` per poll."""

    def __init__(self, clock: FakeClock, name: str, per_tick: int) -> None:
        self.clock, self.name, self.per_tick = clock, name, per_tick

    def poll(self) -> bool:
        return True

    def new_records(self) -> list[RequestRecord]:
        return [req(self.clock.now - 0.1, name=self.name) for _ in range(self.per_tick)]


def run_steady_state(monkeypatch: pytest.MonkeyPatch, per_tick: int, max_extension: float,
                     ) -> tuple[str, list[str], dict[str, int]]:
    """The phase's detail, its log lines and the counts of its window when it ended."""
    clock = FakeClock()
    monkeypatch.setattr(engine, "time", clock)
    load = FakeLoad(clock, "/api/checkout", per_tick)
    watch = engine._RequestWatch(load)  # type: ignore[arg-type]
    logged: list[str] = []
    start = clock.now
    detail = engine._steady_state(watch, [CHECKOUT], lambda: start, 2.0,
                                  max_extension=max_extension, what="steady state before",
                                  nominal="warmup", log=logged.append)
    return detail, logged, steady_state_counts([CHECKOUT], watch.records, start=start,
                                               end=clock.now)


def test_a_steady_state_short_of_requests_goes_on_until_it_has_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # one checkout per 0.25 s poll: its 2 s hold 7; the phase goes on until there are 20
    detail, logged, counts = run_steady_state(monkeypatch, per_tick=1, max_extension=60)
    assert len(logged) == 1 and "only" in logged[0] and "/api/checkout" in logged[0]
    assert counts["/api/checkout"] == MIN_STEADY_REQUESTS
    assert "extended" in detail and "inconclusive" not in detail


def test_a_steady_state_with_enough_requests_is_not_extended(
        monkeypatch: pytest.MonkeyPatch) -> None:
    detail, logged, counts = run_steady_state(monkeypatch, per_tick=5, max_extension=60)
    assert logged == [] and "extended" not in detail
    assert counts["/api/checkout"] >= MIN_STEADY_REQUESTS


def test_a_steady_state_extension_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    detail, logged, counts = run_steady_state(monkeypatch, per_tick=0, max_extension=5)
    assert counts == {STEADY_ALL_REQUESTS: 0, "/api/checkout": 0}
    assert "at the 5 s bound: those gates are inconclusive" in detail
    assert len(logged) == 2  # the extension, then that it ran out


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
        valid = {"latency_ms": 100, "mode": "cpu", "method": "switchover"}
        spec = {"kind": kind, "duration": 5, **{f: valid.get(f, "x") for f in required}}
        assert check_spec(spec, "s") == kind


def test_describe_fault() -> None:
    spec = {"kind": "kill-pods", "selector": "app=orders", "qty": 1}
    assert describe_fault(spec) == "kill-pods (selector=app=orders, qty=1)"


def test_a_steady_state_stops_within_a_step_once_the_gameday_parent_is_gone(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from chaosgate.faults import FaultSession, Ledger, signals
    from chaosgate.sandbox.topology import build_topology
    from chaosgate.targets import parse_target, render_sandbox_target

    target = parse_target(render_sandbox_target(build_topology(tmp_path / "sb", 47000)))
    faults = FaultSession(target, platform=None, ledger=Ledger(tmp_path / "l.jsonl"))  # type: ignore[arg-type]
    clock = FakeClock()
    monkeypatch.setattr(engine, "time", clock)
    watch = engine._RequestWatch(FakeLoad(clock, "/api/checkout", 5),  # type: ignore[arg-type]
                                 faults.check_owner)
    monkeypatch.delenv("CHAOSGATE_PARENT", raising=False)
    watch.step()  # no CHAOSGATE_PARENT: nothing to check
    monkeypatch.setenv("CHAOSGATE_PARENT", f"{2**22 + 13}:1")  # a parent that is gone
    with pytest.raises(signals.OwnerGone):
        engine._steady_state(watch, [CHECKOUT], lambda: clock.now, 2.0, max_extension=60,
                             what="steady state after", nominal="observation",
                             log=lambda _m: None)
