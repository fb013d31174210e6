"""Active TCP probes: does a link let connections and requests through?

Used to verify network faults for real rather than trusting an API's word:
a partitioned link must refuse a new connection *and* cut one that was
already open; a blackholed link must leave a request unanswered; a link
with latency must answer late. Each probe speaks just enough of the
protocol behind the link to get an answer: an ``SSLRequest`` for PostgreSQL
(one byte back), ``GET /`` for HTTP (any bytes back, a 404 too).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PROBE_PAYLOADS",
    "Answer",
    "ProbeKind",
    "connect",
    "connection_cut",
    "new_connection_refused",
    "request",
]

ProbeKind = Literal["pg", "http"]

#: What each probe sends; any byte back (or the peer closing) is an answer.
PROBE_PAYLOADS: dict[str, bytes] = {
    # PostgreSQL SSLRequest: length 8, code 80877103; the server replies 'S' or 'N'.
    "pg": b"\x00\x00\x00\x08\x04\xd2\x16\x2f",
    "http": b"GET / HTTP/1.1\r\nHost: chaosgate-probe\r\nConnection: close\r\n\r\n",
}


@dataclass(frozen=True)
class Answer:
    """What a request probe saw: ``answered`` (bytes or a close), after ``elapsed`` s."""

    answered: bool
    elapsed: float
    detail: str


def connect(address: tuple[str, int], timeout: float = 2.0) -> socket.socket | None:
    """An open TCP connection to ``address``, or None when it cannot be made."""
    try:
        return socket.create_connection(address, timeout=timeout)
    except OSError:
        return None


def new_connection_refused(address: tuple[str, int], timeout: float = 2.0) -> bool:
    """True when a new TCP connection to ``address`` fails (refused, reset, timeout)."""
    sock = connect(address, timeout)
    if sock is None:
        return True
    sock.close()
    return False


def connection_cut(sock: socket.socket, timeout: float = 2.0) -> bool:
    """True when ``sock`` was closed or reset by the other side within ``timeout``."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return True
    except TimeoutError:
        return False
    except OSError:
        return True
    return data == b""


def request(kind: ProbeKind, address: tuple[str, int] | None = None,
            sock: socket.socket | None = None, timeout: float = 2.0) -> Answer:
    """Send ``kind``'s probe on ``sock`` (or a new connection to ``address``).

    ``answered`` is True when any byte comes back or the peer closes the
    connection after reading; False when nothing arrives within ``timeout``
    or no connection could be made. The socket is closed afterwards.
    """
    started = time.monotonic()
    if sock is None:
        if address is None:
            raise ValueError("request() needs an address or a socket")
        sock = connect(address, timeout)
        if sock is None:
            return Answer(False, time.monotonic() - started, "connection refused")
    try:
        sock.settimeout(timeout)
        sock.sendall(PROBE_PAYLOADS[kind])
        data = sock.recv(64)
        elapsed = time.monotonic() - started
        return Answer(True, elapsed, f"{len(data)} byte(s) back" if data else "closed by peer")
    except TimeoutError:
        return Answer(False, time.monotonic() - started, f"no answer within {timeout:g} s")
    except OSError as exc:
        return Answer(False, time.monotonic() - started, f"connection error: {exc}")
    finally:
        sock.close()
