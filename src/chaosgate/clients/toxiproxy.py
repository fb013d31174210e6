"""The only Toxiproxy HTTP client: the sandbox's fault proxy or a real Toxiproxy.

Speaks the Toxiproxy 2.x API (``GET /proxies``, ``POST /proxies`` to create
one, ``POST /proxies/{name}`` with ``{"enabled": ...}`` or new addresses,
``POST``/``DELETE /proxies/{name}/toxics[/{toxic}]``), only with the verbs
every 2.x release accepts (``POST`` for updates, not ``PATCH``). Every
mutating call is idempotent from the caller's view: adding a toxic (or
creating a proxy) that already exists with the same name is not an error,
removing one that is gone is not an error. ``GET /events`` is a chaosgate extension; on a
real Toxiproxy :meth:`ToxiproxyClient.events` returns an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from ..exceptions import Inconclusive, UsageError
from .http import describe_failure

__all__ = ["ProxyState", "ToxiproxyClient", "ToxiproxyEvent"]


@dataclass(frozen=True)
class ProxyState:
    """A proxy as ``GET /proxies/{name}`` reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[dict[str, Any], ...]

    @property
    def toxic_names(self) -> tuple[str, ...]:
        """The names of the toxics on this proxy."""
        return tuple(str(t.get("name", "")) for t in self.toxics)

    @property
    def listen_address(self) -> tuple[str, int]:
        """``(host, port)`` where clients connect; ``0.0.0.0``/``[::]`` mean loopback."""
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return host, int(port)


@dataclass(frozen=True)
class ToxiproxyEvent:
    """One entry of the fault proxy's ``GET /events`` journal."""

    seq: int
    time: float
    event: str
    proxy: str
    details: dict[str, Any]


class ToxiproxyClient:
    """A small typed client for one Toxiproxy (or fault proxy) API."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        # Toxiproxy refuses state changes from browser user agents; say who we are.
        self._session.headers["User-Agent"] = "chaosgate"

    def _request(self, method: str, path: str, body: object | None = None,
                 ok: tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        try:
            resp = self._session.request(method, self.url + path, json=body,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise Inconclusive(
                f"the fault proxy at {self.url} is not reachable "
                f"({describe_failure(exc, self.timeout)}). Fix: start it (the sandbox: "
                "chaosgate sandbox status shows it) or correct the target's fault proxy URL"
            ) from exc
        if resp.status_code not in ok:
            detail = resp.text.strip()[:200]
            if resp.status_code == 404 and path.startswith("/proxies/"):
                raise UsageError(f"the fault proxy at {self.url} has no {path!r}: {detail}")
            raise Inconclusive(f"fault proxy {method} {path}: HTTP {resp.status_code} {detail}")
        return resp

    def version(self) -> str:
        """The server's version string."""
        resp = self._request("GET", "/version")
        try:
            return str(resp.json().get("version", ""))
        except ValueError:
            return resp.text.strip()

    def proxies(self) -> dict[str, ProxyState]:
        """Every proxy by name."""
        data = self._request("GET", "/proxies").json()
        return {name: _proxy(p) for name, p in dict(data).items()}

    def proxy(self, name: str) -> ProxyState:
        """One proxy; :class:`UsageError` when it does not exist."""
        return _proxy(self._request("GET", f"/proxies/{name}").json())

    def create_proxy(self, name: str, listen: str, upstream: str) -> ProxyState:
        """Create an enabled proxy (``POST /proxies``); one of that name already there is fine."""
        resp = self._request("POST", "/proxies",
                             {"name": name, "listen": listen, "upstream": upstream,
                              "enabled": True}, ok=(200, 201, 409))
        return self.proxy(name) if resp.status_code == 409 else _proxy(resp.json())

    def move_proxy(self, name: str, listen: str, upstream: str) -> ProxyState:
        """Give a proxy another listen and upstream address (its enabled state is kept)."""
        return _proxy(self._request("POST", f"/proxies/{name}",
                                    {"listen": listen, "upstream": upstream}).json())

    def set_enabled(self, name: str, enabled: bool) -> ProxyState:
        """Enable or disable a proxy (disabling cuts its open connections)."""
        return _proxy(self._request("POST", f"/proxies/{name}", {"enabled": enabled}).json())

    def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        """Add ``toxic`` (name, type, stream, toxicity, attributes); present already is fine."""
        resp = self._request("POST", f"/proxies/{proxy}/toxics", toxic, ok=(200, 201, 409))
        if resp.status_code == 409:
            self._request("POST", f"/proxies/{proxy}/toxics/{toxic['name']}",
                          {"attributes": toxic.get("attributes", {}),
                           "toxicity": toxic.get("toxicity", 1.0)})

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """Remove a toxic; False when it (or its proxy) was already gone."""
        resp = self._request("DELETE", f"/proxies/{proxy}/toxics/{name}", ok=(200, 204, 404))
        return resp.status_code != 404

    def events(self, since: int = 0) -> list[ToxiproxyEvent]:
        """The fault proxy's state-change journal after ``since`` ([] on a real Toxiproxy)."""
        resp = self._request("GET", f"/events?since={since}", ok=(200, 404))
        if resp.status_code == 404:
            return []
        return [
            ToxiproxyEvent(int(e["seq"]), float(e["time"]), str(e["event"]),
                           str(e.get("proxy", "")), dict(e.get("details") or {}))
            for e in resp.json()
        ]


def _proxy(data: dict[str, Any]) -> ProxyState:
    return ProxyState(
        name=str(data["name"]),
        listen=str(data.get("listen", "")),
        upstream=str(data.get("upstream", "")),
        enabled=bool(data.get("enabled", True)),
        toxics=tuple(dict(t) for t in data.get("toxics") or ()),
    )
