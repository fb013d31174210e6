"""The Prometheus client's own behaviour: how it authenticates, what it sends, how it fails.

A real Prometheus cannot show which header a client sent (and has no bearer
tokens), so a tiny local HTTP endpoint records the requests here; queries
against a real Prometheus (with basic auth and TLS) are in
tests/integration/test_slo_sandbox.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pybreaker
import pytest

from chaosgate.clients.prometheus import PrometheusClient, PromQLError
from chaosgate.exceptions import Inconclusive, TargetError
from chaosgate.targets import BasicAuth, PrometheusAuth, PrometheusConfig

TOKEN = "tok-4f1b9c"  # a fake secret; it must never show up in a message


class Endpoint:
    """Records each request; answers with the next queued (status, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                endpoint.requests.append({"path": url.path, "params": parse_qs(url.query),
                                          "headers": dict(self.headers)})
                status, body = endpoint.answers.pop(0) if endpoint.answers else (200, VECTOR)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"job": "x"}, "value": [1700000000.5, "42"]}]}}
MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"job": "x"}, "values": [[1700000000.0, "1"], [1700000001.0, "3"]]}]}}


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.server.shutdown()


def config(url: str, auth: PrometheusAuth | None = None) -> PrometheusConfig:
    return PrometheusConfig(url=url, scrape_interval=1.0, auth=auth, source="t.yaml")


def test_bearer_token_from_the_environment(endpoint: Endpoint,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    client = PrometheusClient.from_config(
        config(endpoint.url, PrometheusAuth(bearer_token_env="PROM_TOKEN")))
    assert client.value("sum(up)") == 42.0
    assert endpoint.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(client.__dict__)  # resolved per request, never kept


def test_basic_auth_from_a_file(endpoint: Endpoint, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t\n")
    client = PrometheusClient.from_config(config(endpoint.url, PrometheusAuth(
        basic=BasicAuth(username="chaosgate", password_file=secret))))
    client.query("up")
    assert endpoint.requests[0]["headers"]["Authorization"] == "Basic Y2hhb3NnYXRlOnMzY3IzdA=="


def test_a_missing_secret_is_a_target_error(endpoint: Endpoint,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    client = PrometheusClient.from_config(
        config(endpoint.url, PrometheusAuth(bearer_token_env="PROM_TOKEN")))
    with pytest.raises(TargetError, match="PROM_TOKEN is not set"):
        client.query("up")
    assert endpoint.requests == []


def test_refused_credentials_name_the_field_not_the_secret(
        endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    endpoint.answers = [(401, {"status": "error"})] * 5
    client = PrometheusClient.from_config(
        config(endpoint.url, PrometheusAuth(bearer_token_env="PROM_TOKEN")))
    for _ in range(4):  # refusals do not open the breaker
        with pytest.raises(TargetError) as info:
            client.query("up")
        assert info.value.field == "prometheus.auth" and TOKEN not in str(info.value)


def test_rejected_query_is_a_usage_error_with_prometheus_message(endpoint: Endpoint) -> None:
    endpoint.answers = [(400, {"status": "error", "errorType": "bad_data",
                               "error": "1:5: parse error: unexpected end of input"})]
    with pytest.raises(PromQLError, match="bad_data: 1:5: parse error"):
        PrometheusClient(endpoint.url).query("sum(")


def test_outage_is_inconclusive_and_opens_the_breaker(endpoint: Endpoint) -> None:
    endpoint.answers = [(503, {"status": "error"})] * 2
    client = PrometheusClient(endpoint.url, breaker=pybreaker.CircuitBreaker(
        fail_max=2, reset_timeout=60))
    with pytest.raises(Inconclusive, match="HTTP 503"):
        client.query("up")
    with pytest.raises(Inconclusive):
        client.query("up")
    with pytest.raises(Inconclusive, match="not asking it now"):
        client.query("up")
    assert len(endpoint.requests) == 2


def test_a_dead_port_is_inconclusive() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Inconclusive, match="not reachable"):
        PrometheusClient(f"http://127.0.0.1:{port}", timeout=2).query("up")


def test_raw_samples_use_a_range_selector_at_the_end_time(endpoint: Endpoint) -> None:
    endpoint.answers = [(200, MATRIX)]
    [series] = PrometheusClient(endpoint.url).raw_samples('c{a="b"}', 1000.25, 1300.75)
    assert series.samples == ((1700000000.0, 1.0), (1700000001.0, 3.0))
    params = endpoint.requests[0]["params"]
    assert params["query"] == ['c{a="b"}[300500ms]'] and params["time"] == ["1300.750"]
    with pytest.raises(Exception, match="already has a range"):
        PrometheusClient(endpoint.url).raw_samples("c[5m]", 0, 1)


def test_range_queries_keep_sub_second_times(endpoint: Endpoint) -> None:
    endpoint.answers = [(200, MATRIX)]
    PrometheusClient(endpoint.url).query_range("up", 1000.125, 1010.5, 0.5)
    params = endpoint.requests[0]["params"]
    assert (params["start"], params["end"], params["step"]) == (["1000.125"], ["1010.500"],
                                                                ["0.5"])


def test_value_needs_one_series(endpoint: Endpoint) -> None:
    two = {"status": "success", "data": {"resultType": "vector", "result": [
        VECTOR["data"]["result"][0], VECTOR["data"]["result"][0]]}}
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    endpoint.answers = [(200, two), (200, empty)]
    client = PrometheusClient(endpoint.url)
    with pytest.raises(PromQLError, match="returns 2 series"):
        client.value("up")
    assert client.value("up") is None  # no data, never zero
