"""The only module that speaks Redis's protocol (RESP2): the events system's broker.

:func:`encode_command` and :func:`parse_reply` are pure (bytes in, bytes or
a reply out) and shared by both sides: :class:`RedisClient`, the harness's
blocking client (the sandbox's readiness checks and tests: ``PING``, the
stream's length, the consumer group's lag), and the pipeline's asyncio
client (:mod:`chaosgate.sandbox.pipeline.resp`), through
:class:`ReplyBuffer`. An error reply is returned as a
:class:`RedisError` value, never raised by the parser.
"""

from __future__ import annotations

import socket
from typing import Union

from ..exceptions import ChaosgateError

__all__ = ["RedisClient", "RedisError", "Reply", "ReplyBuffer", "encode_command",
           "group_backlog", "parse_reply"]

Reply = Union[str, int, None, list["Reply"], "RedisError"]


class RedisError(ChaosgateError):
    """Redis answered with an error, or could not be reached."""


def encode_command(*args: str | int | float) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def parse_reply(buf: bytes, start: int = 0) -> tuple[Reply, int] | None:
    """The reply that begins at ``buf[start]`` and where it ends; None when ``buf`` does
    not hold all of it yet. Raises :class:`RedisError` on bytes that are not RESP2."""
    end = buf.find(b"\r\n", start)
    if end < 0:
        return None
    kind, line, after = buf[start:start + 1], buf[start + 1:end], end + 2
    if kind == b"+":
        return line.decode(errors="replace"), after
    if kind == b"-":
        return RedisError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buf) < after + size + 2:
            return None
        return buf[after:after + size].decode(errors="replace"), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list[Reply] = []
        for _ in range(count):
            parsed = parse_reply(buf, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    raise RedisError(f"not a RESP2 reply: {buf[start:end + 2]!r}")


class ReplyBuffer:
    """Bytes as they arrive in, whole replies out (one parse per chunk, never per line)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[Reply]:
        """Add ``data``; every reply now complete, in order."""
        self._buf += data
        replies: list[Reply] = []
        start = 0
        while start < len(self._buf):
            parsed = parse_reply(self._buf, start)
            if parsed is None:
                break
            reply, start = parsed
            replies.append(reply)
        self._buf = self._buf[start:]
        return replies


class RedisClient:
    """Blocking commands to one Redis, a fresh connection per call (the harness's side)."""

    def __init__(self, host: str, port: int, timeout: float = 2.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def command(self, *args: str | int | float) -> Reply:
        """One command's reply; :class:`RedisError` for an error reply or no connection."""
        try:
            with socket.create_connection((self.host, self.port), self.timeout) as sock:
                sock.sendall(encode_command(*args))
                buffer = ReplyBuffer()
                replies: list[Reply] = []
                while not replies:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise RedisError(f"Redis at {self.host}:{self.port} closed the "
                                         "connection before it answered")
                    replies = buffer.feed(chunk)
        except OSError as exc:
            raise RedisError(f"Redis at {self.host}:{self.port} cannot be reached: "
                             f"{exc}") from None
        reply = replies[0]
        if isinstance(reply, RedisError):
            raise RedisError(f"Redis at {self.host}:{self.port}: {reply}")
        return reply

    def ping(self) -> bool:
        """True when Redis answers ``PING`` with ``PONG``."""
        try:
            return self.command("PING") == "PONG"
        except RedisError:
            return False

    def stream_length(self, stream: str) -> int:
        """``XLEN stream`` (0 when it does not exist)."""
        value = self.command("XLEN", stream)
        return value if isinstance(value, int) else 0

    def group_lag(self, stream: str, group: str) -> int | None:
        """Entries of ``stream`` that ``group`` has not acknowledged (never delivered +
        pending); None when the group does not exist or Redis cannot tell."""
        return group_backlog(self.command("XINFO", "GROUPS", stream), group)


def group_backlog(groups: Reply, group: str) -> int | None:
    """From an ``XINFO GROUPS`` reply: ``lag + pending`` of ``group`` (None: unknown)."""
    if not isinstance(groups, list):
        return None
    for entry in groups:
        if not isinstance(entry, list):
            continue
        fields = dict(zip(entry[0::2], entry[1::2], strict=False))
        if fields.get("name") == group:
            lag, pending = fields.get("lag"), fields.get("pending")
            if isinstance(lag, int) and isinstance(pending, int):
                return lag + pending
            return None
    return None
