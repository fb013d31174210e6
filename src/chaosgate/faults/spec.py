"""A fault described as plain data, as scenarios, experiments and the CLI write it.

``{"kind": "partition", "selector": "app=orders", "dependency": "postgres",
"duration": 10}`` becomes a :class:`~chaosgate.faults.Fault` bound to a
:class:`~chaosgate.faults.FaultContext`. The ``kind`` is a
:class:`~chaosgate.platforms.base.FaultKind`: the same name as the
``chaosgate fault <kind>`` command, the ledger's ``fault`` field and the
reports. Bad data raises :class:`~chaosgate.exceptions.UsageError` naming
the field and the fix.

:func:`check_spec` checks the field names and every value before anything
is touched (no platform, no ledger): numbers finite (no nan, no inf), ints
not bools, and within the bounds below. The upper bounds are module
constants for now; they belong in the target's ``safety`` block later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from ..exceptions import UsageError
from ..platforms.base import DIRECTIONS, STRESS_MODES, FaultKind
from .base import Fault, FaultContext
from .database import DatabaseFailover
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion

__all__ = ["FAULT_FIELDS", "MAX_CPU_WORKERS", "MAX_DURATION_S", "MAX_LATENCY_MS",
           "MAX_MEMORY_MB", "build_fault", "check_spec", "describe_fault"]

#: Longest a fault may be held (seconds); a stress's self-ending safety net adds its margin.
MAX_DURATION_S = 3600.0
#: Largest added network delay (ms): beyond it every request times out anyway.
MAX_LATENCY_MS = 60_000
#: Largest memory hog (MiB).
MAX_MEMORY_MB = 8192
#: Most busy loops of a CPU stress.
MAX_CPU_WORKERS = 64

#: How the CLI user passes each field (``chaosgate fault <kind> --option``).
_OPTIONS = {"duration": "--duration", "qty": "--qty", "percent": "--percent",
            "latency_ms": "--latency", "jitter_ms": "--jitter", "memory_mb": "--memory-mb",
            "cpu_workers": "--workers", "mode": "--mode", "direction": "--direction",
            "method": "--method"}

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
    for name, check in _CHECKS.items():
        # an optional field set to null is unset; a null duration or required field is not
        if name in spec and (spec[name] is not None or name in required | {"duration"}):
            problem = check(spec[name], spec)
            if problem is not None:
                what, fix = problem
                how = _OPTIONS[name] if source.startswith("chaosgate fault") else name
                raise UsageError(f"{source}: fault.{name}: {spec[name]!r} {what}. "
                                 f"Fix: {fix.format(how=how)}")
    return kind


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


_Problem = tuple[str, str] | None


def _duration(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_number(value) and 0 <= value <= MAX_DURATION_S:
        return None
    return ("is not a duration in seconds",
            f"pass {{how}} between 0 and {MAX_DURATION_S:g} (seconds)")


def _qty(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_int(value) and value >= 1:
        return None
    return "is not a number of pods", "pass {how} as a whole number of at least 1"


def _percent(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_number(value) and 0 < value <= 100:
        return None
    return "is not a percentage of pods", "pass {how} above 0 and at most 100"


def _latency(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_int(value) and 0 < value <= MAX_LATENCY_MS:
        return None
    return ("is not a positive delay in ms",
            f"pass {{how}} as a whole number of ms between 1 and {MAX_LATENCY_MS}")


def _jitter(value: object, spec: Mapping[str, Any]) -> _Problem:
    latency = spec.get("latency_ms")
    if not (_is_int(value) and value >= 0):
        return "is not a jitter in ms", "pass {how} as a whole number of ms, 0 or more"
    if _is_int(latency) and value >= latency:
        return (f"is not below the latency ({latency} ms): the delay could be 0 and the "
                "fault would verify trivially", f"pass {{how}} below {latency}")
    return None


def _memory(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_int(value) and 0 < value <= MAX_MEMORY_MB:
        return None
    return ("is not a positive number of MiB",
            f"pass {{how}} between 1 and {MAX_MEMORY_MB}")


def _workers(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if _is_int(value) and 1 <= value <= MAX_CPU_WORKERS:
        return None
    return "is not a number of busy loops", f"pass {{how}} between 1 and {MAX_CPU_WORKERS}"


def _one_of(choices: tuple[str, ...], what: str) -> Callable[[object, Mapping[str, Any]],
                                                              _Problem]:
    def check(value: object, _spec: Mapping[str, Any]) -> _Problem:
        if isinstance(value, str) and value in choices:
            return None
        return f"is not {what}", f"pass {{how}} as one of {', '.join(choices)}"

    return check


def _method(value: object, _spec: Mapping[str, Any]) -> _Problem:
    if isinstance(value, str) and value.strip():
        return None
    return "is not a failover method", "pass {how}, e.g. switchover"


#: field -> its check: None, or (what is wrong, the fix with ``{how}`` for the option).
_CHECKS: dict[str, Callable[[object, Mapping[str, Any]], _Problem]] = {
    "duration": _duration, "qty": _qty, "percent": _percent, "latency_ms": _latency,
    "jitter_ms": _jitter, "memory_mb": _memory, "cpu_workers": _workers,
    "mode": _one_of(STRESS_MODES, "a stress mode"),
    "direction": _one_of(DIRECTIONS, "a direction"), "method": _method,
}


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
