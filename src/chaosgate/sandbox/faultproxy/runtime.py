"""The fault proxy's live state: proxies with their listeners, connections and toxics.

:class:`FaultProxy` carries out every API operation (the HTTP layer in
:mod:`.server` only parses and answers) and journals each state change in
its :class:`~.events.EventLog`. Toxiproxy's semantics are kept: a disabled
proxy does not listen and has no connection left (they are cut with a TCP
RST); toxics apply to connections already open; ``reset`` re-enables every
proxy and removes every toxic.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from .events import EventLog
from .link import ClientSide, Connection
from .model import (
    ApiError,
    ProxySpec,
    ToxicSpec,
    parse_address,
    parse_populate,
    parse_proxy,
    parse_toxic,
    plan_populate,
    proxy_json,
    update_proxy,
    update_toxic,
)
from .pipe import ProxyStats

__all__ = ["FaultProxy", "ProxyRuntime"]

Json = dict[str, object]


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ProxyRuntime:
    """One proxy: its listener, its open connections and its toxics."""

    def __init__(self, spec: ProxySpec) -> None:
        self.spec = replace(spec, enabled=False)  # enabled once it listens
        self.toxics: dict[str, ToxicSpec] = {}
        self.stats = ProxyStats()
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    # -- what a Connection needs (link.Owner) ------------------------------------
    def upstream_address(self) -> tuple[str, int]:
        """Where new connections go."""
        return parse_address(self.spec.upstream, "upstream", allow_port_zero=False)

    def register(self, conn: Connection) -> None:
        """A client connected: track it and give it the current toxics."""
        self.connections.add(conn)
        conn.sync_toxics(self.toxics.values())

    def unregister(self, conn: Connection, reason: str) -> None:
        """A connection closed, for ``reason``."""
        self.connections.discard(conn)
        self.stats.closed[reason] += 1

    # -- state -------------------------------------------------------------------
    def to_json(self) -> Json:
        """The proxy as the API shows it."""
        return proxy_json(self.spec, self.toxics.values())

    async def start(self) -> None:
        """Listen on ``spec.listen`` (port 0 picks one and records it); 500 on failure."""
        if self._server is not None:
            return
        host, port = parse_address(self.spec.listen, "listen", allow_port_zero=True)
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: ClientSide(self), host, port, backlog=1024, reuse_address=True
            )
        except OSError as exc:
            raise ApiError(f"listen tcp {self.spec.listen}: {exc.strerror or exc}", 500) from None
        self._server = server
        bound = server.sockets[0].getsockname()
        self.spec = replace(self.spec, listen=_format_address(bound[0], bound[1]), enabled=True)

    def stop(self, reason: str) -> int:
        """Stop listening and cut every open connection with a RST; returns how many."""
        if self._server is not None:
            self._server.close()
            self._server = None
        cut = list(self.connections)
        for conn in cut:
            conn.reset(reason)
        self.spec = replace(self.spec, enabled=False)
        return len(cut)

    def set_toxics(self, toxics: dict[str, ToxicSpec]) -> None:
        """Replace the toxics and apply them to every open connection at once."""
        self.toxics = toxics
        for conn in list(self.connections):
            conn.sync_toxics(toxics.values())


class FaultProxy:
    """Every proxy of the fault proxy, and the operations of its HTTP API."""

    def __init__(self, events: EventLog | None = None) -> None:
        self.proxies: dict[str, ProxyRuntime] = {}
        self.events = events if events is not None else EventLog()
        self._lock = asyncio.Lock()  # serialises operations that await a bind

    def get(self, name: str) -> ProxyRuntime:
        """The proxy called ``name``; 404 if there is none."""
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError.proxy_not_found() from None

    def index(self) -> Json:
        """``GET /proxies``: every proxy by name."""
        return {name: rt.to_json() for name, rt in self.proxies.items()}

    async def create(self, body: object) -> Json:
        """``POST /proxies``: 409 if the name exists, 500 if it cannot listen."""
        spec = parse_proxy(body)
        async with self._lock:
            if spec.name in self.proxies:
                raise ApiError.proxy_exists()
            return (await self._add(spec)).to_json()

    async def populate(self, body: object) -> list[Json]:
        """``POST /populate``: create or replace the listed proxies."""
        specs = parse_populate(body)
        async with self._lock:
            current = {name: rt.spec for name, rt in self.proxies.items()}
            result: list[Json] = []
            for step in plan_populate(current, specs):
                if step.action == "replace":
                    self._remove(self.proxies[step.spec.name], "deleted")
                if step.action == "keep":
                    result.append(self.proxies[step.spec.name].to_json())
                else:
                    result.append((await self._add(step.spec)).to_json())
            return result

    async def update(self, name: str, body: object) -> Json:
        """``POST /proxies/{name}``: change listen/upstream (restarts it) or enabled."""
        async with self._lock:
            rt = self.get(name)
            new = update_proxy(rt.spec, body)
            if (new.listen, new.upstream) != (rt.spec.listen, rt.spec.upstream):
                cut = rt.stop("updated")
                rt.spec = replace(new, enabled=False)
                self._record_cut(rt, cut, "updated")
                self.events.record(
                    "proxy_updated",
                    name,
                    listen=new.listen,
                    upstream=new.upstream,
                    enabled=new.enabled,
                )
            if new.enabled and not rt.spec.enabled:
                await rt.start()
                self._record_state(rt, "proxy_enabled")
            elif not new.enabled and rt.spec.enabled:
                cut = rt.stop("disabled")
                self._record_state(rt, "proxy_disabled", connections_cut=cut)
                self._record_cut(rt, cut, "disabled")
            return rt.to_json()

    async def delete(self, name: str) -> None:
        """``DELETE /proxies/{name}``: stop it, cutting its connections."""
        async with self._lock:
            self._remove(self.get(name), "deleted")

    def toxic(self, name: str, toxic: str) -> ToxicSpec:
        """One toxic of a proxy; 404 for either name unknown."""
        try:
            return self.get(name).toxics[toxic]
        except KeyError:
            raise ApiError.toxic_not_found() from None

    def add_toxic(self, name: str, body: object) -> Json:
        """``POST /proxies/{name}/toxics``: applies to open connections too."""
        rt = self.get(name)
        spec = parse_toxic(body, rt.toxics)
        rt.set_toxics({**rt.toxics, spec.name: spec})
        self.events.record("toxic_added", name, toxic=spec.to_json())
        return spec.to_json()

    def update_toxic(self, name: str, toxic: str, body: object) -> Json:
        """``POST /proxies/{name}/toxics/{toxic}``: merge attributes and toxicity."""
        spec = update_toxic(self.toxic(name, toxic), body)
        rt = self.get(name)
        rt.set_toxics({**rt.toxics, toxic: spec})
        self.events.record("toxic_updated", name, toxic=spec.to_json())
        return spec.to_json()

    def remove_toxic(self, name: str, toxic: str) -> None:
        """``DELETE /proxies/{name}/toxics/{toxic}``: releases what it was holding."""
        spec = self.toxic(name, toxic)
        rt = self.get(name)
        rt.set_toxics({k: v for k, v in rt.toxics.items() if k != toxic})
        self.events.record("toxic_removed", name, toxic=spec.to_json())

    async def reset(self) -> None:
        """``POST /reset``: enable every proxy and remove every toxic."""
        async with self._lock:
            removed = 0
            for name, rt in self.proxies.items():
                if not rt.spec.enabled:
                    await rt.start()
                    self._record_state(rt, "proxy_enabled")
                for spec in rt.toxics.values():
                    self.events.record("toxic_removed", name, toxic=spec.to_json())
                removed += len(rt.toxics)
                rt.set_toxics({})
            self.events.record("reset", proxies=len(self.proxies), toxics_removed=removed)

    def shutdown(self) -> None:
        """Stop every proxy (the process is exiting)."""
        for rt in self.proxies.values():
            self._record_cut(rt, rt.stop("shutdown"), "shutdown")

    # -- internals ---------------------------------------------------------------
    async def _add(self, spec: ProxySpec) -> ProxyRuntime:
        rt = ProxyRuntime(spec)
        if spec.enabled:
            await rt.start()
        self.proxies[spec.name] = rt
        self._record_state(rt, "proxy_created", enabled=rt.spec.enabled)
        if rt.spec.enabled:
            self._record_state(rt, "proxy_enabled")
        return rt

    def _remove(self, rt: ProxyRuntime, reason: str) -> None:
        cut = rt.stop(reason)
        del self.proxies[rt.spec.name]
        self._record_state(rt, "proxy_deleted")
        self._record_cut(rt, cut, reason)

    def _record_state(self, rt: ProxyRuntime, kind: str, **extra: object) -> None:
        self.events.record(
            kind, rt.spec.name, listen=rt.spec.listen, upstream=rt.spec.upstream, **extra
        )

    def _record_cut(self, rt: ProxyRuntime, count: int, reason: str) -> None:
        if count:
            self.events.record("connections_cut", rt.spec.name, count=count, reason=reason)
