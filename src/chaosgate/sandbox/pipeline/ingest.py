"""The ingest API: ``POST /events`` appends one event to the stream.

The body is one JSON object (at most 64 KiB). Accepted: ``202 {"id":
"<stream id>"}`` once Redis has appended it (``XADD events MAXLEN ~ N``,
with the acceptance time in the entry's ``ts`` field, which the consumers
measure end-to-end latency from). ``400`` for a body that is not a JSON
object, ``503`` when the broker cannot be reached or does not answer
within a second. Every half second it reads the consumer group's backlog
(``XINFO GROUPS``) into ``events_consumer_lag``: the ingest replicas reach
the broker through their own link, so the lag is still measured while the
consumers are cut off from it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ...clients.redis import group_backlog
from . import GROUP, STREAM
from .metrics import IngestMetrics, new_registry
from .resp import Redis, RedisError
from .service import create_app

__all__ = ["MAX_STREAM_LENGTH", "build_app"]

log = logging.getLogger("chaosgate.pipeline.ingest")
MAX_STREAM_LENGTH = 200_000  # about 20 min at 150 events/s; older processed entries trimmed
LAG_PERIOD = 0.5
ROUTE = "/events"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(pod: str, redis: Redis) -> web.Application:
    """The ingest replica ``pod`` appending to ``redis``."""
    registry = new_registry()
    metrics = IngestMetrics(registry)

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        if route in ("/healthz", "/metrics"):
            return await handler(request)
        start = time.perf_counter()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            metrics.observe(route, request.method, code, time.perf_counter() - start)

    app = create_app("ingest", pod, registry, (observe,))

    async def post_event(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            event = None
        if not isinstance(event, dict):
            return web.json_response({"error": "the body must be one JSON object"}, status=400)
        try:
            stream_id = await redis.command(
                "XADD", STREAM, "MAXLEN", "~", MAX_STREAM_LENGTH, "*",
                "ts", f"{time.time():.6f}", "body", body.decode())
        except RedisError as exc:
            log.warning("event not accepted: %s", exc)
            return web.json_response({"error": "the broker is unavailable"}, status=503)
        metrics.ingested.inc()
        return web.json_response({"id": stream_id}, status=202)

    async def watch_lag(_app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    backlog = group_backlog(await redis.command("XINFO", "GROUPS", STREAM),
                                            GROUP)
                except RedisError:
                    backlog = None  # no stream or group yet, or the broker is away
                if backlog is not None:
                    metrics.lag.labels(GROUP).set(backlog)
                await asyncio.sleep(LAG_PERIOD)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        await redis.close()

    app.router.add_post(ROUTE, post_event)
    app.cleanup_ctx.append(watch_lag)
    return app
