"""The only module that talks to Prometheus (its HTTP API, ``/api/v1``).

Every call goes through a pybreaker circuit breaker: when Prometheus is
down, callers get :class:`~chaosgate.exceptions.Inconclusive` at once
instead of stacking timeouts, and an unreachable Prometheus is never
mistaken for "no errors".

Errors, by cause:

- unreachable, timing out, answering 5xx or not JSON: :class:`Inconclusive`
  (exit 3), counted by the breaker; the message names Prometheus' URL, the
  cause (connection refused, no answer within N s, HTTP 503, ...) and the
  fix (start it, or correct ``prometheus.url`` in the target file);
- a query Prometheus rejects (400 ``bad_data``, 422 ``execution``):
  :class:`PromQLError` (a usage error, exit 2) with Prometheus' message;
- wrong credentials (401/403) or a failed TLS verification:
  :class:`~chaosgate.exceptions.TargetError` naming ``prometheus.auth`` or
  ``prometheus.tls`` (exit 2). Neither of these opens the breaker.

Credentials (bearer token or basic auth, from the target's environment
variables or files) are resolved for each request and passed as a header;
they are never stored on the client, logged or put in a message.

The HTTP calls go through prometheus-api-client's ``PrometheusConnect``,
used so that it cannot blur a measurement: its retries are turned off (the
breaker decides), the range-query times it would round to whole seconds are
passed exactly through ``params``, and the raw response is kept (a
``requests`` response hook on our own session) so that refusals keep
Prometheus' own message and the result keeps its ``resultType``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pybreaker
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from ..exceptions import Inconclusive, TargetError, UsageError
from ..targets import Credentials, PrometheusConfig
from .http import describe_failure

__all__ = ["PromQLError", "PrometheusClient", "Sample", "Series"]


@dataclass(frozen=True)
class Sample:
    """One instant-vector element: labels and value."""

    labels: dict[str, str]
    value: float
    ts: float


@dataclass(frozen=True)
class Series:
    """One range-vector or range-query element: labels and ``(timestamp, value)`` samples."""

    labels: dict[str, str]
    samples: tuple[tuple[float, float], ...]


class PromQLError(UsageError):
    """Prometheus rejected a query: the PromQL (usually in the SLO catalogue) is wrong."""


class _Refused(Exception):
    """Prometheus answered, but refused (bad query, credentials): not an outage."""

    def __init__(self, error: UsageError) -> None:
        super().__init__(str(error))
        self.error = error


class _LastCall(threading.local):
    """This thread's last raw response, and why its last failed call failed."""

    response: requests.Response | None = None
    failure: str = "no answer"


class PrometheusClient:
    """Instant queries, range queries and raw samples from one Prometheus server."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        breaker: pybreaker.CircuitBreaker | None = None,
        *,
        credentials: Callable[[], Credentials] | None = None,
        verify: bool | str = True,
        source: str = "",
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self._source = source
        self._credentials = credentials or Credentials
        self._session = session or requests.Session()
        self._session.verify = verify
        self._last = _LastCall()  # this thread's last raw response and failure
        self._session.hooks["response"].append(self._keep_response)
        self._prom = PrometheusConnect(self.url, session=self._session, timeout=timeout,
                                       retry=Retry(total=0, raise_on_status=False))
        self._breaker = breaker or pybreaker.CircuitBreaker(
            fail_max=3, reset_timeout=5, exclude=[_Refused])

    def _fix(self) -> str:
        """What to do when Prometheus does not answer."""
        where = self._source or "the target file"
        return (f"Fix: start Prometheus (the sandbox: chaosgate sandbox up) or correct "
                f"prometheus.url in {where}")

    def _keep_response(self, resp: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._last.response = resp

    @classmethod
    def from_config(cls, config: PrometheusConfig, timeout: float = 5.0,
                    breaker: pybreaker.CircuitBreaker | None = None) -> PrometheusClient:
        """A client for a target's ``prometheus`` section: its URL, auth and TLS options."""
        return cls(config.url, timeout, breaker=breaker, credentials=config.credentials,
                   verify=config.verify, source=config.source)

    def _refusal(self, resp: requests.Response, params: dict[str, Any]) -> UsageError:
        if resp.status_code in (401, 403):
            return TargetError(self._source or self.url, "prometheus.auth",
                               f"Prometheus refused the credentials (HTTP {resp.status_code})",
                               "check the user and the variable or file named in "
                               "prometheus.auth (the secret itself is never shown)")
        try:
            body = resp.json()
        except ValueError:
            body = {}
        return PromQLError(
            f"Prometheus rejected the query {params.get('query')!r}: "
            f"{body.get('errorType', resp.status_code)}: {body.get('error', resp.reason)}. "
            "Fix: correct the PromQL (in the SLO catalogue) and try it in Prometheus' /graph")

    def _api(self, path: str, params: dict[str, Any]) -> Any:
        """GET an ``/api/v1`` endpoint through PrometheusConnect; its ``data``."""
        self._prom.headers = self._credentials().headers()  # resolved now, never kept

        def call() -> Any:
            self._last.response = None
            try:
                if path == "/api/v1/query":
                    self._prom.custom_query(params["query"], params=params)
                elif path == "/api/v1/query_range":
                    # start/end in params override the whole seconds the library computes
                    self._prom.custom_query_range(
                        params["query"], _epoch(params["start"]), _epoch(params["end"]),
                        params["step"], params=params)
                elif path == "/api/v1/targets":
                    self._prom.get_targets(state=params.get("state"))
                else:  # endpoints the library has no method for (rules, alertmanagers)
                    self._session.get(self.url + path, params=params, timeout=self.timeout,
                                      headers=self._prom.headers)
            except PrometheusApiClientException:
                pass  # classified from the raw response below
            except requests.RequestException as exc:
                self._last.failure = describe_failure(exc, self.timeout)
                raise
            try:
                resp = self._last.response
                if resp is None:
                    raise requests.ConnectionError(f"no answer from {self.url}{path}")
                if resp.status_code in (400, 401, 403, 422):
                    raise _Refused(self._refusal(resp, params))
                resp.raise_for_status()
                return resp.json()
            except (requests.RequestException, ValueError) as exc:
                self._last.failure = describe_failure(exc, self.timeout)
                raise

        try:
            body = self._breaker.call(call)
        except _Refused as exc:
            raise exc.error from None
        except pybreaker.CircuitBreakerError as exc:
            raise Inconclusive(f"Prometheus at {self.url} is failing ({self._last.failure}); "
                               f"not asking it now. {self._fix()}") from exc
        except requests.exceptions.SSLError:
            raise TargetError(self._source or self.url, "prometheus.tls",
                              f"TLS verification of {self.url} failed",
                              "set prometheus.tls.ca_file to the CA that signed Prometheus' "
                              "certificate") from None
        except (requests.RequestException, ValueError) as exc:
            raise Inconclusive(f"Prometheus at {self.url} is not reachable "
                               f"({self._last.failure}). {self._fix()}") from exc
        finally:
            self._prom.headers = None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise Inconclusive(f"Prometheus at {self.url} gave no usable answer to "
                               f"{params.get('query')!r}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate an instant vector query (at ``at``, epoch seconds; default now)."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._api("/api/v1/query", params)
        if data["resultType"] == "scalar":
            ts, value = data["result"]
            return [Sample({}, float(value), float(ts))]
        if data["resultType"] != "vector":
            raise PromQLError(f"the query {expr!r} returns a {data['resultType']}, not an "
                              "instant vector. Fix: aggregate it, e.g. sum(increase(...))")
        return [
            Sample(dict(r["metric"]), float(r["value"][1]), float(r["value"][0]))
            for r in data["result"]
        ]

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The single value of an aggregated query; None when it returns nothing (no data)."""
        samples = self.query(expr, at)
        if len(samples) > 1:
            raise PromQLError(f"the query {expr!r} returns {len(samples)} series, not one. "
                              "Fix: aggregate it with sum(...)")
        return samples[0].value if samples else None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate ``expr`` every ``step`` seconds from ``start`` to ``end`` (exact times)."""
        data = self._api("/api/v1/query_range", {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}",
        })
        return [_series(r) for r in data["result"]]

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        """Every sample scraped for ``selector`` in ``[start, end]``, with its own timestamp.

        Read through a range selector (``selector[<end-start>ms]``) at ``end``,
        so there is no step and no interpolation: one sample per scrape.
        """
        if "[" in selector:
            raise UsageError(f"{selector!r} already has a range; give a plain selector")
        span = max(1, round((end - start) * 1000))
        data = self._api("/api/v1/query", {"query": f"{selector}[{span}ms]",
                                           "time": f"{end:.3f}"})
        return [_series(r) for r in data["result"]]

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets with their health."""
        data = self._api("/api/v1/targets", {"state": "active"})
        return list(data["activeTargets"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus has loaded (``/api/v1/rules``), with each rule's state."""
        return list(self._api("/api/v1/rules", {})["groups"])

    def alertmanagers(self) -> list[str]:
        """The URLs of the Alertmanagers Prometheus sends alerts to."""
        data = self._api("/api/v1/alertmanagers", {})
        return [str(am["url"]) for am in data.get("activeAlertmanagers", [])]


def _epoch(value: str) -> datetime:
    return datetime.fromtimestamp(float(value), tz=UTC)


def _series(result: dict[str, Any]) -> Series:
    return Series(dict(result["metric"]),
                  tuple((float(t), float(v)) for t, v in result["values"]))
