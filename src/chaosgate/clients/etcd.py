"""The only module that talks to etcd (``/health`` of its v3 HTTP API).

chaosgate does not use etcd itself: Patroni keeps the database cluster's
state there (its DCS). When Patroni cannot say who leads, chaosgate asks etcd
whether it is up, so the message names the dependency that is down.
"""

from __future__ import annotations

import requests

from .http import describe_failure

__all__ = ["etcd_problem"]


def etcd_problem(url: str, timeout: float = 2.0) -> str | None:
    """Why etcd at ``url`` is not healthy (``connection refused``, ``HTTP 503``,
    ``reports health false``, ...); None when ``GET /health`` says it is."""
    try:
        resp = requests.get(url.rstrip("/") + "/health", timeout=timeout)
        resp.raise_for_status()
        health = resp.json().get("health")
    except (requests.RequestException, ValueError, AttributeError) as exc:
        return describe_failure(exc, timeout)
    return None if str(health).lower() == "true" else f"reports health {health}"
