"""A consumer of the ``processors`` group: read, process, acknowledge.

It creates the group if it is missing (from the stream's start, creating
the stream), then reads its own pending entries first (those a previous
incarnation read but did not acknowledge: a killed consumer's events are
processed when it comes back) and then new ones, 200 at a time, blocking
at most 200 ms. Processing an event observes its end-to-end latency (now
minus the ``ts`` the ingest stamped) and counts it; the batch is then
acknowledged (``XACK``). When the broker cannot be reached it retries every
200 ms; ``/healthz`` stays the process's liveness.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from . import GROUP, STREAM
from .metrics import ConsumerMetrics, new_registry
from .resp import Redis, RedisError, Reply
from .service import create_app

__all__ = ["build_app", "entries"]

log = logging.getLogger("chaosgate.pipeline.consumer")
BATCH = 200
BLOCK_MS = 200
RETRY = 0.2


def entries(reply: Reply) -> list[tuple[str, dict[str, str]]]:
    """``(id, fields)`` of every entry in an ``XREADGROUP`` reply (pure)."""
    result: list[tuple[str, dict[str, str]]] = []
    if not isinstance(reply, list):
        return result
    for stream in reply:
        if not (isinstance(stream, list) and len(stream) == 2 and isinstance(stream[1], list)):
            continue
        for item in stream[1]:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                flat = item[1] if isinstance(item[1], list) else []
                fields = {str(k): str(v) for k, v in zip(flat[0::2], flat[1::2], strict=False)}
                result.append((item[0], fields))
    return result


class Consumer:
    """One consumer ``name`` of the group, reading through ``redis``."""

    def __init__(self, name: str, redis: Redis, metrics: ConsumerMetrics) -> None:
        self.name, self.redis, self.metrics = name, redis, metrics
        self.backlog_done = False  # own pending entries read again after a restart

    async def ensure_group(self) -> None:
        try:
            await self.redis.command("XGROUP", "CREATE", STREAM, GROUP, "0", "MKSTREAM")
        except RedisError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def step(self) -> int:
        """Read, process and acknowledge one batch; how many events it held."""
        start_id = ">" if self.backlog_done else "0"
        reply = await self.redis.command(
            "XREADGROUP", "GROUP", GROUP, self.name, "COUNT", BATCH, "BLOCK", BLOCK_MS,
            "STREAMS", STREAM, start_id, timeout=BLOCK_MS / 1000 + 2.0)
        batch = entries(reply)
        if not batch and not self.backlog_done:
            self.backlog_done = True
        now = time.time()
        ids = []
        for entry_id, fields in batch:
            try:
                self.metrics.end_to_end.observe(max(0.0, now - float(fields.get("ts", now))))
            except ValueError:
                log.warning("event %s has no valid ts: %r", entry_id, fields.get("ts"))
            ids.append(entry_id)
        if ids:
            await self.redis.command("XACK", STREAM, GROUP, *ids)
            self.metrics.processed.inc(len(ids))
        return len(ids)

    async def run(self) -> None:
        """Forever: process batches; on a broker error count it and retry."""
        ready = False
        while True:
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                await self.step()
            except RedisError as exc:
                self.metrics.broker_errors.inc()
                log.warning("broker: %s", exc)
                ready = False
                # a read whose reply was lost left its entries pending for this consumer:
                # read them again first
                self.backlog_done = False
                await asyncio.sleep(RETRY)


def build_app(pod: str, redis: Redis) -> web.Application:
    """The consumer replica ``pod`` (consumer name = pod name) reading from ``redis``."""
    registry = new_registry()
    app = create_app("consumer", pod, registry)
    consumer = Consumer(pod, redis, ConsumerMetrics(registry))

    async def consume(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run())
        yield
        task.cancel()
        await redis.close()

    app.cleanup_ctx.append(consume)
    return app
