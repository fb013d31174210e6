"""The orders service: stores checkouts in PostgreSQL.

- ``POST /orders`` ``{"items": [{"product_id", "qty", "price_cents"?}],
  "client_seq": int|null}`` -> 201 ``{"order_id", "total_cents"}``. The
  gateway prices the lines; a line without ``price_cents`` counts 0 in the
  total.
- ``GET /orders/{id}`` -> 200 ``{"order_id", "client_seq", "items",
  "total_cents", "created_at"}`` or 404.

Every database call goes through :class:`~.store.Database` (pool, deadline,
circuit breaker ``postgres``). While the breaker is open requests fail at
once with 503 ``{"error": "circuit open"}``; any other database failure is a
503 too. ``/healthz`` never touches the database, so a pod with an open
breaker stays in its HAProxy backend and the breaker's effect stays visible.

The service does not create its table; the sandbox manager runs
:data:`SCHEMA_SQL`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Final, TypeVar

import psycopg
import pybreaker
from aiohttp import web
from psycopg.types.json import Jsonb

from .cart import LineItem, parse_client_seq, parse_id, parse_items, quoted_total
from .common import SERVICE, ServiceError, create_app, json_error, read_json
from .metrics import BreakerMetrics
from .store import Connection, Database, DatabaseTimeout

__all__ = ["BREAKER_NAME", "SCHEMA_SQL", "build_app"]

SCHEMA_SQL: Final = """\
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY,
    client_seq bigint,
    items jsonb NOT NULL,
    total_cents bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

BREAKER_NAME: Final = "postgres"
DATABASE: Final = web.AppKey("database", Database)

T = TypeVar("T")
log = logging.getLogger("chaosgate.shop.orders")


def _one_line(exc: BaseException, limit: int = 500) -> str:
    text = " | ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text[:limit] or type(exc).__name__


def _insert(items: tuple[LineItem, ...], client_seq: int | None, total: int,
            conn: Connection) -> int:
    row = conn.execute(
        "INSERT INTO orders (client_seq, items, total_cents) VALUES (%s, %s, %s) RETURNING id",
        (client_seq, Jsonb([item.to_json() for item in items]), total),
    ).fetchone()
    if row is None:
        raise psycopg.DataError("INSERT ... RETURNING returned no row")
    return int(row[0])


def _select(order_id: int, conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, client_seq, items, total_cents, created_at FROM orders WHERE id = %s",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "order_id": row[0],
        "client_seq": row[1],
        "items": row[2],
        "total_cents": row[3],
        "created_at": row[4].isoformat(),
    }


async def _guarded(request: web.Request, op: Callable[[Connection], T]) -> T:
    """Run ``op`` on the database; every failure becomes a short 503."""
    try:
        return await request.app[DATABASE].run(op)
    except pybreaker.CircuitBreakerError:
        raise ServiceError(503, "circuit open", breaker=BREAKER_NAME) from None
    except DatabaseTimeout as exc:
        log.warning("database timeout: %s", exc)
        raise ServiceError(503, "database timeout") from None
    except psycopg.Error as exc:
        log.warning("database error %s: %s", type(exc).__name__, _one_line(exc))
        raise ServiceError(503, f"database error: {type(exc).__name__}") from None


async def create_order(request: web.Request) -> web.Response:
    """``POST /orders``: store an order, answer its id."""
    payload = await read_json(request)
    items = parse_items(payload, with_prices=True)
    client_seq = parse_client_seq(payload)
    total = quoted_total(items)
    order_id = await _guarded(request, partial(_insert, items, client_seq, total))
    return web.json_response({"order_id": order_id, "total_cents": total}, status=201)


async def get_order(request: web.Request) -> web.Response:
    """``GET /orders/{id}``: a stored order, or 404."""
    order_id = parse_id(request.match_info["id"])
    order = None if order_id is None else await _guarded(request, partial(_select, order_id))
    if order is None:
        return json_error(404, f"unknown order {request.match_info['id']!r}")
    return web.json_response(order)


def build_app(pod: str, dsn: str) -> web.Application:
    """The orders application for replica ``pod``, storing through ``dsn`` (libpq)."""
    app = create_app("orders", pod)
    metrics = BreakerMetrics(BREAKER_NAME, app[SERVICE].registry)
    database = Database(dsn, metrics, application_name=f"chaosgate-{pod}")
    app[DATABASE] = database

    async def close_database(app: web.Application) -> AsyncIterator[None]:
        yield
        database.close()

    app.cleanup_ctx.append(close_database)
    app.router.add_post("/orders", create_order)
    app.router.add_get("/orders/{id}", get_order)
    return app
