"""The shared app shell (healthz, metrics, errors) on the catalog, in process, and the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chaosgate.sandbox.shop import catalog
from chaosgate.sandbox.shop.__main__ import main


async def _exchange(requests: list[tuple[str, str]]) -> list[tuple[int, Any]]:
    async with TestClient(TestServer(catalog.build_app("catalog-0"))) as client:
        results = []
        for method, path in requests:
            resp = await client.request(method, path)
            body = await (resp.text() if path == "/metrics" else resp.json())
            results.append((resp.status, body))
        return results


def test_catalog_answers_healthz_products_and_metrics() -> None:
    results = asyncio.run(_exchange([
        ("GET", "/healthz"), ("GET", "/products"), ("GET", "/products/3"),
        ("GET", "/products/99"), ("GET", "/products/abc"), ("GET", "/nope"), ("GET", "/metrics"),
    ]))
    (hz, products, one, unknown, bad, nope, metrics) = results
    assert hz == (200, {"status": "ok", "app": "catalog", "pod": "catalog-0"})
    assert products[0] == 200 and len(products[1]["products"]) == 20
    assert one == (200, {"id": 3, "name": "Failover coffee mug", "price_cents": 1250})
    assert unknown[0] == bad[0] == nope[0] == 404
    assert unknown[1] == {"error": "unknown product '99'"}
    text = metrics[1]
    assert ('shop_http_requests_total{app="catalog",code="404",method="GET",'
            'route="/products/{id}"} 2.0') in text
    assert 'route="unmatched"' in text
    assert "/healthz" not in text and 'route="/metrics"' not in text
    assert "process_resident_memory_bytes" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gateway", "--port", "8080", "--pod", "g", "--catalog-url", "http://x"],
         "gateway needs --orders-url"),
        (["orders", "--port", "8080", "--pod", "o"], "orders needs --dsn"),
        (["catalog", "--port", "70000", "--pod", "c"], "is not a TCP port"),
        (["payments", "--port", "1", "--pod", "p"], "invalid choice"),
    ],
)
def test_cli_refuses_incomplete_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
