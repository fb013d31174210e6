"""One direction of a proxied connection, and the toxics applied to it.

A direction with no selected toxic and nothing queued writes each received
chunk straight to the other side (the fast path). Otherwise chunks are queued
with their arrival time and a worker applies the toxics in a fixed order:
timeout (holds everything) and reset_peer, then latency, then slicer,
limit_data and bandwidth. :meth:`Pipe.sync` re-synchronises the toxics of an
open connection when the API changes them; a worker waiting on a toxic is
woken and re-evaluates, so a removed latency or timeout toxic releases what
it held.

Latency delays, it does not throttle: as in Toxiproxy, each chunk is sent
``latency`` after it was *read*, and the source keeps being read while
earlier chunks wait, so the added latency does not depend on the body's
size. Toxiproxy buffers 1024 chunks of up to 32 KiB (32 MiB) per latency
toxic, which caps a stream at 32 MiB per latency period (~170 MB/s under
200 ms); the pipe holds up to :data:`DELAY_BUFFER` bytes (256 MiB, ~1.3 GB/s
under 200 ms, more than the proxy moves on loopback) while a latency toxic
is selected, :data:`HIGH_WATER` otherwise.

Backpressure: the source stops being read while the destination's write
buffer is above the high-water mark, or while the queue holds more than its
limit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .model import ToxicSpec, slice_offsets

__all__ = ["DELAY_BUFFER", "HIGH_WATER", "LOW_WATER", "ActiveToxic", "Link", "Pipe", "ProxyStats"]

log = logging.getLogger(__name__)

HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18
DELAY_BUFFER = 256 << 20  # Toxiproxy: 1024 chunks of at most 32 KiB (32 MiB)


@dataclass
class ProxyStats:
    """Counters of one proxy, read by the metrics collector."""

    bytes: list[int] = field(default_factory=lambda: [0, 0])  # received: [upstream, downstream]
    sent: list[int] = field(default_factory=lambda: [0, 0])  # written to the other side
    connections_total: int = 0
    connect_failures: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # reason -> count


class Link(Protocol):
    """What a pipe needs from its connection."""

    closed: bool

    def close(self, reason: str) -> None: ...
    def reset(self, reason: str) -> None: ...
    def eof_sent(self) -> None: ...


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class ActiveToxic:
    """A toxic attached to one direction of one connection."""

    def __init__(self, spec: ToxicSpec, conn: Link) -> None:
        self.conn = conn
        self.spec = spec
        self.selected = random.random() < spec.toxicity
        self.sent = 0  # limit_data: bytes let through so far
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self.spec.type == "timeout" and self.selected and self.spec.attr("timeout") > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(
                self.spec.attr("timeout") / 1000, self.conn.close, "timeout"
            )

    def update(self, spec: ToxicSpec) -> None:
        """New attributes: re-roll toxicity if it changed, restart a timeout."""
        if spec.toxicity != self.spec.toxicity:
            self.selected = random.random() < spec.toxicity
        self.spec = spec
        self.detach()
        self._arm()

    def detach(self) -> None:
        """Cancel this toxic's pending effect on the connection."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def delay(self) -> float:
        """Seconds this toxic holds a chunk (latency) or the close (slow_close)."""
        if self.spec.type == "latency":
            jitter = self.spec.attr("jitter")
            ms = self.spec.attr("latency") + (random.uniform(-jitter, jitter) if jitter else 0)
            return max(ms, 0) / 1000
        if self.spec.type == "slow_close":
            return self.spec.attr("delay") / 1000
        return 0.0


class Pipe:
    """One direction of a connection: bytes read from ``src`` go to ``dst``."""

    def __init__(self, conn: Link, stats: ProxyStats, index: int) -> None:
        self.conn = conn
        self.index = index  # 0: upstream (client -> server), 1: downstream
        self.src: asyncio.Transport | None = None
        self.dst: asyncio.Transport | None = None
        self.toxics: list[ActiveToxic] = []
        self.active: list[ActiveToxic] = []
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued = 0
        self.eof_done = False
        self._stats = stats
        self._worker: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._dst_paused = False
        self._reading_paused = False
        self._bw_next = 0.0

    # -- called by the protocols -------------------------------------------
    def feed(self, data: bytes) -> None:
        """Data read from the source side."""
        self._stats.bytes[self.index] += len(data)
        if not self.active and not self.queue and self.dst is not None:
            self._write(data)
            return
        self.queue.append((asyncio.get_running_loop().time(), data))
        self.queued += len(data)
        self._update_reading()
        self._start_worker()

    def feed_eof(self) -> None:
        """The source side half-closed its connection."""
        if not self.active and not self.queue:
            self._send_eof()
            return
        self.queue.append((asyncio.get_running_loop().time(), None))
        self._start_worker()

    def set_dst_paused(self, paused: bool) -> None:
        """The destination's write buffer crossed a water mark."""
        self._dst_paused = paused
        self._update_reading()
        self.notify()

    # -- toxics ----------------------------------------------------------------
    def sync(self, specs: Iterable[ToxicSpec]) -> None:
        """Make this pipe's toxics match ``specs``, keeping per-connection state."""
        old = {t.spec.name: t for t in self.toxics}
        toxics: list[ActiveToxic] = []
        for spec in specs:
            toxic = old.pop(spec.name, None)
            if toxic is None:
                toxic = ActiveToxic(spec, self.conn)
            elif toxic.spec != spec:
                toxic.update(spec)
            toxics.append(toxic)
        for gone in old.values():
            gone.detach()
        self.toxics = toxics
        self.active = [t for t in toxics if t.selected]
        self._update_reading()
        self.notify()

    def notify(self) -> None:
        """Wake the worker so that it re-evaluates the toxics."""
        if self._waiter is not None:
            _wake(self._waiter)

    def stop(self) -> None:
        """The connection is closing: drop toxics and stop the worker."""
        for toxic in self.toxics:
            toxic.detach()
        if self._worker is not None:
            self._worker.cancel()

    # -- internals -------------------------------------------------------------
    def _queue_limit(self) -> int:
        if any(t.spec.type == "latency" for t in self.active):
            return DELAY_BUFFER
        return HIGH_WATER

    def _update_reading(self) -> None:
        high = self._queue_limit()
        low = LOW_WATER if high == HIGH_WATER else high * 3 // 4
        limit = low if self._reading_paused else high
        want = self._dst_paused or self.queued > limit
        if want == self._reading_paused or self.src is None or self.conn.closed:
            return
        self._reading_paused = want
        if want:
            self.src.pause_reading()
        else:
            self.src.resume_reading()

    def _send_eof(self) -> None:
        self.eof_done = True
        if self.dst is not None and self.dst.can_write_eof():
            self.dst.write_eof()
        self.conn.eof_sent()

    def _start_worker(self) -> None:
        if self._worker is None and not self.conn.closed:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        try:
            while self.queue and not self.conn.closed:
                arrived, data = self.queue[0]
                if data is None:
                    if await self._gate(arrived, "slow_close"):
                        self._send_eof()
                    self.queue.popleft()
                    continue
                if await self._gate(arrived, "latency"):
                    await self._send(data)
                self.queue.popleft()
                self.queued -= len(data)
                self._send_ripe()
                self._update_reading()
        except Exception:
            log.exception("fault proxy: pipe worker failed")
            self.conn.reset("error")
        finally:
            self._worker = None

    def _send_ripe(self) -> None:
        """Write the queued chunks that are already due under a fixed latency
        (the only toxics are latency toxics without jitter) in one go, without
        a wake-up per chunk: a bulk stream under latency costs what it costs
        without."""
        if not all(t.spec.type == "latency" and not t.spec.attr("jitter") for t in self.active):
            return
        cutoff = asyncio.get_running_loop().time() - sum(t.delay() for t in self.active)
        while self.queue and not self._dst_paused and self.dst is not None:
            arrived, data = self.queue[0]
            if data is None or arrived > cutoff or self.conn.closed:
                return
            self.queue.popleft()
            self.queued -= len(data)
            self._write(data)

    async def _wait(self, deadline: float | None) -> None:
        """Sleep until ``deadline`` (loop time) or until notified."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        handle = loop.call_at(deadline, _wake, fut) if deadline is not None else None
        try:
            await fut
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    async def _gate(self, arrived: float, kind: str) -> bool:
        """Hold a chunk (or the EOF) while toxics say so; False if it must not pass."""
        loop = asyncio.get_running_loop()
        delays: dict[tuple[str, tuple[tuple[str, int], ...]], float] = {}
        reset_at: dict[str, float] = {}
        while not self.conn.closed:
            now = loop.time()
            if any(t.spec.type == "timeout" for t in self.active):
                await self._wait(None)
                continue
            resets = [t for t in self.active if t.spec.type == "reset_peer"]
            if resets:
                first = resets[0].spec
                due = reset_at.setdefault(first.name, now + first.attr("timeout") / 1000)
                if now < due:
                    await self._wait(due)
                    continue
                self.conn.reset("reset_peer")
                return False
            due = arrived
            for toxic in self.active:
                if toxic.spec.type == kind:
                    # one draw per chunk and toxic; an updated toxic draws again
                    key = (toxic.spec.name, tuple(sorted(toxic.spec.attributes.items())))
                    if key not in delays:
                        delays[key] = toxic.delay()
                    due += delays[key]
            if now < due:
                await self._wait(due)
                continue
            return True
        return False

    async def _send(self, data: bytes) -> None:
        close_after = False
        for toxic in self.active:
            if toxic.spec.type == "limit_data":
                remaining = max(toxic.spec.attr("bytes") - toxic.sent, 0)
                if remaining <= len(data):
                    data, close_after = data[:remaining], True
        for toxic in self.active:
            if toxic.spec.type == "limit_data":
                toxic.sent += len(data)
        slicer = next((t for t in self.active if t.spec.type == "slicer"), None)
        if slicer is None:
            await self._paced_write(data)
        else:
            await self._sliced_write(data, slicer.spec)
        if close_after:
            self.conn.close("limit_data")

    async def _sliced_write(self, data: bytes, spec: ToxicSpec) -> None:
        """Toxiproxy's slicer: write ``data`` in slices, ``delay`` µs apart."""
        bounds = slice_offsets(
            len(data), spec.attr("average_size"), spec.attr("size_variation"), random.randrange
        )
        loop = asyncio.get_running_loop()
        for start, end in itertools.pairwise(bounds):
            if self.conn.closed:
                return
            await self._paced_write(data[start:end])
            due = loop.time() + spec.attr("delay") / 1e6
            while end < len(data) and loop.time() < due and not self.conn.closed:
                await self._wait(due)

    def _write(self, data: bytes) -> None:
        assert self.dst is not None
        self.dst.write(data)
        self._stats.sent[self.index] += len(data)

    def _rate(self) -> int | None:
        rates = [t.spec.attr("rate") for t in self.active if t.spec.type == "bandwidth"]
        return min(rates) if rates else None

    async def _paced_write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        while data and not self.conn.closed:
            rate = self._rate()
            now = loop.time()
            if rate == 0:  # a zero rate lets nothing through, as in Toxiproxy
                await self._wait(None)
            elif rate is not None and self._bw_next > now:
                await self._wait(self._bw_next)
            elif self._dst_paused or self.dst is None:
                await self._wait(None)
            else:
                size = len(data) if rate is None else rate * 100  # 100 ms worth
                piece, data = data[:size], data[size:]
                self._write(piece)
                if rate is not None:
                    self._bw_next = max(self._bw_next, now) + len(piece) / (rate * 1000)
