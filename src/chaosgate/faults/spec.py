"""A fault described as plain data, as scenarios, experiments and the CLI write it.

``{"kind": "partition", "selector": "app=orders", "dependency": "postgres",
"duration": 10}`` becomes a :class:`~chaosgate.faults.Fault` bound to a
:class:`~chaosgate.faults.FaultContext`. The ``kind`` is a
:class:`~chaosgate.platforms.base.FaultKind`: the same name as the
``chaosgate fault <kind>`` command, the ledger's ``fault`` field and the
reports. Bad data raises :class:`~chaosgate.exceptions.UsageError` naming
the field and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import UsageError
from ..platforms.base import FaultKind
from .base import Fault, FaultContext
from .database import DatabaseFailover
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion

__all__ = ["FAULT_FIELDS", "build_fault", "check_spec", "describe_fault"]

# kind -> (required fields, optional fields); "duration" is allowed everywhere.
FAULT_FIELDS: dict[FaultKind, tuple[frozenset[str], frozenset[str]]] = {
    FaultKind.KILL_PODS: (frozenset({"selector"}), frozenset({"namespace", "qty", "percent"})),
    FaultKind.PARTITION: (frozenset(), frozenset({"selector", "namespace", "peer_selector",
                                                  "dependency", "links", "direction"})),
    FaultKind.LATENCY: (frozenset({"latency_ms"}),
                        frozenset({"selector", "namespace", "peer_selector", "dependency",
                                   "links", "jitter_ms", "direction"})),
    FaultKind.FAILOVER_DB: (frozenset({"method"}), frozenset({"candidate"})),
    FaultKind.STRESS: (frozenset({"selector", "mode"}),
                       frozenset({"namespace", "qty", "percent", "cpu_workers", "memory_mb"})),
}


def check_spec(spec: Mapping[str, Any], source: str) -> FaultKind:
    """The spec's kind, after checking its fields; UsageError naming the field and the fix."""
    try:
        kind = FaultKind(str(spec.get("kind")))
    except ValueError:
        raise UsageError(f"{source}: fault.kind: {spec.get('kind')!r} is not a fault. Fix: use "
                         "one of " + ", ".join(sorted(k.value for k in FaultKind))) from None
    required, optional = FAULT_FIELDS[kind]
    missing = sorted(required - spec.keys())
    if missing:
        raise UsageError(f"{source}: fault.{missing[0]}: missing for a {kind} fault. "
                         f"Fix: add {missing[0]}")
    unknown = sorted(spec.keys() - required - optional - {"kind", "duration"})
    if unknown:
        raise UsageError(f"{source}: fault.{unknown[0]}: not a field of a {kind} fault. Fix: "
                         f"use {', '.join(sorted(required | optional | {'duration'}))}")
    return kind


def build_fault(ctx: FaultContext, spec: Mapping[str, Any], source: str = "fault") -> Fault:
    """The :class:`Fault` that ``spec`` describes, bound to ``ctx`` (nothing applied yet)."""
    kind = check_spec(spec, source)
    s = dict(spec)
    if kind is FaultKind.KILL_PODS:
        return PodKill(ctx, s["selector"], s.get("namespace"), s.get("qty"), s.get("percent"))
    if kind in (FaultKind.PARTITION, FaultKind.LATENCY):
        scope = build_scope(ctx.target, s.get("selector"), s.get("namespace"),
                            s.get("peer_selector"), s.get("dependency"),
                            tuple(s.get("links", ())))
        if kind is FaultKind.PARTITION:
            return NetworkPartition(ctx, scope, s.get("direction", "both"))
        return Latency(ctx, scope, int(s["latency_ms"]), int(s.get("jitter_ms", 0)),
                       s.get("direction", "to"))
    if kind is FaultKind.FAILOVER_DB:
        return DatabaseFailover(ctx, s["method"], s.get("candidate"))
    return ResourceExhaustion(ctx, s["selector"], s["mode"], s.get("namespace"), s.get("qty"),
                              s.get("percent"), int(s.get("cpu_workers", 1)),
                              int(s.get("memory_mb", 256)), s.get("duration"))


def describe_fault(spec: Mapping[str, Any]) -> str:
    """A one-line human description of a fault spec (for reports)."""
    details = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "kind")
    return f"{spec.get('kind', '?')} ({details})" if details else str(spec.get("kind", "?"))
