"""The only module that talks to supervisord: starts it, and its XML-RPC interface.

A "pod" of the processes platform is a supervised program; this client
lists them, signals them (a pod kill is a SIGKILL here) and shuts the whole
tree down. It reaches any supervisord: ``http://host:port/RPC2`` or
``unix:///path/to/supervisor.sock``, with HTTP basic credentials when given
(sent as a header: never part of a URL, a message or a repr).
"""

from __future__ import annotations

import base64
import http.client
import socket
import subprocess
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..exceptions import SandboxError
from .http import describe_failure

__all__ = ["ProcessInfo", "SupervisorClient", "start_supervisord"]


@dataclass(frozen=True)
class ProcessInfo:
    """One supervised program as supervisord reports it."""

    name: str
    state: str  # RUNNING, STARTING, BACKOFF, EXITED, STOPPED, FATAL, ...
    pid: int
    start: float  # epoch seconds of the last start, 0 if never
    description: str

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(headers=headers or [])
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (supervisord's ``[unix_http_server]``)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(_TimeoutTransport):
    def __init__(self, path: str, timeout: float,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(timeout, headers)
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path, self._timeout)


class SupervisorClient:
    """A thin, typed wrapper over supervisord's XML-RPC API."""

    def __init__(self, url: str, timeout: float = 10.0, *, username: str | None = None,
                 password: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        headers = []
        if username is not None and password is not None:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers.append(("Authorization", f"Basic {pair}"))
        if url.startswith("unix://"):
            transport: _TimeoutTransport = _UnixTransport(url[len("unix://"):], timeout, headers)
            endpoint = "http://localhost/RPC2"
        else:
            transport, endpoint = _TimeoutTransport(timeout, headers), url
        self._proxy = xmlrpc.client.ServerProxy(endpoint, transport=transport)

    def __repr__(self) -> str:
        return f"SupervisorClient({self.url!r})"

    def _call(self, method: str, *args: Any) -> Any:
        target: Any = self._proxy
        for part in method.split("."):
            target = getattr(target, part)
        try:
            return target(*args)
        except xmlrpc.client.Fault as exc:
            raise SandboxError(f"supervisord {method}{args}: {exc.faultString}") from exc
        except xmlrpc.client.ProtocolError as exc:
            fix = ("check platform.supervisor.username and the password its password_env or "
                   "password_file names" if exc.errcode == 401 else
                   "check platform.supervisor.url (supervisord serves XML-RPC at /RPC2)")
            raise SandboxError(f"supervisord at {self.url} answered HTTP {exc.errcode} "
                               f"{exc.errmsg}. Fix: {fix}") from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            why = describe_failure(exc, self.timeout)
            raise SandboxError(
                f"supervisord at {self.url} is not reachable ({why}). Fix: start it, or "
                "correct platform.supervisor.url (the sandbox: chaosgate sandbox status, "
                "then chaosgate sandbox up)") from exc

    def alive(self) -> bool:
        """True when supervisord answers and is RUNNING."""
        try:
            state = self._call("supervisor.getState")
        except SandboxError:
            return False
        return bool(state.get("statename") == "RUNNING")

    def pid(self) -> int:
        """supervisord's own pid."""
        return int(self._call("supervisor.getPID"))

    def processes(self) -> list[ProcessInfo]:
        """Every supervised program (event listeners included)."""
        infos = cast(list[dict[str, Any]], self._call("supervisor.getAllProcessInfo"))
        return [
            ProcessInfo(
                name=i["name"],
                state=i["statename"],
                pid=int(i["pid"]),
                start=float(i["start"]),
                description=i["description"],
            )
            for i in infos
        ]

    def process(self, name: str) -> ProcessInfo:
        """One program by name."""
        for info in self.processes():
            if info.name == name:
                return info
        raise SandboxError(f"supervisord has no program named {name!r}")

    def signal(self, name: str, signal_name: str) -> None:
        """Send a signal (e.g. ``"KILL"``, ``"STOP"``, ``"CONT"``) to a program."""
        self._call("supervisor.signalProcess", name, signal_name)

    def start(self, name: str, wait: bool = True) -> None:
        """Start a stopped program."""
        self._call("supervisor.startProcess", name, wait)

    def stop(self, name: str, wait: bool = True) -> None:
        """Stop a program (it stays down until started)."""
        self._call("supervisor.stopProcess", name, wait)

    def start_all(self) -> None:
        """Start every program that is not running."""
        self._call("supervisor.startAllProcesses", True)

    def shutdown(self) -> None:
        """Stop every program, then supervisord itself."""
        self._call("supervisor.shutdown")


def start_supervisord(executable: str, conf: Path) -> None:
    """Start supervisord with ``conf``; it daemonizes, so it outlives this process.
    Raises SandboxError with supervisord's own message when it cannot start."""
    result = subprocess.run([executable, "-c", str(conf)], capture_output=True, text=True,
                            check=False, timeout=60)
    if result.returncode != 0:
        raise SandboxError(f"supervisord failed to start: {result.stderr.strip()}")
