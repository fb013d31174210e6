"""What the Locust side and the harness share, free of locust itself.

- :func:`error_kind`: the request log's ``error`` field from an exception
  and an HTTP status (pure);
- the client-side metric names the recorder exports (``METRIC_*``);
- :func:`add_sd_target` / :func:`remove_sd_targets`: entries of a
  Prometheus ``file_sd`` JSON file, changed under an exclusive lock and
  replaced atomically, so that several Locust workers and the harness can
  edit the same file;
- :func:`require_locust_process`: the guard of the modules that import
  locust (docs/architecture.md §1: never in the pytest or chaos process).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

__all__ = [
    "ERROR_KINDS",
    "METRIC_DURATION",
    "METRIC_IN_FLIGHT",
    "METRIC_REQUESTS",
    "METRIC_USERS",
    "OverloadError",
    "add_sd_target",
    "error_kind",
    "read_sd_targets",
    "remove_sd_targets",
    "require_locust_process",
]

METRIC_REQUESTS: Final = "chaosgate_loadgen_requests"  # counter: name, method, outcome
METRIC_DURATION: Final = "chaosgate_loadgen_request_duration_seconds"  # histogram: name, method
METRIC_IN_FLIGHT: Final = "chaosgate_loadgen_in_flight"  # gauge
METRIC_USERS: Final = "chaosgate_loadgen_users"  # gauge

#: Every ``error`` value the recorder writes; ``outcome`` label values are these plus ``ok``.
ERROR_KINDS: Final = (
    "timeout", "connection", "overload", "http_5xx", "http_4xx", "bad_response", "protocol",
    "other",
)

_TIMEOUT_NAMES = frozenset({"Timeout", "TimeoutError", "timeout", "ConnectTimeout",
                            "ReadTimeout", "ConnectionTimeout"})
_CONNECTION_NAMES = frozenset({"ConnectionError", "ConnectionRefusedError",
                               "ConnectionResetError", "ConnectionAbortedError",
                               "BrokenPipeError", "HTTPConnectionClosed", "gaierror",
                               "RemoteDisconnected", "SSLError"})
_PROTOCOL_NAMES = frozenset({"HTTPParseError", "BadStatusLine", "ChunkedEncodingError",
                             "InvalidChunkLength", "IncompleteRead"})


class OverloadError(Exception):
    """An open-model arrival dropped because the in-flight limit was reached."""


def error_kind(exc: BaseException | str | None, status: int | None) -> str:
    """Classify a failed request: timeout, connection, overload, http_5xx, ... (pure).

    The exception's class hierarchy decides first (a timeout stays a timeout
    whatever the status; a wrapper's ``original`` error counts), then the
    HTTP status; a failure with a 2xx/3xx answer (a check in the locustfile
    said no) is ``bad_response``.
    """
    # geventhttpclient wraps a timeout or a refused connection in
    # RetriesExceeded(original=...): classify what actually happened.
    for _ in range(3):
        inner = getattr(exc, "original", None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    names = {cls.__name__ for cls in type(exc).__mro__} if isinstance(exc, BaseException) else set()
    if "OverloadError" in names:
        return "overload"
    if names & _TIMEOUT_NAMES:
        return "timeout"
    if names & _CONNECTION_NAMES and not status:
        return "connection"
    if names & _PROTOCOL_NAMES:
        return "protocol"
    if status:
        if status >= 500:
            return "http_5xx"
        if status >= 400:
            return "http_4xx"
        return "bad_response"
    if names & _CONNECTION_NAMES:
        return "connection"
    return "other"


# -- Prometheus file_sd ------------------------------------------------------
@contextmanager
def _locked(sd_file: Path) -> Iterator[None]:
    sd_file.parent.mkdir(parents=True, exist_ok=True)
    with open(sd_file.with_name(sd_file.name + ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def read_sd_targets(sd_file: Path) -> list[dict[str, Any]]:
    """The file's target groups (``[]`` when it is missing, empty or torn)."""
    try:
        data = json.loads(sd_file.read_text(encoding="utf-8") or "[]")
    except (OSError, ValueError):
        return []
    return [g for g in data if isinstance(g, dict)] if isinstance(data, list) else []


def _write(sd_file: Path, groups: list[dict[str, Any]]) -> None:
    tmp = sd_file.with_name(f".{sd_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(groups, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, sd_file)  # Prometheus never sees a half-written file


def add_sd_target(sd_file: Path, address: str, labels: Mapping[str, str]) -> None:
    """Add (or replace) the target group for ``address`` with ``labels``."""
    with _locked(sd_file):
        groups = [g for g in read_sd_targets(sd_file) if address not in g.get("targets", [])]
        groups.append({"targets": [address], "labels": dict(labels)})
        _write(sd_file, groups)


def remove_sd_targets(sd_file: Path, *, address: str | None = None,
                      run_id: str | None = None) -> int:
    """Remove the groups of ``address`` and/or labelled ``run_id``; how many went."""
    with _locked(sd_file):
        groups = read_sd_targets(sd_file)
        keep = [
            g for g in groups
            if not ((address is not None and address in g.get("targets", []))
                    or (run_id is not None and g.get("labels", {}).get("run_id") == run_id))
        ]
        if len(keep) != len(groups):
            _write(sd_file, keep)
        return len(groups) - len(keep)


# -- the guard -----------------------------------------------------------------
def require_locust_process(module: str) -> None:
    """Refuse to import ``module`` (which imports locust) outside a Locust process.

    Locust monkey-patches the whole process for gevent, which breaks ssl and
    pytest-xdist in the pytest and chaos processes (docs/architecture.md §1).
    Inside ``locust`` (console script or ``python -m locust``) ``locust.main``
    is already imported. ``CHAOSGATE_ALLOW_LOCUST_IMPORT=1`` overrides the
    guard for tools that know what they do (e.g. a type checker plugin).
    """
    if "locust.main" in sys.modules or os.environ.get("CHAOSGATE_ALLOW_LOCUST_IMPORT") == "1":
        return
    raise ImportError(
        f"{module} imports locust and may only be imported inside a Locust subprocess "
        "(run it with `locust -f ...` or chaosgate.load.runner); importing locust here "
        "would monkey-patch this process with gevent"
    )
