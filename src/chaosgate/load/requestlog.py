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

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

__all__ = ["RequestRecord", "dump_record", "read_request_log", "records_from"]


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
    out.write(json.dumps(asdict(record), separators=(",", ":")) + "\n")


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
