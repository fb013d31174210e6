"""The platform contract: how faults reach pods, links and databases.

A *platform* (the programs of a supervisord, the sandbox among them; a
Kubernetes cluster) is reached only
through the :class:`Platform` protocol; a database that can fail over only
through :class:`DatabaseAdapter`. Faults (``chaosgate.faults``) never talk to
supervisord, the fault proxy, the Kubernetes API or Patroni themselves.

Every reversible change follows the same three steps, so that the ledger can
record it *before* it happens and a fresh process can undo it after a
SIGKILL:

1. ``plan_*()`` resolves what would be done into a :class:`Change`: plain
   JSON data (link names, toxic names, NetworkPolicy names, pids, ...) and a
   human description. It has no side effect; dry-run prints it.
2. ``apply(change)`` makes the change. ``verify(change)`` is the active probe
   that says whether it took hold (a connection across a partition fails,
   the Patroni leader changed, ...).
3. ``revert(change)`` undoes it. It is idempotent, safe on a change that was
   never (or only partly) applied, and needs nothing but ``change`` and the
   target the platform was built from (never in-memory state of the process
   that applied it). ``verify_reverted(change)`` is the probe that says the
   system is healed.

Names of platform objects a change creates (NetworkPolicies, Chaos Mesh
resources, toxics) derive from ``change.fault_id`` and are labelled with it,
so ``revert`` finds them again. Fault ids are lowercase DNS labels
(``cg-`` + 10 hex digits), usable in Kubernetes names.

Semantics the implementations share:

- :class:`PodRef` ``uid`` is the pod's *incarnation*: the pid of a supervised program,
  ``metadata.uid`` in Kubernetes. A killed pod is "gone" when no pod with
  that name *and* uid exists any more (a restart gives a new uid).
- ``direction`` (as in Chaos Mesh NetworkChaos) is seen from ``selector``:
  ``"to"`` cuts or delays traffic from the selected pods to the peer,
  ``"from"`` traffic from the peer to them, ``"both"`` either way.
- Everything in a :class:`Change` is JSON-serialisable (:meth:`Change.to_json`,
  :meth:`Change.from_json`).

Contract for ``platforms/kubernetes.py`` (used by
:func:`chaosgate.platforms.platform_for` and
:func:`chaosgate.platforms.database_for`): it defines
``KubernetesPlatform(target)`` implementing :class:`Platform`, and
``kubernetes_database(target, platform) -> DatabaseAdapter`` for the
target's ``database.type`` (cloudnativepg, rds, patroni on Kubernetes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from ..targets import Selector, Target

__all__ = [
    "DB_METHODS",
    "DIRECTIONS",
    "STRESS_MODES",
    "Change",
    "DatabaseAdapter",
    "DbMemberState",
    "Direction",
    "FailoverMethod",
    "FaultKind",
    "LatencySpec",
    "Moment",
    "NetworkScope",
    "NetworkScopeDict",
    "PartitionSpec",
    "Platform",
    "PodRef",
    "PodRefDict",
    "ProbeResult",
    "StressMode",
    "StressSpec",
]

Direction = Literal["to", "from", "both"]
DIRECTIONS: tuple[Direction, ...] = ("to", "from", "both")
StressMode = Literal["cpu", "memory", "freeze"]
STRESS_MODES: tuple[StressMode, ...] = ("cpu", "memory", "freeze")
FailoverMethod = Literal["switchover", "failover", "node-crash", "promote", "delete-primary",
                         "reboot"]
#: Methods per database type (``DatabaseAdapter.methods`` returns the ones it supports).
DB_METHODS: Mapping[str, tuple[str, ...]] = {
    "patroni": ("switchover", "failover", "node-crash"),
    "cloudnativepg": ("switchover", "delete-primary"),
    "rds": ("failover", "reboot"),
}


class FaultKind(StrEnum):
    """The one name of each kind of fault: in the CLI (``chaosgate fault <kind>``), fault
    specs (``kind:``), the ledger, Chaos Toolkit results and reports.

    A :class:`Change` carries its fault's kind; faults dispatch ``revert`` to
    the platform, or to the database adapter for :attr:`FAILOVER_DB`.
    """

    KILL_PODS = "kill-pods"
    PARTITION = "partition"
    LATENCY = "latency"
    FAILOVER_DB = "failover-db"
    STRESS = "stress"

    @classmethod
    def parse(cls, text: str) -> FaultKind:
        """The kind named ``text``; also the names ledgers before 0.2 wrote
        (``pod_kill``, ``db_failover``). ValueError for anything else."""
        return cls(_LEGACY_KINDS.get(text, text))


_LEGACY_KINDS = {"pod_kill": "kill-pods", "db_failover": "failover-db"}


class PodRefDict(TypedDict):
    """A :class:`PodRef` as plain JSON (:meth:`PodRef.to_json`), e.g. in change data."""

    name: str
    namespace: str
    labels: dict[str, str]
    ready: bool  # ready when it was listed
    uid: str  # incarnation: a supervised program's pid, metadata.uid in Kubernetes
    node: str | None  # the node (Kubernetes) or None


@dataclass(frozen=True)
class PodRef:
    """One pod (processes: a supervised program) as a platform lists it."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ready: bool
    uid: str  # incarnation: a supervised program's pid, metadata.uid in Kubernetes
    node: str | None = None  # the node (Kubernetes) or None

    def to_json(self) -> PodRefDict:
        """Plain data for the ledger and reports."""
        return PodRefDict(name=self.name, namespace=self.namespace, labels=dict(self.labels),
                          ready=self.ready, uid=self.uid, node=self.node)

    @classmethod
    def from_json(cls, data: PodRefDict) -> PodRef:
        """The inverse of :meth:`to_json`."""
        return cls(
            name=str(data["name"]),
            namespace=str(data["namespace"]),
            labels={str(k): str(v) for k, v in dict(data.get("labels", {})).items()},
            ready=bool(data.get("ready", False)),
            uid=str(data["uid"]),
            node=data.get("node"),
        )


class NetworkScopeDict(TypedDict):
    """A :class:`NetworkScope` as plain JSON (:meth:`NetworkScope.to_json`)."""

    namespace: str
    selector: str | None  # canonical label selector text
    peer_selector: str | None
    peer_namespace: str | None
    dependency: str | None
    links: list[str]


@dataclass(frozen=True)
class NetworkScope:
    """Which traffic a network fault acts on.

    The pods selected by ``selector`` in ``namespace``, and on the other side
    either the pods selected by ``peer_selector`` (in ``peer_namespace``,
    default ``namespace``) or the target's dependency called ``dependency``
    (e.g. ``postgres``). ``links`` names the target's links this traffic
    uses, when the target lists them (the sandbox acts on exactly these;
    Kubernetes may ignore them). At least one of ``peer_selector``,
    ``dependency`` or ``links`` is set.
    """

    namespace: str
    selector: str | None = None  # canonical label selector text
    peer_selector: str | None = None
    peer_namespace: str | None = None
    dependency: str | None = None
    links: tuple[str, ...] = ()

    def selector_parsed(self) -> Selector | None:
        """``selector`` as a :class:`Selector` (None when unset)."""
        return None if self.selector is None else Selector.parse(self.selector)

    def peer_parsed(self) -> Selector | None:
        """``peer_selector`` as a :class:`Selector` (None when unset)."""
        return None if self.peer_selector is None else Selector.parse(self.peer_selector)

    def describe(self) -> str:
        """Human text, e.g. ``app=api <-> postgres (api-pg0, api-pg1)``."""
        left = self.selector or "?"
        right = self.peer_selector or self.dependency or "?"
        via = f" ({', '.join(self.links)})" if self.links else ""
        return f"{left} <-> {right}{via}"

    def to_json(self) -> NetworkScopeDict:
        """Plain data."""
        return NetworkScopeDict(namespace=self.namespace, selector=self.selector,
                                peer_selector=self.peer_selector,
                                peer_namespace=self.peer_namespace, dependency=self.dependency,
                                links=list(self.links))

    @classmethod
    def from_json(cls, data: NetworkScopeDict) -> NetworkScope:
        """The inverse of :meth:`to_json`."""
        return cls(
            namespace=str(data["namespace"]),
            selector=data.get("selector"),
            peer_selector=data.get("peer_selector"),
            peer_namespace=data.get("peer_namespace"),
            dependency=data.get("dependency"),
            links=tuple(data.get("links", ())),
        )


@dataclass(frozen=True)
class PartitionSpec:
    """Cut the traffic of ``scope`` in ``direction`` (existing connections too)."""

    scope: NetworkScope
    direction: Direction = "both"


@dataclass(frozen=True)
class LatencySpec:
    """Delay the traffic of ``scope`` by ``latency_ms`` ± ``jitter_ms``.

    Default direction ``"to"``: requests from the selected pods to the peer
    are delayed (sandbox: the fault proxy's ``upstream`` stream).
    """

    scope: NetworkScope
    latency_ms: int
    jitter_ms: int = 0
    direction: Direction = "to"


@dataclass(frozen=True)
class StressSpec:
    """Exhaust a pod's resources.

    ``cpu``: ``cpu_workers`` busy loops; ``memory``: allocate and touch
    ``memory_mb`` MiB; ``freeze``: stop the pod's processes (SIGSTOP, or the
    platform's equivalent) until reverted. ``duration_s``, when given, is a
    safety net: the platform ends the stress by itself that long after it
    began, even if nobody reverts it (Chaos Mesh ``duration``; the sandbox's
    hog and freeze watchdog exit then).
    """

    mode: StressMode
    cpu_workers: int = 1
    memory_mb: int = 256
    duration_s: float | None = None


@dataclass(frozen=True)
class Change:
    """A planned platform change: everything needed to apply, verify and revert it.

    ``data`` is plain JSON, private to the module that planned it: only that
    module reads it, and it declares its shape as a ``TypedDict`` (e.g.
    :class:`chaosgate.platforms.sandbox_net.LinkChangeData`). What others may
    read is typed here: ``description`` is one line for humans (dry-run,
    cleanup), ``subjects`` names the pods, links or database members the
    change acts on (reports match ground-truth moments to them), and
    ``platform`` is the platform kind that planned it.
    """

    kind: FaultKind
    platform: str
    fault_id: str
    description: str
    data: Mapping[str, Any] = field(default_factory=dict)
    subjects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data for the ledger."""
        return {"kind": str(self.kind), "platform": self.platform, "fault_id": self.fault_id,
                "description": self.description, "data": dict(self.data),
                "subjects": list(self.subjects)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """The inverse of :meth:`to_json`."""
        return cls(kind=FaultKind.parse(str(data["kind"])), platform=str(data["platform"]),
                   fault_id=str(data["fault_id"]), description=str(data["description"]),
                   data=dict(data.get("data", {})),
                   subjects=tuple(str(x) for x in data.get("subjects", ())))


@dataclass(frozen=True)
class ProbeResult:
    """The answer of an active probe: whether it holds, and what was seen."""

    ok: bool
    detail: str

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class Moment:
    """A ground-truth moment: when the system really changed (epoch seconds).

    ``what`` is e.g. ``"process died"``, ``"RUNNING again"``, ``"ready again"``,
    ``"link down"``, ``"timeline 3"``; ``subject`` the pod, link or member;
    ``source`` where it was read (``events.jsonl``, ``faultproxy /events``,
    ``patroni /history``, ``kubernetes events``).
    """

    t: float
    what: str
    subject: str
    source: str

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


@dataclass(frozen=True)
class DbMemberState:
    """A database member: its role and whether it is healthy."""

    name: str
    role: str  # "primary" | "replica" | other (e.g. "stopped")
    healthy: bool  # running (primary) or streaming (replica)
    timeline: int | None = None


@runtime_checkable
class Platform(Protocol):
    """Where pods run and links go: supervised processes or a Kubernetes cluster.

    Built from a validated :class:`~chaosgate.targets.Target`. Methods raise
    :class:`~chaosgate.exceptions.Inconclusive` (or a subclass) when the
    platform cannot be reached, :class:`~chaosgate.exceptions.UsageError`
    when a spec names something that does not exist.
    """

    #: "processes" or "kubernetes" (older ledgers: "sandbox"); stored in every
    #: :class:`Change`.
    kind: str
    target: Target

    def list_pods(self, selector: Selector, namespace: str) -> list[PodRef]:
        """The pods ``selector`` selects in ``namespace``, with readiness, sorted by name."""
        ...

    def kill_pod(self, pod: PodRef) -> None:
        """Kill ``pod`` at once (processes: SIGKILL; Kubernetes: delete with grace period 0).

        The platform (supervisord, the Deployment) brings a replacement up;
        there is nothing to revert.
        """
        ...

    def pod_gone(self, pod: PodRef) -> bool:
        """True when the incarnation ``pod.uid`` of ``pod`` no longer exists."""
        ...

    def plan_partition(self, spec: PartitionSpec, fault_id: str) -> Change:
        """Resolve a partition into a :class:`Change` (kind ``partition``); no side effect."""
        ...

    def plan_latency(self, spec: LatencySpec, fault_id: str) -> Change:
        """Resolve added latency into a :class:`Change` (kind ``latency``); no side effect."""
        ...

    def plan_stress(self, spec: StressSpec, pods: list[PodRef], fault_id: str) -> Change:
        """Resolve resource exhaustion of ``pods`` into a :class:`Change` (kind ``stress``)."""
        ...

    def apply(self, change: Change) -> None:
        """Make a planned partition, latency or stress change."""
        ...

    def verify(self, change: Change) -> ProbeResult:
        """Active probe: ok when ``change`` has taken hold (e.g. the link is really cut)."""
        ...

    def revert(self, change: Change) -> None:
        """Undo ``change`` (heal, remove latency, stop the hog, SIGCONT). Idempotent."""
        ...

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Active probe: ok when the effect of ``change`` is gone (e.g. a connection works)."""
        ...

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Ground-truth moments about ``change``'s subjects since ``since`` (may be empty)."""
        ...


@runtime_checkable
class DatabaseAdapter(Protocol):
    """A replicated database that can fail over (Patroni, CloudNativePG, RDS).

    ``plan_failover`` returns a :class:`Change` with ``kind=FaultKind.FAILOVER_DB``;
    ``apply`` triggers the failover and returns once it was requested (or, for
    a node crash, once the node is down); ``verify`` is ok once a *different*
    member is the healthy primary; ``revert`` brings a crashed node back (a
    no-op for planned switchovers: a failover is not undone by failing back);
    ``verify_reverted`` is ok when the cluster is healthy again (one primary,
    every other member a healthy replica, the old primary among them).
    """

    #: "patroni" | "cloudnativepg" | "rds"
    kind: str

    def methods(self) -> tuple[str, ...]:
        """The failover methods this adapter supports (see :data:`DB_METHODS`)."""
        ...

    def members(self) -> list[DbMemberState]:
        """Every member with its role and health."""
        ...

    def primary(self) -> str | None:
        """The name of the current healthy primary, if there is one."""
        ...

    def healthy(self) -> bool:
        """One healthy primary and every other member a healthy replica."""
        ...

    def plan_failover(self, method: str, fault_id: str, candidate: str | None = None) -> Change:
        """Resolve a failover by ``method`` into a :class:`Change`; no side effect."""
        ...

    def apply(self, change: Change) -> None:
        """Trigger the planned failover."""
        ...

    def verify(self, change: Change) -> ProbeResult:
        """Active probe: ok when another member than the old primary leads."""
        ...

    def revert(self, change: Change) -> None:
        """Bring back what the failover took down (a crashed node). Idempotent."""
        ...

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Active probe: ok when the cluster is healthy, the old primary a replica."""
        ...

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Ground truth: process deaths/restarts, timeline changes since ``since``."""
        ...
