"""supervisord event listener: every process state change as a JSON line.

Run by supervisord as ``python -m chaosgate.sandbox.events FILE``. Each
PROCESS_STATE event becomes one line ``{"ts", "process", "from", "to",
"pid"}`` appended (and flushed) to FILE. This log is the sandbox's ground
truth for when a pod died, was restarted and ran again; ``sandbox status``
counts restarts from it, and fault timelines read it.

The parsing helpers are pure; only :func:`main` does I/O.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ProcessEvent", "count_restarts", "parse_event", "read_events"]

ProcessEvent = dict[str, Any]


def _tokens(text: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def parse_event(header_line: str, payload: str, ts: float) -> ProcessEvent | None:
    """Turn one supervisord event (header + payload) into a record, or None."""
    header = _tokens(header_line)
    name = header.get("eventname", "")
    if not name.startswith("PROCESS_STATE_"):
        return None
    body = _tokens(payload.split("\n", 1)[0])
    pid = body.get("pid")
    return {
        "ts": round(ts, 6),
        "process": body.get("processname", ""),
        "from": body.get("from_state", ""),
        "to": name.removeprefix("PROCESS_STATE_"),
        "pid": int(pid) if pid and pid.isdigit() else None,
    }


def read_events(path: Path) -> list[ProcessEvent]:
    """All events recorded so far (an absent file means none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written as we read
    return events


def count_restarts(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Restarts per process: every RUNNING after the first one.

    A stop requested through supervisor (``sandbox down``) is not a restart;
    an unexpected exit or a kill followed by a new RUNNING is.
    """
    running: dict[str, int] = {}
    for event in events:
        if event.get("to") == "RUNNING":
            running[event["process"]] = running.get(event["process"], 0) + 1
    return {name: max(0, n - 1) for name, n in running.items()}


def _serve(stdin: TextIO, stdout: TextIO, out: TextIO) -> None:
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header_line = stdin.readline()
        if not header_line:
            return
        length = int(_tokens(header_line).get("len", "0"))
        payload = stdin.read(length)
        record = parse_event(header_line, payload, time.time())
        if record is not None:
            out.write(json.dumps(record) + "\n")
            out.flush()
        stdout.write("RESULT 2\nOK")
        stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point for supervisord's ``[eventlistener:events]``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m chaosgate.sandbox.events EVENTS_FILE", file=sys.stderr)
        return 2
    with open(args[0], "a", encoding="utf-8") as out:
        _serve(sys.stdin, sys.stdout, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
