"""The shop end to end: a real PostgreSQL 15, catalog, orders and gateway processes.

PostgreSQL runs from a temporary directory as the ``postgres`` OS user (when
the tests run as root) with trust authentication on 127.0.0.1. The services
are started exactly as supervisord starts them. No assertion is on timing:
every wait is a poll with a generous deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from _pg import Postgres, free_port, wait_until
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS, BreakerMetrics
from chaosgate.sandbox.shop.store import FAIL_MAX, WORKERS, Database, DatabaseTimeout

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Postgres.available(), reason="PostgreSQL 15 is not installed"),
]

CHECKOUT = {"items": [{"product_id": 2, "qty": 3}, {"product_id": 5, "qty": 1}], "client_seq": 41}
CHECKOUT_TOTAL = 3 * 4500 + 3999


@dataclass
class Shop:
    """URLs of the running services and the database under them."""

    gateway: str
    catalog: str
    orders: str
    pg: Postgres
    dsn: str


@dataclass
class Replica:
    """One service process started as supervisord would start it."""

    app: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def healthy(self) -> bool:
        """``/healthz`` answers 200; fails at once, with the log, if the process died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.app} exited {self.proc.returncode}:\n"
                                 f"{self.log.read_text()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> int:
        """SIGTERM, then the exit code (SIGKILL if it lingers past 30 s)."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise


def _start(root: Path, app: str, *extra: str, started: list[Replica]) -> Replica:
    port = free_port()
    log = root / f"{app}-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosgate.sandbox.shop", app,
             "--port", str(port), "--pod", f"{app}-0", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    replica = Replica(app, f"http://127.0.0.1:{port}", proc, log)
    started.append(replica)  # the caller stops it, even if it never gets healthy
    wait_until(replica.healthy, f"{app} healthy")
    return replica


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    """PostgreSQL with the shop database, and one replica of each service."""
    with Postgres.temporary() as pg:
        pg.create_shop()
        # The first host refuses connections: libpq must move on to the second.
        dsn = (f"host=127.0.0.1,127.0.0.1 port={free_port()},{pg.port} dbname=shop user=shop "
               "target_session_attrs=read-write connect_timeout=2")
        started: list[Replica] = []
        try:
            catalog = _start(pg.root, "catalog", started=started)
            orders = _start(pg.root, "orders", "--dsn", dsn, started=started)
            gateway = _start(pg.root, "gateway", "--catalog-url", catalog.url,
                             "--orders-url", orders.url, started=started)
            yield Shop(gateway.url, catalog.url, orders.url, pg, dsn)
        finally:
            for replica in started:
                replica.stop()
                print(f"--- {replica.app} log ---\n{replica.log.read_text()}")


def _scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(url: str, name: str, **labels: str) -> float | None:
    return _scrape(url).get((name, frozenset(labels.items())))


def _post(url: str, body: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=15)


def test_products_and_cart(shop: Shop) -> None:
    products = requests.get(f"{shop.gateway}/api/products", timeout=10)
    assert products.status_code == 200
    assert [p["id"] for p in products.json()["products"]] == list(range(1, 21))
    one = requests.get(f"{shop.gateway}/api/products/5", timeout=10)
    assert one.json() == {"id": 5, "name": "Blast radius helmet", "price_cents": 3999}
    assert requests.get(f"{shop.gateway}/api/products/999", timeout=10).status_code == 404
    cart = _post(f"{shop.gateway}/api/cart", {"items": CHECKOUT["items"]})
    assert cart.status_code == 200
    assert cart.json()["total_cents"] == CHECKOUT_TOTAL
    assert [line["line_cents"] for line in cart.json()["items"]] == [13500, 3999]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        ({"items": [{"product_id": 999, "qty": 1}]}, "unknown product 999"),
        ({"items": [{"product_id": 1, "qty": 0}]}, "qty must be between 1 and"),
        ({"items": []}, "1 to 50 lines"),
    ],
)
def test_bad_carts_are_refused_with_a_reason(shop: Shop, body: Any, message: str) -> None:
    for path in ("/api/cart", "/api/checkout"):
        if isinstance(body, bytes):
            resp = requests.post(f"{shop.gateway}{path}", data=body, timeout=10)
        else:
            resp = _post(f"{shop.gateway}{path}", body)
        assert resp.status_code == 400, resp.text
        assert message in resp.json()["error"]


def test_checkout_is_stored_and_readable(shop: Shop) -> None:
    resp = _post(f"{shop.gateway}/api/checkout", CHECKOUT)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["total_cents"] == CHECKOUT_TOTAL and created["client_seq"] == 41
    order = requests.get(f"{shop.gateway}/api/orders/{created['order_id']}", timeout=10)
    assert order.status_code == 200
    body = order.json()
    assert body["order_id"] == created["order_id"]
    assert (body["client_seq"], body["total_cents"]) == (41, CHECKOUT_TOTAL)
    assert [(i["product_id"], i["qty"]) for i in body["items"]] == [(2, 3), (5, 1)]
    missing = requests.get(f"{shop.gateway}/api/orders/987654321", timeout=10)
    assert missing.status_code == 404


def test_metrics_expose_the_documented_series(shop: Shop) -> None:
    requests.get(f"{shop.gateway}/api/products/7", timeout=10)
    assert _post(f"{shop.gateway}/api/checkout", CHECKOUT).status_code == 201
    gateway = _scrape(shop.gateway)
    routes = {dict(labels)["route"] for name, labels in gateway
              if name == "shop_http_requests_total"}
    assert {"/api/products/{id}", "/api/checkout"} <= routes
    assert not routes & {"/api/products/7", "/healthz", "/metrics"}
    assert gateway[("shop_http_requests_total", frozenset({
        "app": "gateway", "route": "/api/products/{id}", "method": "GET", "code": "200",
    }.items()))] >= 1
    edges = {float(dict(labels)["le"]) for name, labels in gateway
             if name == "shop_http_request_duration_seconds_bucket"
             and dict(labels)["route"] == "/api/checkout"}
    assert edges == {*LATENCY_BUCKETS, float("inf")}
    for upstream in ("catalog", "orders"):
        assert gateway[("shop_upstream_requests_total", frozenset(
            {"app": "gateway", "upstream": upstream, "outcome": "ok"}.items()))] >= 1
    assert _value(shop.orders, "shop_http_requests_total", app="orders", route="/orders",
                  method="POST", code="201")
    assert _value(shop.orders, "shop_circuit_breaker_state", breaker="postgres") == 0
    for to in ("closed", "half-open", "open"):
        assert _value(shop.orders, "shop_circuit_breaker_transitions_total",
                      breaker="postgres", to=to) is not None
    assert _value(shop.orders, "shop_db_errors_total") is not None
    assert _value(shop.catalog, "shop_http_requests_total", app="catalog",
                  route="/products", method="GET", code="200")


def _breaker_state(shop: Shop) -> float | None:
    return _value(shop.orders, "shop_circuit_breaker_state", breaker="postgres")


def test_breaker_opens_when_postgres_stops_and_recovers_after_restart(shop: Shop) -> None:
    shop.pg.stop()
    try:
        def failing_checkout_opens_breaker() -> bool:
            resp = _post(f"{shop.gateway}/api/checkout", CHECKOUT)
            assert resp.status_code == 503, resp.text
            assert resp.json()["upstream"] == "orders"
            return _breaker_state(shop) == 2

        wait_until(failing_checkout_opens_breaker, "the breaker opens")
        # Open means refused at once: orders says so itself, and the gateway relays it.
        wait_until(lambda: _post(f"{shop.orders}/orders", CHECKOUT).json()
                   == {"error": "circuit open", "breaker": "postgres"}, "orders refuses")
        wait_until(lambda: _post(f"{shop.gateway}/api/checkout", CHECKOUT).json().get("detail")
                   == "circuit open", "the gateway relays 'circuit open'")
    finally:
        shop.pg.start()
    wait_until(lambda: _post(f"{shop.gateway}/api/checkout", CHECKOUT).status_code == 201,
               "checkouts succeed again")
    assert _breaker_state(shop) == 0
    for to in ("open", "half-open", "closed"):
        transitions = _value(shop.orders, "shop_circuit_breaker_transitions_total",
                             breaker="postgres", to=to)
        assert transitions is not None and transitions >= 1
    errors = _value(shop.orders, "shop_db_errors_total")
    assert errors is not None and errors >= FAIL_MAX


def test_a_frozen_connection_is_cut_at_the_deadline(shop: Shop) -> None:
    """A backend that stops answering (SIGSTOP) must not keep a worker thread forever.

    Freezing one backend per worker: were hung workers never released, the
    last call would find none free and time out too.
    """
    database = Database(shop.dsn, BreakerMetrics("postgres", CollectorRegistry()), "freeze")
    database.breaker.fail_max = 100  # this test is about the deadline, not the breaker
    frozen: list[int] = []

    def backend_pid(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])

    async def scenario() -> int:
        for _ in range(WORKERS):
            pid = await database.run(backend_pid)  # its connection goes back to the pool
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
            with pytest.raises(DatabaseTimeout):
                await database.run(backend_pid)  # reuses the frozen connection
        return await database.run(backend_pid)

    try:
        assert asyncio.run(scenario()) not in frozen
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        database.close()


def test_services_exit_cleanly_on_sigterm(shop: Shop) -> None:
    args = {
        "catalog": (),
        "orders": ("--dsn", shop.dsn),
        "gateway": ("--catalog-url", shop.catalog, "--orders-url", shop.orders),
    }
    for app, extra in args.items():
        started: list[Replica] = []
        try:
            _start(shop.pg.root, app, *extra, started=started)
        finally:
            assert [replica.stop() for replica in started] == [0]
