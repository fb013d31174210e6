"""The sandbox shop under load: browse, cart and checkout.

Runs with plain Locust as well as through chaosgate::

    locust -f loadprofiles/shop.py --host http://127.0.0.1:27000
    locust --config loadprofiles/steady.conf            # a profile (.conf)
    chaosgate load run --target targets/sandbox.yaml --profile steady --duration 30s

Mix per user (weights): list products 6, one product 5, price a cart 2,
check out 2, read back an order it placed 1. Each task sends one request,
named by its route template (``/api/products/{id}``), so statistics and
SLOs group by route. Every checkout carries a ``client_seq`` unique in the
run (``worker index * 10**9 + n``) and keeps the ``order_id`` it got back:
the user reads those orders back, and the chaosgate recorder, when loaded,
writes each (client_seq, order_id) pair to its checkout log.

Timeouts, pacing and the open model come from
:class:`chaosgate.load.users.ChaosgateHttpUser`; the shape from
:class:`chaosgate.load.shapes.ProfileShape` (``--shape``).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from typing import Any

from locust import task

from chaosgate.load.shapes import ProfileShape
from chaosgate.load.users import ChaosgateHttpUser, route

__all__ = ["ProfileShape", "ShopUser"]

PRODUCT_IDS = range(1, 21)  # the sandbox catalog's fixed products
_sequence = itertools.count(1)


def _cart() -> list[dict[str, int]]:
    picked = random.sample(PRODUCT_IDS, k=random.randint(1, 3))
    return [{"product_id": pid, "qty": random.randint(1, 3)} for pid in picked]


class ShopUser(ChaosgateHttpUser):
    """A shopper: mostly browsing, sometimes buying."""

    def on_start(self) -> None:
        """Each user remembers the orders it placed (the last 100)."""
        self.order_ids: deque[int] = deque(maxlen=100)

    def next_client_seq(self) -> int:
        """A checkout sequence number, unique across the workers of a run."""
        worker = max(int(getattr(self.environment.runner, "worker_index", 0) or 0), 0)
        return worker * 10**9 + next(_sequence)

    @task(6)
    @route("GET", "/api/products")
    def list_products(self) -> None:
        """The product listing."""
        self.client.get("/api/products", name="/api/products")

    @task(5)
    @route("GET", "/api/products/{id}")
    def view_product(self) -> None:
        """One product page."""
        self.client.get(f"/api/products/{random.choice(PRODUCT_IDS)}", name="/api/products/{id}")

    @task(2)
    @route("POST", "/api/cart")
    def price_cart(self) -> None:
        """Price a cart of one to three products."""
        self.client.post("/api/cart", json={"items": _cart()}, name="/api/cart")

    @task(2)
    @route("POST", "/api/checkout")
    def checkout(self) -> None:
        """Buy a cart; a 201 must carry the order id, which is kept."""
        seq = self.next_client_seq()
        body = {"items": _cart(), "client_seq": seq}
        with self.client.post("/api/checkout", json=body, name="/api/checkout",
                              catch_response=True, context={"client_seq": seq}) as resp:
            if resp.status_code != 201:
                return  # Locust's own status check marks it failed
            order_id = _order_id(resp)
            if order_id is None:
                resp.failure("201 without an order_id")
                return
            resp.request_meta["context"]["order_id"] = order_id
            self.order_ids.append(order_id)

    @task(1)
    @route("GET", "/api/orders/{id}")
    def view_order(self) -> None:
        """Read back an order this user placed (the product list until there is one)."""
        if not self.order_ids:
            self.client.get("/api/products", name="/api/products")
            return
        order_id = random.choice(self.order_ids)
        self.client.get(f"/api/orders/{order_id}", name="/api/orders/{id}")


def _order_id(resp: Any) -> int | None:
    try:
        value = resp.json().get("order_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
