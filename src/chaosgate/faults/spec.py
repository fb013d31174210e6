"""A fault described as plain data, as scenarios, experiments and the CLI write it.

``{"kind": "partition", "selector": "app=api", "dependency": "postgres",
"duration": 10}`` becomes a :class:`~chaosgate.faults.Fault` bound to a
:class:`~chaosgate.faults.FaultContext`. The ``kind`` is a
:class:`~chaosgate.platforms.base.FaultKind`: the same name as the
``chaosgate fault <kind>`` command, the ledger's ``fault`` field and the
reports. Bad data raises :class:`~chaosgate.exceptions.UsageError` naming
the field and the fix.

:func:`check_spec` checks the field names and every value before anything
is touched (no platform, no ledger): numbers finite (no nan, no inf), ints
not bools, and within the target's limits (its ``safety`` block,
:class:`~chaosgate.targets.SafetyLimits`: ``max_fault_duration``,
``max_latency_ms``, ``max_memory_mb``, ``max_cpu_workers``; the defaults
when the target sets none). A value above a limit is refused naming the
option, the limit and where it comes from. The fix names the field as the
front end that will print it spells it (``front_end``, see
:mod:`chaosgate.frontends`): ``--latency MS`` for ``chaosgate fault``, the
action's ``latency_ms`` argument under ``chaos run``, the fault spec's
``latency_ms`` in pytest. Given the target's platform type (``platform``),
it also refuses a value that platform cannot do (:data:`UNSUPPORTED`: a
freeze on Kubernetes), before the platform is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from ..exceptions import UsageError
from ..frontends import FrontEnd, option
from ..platforms.base import DIRECTIONS, STRESS_MODES, FaultKind
from ..targets import DEFAULT_LIMITS, LIMIT_UNITS, SafetyLimits
from .base import Fault, FaultContext
from .database import DatabaseFailover
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion

__all__ = ["FAULT_FIELDS", "MAX_CPU_WORKERS", "MAX_DURATION_S", "MAX_LATENCY_MS",
           "MAX_MEMORY_MB", "UNSUPPORTED", "build_fault", "check_spec", "describe_fault"]

# The defaults of the target's limits, under their old names.
MAX_DURATION_S = DEFAULT_LIMITS.max_fault_duration
MAX_LATENCY_MS = DEFAULT_LIMITS.max_latency_ms
MAX_MEMORY_MB = DEFAULT_LIMITS.max_memory_mb
MAX_CPU_WORKERS = DEFAULT_LIMITS.max_cpu_workers

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


#: (platform type, field, value) -> (why that platform cannot, the fix with ``{how}``).
UNSUPPORTED: dict[tuple[str, str, str], tuple[str, str]] = {
    ("kubernetes", "mode", "freeze"): (
        "is not available on Kubernetes (a freeze SIGSTOPs processes on their host)",
        "pass {how} as cpu or memory (Chaos Mesh StressChaos), or freeze the processes "
        "under a target of the platform that runs them"),
}


def check_spec(spec: Mapping[str, Any], source: str,
               limits: SafetyLimits = DEFAULT_LIMITS, *,
               front_end: FrontEnd = "chaosgate", platform: str | None = None) -> FaultKind:
    """The spec's kind, after checking its fields; UsageError naming the field and the fix.

    ``limits`` are the target's (``target.safety.limits``); the defaults without a target.
    ``platform`` (the target's ``platform.type``) refuses what that platform cannot do.
    The fix names the field as ``front_end`` spells it (:func:`chaosgate.frontends.option`).
    """
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
            problem = check(spec[name], spec, limits) or _above_limit(name, spec[name], limits)
            if problem is not None:
                what, fix = problem
                how = option(f"fault.{name}", front_end)
                raise UsageError(f"{source}: fault.{name}: {spec[name]!r} {what}. "
                                 f"Fix: {fix.format(how=how)}")
    for (where, name, value), (what, fix) in UNSUPPORTED.items():
        if where == platform and spec.get(name) == value:
            how = option(f"fault.{name}", front_end)
            raise UsageError(f"{source}: fault.{name}: {value!r} {what}. "
                             f"Fix: {fix.format(how=how)}")
    return kind


#: field -> the safety limit (``safety.<key>`` in the target file) that bounds it.
_LIMITED = {"duration": "max_fault_duration", "latency_ms": "max_latency_ms",
            "memory_mb": "max_memory_mb", "cpu_workers": "max_cpu_workers"}


def _above_limit(name: str, value: float, limits: SafetyLimits) -> _Problem:
    """A value the field's own check passed, above the target's limit for it."""
    key = _LIMITED.get(name)
    if key is None or value <= getattr(limits, key):
        return None
    unit = "s" if name == "duration" else LIMIT_UNITS[key]
    limit = f"{getattr(limits, key):g}"  # in the option's unit: seconds, ms, MiB
    return (f"is above the limit of {limit} {unit} ({limits.origin(key)})",
            f"pass {{how}} at most {limit}, or {limits.raise_fix(key)}")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


_Problem = tuple[str, str] | None
_Check = Callable[[object, Mapping[str, Any], SafetyLimits], _Problem]


def _duration(value: object, _spec: Mapping[str, Any], limits: SafetyLimits) -> _Problem:
    if _is_number(value) and value >= 0:
        return None
    return ("is not a duration in seconds",
            f"pass {{how}} between 0 and {limits.max_fault_duration:g} (seconds)")


def _qty(value: object, _spec: Mapping[str, Any], _limits: SafetyLimits) -> _Problem:
    if _is_int(value) and value >= 1:
        return None
    return "is not a number of pods", "pass {how} as a whole number of at least 1"


def _percent(value: object, _spec: Mapping[str, Any], _limits: SafetyLimits) -> _Problem:
    if _is_number(value) and 0 < value <= 100:
        return None
    return "is not a percentage of pods", "pass {how} above 0 and at most 100"


def _latency(value: object, _spec: Mapping[str, Any], limits: SafetyLimits) -> _Problem:
    if _is_int(value) and value > 0:
        return None
    return ("is not a positive delay in ms",
            f"pass {{how}} as a whole number of ms between 1 and {limits.max_latency_ms}")


def _jitter(value: object, spec: Mapping[str, Any], _limits: SafetyLimits) -> _Problem:
    latency = spec.get("latency_ms")
    if not (_is_int(value) and value >= 0):
        return "is not a jitter in ms", "pass {how} as a whole number of ms, 0 or more"
    if _is_int(latency) and value >= latency:
        return (f"is not below the latency ({latency} ms): the delay could be 0 and the "
                "fault would verify trivially", f"pass {{how}} below {latency}")
    return None


def _memory(value: object, _spec: Mapping[str, Any], limits: SafetyLimits) -> _Problem:
    if _is_int(value) and value > 0:
        return None
    return ("is not a positive number of MiB",
            f"pass {{how}} between 1 and {limits.max_memory_mb}")


def _workers(value: object, _spec: Mapping[str, Any], limits: SafetyLimits) -> _Problem:
    if _is_int(value) and value >= 1:
        return None
    return ("is not a number of busy loops",
            f"pass {{how}} between 1 and {limits.max_cpu_workers}")


def _one_of(choices: tuple[str, ...], what: str) -> _Check:
    def check(value: object, _spec: Mapping[str, Any], _limits: SafetyLimits) -> _Problem:
        if isinstance(value, str) and value in choices:
            return None
        return f"is not {what}", f"pass {{how}} as one of {', '.join(choices)}"

    return check


def _method(value: object, _spec: Mapping[str, Any], _limits: SafetyLimits) -> _Problem:
    if isinstance(value, str) and value.strip():
        return None
    return "is not a failover method", "pass {how}, e.g. switchover"


#: field -> its check: None, or (what is wrong, the fix with ``{how}`` for the option);
#: the upper bound of a field in ``_LIMITED`` is checked after it (``_above_limit``).
_CHECKS: dict[str, _Check] = {
    "duration": _duration, "qty": _qty, "percent": _percent, "latency_ms": _latency,
    "jitter_ms": _jitter, "memory_mb": _memory, "cpu_workers": _workers,
    "mode": _one_of(STRESS_MODES, "a stress mode"),
    "direction": _one_of(DIRECTIONS, "a direction"), "method": _method,
}


def build_fault(ctx: FaultContext, spec: Mapping[str, Any], source: str = "fault") -> Fault:
    """The :class:`Fault` that ``spec`` describes, bound to ``ctx`` (nothing applied yet);
    its errors name the fields as ``ctx.front_end`` spells them."""
    kind = check_spec(spec, source, ctx.target.safety.limits, front_end=ctx.front_end,
                      platform=ctx.target.platform.type)
    s = dict(spec)
    if kind is FaultKind.KILL_PODS:
        return PodKill(ctx, s["selector"], s.get("namespace"), s.get("qty"), s.get("percent"))
    if kind in (FaultKind.PARTITION, FaultKind.LATENCY):
        scope = build_scope(ctx.target, s.get("selector"), s.get("namespace"),
                            s.get("peer_selector"), s.get("dependency"),
                            tuple(s.get("links", ())), front_end=ctx.front_end)
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
