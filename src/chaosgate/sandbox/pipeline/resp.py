"""A small asyncio Redis client: RESP2 over one pipelined TCP connection.

Only what the pipeline needs (commands as lists of strings, replies as
``str | int | None | list``). Commands are written as they come and their
replies resolved in order by one reader task, so many requests share one
connection without waiting for each other (pipelining). A command that gets
no reply within ``timeout`` s, or a broken connection, fails every command
in flight with :class:`RedisError` and closes the connection; the next
command connects again.
"""

from __future__ import annotations

import asyncio
import collections

from ...clients.redis import RedisError, Reply, ReplyBuffer, encode_command

__all__ = ["Redis", "RedisError", "Reply"]



class Redis:
    """One pipelined connection to ``host:port``, opened on demand."""

    def __init__(self, host: str, port: int, timeout: float = 1.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self._reader_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()

    async def _connect(self) -> asyncio.StreamWriter:
        async with self._connect_lock:
            if self._writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.timeout)
                self._writer = writer
                self._reader_task = asyncio.create_task(self._read(reader, writer))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = ReplyBuffer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    raise EOFError("closed by the other side")
                for reply in buffer.feed(data):
                    if self._waiting:
                        future = self._waiting.popleft()
                        if not future.done():
                            future.set_result(reply)
        except (OSError, EOFError, RedisError, ValueError) as exc:
            self._reset(writer, f"connection to {self.host}:{self.port} lost: {exc}")

    def _reset(self, writer: asyncio.StreamWriter | None, why: str) -> None:
        """Close ``writer`` (if it is still the current one) and fail every command in flight."""
        if writer is None or writer is not self._writer:
            return
        self._writer = None
        writer.close()
        if self._reader_task is not None and self._reader_task is not asyncio.current_task():
            self._reader_task.cancel()
        waiting, self._waiting = self._waiting, collections.deque()
        for future in waiting:
            if not future.done():
                future.set_exception(RedisError(why))

    async def command(self, *args: str | int | float, timeout: float | None = None) -> Reply:
        """Send one command; its reply (an error reply raises :class:`RedisError`)."""
        try:
            writer = await self._connect()
        except (TimeoutError, OSError) as exc:
            raise RedisError(f"cannot connect to {self.host}:{self.port}: "
                             f"{exc or 'no answer'}") from None
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        writer.write(encode_command(*args))
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), timeout or self.timeout)
        except TimeoutError:
            self._reset(writer, f"no reply from {self.host}:{self.port} within "
                                f"{timeout or self.timeout:g} s")
            raise RedisError(f"no reply from {self.host}:{self.port} within "
                             f"{timeout or self.timeout:g} s") from None
        if isinstance(reply, RedisError):
            raise reply
        return reply

    async def close(self) -> None:
        """Close the connection (commands in flight fail)."""
        self._reset(self._writer, "closed")
