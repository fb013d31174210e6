"""The fault proxy's state-change journal, served as ``GET /events``.

Pure: the clock is injected. Each event is a JSON object::

    {"seq": 7, "time": 1732170000.123456, "event": "proxy_disabled",
     "proxy": "gateway-catalog", "details": {...}}

``seq`` increases by one per event (``GET /events?since=7`` returns the later
ones), ``time`` is epoch seconds taken when the change had taken effect (the
listener closed and the connections were cut, or the toxic was attached to
every open connection), so it is ground truth for fault-timing measurements.
Only the last :data:`CAPACITY` events are kept.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["CAPACITY", "EVENT_KINDS", "Event", "EventLog"]

CAPACITY = 1000

# What each kind's "details" holds.
EVENT_KINDS: Mapping[str, str] = {
    "proxy_created": "listen, upstream, enabled",
    "proxy_updated": "listen, upstream, enabled (after the change)",
    "proxy_deleted": "listen, upstream",
    "proxy_enabled": "listen, upstream",
    "proxy_disabled": "listen, upstream, connections_cut",
    "connections_cut": "count, reason (disabled | deleted | updated | shutdown)",
    "toxic_added": "the toxic (name, type, stream, toxicity, attributes)",
    "toxic_updated": "the toxic after the change",
    "toxic_removed": "the toxic as it was",
    "reset": "proxies (how many), toxics_removed",
}


@dataclass(frozen=True)
class Event:
    """One state change of the fault proxy."""

    seq: int
    time: float
    event: str
    proxy: str
    details: Mapping[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The event as ``GET /events`` returns it."""
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "proxy": self.proxy,
            "details": dict(self.details),
        }

    def log_line(self) -> str:
        """A one-line human summary for the log."""
        parts = [self.event, f"proxy={self.proxy}"] if self.proxy else [self.event]
        return " ".join(parts + _flatten(self.details))


def _flatten(details: Mapping[str, object]) -> list[str]:
    """``key=value`` words; a nested mapping's ``name`` is shown under its key."""
    words: list[str] = []
    for key, value in details.items():
        if isinstance(value, Mapping):
            inner = dict(value)
            if "name" in inner:
                words.append(f"{key}={inner.pop('name')}")
            words += _flatten(inner)
        else:
            words.append(f"{key}={value}")
    return words


class EventLog:
    """A bounded, ordered journal of events with listeners (e.g. a logger)."""

    def __init__(self, clock: Callable[[], float] = time.time, capacity: int = CAPACITY) -> None:
        self._clock = clock
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event recorded from now on."""
        self._listeners.append(listener)

    def record(self, kind: str, proxy: str = "", **details: object) -> Event:
        """Append an event stamped with the clock's current time."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        self._seq += 1
        event = Event(self._seq, self._clock(), kind, proxy, details)
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def since(self, seq: int = 0) -> list[Event]:
        """Events with a sequence number greater than ``seq``, oldest first."""
        return [e for e in self._events if e.seq > seq]

    def __len__(self) -> int:
        return len(self._events)
