"""The orders service's way to PostgreSQL: reusable connections behind a breaker.

:class:`Database` runs each query on a small pool of psycopg 3 connections in
a fixed set of worker threads, and guards every call with a pybreaker
:class:`~pybreaker.CircuitBreaker`:

- the breaker lives on the event loop thread (``breaker.calling()`` around the
  awaited work), so an open breaker refuses a call at once, without waiting
  for a worker, and concurrent calls are not serialised by pybreaker's lock;
- a connection that raised is closed, and so is every idle one (after a
  failover or a cut link they share its fate): the next call reconnects
  through the multi-host DSN, whose ``target_session_attrs=read-write`` finds
  the new primary;
- PostgreSQL's ``statement_timeout`` bounds a slow query, libpq's
  ``connect_timeout`` a connection attempt, and a client-side deadline the
  rest: a link that swallows packets gets its socket shut down, which wakes
  the blocked worker with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

import psycopg
import pybreaker
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from .metrics import BreakerMetrics, BreakerMetricsListener

__all__ = ["Connection", "Database", "DatabaseTimeout", "prepare_conninfo"]

FAIL_MAX: Final = 5
RESET_TIMEOUT: Final = 3.0
STATEMENT_TIMEOUT_MS: Final = 2000
CONNECT_TIMEOUT_S: Final = 2
DEADLINE: Final = 2.5  # seconds a caller waits for one call, queueing included
WORKERS: Final = 4

Connection = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")
log = logging.getLogger("chaosgate.shop.orders")


class DatabaseTimeout(Exception):
    """The database did not answer within the client-side deadline."""


def prepare_conninfo(dsn: str, application_name: str) -> str:
    """``dsn`` plus a statement timeout, a default connect timeout and a name."""
    params = conninfo_to_dict(dsn)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", application_name)
    options = f"{params.get('options') or ''} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    params["options"] = options.strip()
    return make_conninfo("", **params)


def _shutdown(conn: Connection) -> None:
    """Shut the connection's socket down from another thread; its reader wakes with EOF."""
    # fromfd duplicates the descriptor; shutdown acts on the socket both share.
    with (
        contextlib.suppress(OSError, psycopg.Error),
        socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


class _Call:
    """One call's hand-off between the waiting coroutine and its worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self.aborted = False

    def attach(self, conn: Connection) -> bool:
        with self._lock:
            self._conn = None if self.aborted else conn
            return not self.aborted

    def detach(self) -> bool:
        """Forget the connection; False if the call was abandoned meanwhile."""
        with self._lock:
            self._conn = None
            return not self.aborted

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            if self._conn is not None:
                _shutdown(self._conn)


class _Pool:
    """Idle connections for reuse. Thread-safe; it never hands out one that erred."""

    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._size = size
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def acquire(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return psycopg.connect(self._conninfo, autocommit=True)

    def release(self, conn: Connection) -> None:
        healthy = not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
        with self._lock:
            if healthy and len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    def discard_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" noise


class Database:
    """PostgreSQL through a multi-host DSN, pooled, bounded in time, behind a breaker."""

    def __init__(self, dsn: str, metrics: BreakerMetrics, application_name: str) -> None:
        self._pool = _Pool(prepare_conninfo(dsn, application_name), WORKERS)
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="db")
        self._active: set[_Call] = set()
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=FAIL_MAX,
            reset_timeout=RESET_TIMEOUT,
            listeners=[BreakerMetricsListener(metrics)],
            name=metrics.breaker,
            throw_new_error_on_trip=False,  # the tripping call reports its own error
        )

    async def run(self, op: Callable[[Connection], T]) -> T:
        """``op(connection)`` in a worker thread, through the breaker, within DEADLINE.

        Raises pybreaker.CircuitBreakerError at once while the breaker is open,
        DatabaseTimeout past the deadline, psycopg.Error when the database fails.
        """
        with self.breaker.calling():
            call = _Call()
            future = asyncio.get_running_loop().run_in_executor(
                self._executor, self._work, call, op
            )
            future.add_done_callback(_consume)
            self._active.add(call)
            try:
                return await asyncio.wait_for(asyncio.shield(future), DEADLINE)
            except TimeoutError:
                call.abort()
                raise DatabaseTimeout(f"no answer within {DEADLINE:g} s") from None
            finally:
                self._active.discard(call)

    def _work(self, call: _Call, op: Callable[[Connection], T]) -> T:
        if call.aborted:  # waited in the queue past the deadline
            raise DatabaseTimeout("abandoned before it started")
        conn = None
        try:
            conn = self._pool.acquire()
            if not call.attach(conn):
                raise DatabaseTimeout("abandoned while connecting")
            result = op(conn)
        except BaseException:
            call.detach()
            if conn is not None:
                conn.close()
            self._pool.discard_all()
            raise
        if call.detach():
            self._pool.release(conn)
        else:
            conn.close()
        return result

    def close(self) -> None:
        """Wake every busy worker, stop the pool; queued calls are cancelled."""
        for call in list(self._active):
            call.abort()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._pool.discard_all()
