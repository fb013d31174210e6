"""The gateway: the shop's public API, behind the HAProxy ingress.

Routes (all JSON):

- ``GET /api/products``, ``GET /api/products/{id}``: proxied to the catalog;
- ``POST /api/cart`` ``{"items": [{"product_id", "qty"}]}``: priced against the
  catalog, ``{"items": [...], "total_cents": n}``;
- ``POST /api/checkout`` ``{"items": [...], "client_seq": n}``: priced, then
  stored by the orders service; 201 ``{"order_id", "total_cents", "client_seq"}``;
- ``GET /api/orders/{id}``: proxied to the orders service.

Upstream calls share one aiohttp ClientSession (keep-alive, connect timeout
1 s, total 3 s). A failed upstream gives 502 (unreachable, bad answer), 503
(the upstream said 503, e.g. its circuit breaker is open) or 504 (timeout),
with ``{"error": ..., "upstream": name}``. Bad input gives 400.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
from aiohttp import web

from .cart import parse_client_seq, parse_id, parse_items, parse_products, price_cart
from .common import SERVICE, ServiceError, create_app, json_error, read_json
from .metrics import UpstreamMetrics

__all__ = ["CONNECT_TIMEOUT", "TOTAL_TIMEOUT", "Upstream", "build_app"]

CONNECT_TIMEOUT: Final = 1.0
TOTAL_TIMEOUT: Final = 3.0

log = logging.getLogger("chaosgate.shop.gateway")


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


class Upstream:
    """One upstream service, called through the gateway's shared session."""

    def __init__(self, name: str, base_url: str, metrics: UpstreamMetrics) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.metrics = metrics
        self.session: aiohttp.ClientSession | None = None  # set while the app runs

    def _fail(self, outcome: str, status: int, message: str, detail: Any = None) -> ServiceError:
        self.metrics.count(self.name, outcome)
        log.warning("upstream %s: %s%s", self.name, message, f" ({detail})" if detail else "")
        extra = {"upstream": self.name}
        if isinstance(detail, str):
            extra["detail"] = detail
        return ServiceError(status, message, **extra)

    async def call(
        self, method: str, path: str, payload: Any = None, expect: tuple[int, ...] = (200,)
    ) -> tuple[int, Any]:
        """``(status, JSON body)`` of ``method path``; a ServiceError for anything else.

        ``expect`` lists the statuses the caller handles; 5xx, other statuses,
        a non-JSON body, a timeout or no connection raise 502, 503 or 504.
        """
        if self.session is None:
            raise RuntimeError("the gateway's client session is not running")
        try:
            async with self.session.request(method, self.base_url + path, json=payload) as resp:
                status, raw = resp.status, await resp.read()
        except TimeoutError:
            raise self._fail("timeout", 504, f"{self.name} timed out") from None
        except aiohttp.ClientError as exc:
            raise self._fail(
                "connection_error", 502, f"{self.name} unreachable: {type(exc).__name__}"
            ) from None
        body = _decode(raw)
        detail = body.get("error") if isinstance(body, dict) else None
        if status >= 500:
            code = 503 if status == 503 else 502
            raise self._fail("http_error", code, f"{self.name} failed with HTTP {status}", detail)
        self.metrics.count(self.name, "ok")
        if status not in expect or body is None:
            log.warning("upstream %s: unexpected HTTP %d (%s)", self.name, status, detail)
            raise ServiceError(
                502, f"{self.name} answered HTTP {status} unexpectedly", upstream=self.name
            )
        return status, body


CATALOG: Final = web.AppKey("catalog", Upstream)
ORDERS: Final = web.AppKey("orders", Upstream)


async def _catalog_prices(request: web.Request) -> dict[int, Any]:
    _, body = await request.app[CATALOG].call("GET", "/products")
    try:
        return parse_products(body)
    except ValueError as exc:
        raise ServiceError(502, str(exc), upstream="catalog") from None


async def list_products(request: web.Request) -> web.Response:
    """``GET /api/products``: the catalog's product list."""
    _, body = await request.app[CATALOG].call("GET", "/products")
    return web.json_response(body)


async def get_product(request: web.Request) -> web.Response:
    """``GET /api/products/{id}``: one product, or 404."""
    product_id = parse_id(request.match_info["id"])
    if product_id is None:
        return json_error(404, f"unknown product {request.match_info['id']!r}")
    status, body = await request.app[CATALOG].call(
        "GET", f"/products/{product_id}", expect=(200, 404)
    )
    return web.json_response(body, status=status)


async def cart(request: web.Request) -> web.Response:
    """``POST /api/cart``: validate and price the items against the catalog."""
    items = parse_items(await read_json(request))
    priced = price_cart(items, await _catalog_prices(request))
    return web.json_response(priced.to_json())


async def checkout(request: web.Request) -> web.Response:
    """``POST /api/checkout``: price the items, then have the orders service store them."""
    payload = await read_json(request)
    items = parse_items(payload)
    client_seq = parse_client_seq(payload)
    priced = price_cart(items, await _catalog_prices(request))
    order = {"items": [line.to_json() for line in priced.lines], "client_seq": client_seq}
    _, body = await request.app[ORDERS].call("POST", "/orders", order, expect=(201,))
    order_id = body.get("order_id") if isinstance(body, dict) else None
    if not isinstance(order_id, int):
        raise ServiceError(502, "orders answered without an order_id", upstream="orders")
    result = {"order_id": order_id, "total_cents": priced.total_cents, "client_seq": client_seq}
    return web.json_response(result, status=201)


async def get_order(request: web.Request) -> web.Response:
    """``GET /api/orders/{id}``: a stored order, or 404."""
    order_id = parse_id(request.match_info["id"])
    if order_id is None:
        return json_error(404, f"unknown order {request.match_info['id']!r}")
    status, body = await request.app[ORDERS].call("GET", f"/orders/{order_id}", expect=(200, 404))
    return web.json_response(body, status=status)


def build_app(pod: str, catalog_url: str, orders_url: str) -> web.Application:
    """The gateway application for replica ``pod``."""
    app = create_app("gateway", pod)
    metrics = UpstreamMetrics("gateway", ("catalog", "orders"), app[SERVICE].registry)
    upstreams = (Upstream("catalog", catalog_url, metrics), Upstream("orders", orders_url, metrics))
    app[CATALOG], app[ORDERS] = upstreams

    async def client_session(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, sock_connect=CONNECT_TIMEOUT)
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            for upstream in upstreams:
                upstream.session = session
            yield
            for upstream in upstreams:
                upstream.session = None
        await asyncio.sleep(0)  # let the connector close its transports

    app.cleanup_ctx.append(client_session)
    app.router.add_get("/api/products", list_products)
    app.router.add_get("/api/products/{id}", get_product)
    app.router.add_post("/api/cart", cart)
    app.router.add_post("/api/checkout", checkout)
    app.router.add_get("/api/orders/{id}", get_order)
    return app
