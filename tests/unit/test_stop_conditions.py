"""Stop conditions: parsing (every front end's strings), their PromQL, the verdict."""

from __future__ import annotations

import pytest

from chaosgate.exceptions import EXIT_USAGE, FaultAborted, TargetError
from chaosgate.faults.stop import stop_query
from chaosgate.slo.catalog import build_catalog, parse_catalog
from chaosgate.targets import StopCondition, parse_stop_condition, parse_target
from chaosgate.verdict import EXIT_ABORTED, combine, exit_code

CATALOG = build_catalog(parse_catalog({
    "apiVersion": "chaosgate/v1", "kind": "SLOCatalog", "slos": [
        {"name": "availability", "type": "availability", "objective": 0.999, "window": "10m",
         "query": {"bad": 'sum(increase(req_total{code="5xx"}[$window]))',
                   "total": "sum(increase(req_total[$window]))"}},
        {"name": "p95", "type": "latency", "route": "/x", "percentile": 95, "threshold": 0.5,
         "window": "10m", "query": {"good": 'sum(increase(d_bucket{le="0.5"}[$window]))',
                                    "total": "sum(increase(d_count[$window]))"}}]}))


@pytest.mark.parametrize(("text", "expected"), [
    ("alert:ShopErrorsHigh", StopCondition("alert", "ShopErrorsHigh")),
    (" alert: ShopErrorsHigh ", StopCondition("alert", "ShopErrorsHigh")),
    ("burn:availability>5%", StopCondition("burn", "availability", 0.05)),
    ("burn:availability > 0.5", StopCondition("burn", "availability", 0.5)),
    ("promql:up == 0", StopCondition("promql", "up == 0")),
    ('sum(rate(x{code="5xx"}[10s])) > 5',
     StopCondition("promql", 'sum(rate(x{code="5xx"}[10s])) > 5')),
])
def test_the_three_kinds_are_parsed(text: str, expected: StopCondition) -> None:
    assert parse_stop_condition(text, "--stop-when") == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("", "is not a stop condition"),
    ("alert:Shop Errors", "not a Prometheus alert name"),
    ("burn:availability", "is not `SLO>PERCENT%`"),
    ("burn:availability>0%", "above 0 and at most 100 %"),
    ("burn:availability>150%", "above 0 and at most 100 %"),
    ("promql:", "empty"),
    ("x" * 5000, "at most 4096"),
])
def test_bad_conditions_name_the_option_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_stop_condition(text, "--stop-when")
    assert info.value.exit_code == EXIT_USAGE
    assert problem in str(info.value) and "--stop-when" in str(info.value)
    assert "alert:ShopErrorsHigh" in info.value.fix


def test_a_target_lists_them_under_safety() -> None:
    doc = {"apiVersion": "chaosgate/v1", "kind": "Target", "name": "t",
           "platform": {"type": "kubernetes"},
           "prometheus": {"url": "http://127.0.0.1:9", "scrape_interval": "15s"},
           "ingress": {"url": "http://127.0.0.1:9"}, "services": {"shop": {"selector": "app=x"}},
           "safety": {"stop_when": ["alert:ShopErrorsHigh", "burn:availability>10%"]}}
    target = parse_target(doc, "t.yaml")
    assert [str(c) for c in target.safety.stop_when] == [
        "alert ShopErrorsHigh firing", "availability error budget burned above 10 %"]
    doc["safety"] = {"stop_when": ["alert:bad name"]}
    with pytest.raises(TargetError, match=r"t.yaml: safety.stop_when\[0\]"):
        parse_target(doc, "t.yaml")


def test_the_queries_return_a_sample_exactly_while_the_condition_holds() -> None:
    def q(text: str, since: float = 0.0, now: float = 60.0) -> str:
        return stop_query(parse_stop_condition(text, "x"), catalog=CATALOG, since=since,
                          now=now, period_s=30 * 86400.0)

    assert q("alert:A") == 'ALERTS{alertname="A",alertstate="firing"}'
    assert q("up == 0") == "up == 0"
    burn = q("burn:availability>5%")
    # error ratio over the 60 s since the run began / budget 0.001 * 60 s of 30 days
    assert '[1m]' in burn and "/ 0.001 *" in burn and burn.endswith("> 0.05")
    assert f"{60 / (30 * 86400):.12g}" in burn
    # too short a run is read over 5 s at least (two 1 s scrapes and some)
    assert "[5s]" in q("burn:availability>5%", since=59.0)
    # a latency SLO's budget is its slow share: 1 - good/total
    assert "(1 - (" in q("burn:p95>5%")


def test_a_burn_needs_an_slo_with_a_budget() -> None:
    from chaosgate.exceptions import UsageError
    from chaosgate.slo.model import CatalogError

    with pytest.raises(CatalogError):
        stop_query(parse_stop_condition("burn:nope>5%", "x"), catalog=CATALOG, since=0,
                   now=10, period_s=86400)
    with pytest.raises(UsageError, match="needs the SLO catalogue"):
        stop_query(parse_stop_condition("burn:availability>5%", "x"), catalog=None, since=0,
                   now=10, period_s=86400)


def test_aborted_outranks_every_verdict_and_exits_4() -> None:
    assert combine(["pass", "fail", "aborted", "inconclusive"]) == "aborted"
    assert combine(["pass", "fail"]) == "fail"
    assert exit_code("aborted") == EXIT_ABORTED == 4
    assert FaultAborted("x").exit_code == 4


def test_the_remaining_budget_query_and_the_target_setting() -> None:
    from chaosgate.faults.stop import remaining_budget_query

    query = remaining_budget_query(CATALOG.get("availability"), 30 * 86400.0)
    assert query.startswith("1 - (") and "[30d]" in query and query.endswith("/ 0.001")
    doc = {"apiVersion": "chaosgate/v1", "kind": "Target", "name": "t",
           "platform": {"type": "kubernetes"},
           "prometheus": {"url": "http://127.0.0.1:9", "scrape_interval": "15s"},
           "ingress": {"url": "http://127.0.0.1:9"}, "services": {"shop": {"selector": "app=x"}},
           "safety": {"min_error_budget": "25%"}}
    assert parse_target(doc, "t.yaml").safety.min_error_budget == 0.25
    doc["safety"] = {"min_error_budget": 0.5}
    assert parse_target(doc, "t.yaml").safety.min_error_budget == 0.5
    for bad in ("150%", "x", -0.1):
        doc["safety"] = {"min_error_budget": bad}
        with pytest.raises(TargetError, match=r"safety\.min_error_budget"):
            parse_target(doc, "t.yaml")
