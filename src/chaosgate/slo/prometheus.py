"""The only module that talks to Prometheus (its HTTP API).

Every call goes through a pybreaker circuit breaker: when Prometheus is
down, callers get :class:`~chaosgate.exceptions.Inconclusive` at once
instead of stacking timeouts, and an unreachable Prometheus is never
mistaken for "no errors".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pybreaker
import requests

from ..exceptions import Inconclusive

__all__ = ["PrometheusClient", "Sample"]


@dataclass(frozen=True)
class Sample:
    """One instant-vector element: labels and value."""

    labels: dict[str, str]
    value: float
    ts: float


class PrometheusClient:
    """Instant and range queries against one Prometheus server."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        breaker: pybreaker.CircuitBreaker | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()
        self._breaker = breaker or pybreaker.CircuitBreaker(fail_max=3, reset_timeout=5)

    def _api(self, path: str, params: dict[str, Any]) -> Any:
        def call() -> Any:
            resp = self._session.get(f"{self.url}{path}", params=params, timeout=self.timeout)
            if resp.status_code >= 500:
                resp.raise_for_status()
            return resp.json()

        try:
            body = self._breaker.call(call)
        except pybreaker.CircuitBreakerError as exc:
            raise Inconclusive(f"Prometheus at {self.url} is failing; not asking it now") from exc
        except (requests.RequestException, ValueError) as exc:
            raise Inconclusive(f"Prometheus at {self.url} is not reachable: {exc}") from exc
        if body.get("status") != "success":
            raise Inconclusive(
                f"Prometheus rejected the query {params.get('query')!r}: "
                f"{body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate an instant vector query."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self._api("/api/v1/query", params)
        if data["resultType"] == "scalar":
            ts, value = data["result"]
            return [Sample({}, float(value), float(ts))]
        return [
            Sample(dict(r["metric"]), float(r["value"][1]), float(r["value"][0]))
            for r in data["result"]
        ]

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets with their health."""
        data = self._api("/api/v1/targets", {"state": "active"})
        return list(data["activeTargets"])
