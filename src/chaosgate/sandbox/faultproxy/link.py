"""One proxied TCP connection: a client and its upstream, joined by two pipes.

asyncio Protocols on both sides, TCP_NODELAY and 1 MiB write buffers; the
upstream connection is opened when a client is accepted, the client is read
only once it is up. :meth:`Connection.reset` aborts both sides with a TCP RST
(SO_LINGER 0), :meth:`Connection.close` closes them gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Iterable
from typing import Protocol

from .model import ToxicSpec
from .pipe import HIGH_WATER, LOW_WATER, Pipe, ProxyStats

__all__ = ["ClientSide", "Connection", "Owner"]

log = logging.getLogger(__name__)

_LINGER_RST = struct.pack("ii", 1, 0)


class Owner(Protocol):
    """What a connection needs from its proxy."""

    stats: ProxyStats

    def upstream_address(self) -> tuple[str, int]: ...
    def register(self, conn: Connection) -> None: ...
    def unregister(self, conn: Connection, reason: str) -> None: ...


def _configure(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if isinstance(transport, asyncio.WriteTransport):
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)


class Connection:
    """A client connection and its upstream connection, joined by two pipes."""

    def __init__(self, owner: Owner, client: asyncio.Transport) -> None:
        self.owner = owner
        self.client = client
        self.upstream: asyncio.Transport | None = None
        self.closed = False
        self.up = Pipe(self, owner.stats, 0)
        self.down = Pipe(self, owner.stats, 1)
        _configure(client)
        client.pause_reading()
        owner.stats.connections_total += 1
        owner.register(self)
        host, port = owner.upstream_address()
        loop = asyncio.get_running_loop()
        self._connect = loop.create_task(self._open_upstream(host, port))

    def sync_toxics(self, specs: Iterable[ToxicSpec]) -> None:
        """Apply the proxy's current toxics to this (possibly already open) connection."""
        items = list(specs)
        self.up.sync(t for t in items if t.stream == "upstream")
        self.down.sync(t for t in items if t.stream == "downstream")

    async def _open_upstream(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: _Side(self), host, port)
        except OSError as exc:
            self.owner.stats.connect_failures += 1
            log.debug("fault proxy: upstream %s:%s unreachable: %s", host, port, exc)
            self.close("upstream_unreachable")

    def upstream_made(self, transport: asyncio.Transport) -> None:
        """The upstream connection is up: wire the pipes and start reading the client."""
        if self.closed:
            transport.abort()
            return
        _configure(transport)
        self.upstream = transport
        self.up.src, self.up.dst = self.client, transport
        self.down.src, self.down.dst = transport, self.client
        self.client.resume_reading()

    def eof_sent(self) -> None:
        """A pipe forwarded its EOF; once both have, the connection is done."""
        if self.up.eof_done and self.down.eof_done:
            self.close("normal")

    def lost(self, exc: Exception | None) -> None:
        """One side's transport is gone."""
        if not self.closed:
            if exc is None:
                self.close("normal")
            else:
                self.reset("peer_error")

    def _finish(self, reason: str) -> list[asyncio.Transport]:
        self.closed = True
        self._connect.cancel()
        self.up.stop()
        self.down.stop()
        self.owner.unregister(self, reason)
        return [t for t in (self.client, self.upstream) if t is not None]

    def close(self, reason: str) -> None:
        """Close both sides gracefully (FIN after flushing what was written)."""
        if not self.closed:
            for transport in self._finish(reason):
                transport.close()

    def reset(self, reason: str) -> None:
        """Abort both sides with a TCP RST (SO_LINGER 0), dropping buffered data."""
        if not self.closed:
            for transport in self._finish(reason):
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                transport.abort()


class _Side(asyncio.Protocol):
    """The upstream side's protocol; :class:`ClientSide` is the client's."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._in = conn.down
        self._out = conn.up

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.conn.upstream_made(transport)

    def data_received(self, data: bytes) -> None:
        self._in.feed(data)

    def eof_received(self) -> bool:
        self._in.feed_eof()
        return True

    def pause_writing(self) -> None:
        self._out.set_dst_paused(True)

    def resume_writing(self) -> None:
        self._out.set_dst_paused(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.lost(exc)


class ClientSide(_Side):
    """Protocol of an accepted client connection; opens the upstream connection."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.conn = Connection(self.owner, transport)
        self._in = self.conn.up
        self._out = self.conn.down
