"""Cart parsing, validation and pricing (chaosgate.sandbox.shop.cart): plain data."""

from __future__ import annotations

from typing import Any

import pytest

from chaosgate.sandbox.shop.cart import (
    MAX_LINES,
    CartError,
    LineItem,
    Product,
    UnknownProduct,
    parse_client_seq,
    parse_id,
    parse_items,
    parse_products,
    price_cart,
    quoted_total,
)
from chaosgate.sandbox.shop.catalog import PRODUCTS

CATALOG = {1: Product(1, "mug", 1250), 2: Product(2, "pager", 7900)}


def test_parse_items_accepts_a_well_formed_cart() -> None:
    payload = {"items": [{"product_id": 1, "qty": 2}, {"product_id": 2, "qty": 1}]}
    assert parse_items(payload) == (LineItem(1, 2), LineItem(2, 1))


def test_parse_items_ignores_prices_unless_asked() -> None:
    payload = {"items": [{"product_id": 1, "qty": 2, "price_cents": 5}]}
    assert parse_items(payload) == (LineItem(1, 2),)
    assert parse_items(payload, with_prices=True) == (LineItem(1, 2, 5),)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "JSON object"),
        ({}, '"items" must be a list'),
        ({"items": []}, "1 to 50 lines"),
        ({"items": [{"product_id": 1, "qty": 1}] * (MAX_LINES + 1)}, "1 to 50 lines"),
        ({"items": ["x"]}, "items[0] must be an object"),
        ({"items": [{"qty": 1}]}, "items[0].product_id must be an integer"),
        ({"items": [{"product_id": "1", "qty": 1}]}, "product_id must be an integer"),
        ({"items": [{"product_id": True, "qty": 1}]}, "product_id must be an integer"),
        ({"items": [{"product_id": 1, "qty": 0}]}, "items[0].qty must be between 1 and 1000"),
        ({"items": [{"product_id": 1, "qty": -3}]}, "qty must be between"),
        ({"items": [{"product_id": 1, "qty": 1.5}]}, "qty must be an integer"),
        ({"items": [{"product_id": 0, "qty": 1}]}, "product_id must be between"),
        ({"items": [{"product_id": 2**63, "qty": 1}]}, "product_id must be between"),
    ],
)
def test_parse_items_rejects_bad_input_with_a_clear_message(payload: Any, message: str) -> None:
    with pytest.raises(CartError) as info:
        parse_items(payload)
    assert message in str(info.value)


def test_parse_items_rejects_a_negative_price() -> None:
    payload = {"items": [{"product_id": 1, "qty": 1, "price_cents": -1}]}
    with pytest.raises(CartError, match="price_cents"):
        parse_items(payload, with_prices=True)


@pytest.mark.parametrize(("payload", "expected"), [({}, None), ({"client_seq": None}, None),
                                                    ({"client_seq": 0}, 0), ({"client_seq": 7}, 7)])
def test_parse_client_seq(payload: dict[str, Any], expected: int | None) -> None:
    assert parse_client_seq(payload) == expected


@pytest.mark.parametrize("seq", ["7", 1.0, True, 2**63])
def test_parse_client_seq_rejects_non_integers(seq: Any) -> None:
    with pytest.raises(CartError, match="client_seq"):
        parse_client_seq({"client_seq": seq})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1), ("0", None), ("-1", None),
     ("abc", None), ("", None), ("1.5", None), (str(2**63), None), ("٣", None)],
)
def test_parse_id(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_price_cart_totals_lines_at_catalog_prices() -> None:
    cart = price_cart((LineItem(1, 2), LineItem(2, 1), LineItem(1, 1)), CATALOG)
    assert [line.line_cents for line in cart.lines] == [2500, 7900, 1250]
    assert cart.total_cents == 11650
    assert cart.to_json()["items"][1] == {
        "product_id": 2, "name": "pager", "qty": 1, "price_cents": 7900, "line_cents": 7900,
    }


def test_price_cart_ignores_client_prices() -> None:
    assert price_cart((LineItem(1, 1, price_cents=1),), CATALOG).total_cents == 1250


def test_price_cart_refuses_unknown_products() -> None:
    with pytest.raises(UnknownProduct, match="unknown product 3") as info:
        price_cart((LineItem(1, 1), LineItem(3, 1)), CATALOG)
    assert info.value.product_id == 3


def test_quoted_total_counts_unpriced_lines_as_zero() -> None:
    assert quoted_total((LineItem(1, 3, 100), LineItem(2, 5))) == 300


def test_parse_products_round_trips_the_catalog_listing() -> None:
    listing = {"products": [p.to_json() for p in PRODUCTS]}
    assert parse_products(listing) == {p.id: p for p in PRODUCTS}


@pytest.mark.parametrize("body", [None, [], {"products": [{"id": 1}]}, {"products": [{"id": "x",
                                  "name": "n", "price_cents": 1}]}])
def test_parse_products_rejects_a_malformed_catalog_answer(body: Any) -> None:
    with pytest.raises(ValueError, match="malformed catalog answer"):
        parse_products(body)


def test_catalog_is_deterministic_and_well_formed() -> None:
    assert [p.id for p in PRODUCTS] == list(range(1, 21))
    assert len({p.name for p in PRODUCTS}) == 20
    assert all(isinstance(p.price_cents, int) and p.price_cents > 0 for p in PRODUCTS)
