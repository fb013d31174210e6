"""Ground truth, pure: raw records of what really happened, turned into moments.

Three sources, each read elsewhere and converted here with no I/O:

- supervisord's process events (``<state>/events.jsonl``, see
  :mod:`chaosgate.sandbox.events`): a pod or node died, was restarted,
  ran again;
- the fault proxy's ``GET /events``: a link went down or up, a toxic was
  added or removed (the fault proxy stamps each once it has taken effect);
- Patroni's ``GET /history``: each row ``[timeline, lsn, reason, timestamp,
  new_leader]`` is the end of ``timeline``, i.e. the start of ``timeline+1``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .base import Moment

__all__ = ["haproxy_moments", "history_moments", "process_moments", "proxy_moments",
           "serving_moments"]

EVENTS_SOURCE = "events.jsonl"
PROXY_SOURCE = "faultproxy /events"
HISTORY_SOURCE = "patroni /history"

_PROCESS_WHAT = {
    "EXITED": "process died",
    "BACKOFF": "process died (start failed)",
    "FATAL": "process gave up (FATAL)",
    "STOPPING": "stopping",
    "STOPPED": "stopped",
    "STARTING": "starting",
    "RUNNING": "RUNNING",
}


def process_moments(events: Iterable[Mapping[str, Any]], names: Collection[str],
                    since: float) -> list[Moment]:
    """Process state changes of ``names`` at or after ``since``."""
    moments = []
    for event in events:
        name, state, ts = event.get("process"), event.get("to", ""), event.get("ts")
        if name not in names or not isinstance(ts, int | float) or ts < since:
            continue
        what = _PROCESS_WHAT.get(state, state.lower())
        if event.get("pid"):
            what += f" (pid {event['pid']})"
        moments.append(Moment(float(ts), what, str(name), EVENTS_SOURCE))
    return moments


def _toxic_text(details: Mapping[str, Any]) -> str:
    details = details.get("toxic", details)
    attrs = details.get("attributes") or {}
    if details.get("type") == "latency":
        body = f"latency {attrs.get('latency', '?')}±{attrs.get('jitter', 0)} ms"
    elif details.get("type") == "timeout" and not attrs.get("timeout"):
        body = "blackhole"
    else:
        body = str(details.get("type", "toxic"))
    return f"{body} {details.get('stream', '')}".strip()


def proxy_moments(events: Iterable[Any], names: Collection[str], since: float,
                  toxics: Collection[str] | None = None,
                  disabled: Collection[str] | None = None) -> list[Moment]:
    """Fault proxy events (objects with ``time``, ``event``, ``proxy``, ``details``).

    ``toxics``, when given, keeps only toxic events of those toxic names;
    ``disabled``, when given, keeps link up/down events of those proxies only
    (the ones the change itself disables: another fault's partition that
    healed just before a latency is not the latency's).
    """
    moments = []
    for event in events:
        if event.proxy not in names or event.time < since:
            continue
        details = event.details
        toxic = details.get("toxic", details)
        if toxics is not None and event.event.startswith("toxic_") \
                and toxic.get("name") not in toxics:
            continue
        if disabled is not None and event.event in ("proxy_disabled", "proxy_enabled") \
                and event.proxy not in disabled:
            continue
        if event.event == "proxy_disabled":
            what = f"link down ({details.get('connections_cut', 0)} connection(s) cut)"
        elif event.event == "proxy_enabled":
            what = "link up"
        elif event.event == "toxic_added":
            what = f"{_toxic_text(details)} on"
        elif event.event == "toxic_removed":
            what = f"{_toxic_text(details)} off"
        else:
            continue
        moments.append(Moment(event.time, what, event.proxy, PROXY_SOURCE))
    return moments


def _epoch(timestamp: object) -> float | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return None


def history_moments(rows: Iterable[Sequence[Any]], since: float) -> list[Moment]:
    """Timeline changes from Patroni's ``/history`` at or after ``since``."""
    moments = []
    for row in rows:
        if len(row) < 4 or not isinstance(row[0], int):
            continue
        t = _epoch(row[3])
        if t is None or t < since:
            continue
        leader = f", leader {row[4]}" if len(row) > 4 and row[4] else ""
        moments.append(Moment(t, f"timeline {row[0] + 1} begins{leader}", "database",
                              HISTORY_SOURCE))
    return moments


HAPROXY_SOURCE = "haproxy log"
_HAPROXY_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d) "
    r"(?:Server (?P<server>\S+) is (?P<state>UP|DOWN)"
    r"|backend (?P<backend>\S+) has no server available)")


def haproxy_moments(log_lines: Iterable[str], servers: Collection[str],
                    since: float) -> list[Moment]:
    """HAProxy's server UP/DOWN and "no server available" lines (``format iso`` log).

    ``servers`` are server names (``api-0``); a backend outage is kept when
    one of its servers is named. Timestamps have microsecond precision: when
    HAProxy itself started or stopped routing to a replica.
    """
    backends = {name.rsplit("-", 1)[0] for name in servers}
    moments = []
    for line in log_lines:
        match = _HAPROXY_LINE.match(line)
        if not match:
            continue
        t = _epoch(match["ts"])
        if t is None or t < since:
            continue
        if match["server"]:
            server = match["server"].partition("/")[2]
            if server in servers:
                moments.append(Moment(t, f"HAProxy: server {match['state']}", server,
                                      HAPROXY_SOURCE))
        elif match["backend"] in backends:
            moments.append(Moment(t, "HAProxy: no server available", match["backend"],
                                  HAPROXY_SOURCE))
    return moments


POD_LOG_SOURCE = "pod log"
_SERVING = re.compile(r"serving on \S+ at (?P<epoch>\d+\.\d+)")


def serving_moments(log_lines: Iterable[str], pod: str, since: float) -> list[Moment]:
    """When a shop pod bound its socket again (``serving on … at <epoch>`` lines)."""
    moments = []
    for line in log_lines:
        match = _SERVING.search(line)
        if match and (t := float(match["epoch"])) >= since:
            moments.append(Moment(t, "serving (socket bound)", pod, POD_LOG_SOURCE))
    return moments
