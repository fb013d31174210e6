"""Alertmanager: its API, and the webhook receiver chaosgate runs to record notifications.

Alertmanager delivers notifications by POSTing its webhook payload
(``version: "4"``: ``status``, ``receiver``, ``groupLabels``, ``alerts`` with
``labels``, ``startsAt``, ``endsAt``) to a URL. :class:`NotificationReceiver`
listens there while a game day or experiment runs and records each
notification with the time it arrived, because "the alert was delivered"
is the moment a person would have been paged: the time to detect from the
notification is measured from that, not from Alertmanager's ``startsAt``.

Records are appended to a JSON-lines file (one notification per line,
flushed and fsynced), so another process (the game day's pytest child, a
later ``chaosgate report``) reads the same record. :func:`read_notifications`
reads it back.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

__all__ = [
    "AlertmanagerClient",
    "Notification",
    "NotificationReceiver",
    "read_notifications",
    "receiving",
]

#: The largest webhook body accepted (Alertmanager's are a few KiB per alert).
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Notification:
    """One delivered notification: when it arrived, firing or resolved, and its alerts."""

    t_received: float  # epoch seconds, this machine's clock
    status: str  # "firing" or "resolved"
    receiver: str
    alerts: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def alertnames(self) -> tuple[str, ...]:
        """The ``alertname`` of every alert in it, in order."""
        return tuple(str(a.get("labels", {}).get("alertname", "")) for a in self.alerts)

    def to_json(self) -> dict[str, Any]:
        """The record written to the notifications file."""
        return {"t_received": self.t_received, "status": self.status,
                "receiver": self.receiver, "alerts": list(self.alerts)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Notification:
        """A record read back from the notifications file."""
        return cls(float(doc["t_received"]), str(doc["status"]), str(doc.get("receiver", "")),
                   tuple(doc.get("alerts", ())))


def _summary(payload: Mapping[str, Any], t_received: float) -> Notification:
    alerts = tuple({"status": a.get("status"), "labels": dict(a.get("labels", {})),
                    "startsAt": a.get("startsAt"), "endsAt": a.get("endsAt")}
                   for a in payload.get("alerts", []) if isinstance(a, Mapping))
    return Notification(t_received, str(payload.get("status", "")),
                        str(payload.get("receiver", "")), alerts)


class NotificationReceiver:
    """An HTTP server on ``host:port`` that records every webhook notification POSTed to it.

    ``start``/``stop`` run it on a thread of this process; each notification
    is appended to ``record`` (JSON lines) and kept in :attr:`notifications`.
    """

    def __init__(self, host: str, port: int, record: Path) -> None:
        self.record = record
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                t_received = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    self.send_error(413 if length else 411)
                    return
                try:
                    payload = json.loads(self.rfile.read(length))
                    if not isinstance(payload, dict):
                        raise ValueError("not an object")
                except ValueError:
                    self.send_error(400, "not an Alertmanager webhook payload")
                    return
                receiver.add(_summary(payload, t_received))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # notifications are recorded, not logged

        self._server = ThreadingHTTPServer((host, port), Handler)
        # stop() waits for the requests being handled, so a notification that arrived
        # before it is in the record when it returns
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="chaosgate-notifications", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def add(self, notification: Notification) -> None:
        """Record one notification (memory and file)."""
        line = json.dumps(notification.to_json(), ensure_ascii=False) + "\n"
        with self._lock:  # the file first: whoever sees it in memory finds it on disk
            self.record.parent.mkdir(parents=True, exist_ok=True)
            with self.record.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
            self.notifications.append(notification)

    def start(self) -> NotificationReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def receiving(host: str, port: int, record: Path) -> Iterator[NotificationReceiver | None]:
    """Run a :class:`NotificationReceiver` for the duration of the block.

    Yields None when the port is taken: another chaosgate process (the game
    day that started this one) is already receiving, into the same record.
    """
    try:
        receiver = NotificationReceiver(host, port, record)
    except OSError:
        yield None
        return
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def read_notifications(record: Path, since: float = 0.0,
                       until: float = float("inf")) -> list[Notification]:
    """The notifications recorded in ``record`` that arrived in ``[since, until]``."""
    try:
        lines = record.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            notification = Notification.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash
        if since <= notification.t_received <= until:
            out.append(notification)
    return out


class AlertmanagerClient:
    """Alertmanager's v2 API: its alerts, and posting one (what Prometheus does)."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def ready(self) -> bool:
        """Whether it answers ``/-/ready``."""
        try:
            return requests.get(f"{self.url}/-/ready", timeout=self.timeout).ok
        except requests.RequestException:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds now (``/api/v2/alerts``)."""
        resp = requests.get(f"{self.url}/api/v2/alerts", timeout=self.timeout)
        resp.raise_for_status()
        return list(resp.json())

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Send alerts as Prometheus does (``labels``, ``annotations``, ``startsAt``...)."""
        resp = requests.post(f"{self.url}/api/v2/alerts", json=list(alerts),
                             timeout=self.timeout)
        resp.raise_for_status()
