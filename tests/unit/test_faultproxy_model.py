"""The fault proxy's pure model: validation, defaults, JSON shapes, populate, events."""

from __future__ import annotations

import itertools
import random

import pytest

from chaosgate.sandbox.faultproxy.events import EventLog
from chaosgate.sandbox.faultproxy.model import (
    ApiError,
    ProxySpec,
    ToxicSpec,
    parse_address,
    parse_json,
    parse_populate,
    parse_proxy,
    parse_toxic,
    plan_populate,
    proxy_json,
    slice_offsets,
    update_proxy,
    update_toxic,
)

UP = "127.0.0.1:5432"


def error_of(excinfo: pytest.ExceptionInfo[ApiError]) -> dict[str, object]:
    return excinfo.value.to_json()


# -- request bodies ----------------------------------------------------------------


def test_parse_json_rejects_empty_and_malformed_bodies() -> None:
    with pytest.raises(ApiError) as empty:
        parse_json(b"  ")
    assert error_of(empty) == {"error": "bad request body: EOF", "status": 400}
    with pytest.raises(ApiError) as broken:
        parse_json(b"{not json")
    assert broken.value.status == 400
    assert broken.value.message.startswith("bad request body: ")
    assert parse_json(b'{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:0", ("::1", 0)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_parse_address_accepts_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, "listen", allow_port_zero=True) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":80", "host:http", "h:65536", "h:-1"])
def test_parse_address_rejects_garbage(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_address(text, "listen", allow_port_zero=True)
    assert excinfo.value.status == 400


def test_upstream_port_zero_is_invalid() -> None:
    with pytest.raises(ApiError):
        parse_proxy({"name": "a", "upstream": "127.0.0.1:0"})


# -- proxies -----------------------------------------------------------------------


def test_parse_proxy_defaults_to_enabled_on_loopback() -> None:
    spec = parse_proxy({"name": "db", "upstream": UP})
    assert spec == ProxySpec("db", "127.0.0.1:0", UP, True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"upstream": UP}, "missing required field: name"),
        ({"name": "", "upstream": UP}, "missing required field: name"),
        ({"name": "db"}, "missing required field: upstream"),
        ([], "bad request body: body must be a JSON object"),
        ({"name": 3, "upstream": UP}, "bad request body: field 'name' must be a string"),
        (
            {"name": "db", "upstream": UP, "enabled": "yes"},
            "bad request body: field 'enabled' must be a boolean",
        ),
    ],
)
def test_parse_proxy_errors_match_toxiproxy(body: object, message: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_proxy(body)
    assert error_of(excinfo) == {"error": message, "status": 400}


def test_update_proxy_keeps_omitted_fields() -> None:
    current = ProxySpec("db", "127.0.0.1:6000", UP, True)
    assert update_proxy(current, {"enabled": False}) == ProxySpec("db", "127.0.0.1:6000", UP, False)
    moved = update_proxy(current, {"listen": "127.0.0.1:6001", "name": "ignored"})
    assert moved == ProxySpec("db", "127.0.0.1:6001", UP, True)


def test_proxy_json_shape_lists_upstream_toxics_first() -> None:
    down = ToxicSpec("slow", "latency", "downstream", 1.0, {"latency": 5})
    up = ToxicSpec("cut", "reset_peer", "upstream", 0.5, {})
    doc = proxy_json(ProxySpec("db", "127.0.0.1:6000", UP, False), [down, up])
    assert doc == {
        "name": "db",
        "listen": "127.0.0.1:6000",
        "upstream": UP,
        "enabled": False,
        "toxics": [
            {
                "name": "cut",
                "type": "reset_peer",
                "stream": "upstream",
                "toxicity": 0.5,
                "attributes": {"timeout": 0},
            },
            {
                "name": "slow",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": 5, "jitter": 0},
            },
        ],
    }


# -- populate ----------------------------------------------------------------------


def test_parse_populate_validates_everything_first() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_populate([{"name": "a", "upstream": UP}, {"name": "b"}])
    assert excinfo.value.message == "missing required field: upstream at proxy 2"
    with pytest.raises(ApiError) as dup:
        parse_populate([{"name": "a", "upstream": UP}, {"name": "a", "upstream": UP}])
    assert dup.value.status == 400
    with pytest.raises(ApiError):
        parse_populate({"name": "a", "upstream": UP})


def test_plan_populate_keeps_identical_replaces_changed_creates_new() -> None:
    same = ProxySpec("same", "127.0.0.1:6000", UP, False)
    moved = ProxySpec("moved", "127.0.0.1:6001", UP, True)
    existing = {"same": same, "moved": moved, "other": ProxySpec("other", "x:1", UP)}
    incoming = parse_populate(
        [
            {"name": "same", "listen": "127.0.0.1:6000", "upstream": UP},
            {"name": "moved", "listen": "127.0.0.1:6002", "upstream": UP},
            {"name": "new", "listen": "127.0.0.1:6003", "upstream": UP, "enabled": False},
        ]
    )
    steps = plan_populate(existing, incoming)
    assert [(s.spec.name, s.action) for s in steps] == [
        ("same", "keep"),
        ("moved", "replace"),
        ("new", "create"),
    ]
    assert steps[0].spec is same  # kept as it is, disabled state included
    assert steps[1].spec.listen == "127.0.0.1:6002"
    assert steps[2].spec.enabled is False


# -- toxics ------------------------------------------------------------------------


def test_parse_toxic_defaults() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 100}})
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 100, "jitter": 0},
    }
    upstream = parse_toxic({"type": "bandwidth", "stream": "upstream", "toxicity": 0})
    assert (upstream.name, upstream.toxicity, upstream.attr("rate")) == (
        "bandwidth_upstream",
        0.0,
        0,
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"type": "nope"}, 400, "invalid toxic type"),
        ({"stream": "sideways", "type": "latency"}, 400, "stream was invalid"),
        ({"type": "latency", "toxicity": 1.5}, 400, "bad request body: toxicity"),
        ({"type": "latency", "toxicity": "1"}, 400, "bad request body: toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, 400, "bad request body"),
        ({"type": "latency", "attributes": {"latency": "5"}}, 400, "bad request body"),
        ({"type": "latency", "attributes": {"latency": True}}, 400, "bad request body"),
        ({"type": "latency", "attributes": []}, 400, "bad request body"),
        ({"type": "timeout"}, 409, "toxic already exists"),
    ],
)
def test_parse_toxic_errors(body: object, status: int, message: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_toxic(body, existing_names=["timeout_downstream"])
    assert excinfo.value.status == status
    assert excinfo.value.message.startswith(message)


def test_parse_toxic_ignores_unknown_attributes_and_accepts_integral_floats() -> None:
    toxic = parse_toxic({"type": "timeout", "attributes": {"timeout": 250.0, "other": "x"}})
    assert toxic.attributes == {"timeout": 250}


def test_update_toxic_merges_attributes_and_keeps_identity() -> None:
    toxic = parse_toxic({"type": "latency", "toxicity": 0.5, "attributes": {"latency": 100}})
    updated = update_toxic(
        toxic, {"attributes": {"jitter": 10}, "type": "timeout", "stream": "upstream"}
    )
    assert updated.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 0.5,
        "attributes": {"latency": 100, "jitter": 10},
    }
    assert update_toxic(toxic, {"toxicity": 1}).toxicity == 1.0
    with pytest.raises(ApiError):
        update_toxic(toxic, {"attributes": {"latency": -5}})


# -- events ------------------------------------------------------------------------


def test_event_log_sequence_capacity_and_shape() -> None:
    ticks = iter(range(100, 200))
    log = EventLog(clock=lambda: float(next(ticks)), capacity=3)
    seen: list[str] = []
    log.subscribe(lambda e: seen.append(e.event))
    for i in range(5):
        log.record("connections_cut", "db", count=i, reason="disabled")
    assert len(log) == 3
    assert [e.seq for e in log.since()] == [3, 4, 5]
    assert [e.seq for e in log.since(4)] == [5]
    assert log.since(5) == []
    assert seen == ["connections_cut"] * 5
    assert log.since()[-1].to_json() == {
        "seq": 5,
        "time": 104.0,
        "event": "connections_cut",
        "proxy": "db",
        "details": {"count": 4, "reason": "disabled"},
    }
    with pytest.raises(ValueError):
        log.record("something_else")


def test_event_log_line_flattens_the_toxic() -> None:
    log = EventLog(clock=lambda: 0.0)
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 5}})
    line = log.record("toxic_added", "db", toxic=toxic.to_json()).log_line()
    assert line == (
        "toxic_added proxy=db toxic=latency_downstream type=latency stream=downstream "
        "toxicity=1.0 latency=5 jitter=0"
    )


# -- slicer ------------------------------------------------------------------------


def test_parse_slicer_has_toxiproxys_attributes() -> None:
    toxic = parse_toxic({"type": "slicer", "attributes": {"average_size": 64, "delay": 10}})
    assert toxic.to_json()["attributes"] == {"average_size": 64, "size_variation": 0, "delay": 10}


@pytest.mark.parametrize(
    ("size", "average", "variation"),
    [(100_000, 64, 16), (65_536, 1000, 0), (7, 64, 16), (1, 1, 0), (5000, 10, 50)],
)
def test_slices_cover_the_chunk_in_order_and_stay_near_the_average(
    size: int, average: int, variation: int
) -> None:
    rng = random.Random(size)
    bounds = slice_offsets(size, average, variation, rng.randrange)
    variation = min(variation, average - 1)
    assert bounds[0] == 0 and bounds[-1] == size
    lengths = [b - a for a, b in itertools.pairwise(bounds)]
    assert all(0 < n <= max(average + variation, 1) for n in lengths)
    if size > average + variation:  # cut about in the middle, recursively
        assert all(n >= (average - variation) // 2 for n in lengths)


def test_slices_without_variation_are_halvings() -> None:
    assert slice_offsets(100, 25, 0, random.randrange) == [0, 25, 50, 75, 100]
    assert slice_offsets(10, 0, 0, random.randrange) == [0, 10]  # average 0: whole
    assert slice_offsets(0, 10, 0, random.randrange) == [0]
