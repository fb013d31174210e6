"""Timelines, summaries and ground-truth conversion, with plain data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chaosgate.faults.summary import summarize
from chaosgate.faults.timeline import FaultTimeline, first, format_clock
from chaosgate.platforms.base import Moment
from chaosgate.platforms.groundtruth import history_moments, process_moments, proxy_moments

T0 = 1_700_000_000.0


def test_rows_are_in_time_order_with_offsets_from_t_inject():
    tl = FaultTimeline("cg-1", "kill-pods", "kill orders-0", t_inject=T0, t_verified=T0 + 0.2,
                  t_revert=T0 + 0.3, t_healed=T0 + 1.5)
    tl.add([Moment(T0 + 1.1, "RUNNING (pid 9)", "orders-0", "events.jsonl"),
            Moment(T0 - 0.01, "process died (pid 8)", "orders-0", "events.jsonl")])
    tl.add([Moment(T0 + 1.1, "RUNNING (pid 9)", "orders-0", "events.jsonl")])  # duplicate
    rows = tl.rows()
    assert [r.what for r in rows] == [
        "process died (pid 8)", "t_inject: fault applied", "verified: took hold",
        "t_revert: revert returned", "RUNNING (pid 9)", "verified: healed"]
    assert rows[0].offset is not None and abs(rows[0].offset + 0.01) < 1e-6
    assert tl.to_json()["t_inject"] == T0


def test_first_moment_by_subject_and_prefix():
    ms = [Moment(T0 + 2, "RUNNING (pid 2)", "a", "s"), Moment(T0 + 1, "RUNNING (pid 1)", "a", "s"),
          Moment(T0 + 0.5, "RUNNING", "b", "s")]
    found = first(ms, "a", "RUNNING", T0)
    assert found is not None and found.t == T0 + 1
    assert first(ms, "a", "RUNNING", T0 + 3) is None


def test_format_clock_is_utc_milliseconds():
    assert format_clock(0.1234) == "00:00:00.123"


def test_pod_kill_summary_gives_restart_and_ready_times():
    tl = FaultTimeline("cg-1", "kill-pods", "kill", subjects=("orders-0",), t_inject=T0,
                       t_revert=T0, t_healed=T0 + 1.4, healed_detail="2/2 ready")
    tl.add([Moment(T0 + 0.1, "process died (pid 8)", "orders-0", "events.jsonl"),
            Moment(T0 + 0.11, "starting", "orders-0", "events.jsonl"),
            Moment(T0 + 1.12, "RUNNING (pid 9)", "orders-0", "events.jsonl"),
            Moment(T0 + 1.3, "ready again", "orders-0", "readiness poll")])
    lines = summarize(tl)
    assert "restarted +0.11 s" in lines[0] and "RUNNING (pid 9) +1.12 s" in lines[0]
    assert "time until ready again: 1.30 s" in lines[1]


def test_link_summary_gives_how_long_the_link_was_down():
    tl = FaultTimeline("cg-2", "partition", "p", subjects=("orders-pg0",), t_inject=T0,
                       t_revert=T0 + 10)
    tl.add([Moment(T0 - 0.01, "link down (1 connection(s) cut)", "orders-pg0", "fp"),
            Moment(T0 + 10.0, "link up", "orders-pg0", "fp")])
    [line, _] = summarize(tl)
    assert "-0.01 s -> link up +10.00 s (10.01 s)" in line


def test_process_moments_filter_by_name_and_time():
    events = [{"ts": T0 - 10, "process": "orders-0", "to": "RUNNING", "pid": 1},
              {"ts": T0 + 1, "process": "orders-0", "to": "EXITED", "pid": 1},
              {"ts": T0 + 2, "process": "orders-1", "to": "EXITED", "pid": 2},
              {"ts": T0 + 3, "process": "orders-0", "to": "RUNNING", "pid": 3}]
    ms = process_moments(events, {"orders-0"}, T0)
    assert [(m.what, m.subject) for m in ms] == [("process died (pid 1)", "orders-0"),
                                                 ("RUNNING (pid 3)", "orders-0")]


def test_proxy_moments_and_toxic_filter():
    def ev(t, kind, proxy, details):
        return SimpleNamespace(time=t, event=kind, proxy=proxy, details=details)

    toxic = {"toxic": {"name": "cg-1-latency-upstream", "type": "latency", "stream": "upstream",
                       "attributes": {"latency": 200, "jitter": 20}}}
    other = {"toxic": {"name": "someone-else", "type": "timeout", "stream": "downstream",
                       "attributes": {"timeout": 0}}}
    events = [ev(T0, "proxy_disabled", "l1", {"connections_cut": 2}),
              ev(T0 + 1, "proxy_enabled", "l1", {}),
              ev(T0 + 2, "toxic_added", "l1", toxic),
              ev(T0 + 3, "toxic_added", "l1", other),
              ev(T0 + 4, "connections_cut", "l1", {}),
              ev(T0 + 5, "proxy_disabled", "l2", {})]
    ms = proxy_moments(events, {"l1"}, T0, toxics={"cg-1-latency-upstream"})
    assert [m.what for m in ms] == ["link down (2 connection(s) cut)", "link up",
                                    "latency 200±20 ms upstream on"]
    # a latency disables no link: another fault's partition healing just before is not its own
    ms = proxy_moments(events, {"l1"}, T0, toxics={"cg-1-latency-upstream"}, disabled=())
    assert [m.what for m in ms] == ["latency 200±20 ms upstream on"]


def test_history_rows_give_the_start_of_the_next_timeline():
    rows = [[1, 100, "no recovery target specified", "2023-11-14T22:13:20+00:00", "pg1"],
            [2, 200, "x", "not a time", "pg0"], ["bad"]]
    [m] = history_moments(rows, 0)
    assert m.what == "timeline 2 begins, leader pg1" and m.t == 1_700_000_000.0
    assert history_moments(rows, 1_800_000_000) == []


def test_haproxy_state_changes_are_ground_truth() -> None:
    from chaosgate.platforms.groundtruth import haproxy_moments

    log = [
        "[WARNING]  (1) : Server catalog/catalog-0 is DOWN, reason: Layer4 connection problem",
        "2026-11-21T07:58:55.418534+00:00 Server catalog/catalog-0 is DOWN, reason: Layer4",
        "2026-11-21T07:58:55.418551+00:00 backend catalog has no server available!",
        "2026-11-21T07:58:56.900001+00:00 Server catalog/catalog-0 is UP, reason: Layer7 check",
        "2026-11-21T07:58:57.000000+00:00 Server orders/orders-1 is UP, reason: Layer7 check",
    ]
    moments = haproxy_moments(log, {"catalog-0"}, since=0)
    assert [(m.what, m.subject) for m in moments] == [
        ("HAProxy: server DOWN", "catalog-0"),
        ("HAProxy: no server available", "catalog"),
        ("HAProxy: server UP", "catalog-0"),
    ]
    assert moments[2].t - moments[0].t == pytest.approx(1.481467, abs=1e-5)
    assert haproxy_moments(log, {"catalog-0"}, since=moments[2].t) == [moments[2]]


def test_pod_log_gives_the_moment_it_serves_again() -> None:
    from chaosgate.platforms.groundtruth import serving_moments

    log = ["2026-11-21 08:00:00,833 catalog-1 INFO chaosgate.shop: catalog (catalog-1) "
           "serving on 127.0.0.1:47013 at 1795248000.833512",
           "2026-11-21 08:00:09,000 catalog-1 INFO chaosgate.shop: catalog (catalog-1) stopped"]
    [moment] = serving_moments(log, "catalog-1", since=1795247999.0)
    assert moment.t == 1795248000.833512 and moment.subject == "catalog-1"
    assert serving_moments(log, "catalog-1", since=1795248001.0) == []


def test_link_summary_ends_at_chaos_meshs_recover_record():
    pod = "shop/orders-0"
    tl = FaultTimeline("cg-3", "partition", "p", subjects=(pod,), t_inject=T0, t_revert=T0 + 5)
    tl.add([Moment(T0 + 0.2, "apply succeeded", pod, "chaos-mesh records"),
            Moment(T0 + 5.3, "recover succeeded", pod, "chaos-mesh records")])
    [line, _] = summarize(tl)
    assert "apply succeeded +0.20 s -> recover succeeded +5.30 s (5.10 s)" in line
