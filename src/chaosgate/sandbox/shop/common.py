"""What every shop service shares: the app factory, request metrics, probes.

:func:`create_app` returns an aiohttp application with ``GET /healthz``
(liveness of the process only, never of a dependency), ``GET /metrics``
(Prometheus text format 0.0.4) and a middleware that times every other
request, labels it with its route *template* (``/api/products/{id}``, never
the raw path) and turns any error into a short JSON body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ..serving import serve
from .cart import CartError
from .metrics import HttpMetrics, new_registry

__all__ = [
    "HOST",
    "SERVICE",
    "UNMATCHED_ROUTE",
    "Service",
    "ServiceError",
    "create_app",
    "json_error",
    "method_label",
    "read_json",
    "route_template",
    "run",
]

HOST: Final = "127.0.0.1"
UNMATCHED_ROUTE: Final = "unmatched"
_UNOBSERVED: Final = frozenset({"/healthz", "/metrics"})
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_BODY: Final = 64 * 1024
CLIENT_CLOSED: Final = 499  # nginx's code for "the client went away first"

log = logging.getLogger("chaosgate.shop")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Service:
    """Identity and metrics of the running service."""

    app: str
    pod: str
    registry: CollectorRegistry
    http: HttpMetrics


SERVICE: Final = web.AppKey("shop_service", Service)


class ServiceError(Exception):
    """Stops a handler with ``status`` and ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra

    def response(self) -> web.Response:
        """The JSON error response."""
        return json_error(self.status, str(self), **self.extra)


def route_template(match_info: web.UrlMappingMatchInfo) -> str:
    """The route template a request matched, or ``unmatched`` (bounded label values)."""
    resource = match_info.route.resource
    return UNMATCHED_ROUTE if resource is None else resource.canonical


def method_label(method: str) -> str:
    """The HTTP method, or ``other`` for anything non-standard (bounded label values)."""
    return method if method in _METHODS else "other"


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """``{"error": message, ...}`` with ``status``."""
    return web.json_response({"error": message, **extra}, status=status)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a CartError (HTTP 400) if it is not JSON."""
    try:
        return json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CartError("request body is not valid JSON") from None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = route_template(request.match_info)
    if route in _UNOBSERVED:
        return await handler(request)
    method = method_label(request.method)
    start = time.perf_counter()
    code = 500
    try:
        response = await handler(request)
        code = response.status
        return response
    except CartError as exc:
        code = 400
        return json_error(code, str(exc))
    except ServiceError as exc:
        code = exc.status
        return exc.response()
    except web.HTTPException as exc:  # the router's 404 and 405
        code = exc.status
        if code < 400:
            raise
        return json_error(code, exc.reason)
    except asyncio.CancelledError:
        code = CLIENT_CLOSED
        raise
    except Exception as exc:
        log.error("unhandled %s on %s %s at %s: %s",
                  type(exc).__name__, method, route, _where(exc), exc)
        return json_error(500, "internal error")
    finally:
        request.app[SERVICE].http.observe(route, method, code, time.perf_counter() - start)


async def _healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"status": "ok", "app": service.app, "pod": service.pod})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICE].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def create_app(app_name: str, pod: str) -> web.Application:
    """An application with the shared middleware, ``/healthz`` and ``/metrics``."""
    registry = new_registry()
    app = web.Application(middlewares=[_observe], client_max_size=_MAX_BODY)
    app[SERVICE] = Service(app_name, pod, registry, HttpMetrics(app_name, registry))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


def run(app: web.Application, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until SIGTERM or SIGINT; no access log.

    Once the socket is bound it logs ``serving on HOST:PORT at <epoch>``: the
    moment the pod can take traffic again, read as ground truth by faults.
    """
    service = app[SERVICE]
    asyncio.run(_serve(app, port))
    log.info("%s (%s) stopped", service.app, service.pod)


async def _serve(app: web.Application, port: int) -> None:
    service = app[SERVICE]
    await serve(app, port, f"{service.app} ({service.pod})")
