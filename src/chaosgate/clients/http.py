"""The only module that checks plain HTTP endpoints: pods' ``/healthz``, HAProxy's stats
CSV, and one request through an ingress.

Readiness is what a Kubernetes readiness probe sees: ``GET /healthz`` answers
200 within the timeout. Every call is bounded by a timeout; an unreachable
endpoint is "not healthy", never an exception (callers poll).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

__all__ = ["haproxy_server_status", "healthy", "parse_haproxy_csv", "post_status"]


def healthy(host: str, port: int, *, path: str = "/healthz", timeout: float = 1.0) -> bool:
    """True when ``GET http://host:port/healthz`` answers 200 within ``timeout`` s."""
    try:
        return requests.get(f"http://{host}:{port}{path}", timeout=timeout).status_code == 200
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
