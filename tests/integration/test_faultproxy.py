"""The fault proxy as a real subprocess, driven by the real Toxiproxy client.

Upstreams are real servers on 127.0.0.1 (a threaded TCP echo server and
http.server). Timings are only asserted from below: a 200 ms latency toxic
must make a round trip take at least ~200 ms; nothing asserts speed.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import toxiproxy
from prometheus_client.parser import text_string_to_metric_families
from toxiproxy.api import APIConsumer

pytestmark = pytest.mark.integration

WAIT = 15.0  # generous timeout for anything that should happen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello through the fault proxy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    server = _Threaded(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


class FaultProxyProcess:
    """``python -m chaosgate.sandbox.faultproxy`` on a free port."""

    def __init__(self, tmp: Path, config: list[dict[str, object]] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"faultproxy-{self.port}.log"
        argv = [sys.executable, "-m", "chaosgate.sandbox.faultproxy", "--port", str(self.port)]
        if config is not None:
            path = tmp / f"proxies-{self.port}.json"
            path.write_text(json.dumps(config))
            argv += ["--config", str(path)]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stderr=log, stdout=log)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fault proxy exited: {self.log.read_text()}")
            with contextlib.suppress(requests.RequestException):
                requests.get(self.url + "/version", timeout=1).raise_for_status()
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("fault proxy did not start")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def faultproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxyProcess]:
    proc = FaultProxyProcess(tmp_path_factory.mktemp("faultproxy"))
    yield proc
    proc.stop()


@pytest.fixture
def client(faultproxy: FaultProxyProcess) -> Iterator[toxiproxy.Toxiproxy]:
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer("127.0.0.1", faultproxy.port)
    yield server
    APIConsumer.host, APIConsumer.port = "127.0.0.1", faultproxy.port
    server.destroy_all()


@pytest.fixture
def echo_proxy(client: toxiproxy.Toxiproxy, echo_port: int, request: pytest.FixtureRequest) -> Any:
    name = request.node.name.replace("[", "_").replace("]", "")[:60]
    return client.create(upstream=f"127.0.0.1:{echo_port}", name=name, listen="127.0.0.1:0")


def connect(proxy: Any) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def api(faultproxy: FaultProxyProcess, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, faultproxy.url + path, timeout=WAIT, **kw)


# -- proxies -----------------------------------------------------------------------


def test_client_creates_lists_and_proxies_traffic(
    client: toxiproxy.Toxiproxy, echo_proxy: Any, faultproxy: FaultProxyProcess
) -> None:
    assert echo_proxy.enabled is True
    assert not echo_proxy.listen.endswith(":0")  # the chosen port is reported
    assert echo_proxy.name in client.proxies()
    assert client.running()
    assert json.loads(client.version())["version"].startswith("2.")
    with connect(echo_proxy) as sock:
        round_trip(sock, b"x" * 100_000)
    shown = api(faultproxy, "GET", f"/proxies/{echo_proxy.name}").json()
    assert shown == {
        "name": echo_proxy.name,
        "listen": echo_proxy.listen,
        "upstream": echo_proxy.upstream,
        "enabled": True,
        "toxics": [],
    }


def test_http_through_the_proxy(client: toxiproxy.Toxiproxy, http_port: int) -> None:
    proxy = client.create(upstream=f"127.0.0.1:{http_port}", name="web", listen="127.0.0.1:0")
    response = requests.get(f"http://{proxy.listen}/", timeout=WAIT)
    assert response.status_code == 200
    assert response.text == "hello through the fault proxy"


def test_errors_are_toxiproxy_shaped(faultproxy: FaultProxyProcess, echo_proxy: Any) -> None:
    body = {"name": echo_proxy.name, "upstream": echo_proxy.upstream}
    with pytest.raises(toxiproxy.exceptions.ProxyExists):
        APIConsumer.post("/proxies", json=body)
    conflict = api(faultproxy, "POST", "/proxies", json=body)
    assert (conflict.status_code, conflict.json()) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    missing = api(faultproxy, "GET", "/proxies/nope")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "proxy not found", "status": 404},
    )
    with pytest.raises(toxiproxy.exceptions.NotFound):
        echo_proxy.destroy_toxic("nope")
    no_toxic = api(faultproxy, "GET", f"/proxies/{echo_proxy.name}/toxics/nope")
    assert no_toxic.json() == {"error": "toxic not found", "status": 404}
    with pytest.raises(toxiproxy.exceptions.InvalidToxic):
        echo_proxy.add_toxic(type="no_such_toxic")
    bad = api(faultproxy, "POST", "/proxies", json={"name": "x"})
    assert bad.json() == {"error": "missing required field: upstream", "status": 400}
    busy = api(
        faultproxy, "POST", "/proxies", json={**body, "name": "dup", "listen": echo_proxy.listen}
    )
    assert busy.status_code == 500
    assert "dup" not in api(faultproxy, "GET", "/proxies").json()


def test_update_listen_moves_the_proxy(faultproxy: FaultProxyProcess, echo_proxy: Any) -> None:
    new_listen = f"127.0.0.1:{free_port()}"
    moved = api(faultproxy, "POST", f"/proxies/{echo_proxy.name}", json={"listen": new_listen})
    assert moved.json()["listen"] == new_listen
    host, port = new_listen.split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        round_trip(sock)


# -- toxics ------------------------------------------------------------------------


def test_latency_applies_to_open_and_new_connections(echo_proxy: Any) -> None:
    with connect(echo_proxy) as sock:
        round_trip(sock)
        echo_proxy.add_toxic(type="latency", attributes={"latency": 200})
        toxic = echo_proxy.get_toxic("latency_downstream")
        assert (toxic.stream, toxic.toxicity, toxic.attributes) == (
            "downstream",
            1.0,
            {"latency": 200, "jitter": 0},
        )
        assert round_trip(sock) >= 0.19  # the already open connection is slowed
        with connect(echo_proxy) as fresh:
            assert round_trip(fresh) >= 0.19
        echo_proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
        assert round_trip(sock) >= 0.29  # both directions add up
        echo_proxy.destroy_toxic("latency_downstream")
        echo_proxy.destroy_toxic("latency_upstream")
        assert echo_proxy.toxics() == {}
        round_trip(sock)  # still works once the toxics are gone


def test_removing_latency_releases_held_data(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(type="latency", attributes={"latency": 60_000})
    with connect(echo_proxy) as sock:
        sock.sendall(b"held")
        time.sleep(0.2)
        echo_proxy.destroy_toxic("latency_downstream")
        assert recv_exactly(sock, 4) == b"held"


def test_timeout_zero_holds_data_until_removed(echo_proxy: Any) -> None:
    with connect(echo_proxy) as sock:
        echo_proxy.add_toxic(type="timeout", attributes={"timeout": 0})
        sock.sendall(b"held")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(4)
        echo_proxy.destroy_toxic("timeout_downstream")
        sock.settimeout(WAIT)
        assert recv_exactly(sock, 4) == b"held"


def test_timeout_closes_the_connection_after_the_delay(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"lost")
        assert sock.recv(4) == b""  # closed, nothing delivered
        assert time.monotonic() - start >= 0.25


def test_reset_peer_sends_rst(echo_proxy: Any) -> None:
    with connect(echo_proxy) as sock:
        round_trip(sock)
        echo_proxy.add_toxic(type="reset_peer", attributes={"timeout": 100})
        start = time.monotonic()
        sock.sendall(b"doomed")
        with pytest.raises(ConnectionResetError):
            sock.recv(6)
        assert time.monotonic() - start >= 0.09


def test_bandwidth_limits_the_rate(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(type="bandwidth", attributes={"rate": 100})  # 100 KB/s
    payload = os.urandom(200_000)
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exactly(sock, len(payload)) == payload
        sender.join(WAIT)
        assert time.monotonic() - start >= 1.5  # 2 s at 100 KB/s, minus the first slice


def test_latency_delays_without_throttling(echo_proxy: Any) -> None:
    """Toxiproxy's semantics: chunks are read while earlier ones wait, so a body
    far larger than any socket buffer is taken in whole before the first of it
    comes out; with a throttling latency the send could not finish first."""
    echo_proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 2000})
    payload = os.urandom(24 << 20)
    order: list[str] = []
    with connect(echo_proxy) as sock:
        received: list[bytes] = []

        def reader() -> None:
            received.append(recv_exactly(sock, 1))
            order.append("first byte back")
            received.append(recv_exactly(sock, len(payload) - 1))

        thread = threading.Thread(target=reader)
        thread.start()
        sock.sendall(payload)
        order.append("all sent")
        thread.join(WAIT * 2)
        assert order == ["all sent", "first byte back"]
        assert b"".join(received) == payload  # whole and in order


def test_slicer_passes_everything_in_order(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(
        type="slicer", attributes={"average_size": 100, "size_variation": 30, "delay": 50}
    )
    toxic = echo_proxy.get_toxic("slicer_downstream")
    assert toxic.attributes == {"average_size": 100, "size_variation": 30, "delay": 50}
    payload = os.urandom(20_000)
    with connect(echo_proxy) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        # slices 100 ms apart (delay is in µs): the first recv cannot get the whole reply
        echo_proxy.destroy_toxic("slicer_downstream")
        echo_proxy.add_toxic(type="slicer", attributes={"average_size": 100, "delay": 100_000})
        sock.sendall(payload[:500])
        pieces = [sock.recv(500)]
        while sum(map(len, pieces)) < 500:
            pieces.append(sock.recv(500))
        assert b"".join(pieces) == payload[:500]
        assert len(pieces) >= 2


def test_limit_data_closes_after_the_limit(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(echo_proxy) as sock:
        sock.sendall(b"0123456789abcdef")
        received = b""
        while chunk := sock.recv(100):
            received += chunk
        assert received == b"0123456789"


def test_toxicity_zero_spares_connections(echo_proxy: Any) -> None:
    echo_proxy.add_toxic(type="timeout", toxicity=0.0, attributes={"timeout": 0})
    with connect(echo_proxy) as sock:
        round_trip(sock)


def test_toxic_update_changes_an_open_connection(
    faultproxy: FaultProxyProcess, echo_proxy: Any
) -> None:
    echo_proxy.add_toxic(type="latency", name="slow", attributes={"latency": 0})
    with connect(echo_proxy) as sock:
        round_trip(sock)
        path = f"/proxies/{echo_proxy.name}/toxics/slow"
        updated = api(faultproxy, "POST", path, json={"attributes": {"latency": 200}}).json()
        assert updated["attributes"] == {"latency": 200, "jitter": 0}
        assert round_trip(sock) >= 0.19


# -- disable, reset ----------------------------------------------------------------


def test_disable_cuts_open_connections_and_refuses_new_ones(echo_proxy: Any) -> None:
    host, port = echo_proxy.listen.rsplit(":", 1)
    with connect(echo_proxy) as sock:
        round_trip(sock)
        echo_proxy.disable()
        with pytest.raises(ConnectionResetError):  # cut with a RST
            sock.sendall(b"after")
            sock.recv(5)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=WAIT).close()
    echo_proxy.enable()  # the same port again
    with connect(echo_proxy) as sock:
        round_trip(sock)
    with echo_proxy.down(), pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=WAIT).close()


def test_reset_enables_everything_and_removes_toxics(
    client: toxiproxy.Toxiproxy, echo_proxy: Any
) -> None:
    echo_proxy.add_toxic(type="latency", attributes={"latency": 1000})
    echo_proxy.disable()
    assert client.reset()
    proxy = client.get_proxy(echo_proxy.name)
    assert proxy.enabled is True
    assert proxy.toxics() == {}
    with connect(proxy) as sock:
        round_trip(sock)


def test_populate(faultproxy: FaultProxyProcess, echo_port: int) -> None:
    listen = f"127.0.0.1:{free_port()}"
    body = [{"name": "pop", "listen": listen, "upstream": f"127.0.0.1:{echo_port}"}]
    first = api(faultproxy, "POST", "/populate", json=body)
    assert first.status_code == 201
    assert first.json()["proxies"][0]["listen"] == listen
    api(faultproxy, "POST", "/proxies/pop/toxics", json={"type": "latency"})
    again = api(faultproxy, "POST", "/populate", json=body).json()
    assert len(again["proxies"][0]["toxics"]) == 1  # identical: kept as it was
    invalid = api(faultproxy, "POST", "/populate", json=[{"name": "x"}])
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "missing required field: upstream at proxy 1"


# -- extensions --------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise KeyError(name, labels)


def test_metrics(faultproxy: FaultProxyProcess, echo_proxy: Any) -> None:
    name = echo_proxy.name
    echo_proxy.add_toxic(type="latency", attributes={"latency": 1})
    with connect(echo_proxy) as sock:
        round_trip(sock, b"x" * 1000)
        text = api(faultproxy, "GET", "/metrics").text
        assert metric(text, "chaosgate_faultproxy_proxy_enabled", proxy=name) == 1
        assert metric(text, "chaosgate_faultproxy_active_connections", proxy=name) == 1
        assert metric(text, "chaosgate_faultproxy_toxics_active", proxy=name) == 1
        assert metric(text, "chaosgate_faultproxy_toxic", proxy=name, type="latency") == 1
        echo_proxy.disable()
    text = api(faultproxy, "GET", "/metrics").text
    assert metric(text, "chaosgate_faultproxy_proxy_enabled", proxy=name) == 0
    assert metric(text, "chaosgate_faultproxy_active_connections", proxy=name) == 0
    assert metric(text, "chaosgate_faultproxy_connections_total", proxy=name) == 1
    closed = metric(text, "chaosgate_faultproxy_connections_closed_total", reason="disabled")
    assert closed >= 1
    for direction in ("upstream", "downstream"):
        sent = metric(text, "chaosgate_faultproxy_bytes_total", proxy=name, direction=direction)
        assert sent == 1000
        # Toxiproxy's own names and labels, for its dashboards
        labels = {"proxy": name, "direction": direction, "listener": echo_proxy.listen}
        assert metric(text, "toxiproxy_proxy_received_bytes_total", **labels) == 1000
        assert metric(text, "toxiproxy_proxy_sent_bytes_total", **labels) == 1000


def test_events_record_state_changes(faultproxy: FaultProxyProcess, echo_proxy: Any) -> None:
    before = time.time()
    seq = api(faultproxy, "GET", "/events").json()[-1]["seq"]
    with connect(echo_proxy) as sock:
        round_trip(sock)
        echo_proxy.add_toxic(type="latency", attributes={"latency": 5})
        echo_proxy.destroy_toxic("latency_downstream")
        echo_proxy.disable()
    echo_proxy.enable()
    events = api(faultproxy, "GET", f"/events?since={seq}").json()
    mine = [e for e in events if e["proxy"] == echo_proxy.name]
    assert [e["event"] for e in mine] == [
        "toxic_added",
        "toxic_removed",
        "proxy_disabled",
        "connections_cut",
        "proxy_enabled",
    ]
    assert mine[0]["details"]["toxic"]["attributes"] == {"latency": 5, "jitter": 0}
    assert mine[2]["details"]["connections_cut"] == 1
    assert mine[3]["details"] == {"count": 1, "reason": "disabled"}
    times = [e["time"] for e in mine]
    assert times == sorted(times)
    assert before - 1 <= times[0] and times[-1] <= time.time() + 1
    assert [e["seq"] for e in events] == list(range(seq + 1, seq + 1 + len(events)))


# -- the process -------------------------------------------------------------------


def test_config_file_and_clean_sigterm(tmp_path: Path, echo_port: int) -> None:
    listen = f"127.0.0.1:{free_port()}"
    config: list[dict[str, object]] = [
        {"name": "a", "listen": listen, "upstream": f"127.0.0.1:{echo_port}", "enabled": True},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": False},
    ]
    proc = FaultProxyProcess(tmp_path, config)
    try:
        proxies = requests.get(proc.url + "/proxies", timeout=WAIT).json()
        assert proxies["a"]["enabled"] is True
        assert proxies["b"]["enabled"] is False
        host, port = listen.split(":")
        with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
            round_trip(sock)
    finally:
        assert proc.stop() == 0
    log = proc.log.read_text()
    assert "proxy_enabled proxy=a" in log
    assert "stopping" in log


def test_bad_config_exits_non_zero(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="missing required field"):
        FaultProxyProcess(tmp_path, [{"name": "no-upstream"}])
