"""Resolving network scopes into sandbox links and toxics, with plain data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.exceptions import TargetError, UsageError
from chaosgate.faults.network import build_scope
from chaosgate.platforms.base import LatencySpec, NetworkScope, PartitionSpec
from chaosgate.platforms.sandbox_net import plan_latency, plan_partition, resolve_links
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import parse_target, render_sandbox_target

TOPO = build_topology(Path("/tmp/sb"), 47000)
TARGET = parse_target(render_sandbox_target(TOPO))
LISTEN = {x.name: x.listen_address for x in TOPO.links}


def names(pairs):
    return [(link.name, selected_is_source) for link, selected_is_source in pairs]


def test_selector_and_dependency_give_the_dependency_links():
    scope = build_scope(TARGET, "app=orders", None, None, "postgres", ())
    assert names(resolve_links(TARGET, scope)) == [("orders-pg0", True), ("orders-pg1", True)]


def test_two_selectors_give_the_link_between_them_whichever_side():
    one = build_scope(TARGET, "app=gateway", None, "app=catalog", None, ())
    assert names(resolve_links(TARGET, one)) == [("gateway-catalog", True)]
    other = build_scope(TARGET, "app=catalog", None, "app=gateway", None, ())
    assert names(resolve_links(TARGET, other)) == [("gateway-catalog", False)]


def test_named_links_resolve_their_sides():
    scope = build_scope(TARGET, None, None, None, None, ("gateway-orders",))
    assert scope.selector == "app=gateway" and scope.peer_selector == "app=orders"
    etcd = build_scope(TARGET, None, None, None, None, ("pg0-etcd",))
    assert etcd.selector is None and etcd.dependency == "etcd"
    assert names(resolve_links(TARGET, etcd)) == [("pg0-etcd", True)]


@pytest.mark.parametrize("args", [
    (None, None, None, "postgres", ()),              # no selector
    ("app=orders", None, None, None, ()),            # no other side
    ("app=orders", None, "app=catalog", "postgres", ()),  # both other sides
    ("app=orders", None, None, None, ("orders-pg0",)),    # links and a selector
])
def test_bad_side_choices_are_usage_errors(args):
    with pytest.raises(UsageError):
        build_scope(TARGET, *args)


def test_unknown_dependency_and_link_name_the_known_ones():
    with pytest.raises(TargetError, match="postgres"):
        build_scope(TARGET, "app=orders", None, None, "redis", ())
    with pytest.raises(TargetError, match="gateway-orders"):
        build_scope(TARGET, None, None, None, None, ("gateway-ordres",))


def test_selectors_with_no_link_between_them_are_refused():
    scope = build_scope(TARGET, "app=catalog", None, None, "postgres", ())
    with pytest.raises(UsageError, match="no link"):
        resolve_links(TARGET, scope)


def test_partition_both_disables_links_and_is_json():
    scope = build_scope(TARGET, "app=orders", None, None, "postgres", ())
    change = plan_partition(TARGET, PartitionSpec(scope), "cg-1", LISTEN)
    assert [e["disable"] for e in change.data["links"]] == [True, True]
    assert [e["probe"] for e in change.data["links"]] == ["pg", "pg"]
    assert change.data["links"][0]["listen"] == TOPO.link("orders-pg0").listen_address
    assert json.loads(json.dumps(change.to_json()))["data"] == change.data


@pytest.mark.parametrize("selector,peer,direction,stream", [
    ("app=gateway", "app=catalog", "to", "upstream"),
    ("app=gateway", "app=catalog", "from", "downstream"),
    ("app=catalog", "app=gateway", "to", "downstream"),
    ("app=catalog", "app=gateway", "from", "upstream"),
])
def test_one_way_partition_blackholes_the_right_stream(selector, peer, direction, stream):
    scope = build_scope(TARGET, selector, None, peer, None, ())
    change = plan_partition(TARGET, PartitionSpec(scope, direction), "cg-1", LISTEN)
    [entry] = change.data["links"]
    assert not entry["disable"]
    assert entry["toxics"] == [{"name": f"cg-1-blackhole-{stream}", "type": "timeout",
                                "stream": stream, "toxicity": 1.0,
                                "attributes": {"timeout": 0}}]
    assert entry["probe"] == "http"


def test_latency_toxics_per_direction():
    scope = NetworkScope(namespace="shop", links=("gateway-orders",))
    to = plan_latency(TARGET, LatencySpec(scope, 200, 20), "cg-1", LISTEN)
    [entry] = to.data["links"]
    assert [t["stream"] for t in entry["toxics"]] == ["upstream"]
    assert entry["toxics"][0]["attributes"] == {"latency": 200, "jitter": 20}
    both = plan_latency(TARGET, LatencySpec(scope, 50, 0, "both"), "cg-1", LISTEN)
    assert [t["stream"] for t in both.data["links"][0]["toxics"]] == ["upstream", "downstream"]
    with pytest.raises(UsageError):
        plan_latency(TARGET, LatencySpec(scope, 0), "cg-1", LISTEN)
