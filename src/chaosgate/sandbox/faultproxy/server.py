"""The fault proxy's HTTP API (aiohttp) and its process lifecycle.

Toxiproxy 2.x paths, status codes and bodies (see the package docstring);
errors are ``{"error": ..., "status": ...}``. Two extensions:
``GET /metrics`` (Prometheus text, a private registry) and ``GET /events``
(the state-change journal, ``?since=<seq>`` for the newer ones only).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .events import Event, EventLog
from .model import ApiError, parse_json
from .runtime import FaultProxy

__all__ = ["TOXIPROXY_VERSION", "MetricsCollector", "build_app", "serve"]

log = logging.getLogger("chaosgate.faultproxy")

# The Toxiproxy API level this server speaks.
TOXIPROXY_VERSION = "2.12.0-chaosgate"
PREFIX = "chaosgate_faultproxy_"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class MetricsCollector(Collector):
    """Reads the proxies' counters at scrape time (nothing on the data path)."""

    def __init__(self, fault_proxy: FaultProxy) -> None:
        self._fp = fault_proxy

    def collect(self) -> Iterable[Metric]:
        """One family per metric, one sample per proxy (and label value)."""
        p = ["proxy"]
        enabled = GaugeMetricFamily(PREFIX + "proxy_enabled", "1 while the proxy listens", labels=p)
        active = GaugeMetricFamily(PREFIX + "active_connections", "Open connections", labels=p)
        total = CounterMetricFamily(PREFIX + "connections", "Accepted connections", labels=p)
        closed = CounterMetricFamily(
            PREFIX + "connections_closed", "Closed connections by reason", labels=[*p, "reason"]
        )
        failed = CounterMetricFamily(
            PREFIX + "upstream_connect_failures", "Upstream connections refused", labels=p
        )
        sent = CounterMetricFamily(
            PREFIX + "bytes", "Bytes received from either side", labels=[*p, "direction"]
        )
        toxics = GaugeMetricFamily(PREFIX + "toxics_active", "Toxics on the proxy", labels=p)
        toxic = GaugeMetricFamily(
            PREFIX + "toxic", "1 per toxic present", labels=[*p, "toxic", "type", "stream"]
        )
        # Toxiproxy's own names (its -proxy-metrics flag), so its dashboards work
        tp = ["direction", "proxy", "listener", "upstream"]
        received = CounterMetricFamily(
            "toxiproxy_proxy_received_bytes", "Bytes received by the proxy", labels=tp
        )
        forwarded = CounterMetricFamily(
            "toxiproxy_proxy_sent_bytes", "Bytes sent by the proxy", labels=tp
        )
        for name, rt in list(self._fp.proxies.items()):
            for index, direction in enumerate(("upstream", "downstream")):
                labels = [direction, name, rt.spec.listen, rt.spec.upstream]
                received.add_metric(labels, rt.stats.bytes[index])
                forwarded.add_metric(labels, rt.stats.sent[index])
            enabled.add_metric([name], 1.0 if rt.spec.enabled else 0.0)
            active.add_metric([name], len(rt.connections))
            total.add_metric([name], rt.stats.connections_total)
            for reason, count in sorted(rt.stats.closed.items()):
                closed.add_metric([name, reason], count)
            failed.add_metric([name], rt.stats.connect_failures)
            sent.add_metric([name, "upstream"], rt.stats.bytes[0])
            sent.add_metric([name, "downstream"], rt.stats.bytes[1])
            toxics.add_metric([name], len(rt.toxics))
            for spec in rt.toxics.values():
                toxic.add_metric([name, spec.name, spec.type, spec.stream], 1.0)
        return [enabled, active, total, closed, failed, sent, toxics, toxic, received, forwarded]


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _body(request: web.Request) -> object:
    return parse_json(await request.read())


@web.middleware
async def _api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Like Toxiproxy, refuse state changes from browsers (cross-site requests).
    if request.method != "GET" and request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(status=403, text="User agent not allowed\n")
    try:
        return await handler(request)
    except ApiError as exc:
        return _json(exc.to_json(), exc.status)


def build_app(fp: FaultProxy) -> web.Application:
    """The aiohttp application serving ``fp``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(fp))

    def name(request: web.Request, key: str = "proxy") -> str:
        return request.match_info[key]

    async def version(_: web.Request) -> web.Response:
        return _json({"version": TOXIPROXY_VERSION})

    async def proxies(_: web.Request) -> web.Response:
        return _json(fp.index())

    async def create(request: web.Request) -> web.Response:
        return _json(await fp.create(await _body(request)), 201)

    async def populate(request: web.Request) -> web.Response:
        try:
            return _json({"proxies": await fp.populate(await _body(request))}, 201)
        except ApiError as exc:
            return _json({**exc.to_json(), "proxies": None}, exc.status)

    async def show(request: web.Request) -> web.Response:
        return _json(fp.get(name(request)).to_json())

    async def update(request: web.Request) -> web.Response:
        fp.get(name(request))  # 404 before looking at the body, as Toxiproxy
        return _json(await fp.update(name(request), await _body(request)))

    async def delete(request: web.Request) -> web.Response:
        await fp.delete(name(request))
        return web.Response(status=204)

    async def toxics(request: web.Request) -> web.Response:
        return _json(fp.get(name(request)).to_json()["toxics"])

    async def add_toxic(request: web.Request) -> web.Response:
        fp.get(name(request))
        return _json(fp.add_toxic(name(request), await _body(request)))

    async def show_toxic(request: web.Request) -> web.Response:
        return _json(fp.toxic(name(request), name(request, "toxic")).to_json())

    async def update_toxic(request: web.Request) -> web.Response:
        fp.toxic(name(request), name(request, "toxic"))
        body = await _body(request)
        return _json(fp.update_toxic(name(request), name(request, "toxic"), body))

    async def delete_toxic(request: web.Request) -> web.Response:
        fp.remove_toxic(name(request), name(request, "toxic"))
        return web.Response(status=204)

    async def reset(_: web.Request) -> web.Response:
        await fp.reset()
        return web.Response(status=204)

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def events(request: web.Request) -> web.Response:
        since = request.query.get("since", "0")
        if not since.isdigit():
            raise ApiError("since must be a sequence number", 400)
        return _json([e.to_json() for e in fp.events.since(int(since))])

    app = web.Application(middlewares=[_api_errors])
    app.add_routes(
        [
            web.get("/version", version),
            web.get("/proxies", proxies),
            web.post("/proxies", create),
            web.post("/populate", populate),
            web.post("/reset", reset),
            web.get("/proxies/{proxy}", show),
            web.post("/proxies/{proxy}", update),
            web.patch("/proxies/{proxy}", update),
            web.delete("/proxies/{proxy}", delete),
            web.get("/proxies/{proxy}/toxics", toxics),
            web.post("/proxies/{proxy}/toxics", add_toxic),
            web.get("/proxies/{proxy}/toxics/{toxic}", show_toxic),
            web.post("/proxies/{proxy}/toxics/{toxic}", update_toxic),
            web.patch("/proxies/{proxy}/toxics/{toxic}", update_toxic),
            web.delete("/proxies/{proxy}/toxics/{toxic}", delete_toxic),
            web.get("/metrics", metrics),
            web.get("/events", events),
        ]
    )
    return app


def _log_event(event: Event) -> None:
    log.info("%s", event.log_line())


async def serve(host: str, port: int, config: object | None = None) -> None:
    """Populate from ``config`` (a populate body), serve the API until SIGTERM/SIGINT,
    then cut every connection and return. Raises :class:`ApiError` or
    :class:`OSError` if a proxy or the API cannot listen."""
    events = EventLog()
    events.subscribe(_log_event)
    fp = FaultProxy(events)
    if config is not None:
        await fp.populate(config)
    runner = web.AppRunner(build_app(fp), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, shutdown_timeout=2.0, reuse_address=True).start()
        log.info("API listening on http://%s:%d with %d proxies", host, port, len(fp.proxies))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        fp.shutdown()
        await runner.cleanup()
