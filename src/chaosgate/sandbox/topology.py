"""The sandbox's shape as plain data: ports, pods, links and scrape targets.

Pure: nothing here touches the disk or the network. Every port derives from
one base port, so two sandboxes (a developer's and a test session's) can run
side by side with different bases. Config rendering (:mod:`.config`) and the
process manager (:mod:`.manager`) read this model; nothing else invents ports.

The sandbox runs one of :data:`SYSTEMS`: ``shop`` (the default: gateway,
catalog and orders over a Patroni pair) or ``events`` (an event pipeline:
ingest replicas append to a Redis stream, consumers of one consumer group
process it; no database members). The system decides the pods, links and
broker; the shared components (supervisord, HAProxy, the fault proxy,
Prometheus, Alertmanager) and every other port are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_BASE_PORT",
    "EVENTS_APPS",
    "SHOP_APPS",
    "SYSTEMS",
    "Broker",
    "DbMember",
    "Link",
    "Pod",
    "Ports",
    "Topology",
    "build_topology",
]

DEFAULT_BASE_PORT = 27000
REPLICAS = 2
SHOP_APPS = ("gateway", "catalog", "orders")
EVENTS_APPS = ("ingest", "consumer")
#: The systems the sandbox can run (``chaosgate sandbox up --system``); the first is the default.
SYSTEMS = ("shop", "events")
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    """Every listening port of the sandbox, as offsets from ``base``."""

    base: int

    @property
    def ingress(self) -> int:
        """HAProxy's public frontend (the shop's entry point)."""
        return self.base

    @property
    def haproxy_stats(self) -> int:
        """HAProxy's stats page and Prometheus exporter (``/metrics``)."""
        return self.base + 1

    @property
    def prometheus(self) -> int:
        return self.base + 2

    @property
    def supervisor(self) -> int:
        """supervisord's XML-RPC interface."""
        return self.base + 3

    @property
    def faultproxy_api(self) -> int:
        """The fault proxy's Toxiproxy-compatible HTTP API."""
        return self.base + 4

    @property
    def etcd_client(self) -> int:
        return self.base + 5

    @property
    def etcd_peer(self) -> int:
        return self.base + 6

    @property
    def alertmanager(self) -> int:
        """Alertmanager's API and UI (clustering off)."""
        return self.base + 7

    def replica(self, app: str, index: int) -> int:
        """Port of replica ``index`` of shop service ``app``."""
        return self.base + 10 + 2 * SHOP_APPS.index(app) + index

    def service(self, app: str) -> int:
        """HAProxy's in-cluster "Service" frontend for ``app`` (gateway excluded)."""
        return self.base + 20 + SHOP_APPS.index(app)

    def pod(self, app_index: int, index: int) -> int:
        """Port of replica ``index`` of a system's ``app_index``-th app."""
        return self.base + 10 + 2 * app_index + index

    def postgres(self, index: int) -> int:
        return self.base + 30 + index

    @property
    def broker(self) -> int:
        """The events system's Redis (the shop's PostgreSQL ports are free there)."""
        return self.base + 30

    def patroni(self, index: int) -> int:
        """Patroni's REST API of member ``index``."""
        return self.base + 32 + index

    def link(self, index: int) -> int:
        """Listen port of the fault proxy's ``index``-th link."""
        return self.base + 40 + index

    @property
    def loadgen_metrics(self) -> int:
        """Where a running load generator exports client-side metrics."""
        return self.base + 50

    @property
    def alert_webhook(self) -> int:
        """Where chaosgate's notification receiver listens while a game day or experiment
        runs (Alertmanager's only receiver)."""
        return self.base + 51

    @property
    def highest(self) -> int:
        return self.base + 59


@dataclass(frozen=True)
class Pod:
    """A supervised process that behaves like a Kubernetes pod."""

    name: str  # supervisord program name, e.g. "orders-1"
    app: str
    port: int
    labels: dict[str, str] = field(default_factory=dict)
    #: the readiness probe's HTTP path on ``port``; None: ready = running (a broker
    #: that speaks no HTTP)
    health_path: str | None = "/healthz"

    @property
    def health_url(self) -> str | None:
        """``http://127.0.0.1:<port>/healthz``, or None for a pod with no HTTP probe."""
        return None if self.health_path is None else f"http://{HOST}:{self.port}{self.health_path}"

    @property
    def scraped(self) -> bool:
        """True when Prometheus scrapes the pod itself (it serves ``/metrics``)."""
        return self.health_path is not None


@dataclass(frozen=True)
class Broker:
    """The events system's Redis: one pod, its append-only data under ``data_dir``."""

    pod: Pod
    data_dir: Path
    stream: str = "events"
    group: str = "processors"


@dataclass(frozen=True)
class DbMember:
    """A PostgreSQL node managed by Patroni."""

    name: str  # Patroni member name and supervisord program name, e.g. "pg0"
    index: int
    pg_port: int
    rest_port: int
    data_dir: Path


@dataclass(frozen=True)
class Link:
    """A network link that passes through the fault proxy.

    ``listen`` is where the client side connects; ``upstream`` is the real
    server. Named ``<from>-<to>`` so that a partition reads naturally.
    """

    name: str
    source: str
    destination: str
    listen: int
    upstream: int

    @property
    def listen_address(self) -> str:
        return f"{HOST}:{self.listen}"

    @property
    def upstream_address(self) -> str:
        return f"{HOST}:{self.upstream}"


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str
    metrics_path: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Topology:
    """The whole sandbox, derived from a state directory and a base port."""

    state_dir: Path
    ports: Ports
    pods: tuple[Pod, ...]
    db_members: tuple[DbMember, ...]
    links: tuple[Link, ...]
    scope: str = "chaosgate"  # Patroni cluster name
    system: str = "shop"  # one of SYSTEMS
    broker: Broker | None = None  # the events system's Redis
    #: the system's entry app (HAProxy's ingress sends to it)
    entry_app: str = "gateway"
    #: the target's safety block: a system with a single broker lets a fault take it
    #: down whole (a broker crash), the shop keeps one ready replica of every app
    min_ready_replicas: int = 1
    max_percent_per_fault: int = 50

    @property
    def apps(self) -> tuple[str, ...]:
        """The apps of the pods, in pod order (a target's services)."""
        return tuple(dict.fromkeys(p.app for p in self.pods))

    @property
    def ingress_url(self) -> str:
        return f"http://{HOST}:{self.ports.ingress}"

    @property
    def front_door(self) -> str:
        """What to try first, for `sandbox up` to print: the system's request at its ingress."""
        if self.system == "events":
            return f"events (ingress) POST {self.ingress_url}/events"
        return f"shop (ingress)   {self.ingress_url}/api/products"

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.ports.prometheus}"

    @property
    def faultproxy_url(self) -> str:
        return f"http://{HOST}:{self.ports.faultproxy_api}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{HOST}:{self.ports.alertmanager}"

    @property
    def alert_webhook_url(self) -> str:
        """The URL Alertmanager posts notifications to (chaosgate's receiver)."""
        return f"http://{HOST}:{self.ports.alert_webhook}/alerts"

    @property
    def rules_file(self) -> Path:
        """The SLO rules Prometheus loads (``chaosgate slo rules`` of the sandbox's catalogue)."""
        return self.conf_dir / "slo-rules.yml"

    @property
    def notifications_file(self) -> Path:
        """Every notification chaosgate's receiver got, one JSON line each, with its time."""
        return self.state_dir / "notifications.jsonl"

    @property
    def supervisor_url(self) -> str:
        return f"http://{HOST}:{self.ports.supervisor}/RPC2"

    @property
    def etcd_url(self) -> str:
        return f"http://{HOST}:{self.ports.etcd_client}"

    @property
    def conf_dir(self) -> Path:
        return self.state_dir / "conf"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def events_file(self) -> Path:
        """JSON lines of every process state change, written by the event listener."""
        return self.state_dir / "events.jsonl"

    @property
    def loadgen_sd_file(self) -> Path:
        """Prometheus file_sd for the load generator; written while load runs."""
        return self.conf_dir / "loadgen-targets.json"

    def link(self, name: str) -> Link:
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(name)

    def pods_of(self, app: str) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.app == app)

    def upstream_for(self, source: str, destination: str) -> str:
        """``host:port`` a ``source`` pod uses to reach ``destination``."""
        for link in self.links:
            if link.source == source and link.destination == destination:
                return link.listen_address
        raise KeyError(f"{source}->{destination}")

    def database_dsn(self, dbname: str = "shop", user: str = "shop") -> str:
        """libpq multi-host DSN of the orders service, through its links."""
        hosts = ",".join(HOST for _ in self.db_members)
        ports = ",".join(str(self.link(f"orders-{m.name}").listen) for m in self.db_members)
        return (
            f"host={hosts} port={ports} dbname={dbname} user={user} "
            "target_session_attrs=read-write connect_timeout=2"
        )

    def scrape_targets(self) -> tuple[ScrapeTarget, ...]:
        """Every endpoint Prometheus scrapes (the load generator excepted)."""
        targets = [
            ScrapeTarget(
                job=pod.app,
                address=f"{HOST}:{pod.port}",
                metrics_path="/metrics",
                labels={"pod": pod.name, **pod.labels},
            )
            for pod in self.pods if pod.scraped
        ]
        targets.append(
            ScrapeTarget("haproxy", f"{HOST}:{self.ports.haproxy_stats}", "/metrics", {})
        )
        targets.extend(
            ScrapeTarget(
                "patroni", f"{HOST}:{m.rest_port}", "/metrics", {"member": m.name}
            )
            for m in self.db_members
        )
        if self.db_members:  # etcd runs for Patroni only
            targets.append(
                ScrapeTarget("etcd", f"{HOST}:{self.ports.etcd_client}", "/metrics", {}))
        targets.append(
            ScrapeTarget("faultproxy", f"{HOST}:{self.ports.faultproxy_api}", "/metrics", {})
        )
        targets.append(
            ScrapeTarget("prometheus", f"{HOST}:{self.ports.prometheus}", "/metrics", {})
        )
        return tuple(targets)


def build_topology(state_dir: Path, base_port: int = DEFAULT_BASE_PORT,
                   system: str = "shop") -> Topology:
    """Derive the full sandbox model of ``system`` from ``state_dir`` and ``base_port``."""
    if not 1024 <= base_port <= 65535 - 60:
        raise ValueError(f"base port {base_port} must be between 1024 and 65475")
    if system not in SYSTEMS:
        raise ValueError(f"system {system!r} is not one of the sandbox's: {', '.join(SYSTEMS)}")
    ports = Ports(base_port)
    if system == "events":
        return _events_topology(state_dir, ports)
    return _shop_topology(state_dir, ports)


def _links(ports: Ports, specs: list[tuple[str, str, int]]) -> tuple[Link, ...]:
    return tuple(
        Link(f"{src}-{dst}", src, dst, ports.link(i), upstream)
        for i, (src, dst, upstream) in enumerate(specs)
    )


def _shop_topology(state_dir: Path, ports: Ports) -> Topology:
    pods = tuple(
        Pod(
            name=f"{app}-{i}",
            app=app,
            port=ports.replica(app, i),
            labels={"app": app, "tier": "frontend" if app == "gateway" else "backend"},
        )
        for app in SHOP_APPS
        for i in range(REPLICAS)
    )
    members = tuple(
        DbMember(
            name=f"pg{i}",
            index=i,
            pg_port=ports.postgres(i),
            rest_port=ports.patroni(i),
            data_dir=state_dir / "data" / f"pg{i}",
        )
        for i in range(2)
    )
    link_specs: list[tuple[str, str, int]] = [
        ("gateway", "catalog", ports.service("catalog")),
        ("gateway", "orders", ports.service("orders")),
    ]
    link_specs += [("orders", m.name, m.pg_port) for m in members]
    link_specs += [(m.name, "etcd", ports.etcd_client) for m in members]
    return Topology(
        state_dir=state_dir, ports=ports, pods=pods, db_members=members,
        links=_links(ports, link_specs),
    )


def _events_topology(state_dir: Path, ports: Ports) -> Topology:
    """Ingest (the entry) and consumer replicas, and the Redis broker they reach through
    the links ``ingest-redis`` and ``consumer-redis``."""
    pods = [
        Pod(name=f"{app}-{i}", app=app, port=ports.pod(a, i),
            labels={"app": app, "tier": "frontend" if app == "ingest" else "backend"})
        for a, app in enumerate(EVENTS_APPS)
        for i in range(REPLICAS)
    ]
    redis = Pod(name="redis", app="redis", port=ports.broker,
                labels={"app": "redis", "tier": "broker"}, health_path=None)
    links = _links(ports, [(app, "redis", ports.broker) for app in EVENTS_APPS])
    return Topology(
        state_dir=state_dir, ports=ports, pods=(*pods, redis), db_members=(), links=links,
        system="events", broker=Broker(redis, state_dir / "data" / "redis"),
        entry_app="ingest", min_ready_replicas=0, max_percent_per_fault=100,
    )
