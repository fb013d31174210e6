"""Network faults of the processes platform: links of a Toxiproxy-API server taken down,
blackholed or slowed (the sandbox's fault proxy, or a real Toxiproxy).

:func:`resolve_links` (pure) turns a :class:`NetworkScope` into the target's
links and which end of each the selected pods are on; :func:`plan_partition`
and :func:`plan_latency` (pure) turn that into a :class:`Change` whose data
lists, per link, its listen address, the probe that speaks to it, whether to
disable it and which toxics to add (:class:`LinkChangeData`, private to this
module; the change's ``subjects`` are the proxies' names: a link's
``proxy:``, else its own name). :class:`LinkActuator` applies, verifies and
reverts such a change through the Toxiproxy API, so it works against a real
Toxiproxy as well: the Kubernetes platform uses it for the links a declared
fault proxy fronts (:func:`is_link_change` tells its changes apart, and
:func:`listen_addresses` reads where the proxies listen).

Direction, seen from the selected pods: ``both`` disables the link (new
connections refused, open ones cut); ``to``/``from`` blackhole one stream
with a ``timeout`` toxic of 0 ms (data held until the toxic goes). For a
link the selected pods *call* (they are its source), ``to`` is the
``upstream`` stream; for a link that calls them, ``downstream``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Literal, NotRequired, TypedDict, TypeVar, cast
from urllib.parse import urlsplit

from ..clients.toxiproxy import ToxiproxyClient
from ..exceptions import UsageError
from ..sandbox.links import LinkHolds
from ..targets import Link, Selector, Target
from . import groundtruth, netprobe
from .base import (
    Change,
    Direction,
    FaultKind,
    LatencySpec,
    Moment,
    NetworkScope,
    NetworkScopeDict,
    PartitionSpec,
    ProbeResult,
)

__all__ = [
    "LinkActuator",
    "LinkChangeData",
    "LinkEntry",
    "ToxicDict",
    "is_link_change",
    "link_holds",
    "listen_addresses",
    "plan_latency",
    "plan_partition",
    "proxy_links",
    "resolve_links",
    "toxic_names",
]

PROBE_TIMEOUT = 1.5

Stream = Literal["upstream", "downstream"]


class ToxicDict(TypedDict):
    """One toxic, as the Toxiproxy API takes it (``POST /proxies/<link>/toxics``)."""

    name: str  # <fault_id>-blackhole-<stream> or <fault_id>-latency-<stream>
    type: str  # "timeout" (blackhole) or "latency"
    stream: Stream
    toxicity: float
    attributes: dict[str, int]  # {"timeout": 0} or {"latency": ms, "jitter": ms}


class LinkEntry(TypedDict):
    """One link of a network change: where to probe it and what to do to it."""

    name: str  # the link's name in the target
    proxy: NotRequired[str]  # its proxy in the Toxiproxy API (absent: the link's name)
    listen: str  # host:port of the link's listener, where probes connect
    probe: netprobe.ProbeKind  # the protocol the probe speaks
    disable: bool  # partition both ways: the link is disabled
    toxics: list[ToxicDict]  # added by apply, removed by name on revert


class LinkChangeData(TypedDict):
    """The data of a sandbox partition or latency :class:`Change`.

    Written by :func:`plan_partition` / :func:`plan_latency`, read only here
    (by :class:`LinkActuator`, :func:`toxic_names` and :func:`link_holds`).
    """

    links: list[LinkEntry]
    direction: Direction
    scope: NetworkScopeDict  # the scope the links were resolved from
    latency_ms: NotRequired[int]  # latency only
    jitter_ms: NotRequired[int]  # latency only


def _data(change: Change) -> LinkChangeData:
    """``change.data`` as :func:`plan_partition` or :func:`plan_latency` wrote it."""
    return cast(LinkChangeData, change.data)


def is_link_change(change: Change) -> bool:
    """Whether ``change`` was planned here (a partition or latency through a fault proxy)."""
    return change.kind in (FaultKind.PARTITION, FaultKind.LATENCY) and "links" in change.data


def listen_addresses(client: ToxiproxyClient) -> dict[str, str]:
    """Proxy name -> ``host:port`` where clients reach it, from ``GET /proxies``.

    A proxy listening on every address (``0.0.0.0``, ``::``, no host) is reached
    at the API's own host.
    """
    api_host = urlsplit(client.url).hostname or "127.0.0.1"
    found = {}
    for name, state in client.proxies().items():
        host, _, port = state.listen.rpartition(":")
        host = host.strip("[]")
        found[name] = f"{api_host if host in ('', '0.0.0.0', '::') else host}:{port}"
    return found
def _proxy(entry: LinkEntry) -> str:
    """The Toxiproxy proxy that carries ``entry``'s link."""
    return entry.get("proxy") or entry["name"]


def proxy_links(change: Change) -> dict[str, str]:
    """Proxy name -> link name of a planned network change's links (for its ground truth:
    the fault proxy names proxies, a change's subjects are links)."""
    return {_proxy(entry): entry["name"] for entry in _data(change)["links"]}


def toxic_names(change: Change) -> set[str]:
    """The names of the toxics a planned network change adds (for its ground truth)."""
    return {t["name"] for entry in _data(change)["links"] for t in entry["toxics"]}


def link_holds(change: Change) -> LinkHolds:
    """What a network change holds while its fault is open: its toxics, the links it disables."""
    links = _data(change)["links"]
    return LinkHolds(
        toxics={(_proxy(e), t["name"]): change.fault_id for e in links for t in e["toxics"]},
        disabled={_proxy(e): change.fault_id for e in links if e["disable"]},
    )


def _service_name(target: Target, selector: str, namespace: str, field: str) -> str:
    service = target.service_for_selector(Selector.parse(selector), namespace)
    if service is None:
        raise UsageError(
            f"{target.source}: {field}: {selector!r} selects no single service of the target. "
            f"Fix: use one of: {', '.join(str(s.selector) for s in target.services)}"
        )
    return service.name


def resolve_links(target: Target, scope: NetworkScope) -> list[tuple[Link, bool]]:
    """The links ``scope`` covers, each with True when the selected pods are its source."""
    side = (_service_name(target, scope.selector, scope.namespace, "--selector")
            if scope.selector else None)
    if scope.links:
        links = [target.link(name) for name in scope.links]
    elif scope.dependency:
        links = list(target.links_of(scope.dependency))
    elif scope.peer_selector:
        peer = _service_name(target, scope.peer_selector,
                             scope.peer_namespace or scope.namespace, "--peer-selector")
        links = [x for x in target.links if {x.source, x.destination} == {side, peer}]
    else:
        raise UsageError("a network fault needs a peer: a dependency, a peer selector or links")
    if side is not None and not scope.links:
        links = [x for x in links if side in (x.source, x.destination)]
    if not links:
        raise UsageError(
            f"{target.source}: links: no link of the target joins {scope.describe()}. "
            f"Fix: use one of the links: {', '.join(x.name for x in target.links)}"
        )
    return [(x, side is None or x.source == side) for x in links]


def _stream(selected_is_source: bool, direction: Direction) -> list[Stream]:
    if direction == "both":
        return ["upstream", "downstream"]
    to_upstream = (direction == "to") == selected_is_source
    return ["upstream" if to_upstream else "downstream"]


def _probe_kind(target: Target, link: Link) -> netprobe.ProbeKind:
    members = {m.name for m in target.database.members} if target.database else set()
    return "pg" if link.destination in members else "http"


def _link_entry(target: Target, link: Link, listen: Mapping[str, str]) -> LinkEntry:
    proxy = link.proxy_name
    if proxy not in listen:
        raise UsageError(
            f"{target.source}: links: the fault proxy has no proxy {proxy!r} for link "
            f"{link.name!r} (it has: {', '.join(sorted(listen)) or 'none'}). Fix: create it "
            "in the fault proxy, or set the link's `proxy:` to the proxy's name")
    return LinkEntry(name=link.name, proxy=proxy, listen=listen[proxy],
                     probe=_probe_kind(target, link), disable=False, toxics=[])


def plan_partition(target: Target, spec: PartitionSpec, fault_id: str,
                   listen: Mapping[str, str], platform: str = "processes") -> Change:
    """The change that partitions ``spec.scope`` (``listen``: proxy name -> host:port),
    planned for ``platform`` (its kind, recorded on the change)."""
    entries: list[LinkEntry] = []
    for link, selected_is_source in resolve_links(target, spec.scope):
        entry = _link_entry(target, link, listen)
        if spec.direction == "both":
            entry["disable"] = True
        else:
            stream = _stream(selected_is_source, spec.direction)[0]
            entry["toxics"] = [ToxicDict(name=f"{fault_id}-blackhole-{stream}", type="timeout",
                                         stream=stream, toxicity=1.0,
                                         attributes={"timeout": 0})]
        entries.append(entry)
    how = "down" if spec.direction == "both" else f"blackholed ({spec.direction})"
    names = tuple(e["name"] for e in entries)
    data = LinkChangeData(links=entries, direction=spec.direction, scope=spec.scope.to_json())
    return Change(FaultKind.PARTITION, platform, fault_id,
                  f"partition {spec.scope.describe()}: link(s) {', '.join(names)} {how}",
                  data, subjects=names)


def plan_latency(target: Target, spec: LatencySpec, fault_id: str,
                 listen: Mapping[str, str], platform: str = "processes") -> Change:
    """The change that adds ``spec.latency_ms`` ± ``spec.jitter_ms`` to ``spec.scope``'s links,
    planned for ``platform``."""
    if spec.latency_ms <= 0 or spec.jitter_ms < 0:
        raise UsageError("latency must be > 0 ms and jitter >= 0 ms")  # any front end
    entries: list[LinkEntry] = []
    for link, selected_is_source in resolve_links(target, spec.scope):
        entry = _link_entry(target, link, listen)
        entry["toxics"] = [
            ToxicDict(name=f"{fault_id}-latency-{stream}", type="latency", stream=stream,
                      toxicity=1.0,
                      attributes={"latency": spec.latency_ms, "jitter": spec.jitter_ms})
            for stream in _stream(selected_is_source, spec.direction)
        ]
        entries.append(entry)
    names = tuple(e["name"] for e in entries)
    data = LinkChangeData(links=entries, latency_ms=spec.latency_ms, jitter_ms=spec.jitter_ms,
                          direction=spec.direction, scope=spec.scope.to_json())
    return Change(FaultKind.LATENCY, platform, fault_id,
                  f"latency {spec.latency_ms}±{spec.jitter_ms} ms ({spec.direction}) on "
                  f"{', '.join(names)}", data, subjects=names)


def _address(entry: LinkEntry) -> tuple[str, int]:
    host, _, port = entry["listen"].rpartition(":")
    return host, int(port)


T = TypeVar("T")


def _parallel(func: Callable[[LinkEntry], T], entries: list[LinkEntry]) -> list[T]:
    """``func`` over ``entries`` on threads (probes wait on the network), in order."""
    with ThreadPoolExecutor(max_workers=max(1, len(entries))) as pool:
        return list(pool.map(func, entries))


def _probe_cut(entry: LinkEntry,
               old: socket.socket | None) -> tuple[list[str], list[str], str]:
    """(problems now, problems of the already-open connection, what was seen) for one link."""
    name, kind = entry["name"], entry["probe"]
    now: list[str] = []
    before: list[str] = []
    if entry["disable"]:
        if not netprobe.new_connection_refused(_address(entry)):
            now.append(f"{name}: a new connection still succeeds")
        if old is not None and not netprobe.connection_cut(old, PROBE_TIMEOUT):
            before.append(f"{name}: an open connection was not cut")
        seen = f"{name}: new connection refused"
    else:
        if netprobe.request(kind, _address(entry), timeout=PROBE_TIMEOUT).answered:
            now.append(f"{name}: a request on a new connection was answered")
        if old is not None and netprobe.request(kind, sock=old, timeout=PROBE_TIMEOUT).answered:
            before.append(f"{name}: a request on an open connection was answered")
        seen = f"{name}: requests unanswered"
    if old is not None:
        old.close()
    return now, before, seen


class LinkActuator:
    """Applies, verifies and reverts link changes through a Toxiproxy API."""

    def __init__(self, client: ToxiproxyClient) -> None:
        self.client = client
        # Connections opened just before a change, to check that it cuts them.
        self._held: dict[str, list[tuple[LinkEntry, socket.socket]]] = {}
        self._open_problems: dict[str, list[str]] = {}
        self._open_checked: dict[str, int] = {}

    def moments(self, change: Change, since: float) -> list[Moment]:
        """The fault proxy's events of the change's proxies since ``since``, each named
        by its link (none from a real Toxiproxy, which keeps no event log)."""
        links = proxy_links(change)
        disabled = {_proxy(e) for e in _data(change)["links"] if e["disable"]}
        return [replace(m, subject=links.get(m.subject, m.subject)) for m in
                groundtruth.proxy_moments(self.client.events(), set(links), since,
                                          toxic_names(change), disabled)]

    def check_untouched(self, change: Change) -> None:
        """Refuse a change on a link that is already down (another fault is at work)."""
        for entry in _data(change)["links"]:
            state = self.client.proxy(_proxy(entry))
            if entry["disable"] and not state.enabled:
                raise UsageError(
                    f"link {entry['name']} is already down (another fault? "
                    "run `chaosgate cleanup --target FILE`). Fix: heal it first"
                )

    def apply(self, change: Change) -> None:
        """Open probe connections, then add the toxics and disable the links."""
        links = _data(change)["links"]
        held = [(e, s) for e in links if (s := netprobe.connect(_address(e))) is not None]
        self._held[change.fault_id] = held
        for entry in links:
            for toxic in entry["toxics"]:
                self.client.add_toxic(_proxy(entry), dict(toxic))
            if entry["disable"]:
                self.client.set_enabled(_proxy(entry), False)

    def revert(self, change: Change) -> None:
        """Remove the change's toxics and enable the links it disabled. Idempotent."""
        for _entry, sock in self._held.pop(change.fault_id, []):
            sock.close()
        for entry in _data(change)["links"]:
            for toxic in entry["toxics"]:
                self.client.remove_toxic(_proxy(entry), toxic["name"])
            if entry["disable"]:
                self.client.set_enabled(_proxy(entry), True)

    def verify(self, change: Change) -> ProbeResult:
        """Partition: new and open connections fail; latency: answers come late.

        The links are probed in parallel; connections opened before the change
        are checked once, on the first call.
        """
        if change.kind == FaultKind.LATENCY:
            return self._verify_latency(change)
        fid = change.fault_id
        held = {e["name"]: sock for e, sock in self._held.pop(fid, [])}
        first = fid not in self._open_problems
        results = _parallel(lambda e: _probe_cut(e, held.get(e["name"])),
                            _data(change)["links"])
        if first:
            self._open_problems[fid] = [p for r in results for p in r[1]]
            self._open_checked[fid] = len(held)
        problems = [p for r in results for p in r[0]] + self._open_problems[fid]
        seen = [r[2] for r in results]
        if self._open_checked[fid]:
            seen.append(f"{self._open_checked[fid]} already-open connection(s) cut or unanswered")
        return ProbeResult(not problems, "; ".join(problems or seen))

    def _verify_latency(self, change: Change) -> ProbeResult:
        data = _data(change)
        expected = (data.get("latency_ms", 0) - data.get("jitter_ms", 0)) / 1000.0
        floor = max(expected * 0.8, 0.001)
        seen, slow = [], True
        answers = _parallel(lambda e: netprobe.request(e["probe"], _address(e),
                                                       timeout=PROBE_TIMEOUT + 2 * expected),
                            data["links"])
        for entry, answer in zip(data["links"], answers, strict=True):
            seen.append(f"{entry['name']}: answered in {answer.elapsed * 1000:.0f} ms"
                        if answer.answered else f"{entry['name']}: {answer.detail}")
            slow = slow and answer.answered and answer.elapsed >= floor
        return ProbeResult(slow, "; ".join(seen) + f" (expected >= {floor * 1000:.0f} ms)")

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Every link enabled, none of the change's toxics left, and requests answered."""
        problems, seen = [], []
        links = _data(change)["links"]
        answers = _parallel(lambda e: netprobe.request(e["probe"], _address(e),
                                                       timeout=PROBE_TIMEOUT), links)
        for entry, answer in zip(links, answers, strict=True):
            state = self.client.proxy(_proxy(entry))
            ours = {t["name"] for t in entry["toxics"]} & set(state.toxic_names)
            if not state.enabled:
                problems.append(f"{entry['name']} is still down")
            if ours:
                problems.append(f"{entry['name']} still has {', '.join(sorted(ours))}")
            if not answer.answered:
                problems.append(f"{entry['name']}: {answer.detail}")
            seen.append(f"{entry['name']}: up, answered in {answer.elapsed * 1000:.0f} ms")
        return ProbeResult(not problems, "; ".join(problems or seen))
