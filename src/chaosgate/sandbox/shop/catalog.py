"""The catalog service: a fixed, deterministic list of products.

``GET /products`` answers ``{"products": [{"id", "name", "price_cents"}, ...]}``
(20 products, ids 1 to 20, always the same); ``GET /products/{id}`` one of
them, or 404. No state and no dependency: its failures are the ones the
harness injects (kill, freeze, partition, latency).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .cart import Product, parse_id
from .common import create_app, json_error

__all__ = ["PRODUCTS", "build_app", "product_by_id"]

_ITEMS: Final = (
    ("Chaos Monkey plush", 1999),
    ("Circuit breaker kit", 4500),
    ("Failover coffee mug", 1250),
    ("Latency budget notebook", 899),
    ("Blast radius helmet", 3999),
    ("Error budget calculator", 2450),
    ("Pager (vintage)", 7900),
    ("Runbook binder", 1575),
    ("Postmortem template pack", 500),
    ("Game day t-shirt", 2200),
    ("Canary in a cage", 12000),
    ("Rollback button", 999),
    ("Retry with jitter dice", 650),
    ("Timeout hourglass", 1800),
    ("Bulkhead shelf", 8450),
    ("Health check stethoscope", 3300),
    ("Load balancer scales", 5600),
    ("Split brain puzzle", 2750),
    ("Quorum voting cards", 1100),
    ("Nines badge (four of them)", 9999),
)

PRODUCTS: Final = tuple(
    Product(id=i, name=name, price_cents=price) for i, (name, price) in enumerate(_ITEMS, start=1)
)
_BY_ID: Final = {p.id: p for p in PRODUCTS}
_LISTING: Final = {"products": [p.to_json() for p in PRODUCTS]}


def product_by_id(product_id: int) -> Product | None:
    """The product with ``product_id``, or None."""
    return _BY_ID.get(product_id)


async def list_products(request: web.Request) -> web.Response:
    """``GET /products``: every product."""
    return web.json_response(_LISTING)


async def get_product(request: web.Request) -> web.Response:
    """``GET /products/{id}``: one product, or 404."""
    product_id = parse_id(request.match_info["id"])
    product = None if product_id is None else product_by_id(product_id)
    if product is None:
        return json_error(404, f"unknown product {request.match_info['id']!r}")
    return web.json_response(product.to_json())


def build_app(pod: str) -> web.Application:
    """The catalog application for replica ``pod``."""
    app = create_app("catalog", pod)
    app.router.add_get("/products", list_products)
    app.router.add_get("/products/{id}", get_product)
    return app
