"""The only module that checks plain HTTP endpoints: pods' ``/healthz``, HAProxy's stats
CSV, one request through an ingress, and whether an endpoint accepts connections at all.

Readiness is what a Kubernetes readiness probe sees: ``GET /healthz`` answers
200 within the timeout. Every call is bounded by a timeout; an unreachable
endpoint is "not healthy", never an exception (callers poll).

:func:`unreachable` (a TCP connect to a URL's host and port) and
:func:`describe_failure` (why a request failed, in a few words) are what
messages about a dependency that is down are made from: they name the
cause (connection refused, no answer, name not resolved) so the user can
tell a stopped service from a wrong address.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["describe_failure", "endpoint", "haproxy_server_status", "healthy", "ok",
           "parse_haproxy_csv", "post_status", "unreachable"]


def endpoint(url: str) -> tuple[str, int]:
    """``(host, port)`` of an http(s) URL (port 80 or 443 when the URL gives none). Pure."""
    parts = urlsplit(url if "//" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or (443 if parts.scheme == "https" else 80)


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A few words on why a connection or request failed (never headers or credentials).

    ``connection refused`` (nothing listens: the service is down), ``no answer
    within N s``, ``host ... not resolved``, ``connection closed without an
    answer``, ``HTTP 503``, ... Looks through the exception's causes, where
    ``requests`` and ``urllib3`` keep the socket's own error.
    """
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop()
        seen.append(e)
        todo += [c for c in (e.__cause__, e.__context__, *getattr(e, "args", ()),
                             getattr(e, "reason", None)) if isinstance(c, BaseException)]
    for e in seen:
        if isinstance(e, ConnectionRefusedError) or (
                isinstance(e, OSError) and e.errno == errno.ECONNREFUSED) \
                or "Connection refused" in str(e):
            return "connection refused"
    for e in seen:
        if isinstance(e, (TimeoutError, socket.timeout, requests.Timeout)):
            return f"no answer within {timeout:g} s"
        if isinstance(e, socket.gaierror) or "NameResolutionError" in type(e).__name__:
            return "host name not resolved"
    text = " ".join(str(e) for e in seen)
    if "RemoteDisconnected" in text or "Connection aborted" in text \
            or isinstance(exc, ConnectionResetError):
        return "connection closed without an answer"
    if isinstance(exc, ValueError):
        return "the answer is not JSON"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


def unreachable(url: str, timeout: float = 3.0) -> str | None:
    """Why a TCP connection to ``url``'s host and port cannot be made; None when it can.

    Only connects and closes (sends nothing): a pre-flight check that
    something listens there, e.g. an ingress before a load run starts.
    """
    host, port = endpoint(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return describe_failure(exc, timeout)


def healthy(host: str, port: int, *, path: str = "/healthz", timeout: float = 1.0) -> bool:
    """True when ``GET http://host:port/healthz`` answers 200 within ``timeout`` s."""
    try:
        return requests.get(f"http://{host}:{port}{path}", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def ok(url: str, *, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers 200 within ``timeout`` s (a readiness URL)."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def parse_haproxy_csv(text: str) -> dict[str, str]:
    """``backend/server`` -> status (UP, DOWN, MAINT, ...) from HAProxy's ``;csv`` stats
    (frontends and backend totals left out). Pure."""
    rows = text.splitlines()
    if not rows:
        return {}
    header = rows[0].lstrip("# ").split(",")
    servers = {}
    for row in rows[1:]:
        fields = dict(zip(header, row.split(","), strict=False))
        if fields.get("svname") not in ("FRONTEND", "BACKEND", None):
            servers[f"{fields['pxname']}/{fields['svname']}"] = fields.get("status", "")
    return servers


def haproxy_server_status(stats_url: str, timeout: float = 2.0) -> dict[str, str]:
    """Each server's status from the HAProxy stats page at ``stats_url`` (``.../stats``)."""
    resp = requests.get(f"{stats_url};csv", timeout=timeout)
    resp.raise_for_status()
    return parse_haproxy_csv(resp.text)


def post_status(url: str, body: Mapping[str, Any], timeout: float = 5.0) -> int:
    """POST ``body`` as JSON to ``url``; the HTTP status (0 when nothing answered)."""
    try:
        return requests.post(url, json=dict(body), timeout=timeout).status_code
    except requests.RequestException:
        return 0
