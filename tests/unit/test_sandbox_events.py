"""supervisord event parsing and restart counting, with plain data."""

from __future__ import annotations

import io
import json

from chaosgate.sandbox.events import _serve, count_restarts, parse_event, read_events

HEADER = ("ver:3.0 server:supervisor serial:21 pool:events poolserial:10 "
          "eventname:PROCESS_STATE_RUNNING len:{n}\n")
PAYLOAD = "processname:orders-1 groupname:orders-1 from_state:STARTING pid:4242"


def test_parse_running_event():
    event = parse_event(HEADER.format(n=len(PAYLOAD)), PAYLOAD, 1700000000.5)
    assert event == {"ts": 1700000000.5, "process": "orders-1", "from": "STARTING",
                     "to": "RUNNING", "pid": 4242}


def test_non_process_events_are_ignored():
    header = "ver:3.0 eventname:TICK_5 len:15\n"
    assert parse_event(header, "when:1700000000", 1.0) is None


def test_restarts_count_every_running_after_the_first():
    events = [
        {"process": "orders-1", "to": "RUNNING"},
        {"process": "gateway-0", "to": "RUNNING"},
        {"process": "orders-1", "to": "EXITED"},
        {"process": "orders-1", "to": "STARTING"},
        {"process": "orders-1", "to": "RUNNING"},
    ]
    assert count_restarts(events) == {"orders-1": 1, "gateway-0": 0}


def test_listener_protocol_round_trip(tmp_path):
    stdin = io.StringIO(HEADER.format(n=len(PAYLOAD)) + PAYLOAD)
    stdout, out = io.StringIO(), io.StringIO()
    _serve(stdin, stdout, out)
    assert stdout.getvalue() == "READY\nRESULT 2\nOKREADY\n"
    record = json.loads(out.getvalue())
    assert record["process"] == "orders-1" and record["to"] == "RUNNING"
    log = tmp_path / "events.jsonl"
    log.write_text(out.getvalue() + '{"partial": ')
    assert [e["pid"] for e in read_events(log)] == [4242]
    assert read_events(tmp_path / "absent.jsonl") == []
