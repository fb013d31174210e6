"""The request log: one JSON line per request the load generator sent.

This is the client-side observer of docs/architecture.md §4 (millisecond edges).
The Locust recorder writes it; timelines and exact statistics read it. Kept
tiny and dependency-free so both sides (the Locust subprocess and the
harness) share one definition.

A line: ``{"t": 1732170000.123456, "ms": 12.345, "name": "/api/checkout",
"method": "POST", "ok": true, "status": 201, "error": null}`` where ``t`` is
the request's start (epoch seconds), ``ms`` its duration, ``error`` a short
error kind (``timeout``, ``connection``, ``http_5xx``, ...) when not ok.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_encode = json.JSONEncoder(separators=(",", ":")).encode  # no per-call set-up

__all__ = ["AppendLog", "RequestRecord", "dump_record", "read_request_log", "record_line",
           "records_from"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the client saw it."""

    t: float  # start, epoch seconds
    ms: float  # duration, milliseconds
    name: str  # route template, e.g. "/api/products/{id}"
    method: str
    ok: bool
    status: int | None = None  # HTTP status, None when no response arrived
    error: str | None = None  # error kind when not ok

    @property
    def end(self) -> float:
        """When the response (or the error) arrived, epoch seconds."""
        return self.t + self.ms / 1000.0


def dump_record(record: RequestRecord, out: IO[str]) -> None:
    """Append one record as a JSON line (the caller flushes)."""
    out.write(record_line(record.t, record.ms, record.name, record.method, record.ok,
                          record.status, record.error))


def record_line(t: float, ms: float, name: str, method: str, ok: bool, status: int | None,
                error: str | None) -> str:
    """One request log line (with its newline) from a record's fields: what
    ``json.dumps`` of the record gives, built without a dict per record (the
    write path runs once per request)."""
    code = "null" if status is None else int(status)
    kind = "null" if error is None else _encode(error)
    return (f'{{"t":{t!r},"ms":{ms!r},"name":{_encode(name)},"method":{_encode(method)},'
            f'"ok":{"true" if ok else "false"},"status":{code},"error":{kind}}}\n')


def records_from(lines: Iterable[str]) -> Iterator[RequestRecord]:
    """Parse JSON lines; a torn or foreign line is skipped."""
    for line in lines:
        try:
            yield RequestRecord(**json.loads(line))
        except (json.JSONDecodeError, TypeError):
            continue


def read_request_log(path: Path | str) -> Iterator[RequestRecord]:
    """Records of a request log file, in file order."""
    with open(path, encoding="utf-8") as f:
        yield from records_from(f)


class AppendLog:
    """Lines buffered in memory (``buffer``), appended to a file in whole batches."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.buffer = io.StringIO()

    def flush(self) -> None:
        """Append what is buffered with one ``write`` per call (retried if short)."""
        text = self.buffer.getvalue()
        if text:
            self.buffer.seek(0)
            self.buffer.truncate()
            view = memoryview(text.encode())
            while view:
                view = view[os.write(self.fd, view):]

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        os.close(self.fd)
