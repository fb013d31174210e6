"""What both pipeline services share: ``/healthz``, ``/metrics`` and serving.

``/healthz`` is the process's liveness only, never the broker's; ``run``
serves through :func:`chaosgate.sandbox.serving.serve` (the ``serving on``
ground-truth line, as the shop's services).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..serving import serve

__all__ = ["REGISTRY", "create_app", "run"]

REGISTRY = web.AppKey("registry", CollectorRegistry)
log = logging.getLogger("chaosgate.pipeline")


def create_app(app_name: str, pod: str, registry: CollectorRegistry,
               middlewares: tuple[Callable[..., Awaitable[web.StreamResponse]], ...] = ()
               ) -> web.Application:
    """An application with ``/healthz`` and ``/metrics`` for ``registry``."""
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024)
    app[REGISTRY] = registry

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "app": app_name, "pod": pod})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(request.app[REGISTRY]),
                            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


def run(app: web.Application, port: int, name: str) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    asyncio.run(serve(app, port, name, shutdown_timeout=3.0))
    log.info("%s stopped", name)
