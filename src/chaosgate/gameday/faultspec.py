"""A fault described as plain data, as scenarios and experiments write it.

``{"kind": "partition", "selector": "app=orders", "dependency": "postgres",
"duration": 10}`` becomes a :class:`~chaosgate.faults.Fault` bound to a
:class:`~chaosgate.faults.FaultContext`. Bad data raises
:class:`~chaosgate.exceptions.UsageError` naming the field and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import UsageError
from ..faults import (
    DatabaseFailover,
    Fault,
    FaultContext,
    Latency,
    NetworkPartition,
    PodKill,
    ResourceExhaustion,
    build_scope,
)

__all__ = ["FAULT_KINDS", "build_fault", "describe_fault"]

# kind -> (required fields, optional fields); "duration" is allowed everywhere.
FAULT_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "kill-pods": (frozenset({"selector"}), frozenset({"namespace", "qty", "percent"})),
    "partition": (frozenset(), frozenset({"selector", "namespace", "peer_selector",
                                          "dependency", "links", "direction"})),
    "latency": (frozenset({"latency_ms"}), frozenset({"selector", "namespace", "peer_selector",
                                                      "dependency", "links", "jitter_ms",
                                                      "direction"})),
    "failover-db": (frozenset({"method"}), frozenset({"candidate"})),
    "stress": (frozenset({"selector", "mode"}), frozenset({"namespace", "qty", "percent",
                                                          "cpu_workers", "memory_mb"})),
}


def _check(spec: Mapping[str, Any], source: str) -> str:
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise UsageError(f"{source}: fault.kind: {kind!r} is not a fault. Fix: use one of "
                         + ", ".join(sorted(FAULT_KINDS)))
    required, optional = FAULT_KINDS[kind]
    missing = sorted(required - spec.keys())
    if missing:
        raise UsageError(f"{source}: fault.{missing[0]}: missing for a {kind} fault. "
                         f"Fix: add {missing[0]}")
    unknown = sorted(spec.keys() - required - optional - {"kind", "duration"})
    if unknown:
        raise UsageError(f"{source}: fault.{unknown[0]}: not a field of a {kind} fault. Fix: "
                         f"use {', '.join(sorted(required | optional | {'duration'}))}")
    return str(kind)


def build_fault(ctx: FaultContext, spec: Mapping[str, Any], source: str = "fault") -> Fault:
    """The :class:`Fault` that ``spec`` describes, bound to ``ctx`` (nothing applied yet)."""
    kind = _check(spec, source)
    s = dict(spec)
    if kind == "kill-pods":
        return PodKill(ctx, s["selector"], s.get("namespace"), s.get("qty"), s.get("percent"))
    if kind in ("partition", "latency"):
        scope = build_scope(ctx.target, s.get("selector"), s.get("namespace"),
                            s.get("peer_selector"), s.get("dependency"),
                            tuple(s.get("links", ())))
        if kind == "partition":
            return NetworkPartition(ctx, scope, s.get("direction", "both"))
        return Latency(ctx, scope, int(s["latency_ms"]), int(s.get("jitter_ms", 0)),
                       s.get("direction", "to"))
    if kind == "failover-db":
        return DatabaseFailover(ctx, s["method"], s.get("candidate"))
    return ResourceExhaustion(ctx, s["selector"], s["mode"], s.get("namespace"), s.get("qty"),
                              s.get("percent"), int(s.get("cpu_workers", 1)),
                              int(s.get("memory_mb", 256)), s.get("duration"))


def describe_fault(spec: Mapping[str, Any]) -> str:
    """A one-line human description of a fault spec (for reports)."""
    details = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "kind")
    return f"{spec.get('kind', '?')} ({details})" if details else str(spec.get("kind", "?"))
