"""clients.http: HAProxy's stats CSV parsing (pure) and health checks on a real socket."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from chaosgate.clients.http import (
    describe_failure,
    endpoint,
    healthy,
    parse_haproxy_csv,
    post_status,
    unreachable,
)

CSV = """# pxname,svname,qcur,status,weight
shop,FRONTEND,,OPEN,
orders,orders-0,0,UP,1
orders,orders-1,0,DOWN,1
orders,BACKEND,0,UP,2
"""


def test_parse_haproxy_csv_keeps_servers_only() -> None:
    assert parse_haproxy_csv(CSV) == {"orders/orders-0": "UP", "orders/orders-1": "DOWN"}
    assert parse_haproxy_csv("") == {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def do_POST(self) -> None:
        self.send_response(201)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthy_is_a_200_from_healthz(port: int) -> None:
    assert healthy("127.0.0.1", port)
    assert not healthy("127.0.0.1", port, path="/other")


def test_nothing_listening_is_unhealthy_not_an_error() -> None:
    import socket

    with socket.socket() as s:  # a port that is surely closed: bound, never listening
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
        assert not healthy("127.0.0.1", closed, timeout=0.5)
        assert post_status(f"http://127.0.0.1:{closed}/x", {}, timeout=0.5) == 0


def test_post_status(port: int) -> None:
    assert post_status(f"http://127.0.0.1:{port}/api/checkout", {"items": []}) == 201


# -- why a dependency is down ----------------------------------------------------------
def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_endpoint_defaults_the_port_by_scheme() -> None:
    assert endpoint("http://shop.example.com") == ("shop.example.com", 80)
    assert endpoint("https://shop.example.com/x") == ("shop.example.com", 443)
    assert endpoint("http://127.0.0.1:8008/") == ("127.0.0.1", 8008)


def test_unreachable_names_a_refused_port_and_passes_a_listening_one(port: int) -> None:
    assert unreachable(f"http://127.0.0.1:{_dead_port()}") == "connection refused"
    assert unreachable(f"http://127.0.0.1:{port}") is None


def test_describe_failure_finds_the_refusal_inside_requests_errors() -> None:
    import requests

    try:
        requests.get(f"http://127.0.0.1:{_dead_port()}/", timeout=2)
    except requests.RequestException as exc:
        assert describe_failure(exc, 2) == "connection refused"
    else:
        pytest.fail("nothing should listen on that port")
    assert describe_failure(requests.ReadTimeout("slow"), 2.5) == "no answer within 2.5 s"
