"""NetworkPartition and Latency: cut or slow the traffic between two sides.

One side is the pods a label selector selects; the other is the pods of a
second selector, a dependency the target names (``postgres``), or the
target's links named directly (``--link api-db``). The platform
resolves that into its own means (sandbox: fault proxy links; Kubernetes:
NetworkPolicy or Chaos Mesh) and verifies it with an active probe (a
partitioned link refuses new connections and cuts open ones; a slowed link
answers late).

Safety: the namespaces on both sides must be allowed. Pod-count limits do
not apply: a network fault acts on a service's traffic, not on pods.
A scope naming no side, or too many, is refused naming the options as the
front end that prints it spells them (``front_end``, :mod:`chaosgate.frontends`).
"""

from __future__ import annotations

from ..exceptions import UsageError
from ..frontends import FrontEnd, option
from ..platforms.base import Change, Direction, FaultKind, LatencySpec, NetworkScope, PartitionSpec
from ..targets import Selector, Target
from .base import Actuator, Fault, FaultContext
from .selection import check_namespace

__all__ = ["Latency", "NetworkPartition", "build_scope", "scope_for_links"]


def scope_for_links(target: Target, links: tuple[str, ...]) -> NetworkScope:
    """The scope of the named links; the selector is the first link's source service."""
    resolved = [target.link(name) for name in links]
    names = {s.name: s for s in target.services}
    source = names.get(resolved[0].source)
    peer = names.get(resolved[0].destination)
    return NetworkScope(
        namespace=source.namespace if source else target.namespace,
        selector=str(source.selector) if source else None,
        peer_selector=str(peer.selector) if peer else None,
        dependency=None if peer else resolved[0].destination,
        links=tuple(x.name for x in resolved),
    )


def build_scope(target: Target, selector: str | None, namespace: str | None,
                peer_selector: str | None, dependency: str | None,
                links: tuple[str, ...], *, front_end: FrontEnd = "chaosgate") -> NetworkScope:
    """Validate the choice of sides into a :class:`NetworkScope`; a UsageError naming the
    options as ``front_end`` spells them."""
    def how(name: str) -> str:
        return option(f"fault.{name}", front_end)

    if links:
        if selector or peer_selector or dependency:
            raise UsageError(f"network fault: {how('links')} names both sides already. Fix: "
                             f"drop {how('selector')}, {how('peer_selector')} and "
                             f"{how('dependency')}")
        return scope_for_links(target, links)
    if not selector:
        raise UsageError(f"network fault: no side is named. Fix: name one side with "
                         f"{how('selector')} (e.g. app=api), or name the links with "
                         f"{how('links')}")
    if bool(peer_selector) == bool(dependency):
        problem = ("both peer_selector and dependency are given" if peer_selector
                   else "the other side is not named")
        raise UsageError(f"network fault: {problem}. Fix: name the other side with exactly "
                         f"one of {how('peer_selector')} (e.g. app=worker) or "
                         f"{how('dependency')} (e.g. postgres)")
    if dependency:
        target.dependency(dependency)  # TargetError naming the known ones
    return NetworkScope(
        namespace=namespace or target.namespace,
        selector=str(Selector.parse(selector)),
        peer_selector=str(Selector.parse(peer_selector)) if peer_selector else None,
        dependency=dependency,
    )


def _check(ctx: FaultContext, scope: NetworkScope) -> None:
    check_namespace(ctx.target.safety, scope.namespace)
    if scope.peer_namespace:
        check_namespace(ctx.target.safety, scope.peer_namespace)


class NetworkPartition(Fault):
    """Cut the traffic of ``scope`` in ``direction``; open connections are cut too."""

    kind = FaultKind.PARTITION

    def __init__(self, ctx: FaultContext, scope: NetworkScope,
                 direction: Direction = "both") -> None:
        super().__init__(ctx)
        self.spec = PartitionSpec(scope, direction)

    def prepare(self) -> tuple[Change, Actuator]:
        """Check the namespaces, let the platform plan the partition."""
        _check(self.ctx, self.spec.scope)
        return self.ctx.platform.plan_partition(self.spec, self.fault_id), self.ctx.platform


class Latency(Fault):
    """Delay the traffic of ``scope`` by ``latency_ms`` ± ``jitter_ms``."""

    kind = FaultKind.LATENCY

    def __init__(self, ctx: FaultContext, scope: NetworkScope, latency_ms: int,
                 jitter_ms: int = 0, direction: Direction = "to") -> None:
        super().__init__(ctx)
        self.spec = LatencySpec(scope, latency_ms, jitter_ms, direction)

    def prepare(self) -> tuple[Change, Actuator]:
        """Check the namespaces, let the platform plan the latency."""
        _check(self.ctx, self.spec.scope)
        return self.ctx.platform.plan_latency(self.spec, self.fault_id), self.ctx.platform
