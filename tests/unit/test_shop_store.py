"""The orders service's database access without a database: conninfo and the breaker.

The breaker test talks to a real closed port on 127.0.0.1 (connection refused
is a real failure), so nothing is mocked.
"""

from __future__ import annotations

import asyncio
import socket

import psycopg
import pybreaker
import pytest
from prometheus_client import CollectorRegistry
from psycopg.conninfo import conninfo_to_dict

from chaosgate.sandbox.shop.metrics import BreakerMetrics
from chaosgate.sandbox.shop.orders import SCHEMA_SQL
from chaosgate.sandbox.shop.store import (
    FAIL_MAX,
    STATEMENT_TIMEOUT_MS,
    Database,
    prepare_conninfo,
)

MULTI_HOST = (
    "host=127.0.0.1,127.0.0.1 port=47042,47043 dbname=shop user=shop "
    "target_session_attrs=read-write connect_timeout=2"
)


def test_prepare_conninfo_keeps_the_multi_host_dsn_and_adds_timeouts() -> None:
    params = conninfo_to_dict(prepare_conninfo(MULTI_HOST, "chaosgate-orders-0"))
    assert params["host"] == "127.0.0.1,127.0.0.1"
    assert params["port"] == "47042,47043"
    assert params["target_session_attrs"] == "read-write"
    assert params["connect_timeout"] == "2"
    assert params["application_name"] == "chaosgate-orders-0"
    assert params["options"] == f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"


def test_prepare_conninfo_keeps_existing_options_and_timeouts() -> None:
    dsn = "host=db dbname=shop options='-c search_path=shop' connect_timeout=7"
    params = conninfo_to_dict(prepare_conninfo(dsn, "x"))
    assert params["connect_timeout"] == "7"
    assert params["options"] == f"-c search_path=shop -c statement_timeout={STATEMENT_TIMEOUT_MS}"


def test_schema_sql_is_the_documented_table() -> None:
    assert "CREATE TABLE IF NOT EXISTS orders" in SCHEMA_SQL
    for column in ("id bigserial PRIMARY KEY", "client_seq bigint", "items jsonb NOT NULL",
                   "total_cents bigint NOT NULL", "created_at timestamptz NOT NULL DEFAULT now()"):
        assert column in SCHEMA_SQL


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_breaker_opens_after_fail_max_errors_and_then_refuses_at_once() -> None:
    registry = CollectorRegistry()
    dsn = f"host=127.0.0.1 port={_closed_port()} dbname=shop user=shop connect_timeout=2"
    database = Database(dsn, BreakerMetrics("postgres", registry), "test")

    async def scenario() -> None:
        for _ in range(FAIL_MAX):
            with pytest.raises(psycopg.OperationalError):
                await database.run(lambda conn: conn.execute("SELECT 1"))
        with pytest.raises(pybreaker.CircuitBreakerError):
            await database.run(lambda conn: conn.execute("SELECT 1"))

    try:
        asyncio.run(scenario())
    finally:
        database.close()
    assert database.breaker.current_state == pybreaker.STATE_OPEN
    assert registry.get_sample_value("shop_circuit_breaker_state", {"breaker": "postgres"}) == 2
    # The refused call never reached the database: only the real failures count.
    assert registry.get_sample_value("shop_db_errors_total") == FAIL_MAX
