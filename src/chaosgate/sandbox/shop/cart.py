"""Carts and prices: parse the shop's JSON bodies and price them. Pure, no I/O.

The gateway parses a client's ``{"items": [{"product_id": 3, "qty": 2}]}``,
prices it against the catalog and sends the priced lines (each with its unit
``price_cents``) to the orders service, which parses them again with
``with_prices=True`` and stores them. Every rejection is a :class:`CartError`
whose message is meant for the client (HTTP 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_LINES",
    "MAX_QTY",
    "CartError",
    "LineItem",
    "PricedCart",
    "PricedLine",
    "Product",
    "UnknownProduct",
    "parse_client_seq",
    "parse_id",
    "parse_items",
    "parse_products",
    "price_cart",
    "quoted_total",
]

MAX_LINES = 50
MAX_QTY = 1000
_BIGINT_MAX = 2**63 - 1


class CartError(ValueError):
    """A request body the shop refuses; the message says what is wrong."""


class UnknownProduct(CartError):
    """A cart line names a product the catalog does not have."""

    def __init__(self, product_id: int) -> None:
        super().__init__(f"unknown product {product_id}")
        self.product_id = product_id


@dataclass(frozen=True)
class Product:
    """A catalog entry; prices are integer cents."""

    id: int
    name: str
    price_cents: int

    def to_json(self) -> dict[str, Any]:
        """The product as the catalog serves it."""
        return {"id": self.id, "name": self.name, "price_cents": self.price_cents}


@dataclass(frozen=True)
class LineItem:
    """One requested cart line; ``price_cents`` is set only once priced."""

    product_id: int
    qty: int
    price_cents: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The line as the orders service stores it."""
        return {"product_id": self.product_id, "qty": self.qty, "price_cents": self.price_cents}


@dataclass(frozen=True)
class PricedLine:
    """A cart line with the catalog's name and unit price."""

    product_id: int
    name: str
    qty: int
    price_cents: int

    @property
    def line_cents(self) -> int:
        """Unit price times quantity."""
        return self.price_cents * self.qty

    def to_json(self) -> dict[str, Any]:
        """The line as the gateway returns it and sends it to the orders service."""
        return {
            "product_id": self.product_id,
            "name": self.name,
            "qty": self.qty,
            "price_cents": self.price_cents,
            "line_cents": self.line_cents,
        }


@dataclass(frozen=True)
class PricedCart:
    """Priced lines and their total."""

    lines: tuple[PricedLine, ...]

    @property
    def total_cents(self) -> int:
        """Sum of the lines."""
        return sum(line.line_cents for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        """``{"items": [...], "total_cents": n}``."""
        return {"items": [line.to_json() for line in self.lines], "total_cents": self.total_cents}


def _int_field(item: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CartError(f"{where}.{key} must be an integer")
    if not low <= value <= high:
        raise CartError(f"{where}.{key} must be between {low} and {high}, got {value}")
    return value


def parse_items(payload: Any, *, with_prices: bool = False) -> tuple[LineItem, ...]:
    """Validate ``payload["items"]``: 1 to MAX_LINES lines, qty 1 to MAX_QTY.

    With ``with_prices`` each line may carry a unit ``price_cents`` (the
    gateway's quote); a line without one is stored at price 0.
    """
    if not isinstance(payload, Mapping):
        raise CartError("request body must be a JSON object")
    items = payload.get("items")
    if not isinstance(items, list):
        raise CartError('"items" must be a list of {"product_id": int, "qty": int}')
    if not 1 <= len(items) <= MAX_LINES:
        raise CartError(f'"items" must hold 1 to {MAX_LINES} lines, got {len(items)}')
    lines = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, Mapping):
            raise CartError(f"{where} must be an object")
        product_id = _int_field(item, "product_id", where, 1, _BIGINT_MAX)
        qty = _int_field(item, "qty", where, 1, MAX_QTY)
        price = None
        if with_prices and item.get("price_cents") is not None:
            price = _int_field(item, "price_cents", where, 0, 10**9)
        lines.append(LineItem(product_id, qty, price))
    return tuple(lines)


def quoted_total(items: tuple[LineItem, ...]) -> int:
    """Total of lines priced by the caller; an unpriced line counts 0."""
    return sum(item.qty * (item.price_cents or 0) for item in items)


def parse_client_seq(payload: Mapping[str, Any]) -> int | None:
    """The optional ``client_seq`` (the load generator's sequence number)."""
    seq = payload.get("client_seq")
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or not -_BIGINT_MAX <= seq <= _BIGINT_MAX:
        raise CartError('"client_seq" must be a 64-bit integer or null')
    return int(seq)


def parse_id(text: str) -> int | None:
    """A positive 64-bit id from a URL path segment, or None (the caller says 404)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= _BIGINT_MAX else None


def parse_products(body: Any) -> dict[int, Product]:
    """The catalog's ``{"products": [...]}`` answer, keyed by id.

    Raises ValueError when the catalog's answer is malformed (a bad upstream,
    not a bad client).
    """
    try:
        products = [
            Product(int(p["id"]), str(p["name"]), int(p["price_cents"])) for p in body["products"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed catalog answer: {exc!r}") from None
    return {p.id: p for p in products}


def price_cart(items: tuple[LineItem, ...], catalog: Mapping[int, Product]) -> PricedCart:
    """Price every line at the catalog's current price; unknown products are refused."""
    lines = []
    for item in items:
        product = catalog.get(item.product_id)
        if product is None:
            raise UnknownProduct(item.product_id)
        lines.append(PricedLine(product.id, product.name, item.qty, product.price_cents))
    return PricedCart(tuple(lines))
