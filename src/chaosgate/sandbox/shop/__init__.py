"""The sandbox's shop: gateway, catalog and orders, three small aiohttp services.

Each replica is one process (a "pod" under supervisord) started with
``python -m chaosgate.sandbox.shop {gateway|catalog|orders} --port N --pod NAME``
and serves ``/healthz`` and ``/metrics`` besides its own API; see
:mod:`.gateway`, :mod:`.catalog` and :mod:`.orders`. Metric names and bucket
edges are in :mod:`.metrics`; the orders table's DDL is
:data:`chaosgate.sandbox.shop.orders.SCHEMA_SQL`.
"""

from __future__ import annotations

__all__ = ["APPS"]

APPS = ("gateway", "catalog", "orders")
