"""The typed, frozen model of a target file (schema ``chaosgate/v1``).

Built by :func:`chaosgate.targets.parse_target`; nothing here reads files
when loaded. Only :meth:`PrometheusConfig.credentials` touches the process
environment (and a token file, if one is named), and only when called.
"""

from __future__ import annotations

import base64
import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from ..exceptions import TargetError
from ..sandbox.topology import Topology, build_topology
from ._reader import did_you_mean
from ._selector import Selector
from ._stop import StopCondition

__all__ = [
    "API_VERSION",
    "DEFAULT_LIMITS",
    "KIND",
    "LIMIT_CEILINGS",
    "LIMIT_UNITS",
    "PROTECTED_NAMESPACES",
    "BasicAuth",
    "Credentials",
    "Database",
    "DbMember",
    "Dependency",
    "Link",
    "PlatformConfig",
    "Program",
    "PrometheusAuth",
    "PrometheusConfig",
    "RecoveryPoint",
    "Safety",
    "SafetyLimits",
    "SandboxBlock",
    "Service",
    "SupervisorConfig",
    "TLSConfig",
    "Target",
    "format_limit",
]

#: The schema this module reads and writes.
API_VERSION = "chaosgate/v1"
KIND = "Target"

PlatformType = Literal["processes", "kubernetes"]
DatabaseType = Literal["patroni", "cloudnativepg", "rds"]

#: Namespaces that only an exact entry of ``safety.namespaces`` allows (never a glob).
PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


class Credentials:
    """Secrets resolved at call time. ``repr()`` and ``str()`` never show them."""

    __slots__ = ("_bearer_token", "_password", "username")

    def __init__(
        self,
        *,
        bearer_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._bearer_token = bearer_token
        self.username = username
        self._password = password

    def headers(self) -> dict[str, str]:
        """HTTP headers that authenticate a request (empty when there is no auth)."""
        if self._bearer_token is not None:
            return {"Authorization": f"Bearer {self._bearer_token}"}
        if self.username is not None and self._password is not None:
            pair = f"{self.username}:{self._password}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
        return {}

    def __repr__(self) -> str:
        kind = "bearer" if self._bearer_token is not None else "basic" if self.username else "none"
        return f"Credentials({kind}, secrets redacted)"

    __str__ = __repr__


def _secret_from(source: str, field_path: str, env: str | None, file: Path | None,
                 environ: Mapping[str, str]) -> str:
    """Read one secret from the named environment variable or file."""
    if env is not None:
        value = environ.get(env, "")
        if not value:
            raise TargetError(
                source, f"{field_path}_env", f"environment variable {env} is not set or is empty",
                f"export {env}=<secret> in the environment that runs chaosgate",
            )
        return value
    assert file is not None
    try:
        value = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TargetError(
            source, f"{field_path}_file", f"cannot read {file}: {exc.strerror or exc}",
            "point it at a readable file that holds only the secret",
        ) from None
    if not value:
        raise TargetError(source, f"{field_path}_file", f"{file} is empty",
                          "write the secret into the file")
    return value


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic auth: a user name and where its password lives (never the password)."""

    username: str
    password_env: str | None = None
    password_file: Path | None = None


@dataclass(frozen=True)
class PrometheusAuth:
    """Where Prometheus credentials live: environment variable names or file paths."""

    bearer_token_env: str | None = None
    bearer_token_file: Path | None = None
    basic: BasicAuth | None = None

    def resolve(self, source: str, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read the secrets now, from ``environ`` (default ``os.environ``) or files.

        Raises :class:`TargetError` naming the variable or file when one is
        missing or empty.
        """
        env = os.environ if environ is None else environ
        if self.bearer_token_env is not None or self.bearer_token_file is not None:
            token = _secret_from(source, "prometheus.auth.bearer_token",
                                 self.bearer_token_env, self.bearer_token_file, env)
            return Credentials(bearer_token=token)
        if self.basic is not None:
            password = _secret_from(source, "prometheus.auth.basic.password",
                                    self.basic.password_env, self.basic.password_file, env)
            return Credentials(username=self.basic.username, password=password)
        return Credentials()


@dataclass(frozen=True)
class TLSConfig:
    """TLS verification for Prometheus."""

    ca_file: Path | None = None
    insecure_skip_verify: bool = False

    @property
    def verify(self) -> bool | str:
        """The value for ``requests``' ``verify=``: a CA bundle path, True or False."""
        if self.insecure_skip_verify:
            return False
        return str(self.ca_file) if self.ca_file is not None else True


@dataclass(frozen=True)
class PrometheusConfig:
    """Where Prometheus answers, how often it scrapes, and how to authenticate."""

    url: str
    scrape_interval: float  # seconds
    auth: PrometheusAuth | None = None
    tls: TLSConfig | None = None
    #: How long a request of the system can take to fail (its longest upstream
    #: timeout): the server observer's edges reach back that much (slo/incidents.py).
    fail_within: float = 0.0
    source: str = field(default="", compare=False, repr=False)

    def credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Resolve the credentials now (see :meth:`PrometheusAuth.resolve`)."""
        if self.auth is None:
            return Credentials()
        return self.auth.resolve(self.source, environ)

    @property
    def verify(self) -> bool | str:
        """``requests``' ``verify=`` for this server."""
        return True if self.tls is None else self.tls.verify


@dataclass(frozen=True)
class SupervisorConfig:
    """A supervisord reached over XML-RPC, and where its password lives (never the password).

    ``url`` is ``http://host:port/RPC2`` (or ``unix:///path/to/supervisor.sock``).
    """

    url: str
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    source: str = field(default="", compare=False, repr=False)

    def password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password, read now from the named variable or file (None: no credentials).

        Raises :class:`TargetError` naming the variable or file when it is
        missing or empty.
        """
        if self.password_env is None and self.password_file is None:
            return None
        env = os.environ if environ is None else environ
        return _secret_from(self.source, "platform.supervisor.password", self.password_env,
                            self.password_file, env)


@dataclass(frozen=True)
class Program:
    """A supervisord program that is a pod: its labels and optional readiness URL.

    Without ``health`` a program is ready when supervisord runs it
    (RUNNING, or STARTING with a pid).
    """

    name: str
    labels: Mapping[str, str] = field(hash=False)  # compared, not hashed (a dict)
    health: str | None = None


@dataclass(frozen=True)
class PlatformConfig:
    """How chaosgate reaches pods: programs of a supervisord, or a Kubernetes cluster.

    Processes: ``supervisor`` (its XML-RPC URL and credentials' source) and
    ``programs`` (program name -> labels, readiness URL).
    Kubernetes: ``kubeconfig`` (``~`` expanded; None: ``$KUBECONFIG`` or ``~/.kube/config``),
    ``context`` (None: the current one) or ``in_cluster``.
    """

    type: PlatformType
    supervisor: SupervisorConfig | None = None
    programs: tuple[Program, ...] = ()
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False


@dataclass(frozen=True)
class SandboxBlock:
    """The ``sandbox:`` block of a target ``chaosgate sandbox up`` wrote.

    Only sandbox commands (``sandbox status/down``, cleanup's link restore,
    the ledger's default place) read it; no fault or SLO needs it.
    ``state_dir`` relative paths are relative to the working directory.
    """

    state_dir: Path
    base_port: int
    system: str = "shop"


@dataclass(frozen=True)
class Service:
    """An application and the label selector that finds its pods."""

    name: str
    selector: Selector
    namespace: str
    replicas: int | None = None  # expected replicas, when the target says


@dataclass(frozen=True)
class Link:
    """A named network link ``source -> destination``.

    ``proxy`` is the fault proxy's (Toxiproxy's) proxy that fronts it when
    the file declares one (``proxy:``); None when it does not, and then the
    proxy, if any, has the link's own name (:attr:`proxy_name`).
    """

    name: str
    source: str  # "from" in the file
    destination: str  # "to" in the file
    proxy: str | None = None  # "proxy" in the file: declared explicitly

    @property
    def proxy_name(self) -> str:
        """The Toxiproxy proxy that would front this link: ``proxy``, else the link's name."""
        return self.proxy or self.name

    @property
    def declares_proxy(self) -> bool:
        """Whether the file names a proxy other than the link's own name (so only a fault
        proxy can carry the link, and a missing proxy is an error, not another mechanism)."""
        return self.proxy is not None and self.proxy != self.name


@dataclass(frozen=True)
class Dependency:
    """A named dependency (postgres, etcd, ...) and the links that reach it."""

    name: str
    links: tuple[str, ...]


@dataclass(frozen=True)
class DbMember:
    """A Patroni member, its REST API and, optionally, what a node crash kills.

    ``programs``: the supervisord programs of the member's node (a node crash
    SIGKILLs them, and their process groups, together); ``data_dir``: its
    PostgreSQL data directory, whose ``postmaster.pid`` names a postmaster
    that runs outside those programs' process groups.
    """

    name: str
    patroni_url: str
    programs: tuple[str, ...] = ()
    data_dir: Path | None = None


@dataclass(frozen=True)
class RecoveryPoint:
    """How acknowledged writes are read back after a failover (the recovery point check).

    ``query`` takes ``%(seqs)s`` (the client sequence numbers, a list) and
    ``%(since)s`` (epoch seconds) and returns rows ``(client_seq, id)``; the
    connection string is ``dsn`` (no secret in it), or read from ``dsn_env``
    or ``dsn_file`` when called (:meth:`conninfo`).
    """

    query: str
    dsn: str | None = None
    dsn_env: str | None = None
    dsn_file: Path | None = None
    source: str = field(default="", compare=False, repr=False)

    def conninfo(self, environ: Mapping[str, str] | None = None) -> str:
        """The libpq connection string, resolved now."""
        if self.dsn is not None:
            return self.dsn
        env = os.environ if environ is None else environ
        return _secret_from(self.source, "database.recovery_point.dsn", self.dsn_env,
                            self.dsn_file, env)


@dataclass(frozen=True)
class Database:
    """The database a failover acts on.

    patroni: ``scope`` and ``members``; cloudnativepg: ``cluster`` and
    ``namespace``; rds: ``cluster_identifier`` and ``region``.
    """

    type: DatabaseType
    scope: str | None = None
    members: tuple[DbMember, ...] = ()
    cluster: str | None = None
    namespace: str | None = None
    cluster_identifier: str | None = None
    region: str | None = None
    etcd_url: str | None = None  # patroni: its DCS, asked when Patroni cannot say who leads
    recovery_point: RecoveryPoint | None = None


@dataclass(frozen=True)
class SafetyLimits:
    """Upper bounds of fault and load parameters, from the target's ``safety`` block.

    Each is optional in the file; the defaults below are what a target that
    does not set it gets (``DEFAULT_LIMITS``). A target may lower a limit, or
    raise it up to its ceiling (``LIMIT_CEILINGS``): the largest value the
    code is known to handle safely (a finite stress watchdog, a delay the
    fault proxy can hold). Durations are in seconds (written ``1h``, ``10m``
    in the file). ``source`` (the target file, "" for none) and ``explicit``
    (the keys the file sets) only say where a limit comes from, in messages.
    """

    max_fault_duration: float = 3600.0  # seconds a fault may be held
    max_latency_ms: int = 60_000  # added network delay: beyond it every request times out
    max_memory_mb: int = 8192  # a memory hog's MiB
    max_cpu_workers: int = 64  # busy loops of a CPU stress
    max_load_duration: float = 24 * 3600.0  # seconds a load run may last
    max_load_rate: float = 10_000.0  # open-model arrivals per second, all workers together
    max_load_users: int = 10_000  # users (closed model) or arrival schedulers (open model)
    source: str = field(default="", compare=False)
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    def origin(self, key: str) -> str:
        """Where limit ``key`` comes from, for a message.

        ``targets/x.yaml safety.max_latency_ms = 5000``, or ``the default
        safety.max_latency_ms = 60000; targets/x.yaml does not set it``.
        """
        setting = f"safety.{key} = {self.display(key)}"
        if key in self.explicit and self.source:
            return f"{self.source} {setting}"
        return f"the default {setting}" + (f"; {self.source} does not set it"
                                           if self.source else "")

    def display(self, key: str) -> str:
        """Limit ``key`` as the file would write it (``1h``, ``90s``, ``60000``)."""
        return format_limit(key, getattr(self, key))

    def raise_fix(self, key: str) -> str:
        """How to allow more: raise the limit in the target file, within its ceiling."""
        where = f" in {self.source}" if self.source else " in the target's safety block"
        return (f"raise safety.{key}{where} (at most {LIMIT_CEILINGS.display(key)}) "
                "if the system can take it")


def format_limit(key: str, value: float) -> str:
    """``value`` of limit ``key`` as a target file writes it: ``1h``, ``90s``, ``1000000``."""
    if LIMIT_UNITS[key] == "s":
        for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if value >= seconds and value % seconds == 0 and (unit != "d" or value > seconds):
                return f"{value / seconds:g}{unit}"
        return f"{value:g}s"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


#: What a target that sets no limit gets.
DEFAULT_LIMITS = SafetyLimits()
#: The most a target may allow: beyond these chaosgate itself is not safe (see decisions.md).
LIMIT_CEILINGS = SafetyLimits(
    max_fault_duration=12 * 3600.0, max_latency_ms=600_000, max_memory_mb=1024 * 1024,
    max_cpu_workers=1024, max_load_duration=7 * 24 * 3600.0, max_load_rate=1_000_000.0,
    max_load_users=100_000,
)
#: Each limit's unit: "s" (a duration string in the file), or what its number counts.
LIMIT_UNITS: dict[str, str] = {
    "max_fault_duration": "s", "max_latency_ms": "ms", "max_memory_mb": "MiB",
    "max_cpu_workers": "busy loops", "max_load_duration": "s",
    "max_load_rate": "requests per second", "max_load_users": "users",
}


@dataclass(frozen=True)
class Safety:
    """The blast-radius limits every fault respects, and the parameter limits."""

    namespaces: tuple[str, ...]
    max_pods_per_fault: int = 1
    max_percent_per_fault: float = 50.0
    min_ready_replicas: int = 1
    dry_run: bool = False
    stop_when: tuple[StopCondition, ...] = ()  # every fault on the target honours them
    # a game day starts only while every gating SLO keeps at least this share of its
    # period's error budget (None: no admission check)
    min_error_budget: float | None = None
    limits: SafetyLimits = DEFAULT_LIMITS

    def allows_namespace(self, namespace: str) -> bool:
        """Whether faults may touch ``namespace``.

        Entries may be globs (``team-*``), but kube-system, kube-public and
        kube-node-lease are allowed only by an exact entry.
        """
        if namespace in self.namespaces:
            return True
        if namespace in PROTECTED_NAMESPACES:
            return False
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _find(items: tuple[N, ...], name: str, source: str, section: str, what: str) -> N:
    """The item called ``name``, or a TargetError listing the names there are."""
    for item in items:
        if item.name == name:
            return item
    known = [item.name for item in items]
    raise TargetError(
        source, section, f"no {what} named {name!r}",
        f"{did_you_mean(name, known)}use one of: {', '.join(known) or '(none defined)'}, "
        f"or add it to {section}",
    )


@dataclass(frozen=True)
class Target:
    """A validated target file. ``source`` is the file it came from."""

    name: str
    platform: PlatformConfig
    prometheus: PrometheusConfig
    ingress_url: str
    namespace: str
    services: tuple[Service, ...]
    safety: Safety
    links: tuple[Link, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    faultproxy_url: str | None = None
    database: Database | None = None
    #: The history store every game day run is appended to (relative: to the working
    #: directory); None: ``history.sqlite`` in the reports folder.
    history: Path | None = None
    #: Set only in a target ``chaosgate sandbox up`` wrote (its ``sandbox:`` block).
    sandbox: SandboxBlock | None = None
    source: str = field(default="<memory>", compare=False)

    @property
    def is_sandbox(self) -> bool:
        """True when the target is a sandbox chaosgate started (it has a ``sandbox:`` block)."""
        return self.sandbox is not None

    def sandbox_topology(self) -> Topology:
        """The sandbox's topology (ports, pods, links) for this target's base port.

        A relative ``state_dir`` is taken from the working directory and made
        absolute here: supervisord changes directory when it daemonizes, so
        every path it is given must be absolute.
        """
        if self.sandbox is None:
            raise TargetError(self.source, "sandbox", "this target is not a sandbox",
                              "use the target `chaosgate sandbox up` wrote "
                              "(<state_dir>/target.yaml)")
        return build_topology(self.sandbox.state_dir.absolute(), self.sandbox.base_port,
                              self.sandbox.system)

    def program(self, name: str) -> Program:
        """The program called ``name`` of a processes platform; TargetError if none."""
        return _find(self.platform.programs, name, self.source, "platform.programs", "program")

    def service(self, name: str) -> Service:
        """The service called ``name``; :class:`TargetError` if there is none."""
        return _find(self.services, name, self.source, "services", "service")

    def link(self, name: str) -> Link:
        """The link called ``name``; :class:`TargetError` if there is none."""
        return _find(self.links, name, self.source, "links", "link")

    def dependency(self, name: str) -> Dependency:
        """The dependency called ``name``; :class:`TargetError` if there is none."""
        return _find(self.dependencies, name, self.source, "dependencies", "dependency")

    def links_of(self, dependency: str) -> tuple[Link, ...]:
        """The links that reach ``dependency``, resolved."""
        return tuple(self.link(name) for name in self.dependency(dependency).links)

    def service_for_selector(self, selector: str | Selector,
                             namespace: str | None = None) -> Service | None:
        """The service whose pods ``selector`` selects, or None if that is not clear.

        A service whose selector is the same (in any spelling) wins; else the
        one service whose requirements are all part of ``selector`` (which then
        selects a subset of its pods). ``namespace`` (default: the target's)
        must match the service's.
        """
        wanted = selector if isinstance(selector, Selector) else Selector.parse(selector)
        ns = namespace or self.namespace
        candidates = [s for s in self.services if s.namespace == ns]
        for service in candidates:
            if service.selector == wanted:
                return service
        narrower = [s for s in candidates if wanted.narrows(s.selector)]
        return narrower[0] if len(narrower) == 1 else None
