"""Which pods a fault hits, and whether the target's safety block allows it. Pure.

- :func:`how_many`: ``qty`` pods, or ``percent`` of them rounded up (at least
  one when the percentage is above zero).
- :func:`pick`: a seeded random choice among the ready pods, reproducible:
  the same pods, seed and count always give the same victims.
- :func:`check_namespace` and :func:`check_blast_radius`: the safety block
  (namespace allowlist with kube-system and friends only by exact entry,
  at most ``max_pods_per_fault`` pods and ``max_percent_per_fault`` percent
  of the selected pods, at least ``min_ready_replicas`` ready pods left).
  A refusal is a :class:`SafetyRefused` (a usage error, exit code 2) that
  says which limit and how to change it.

Fixes name ``qty`` and ``percent`` as the front end that prints them spells
them (``front_end``, :func:`chaosgate.frontends.option`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ..exceptions import UsageError
from ..frontends import FrontEnd, option
from ..platforms.base import PodRef
from ..targets import PROTECTED_NAMESPACES, Safety

__all__ = ["SafetyRefused", "check_blast_radius", "check_namespace", "how_many", "pick"]


class SafetyRefused(UsageError):
    """The target's safety block forbids this fault; nothing was touched."""


def _lower(front_end: FrontEnd) -> str:
    """``lower --qty N or --percent P``, in the front end's words."""
    return f"lower {option('fault.qty', front_end)} or {option('fault.percent', front_end)}"


def how_many(total: int, qty: int | None, percent: float | None, *,
             front_end: FrontEnd = "chaosgate") -> int:
    """The number of pods to hit among ``total``: ``qty``, or ``percent`` rounded up."""
    qty_how, percent_how = option("fault.qty", front_end), option("fault.percent", front_end)
    if qty is not None and percent is not None:
        raise UsageError(f"fault: both qty ({qty}) and percent ({percent:g}) are given. "
                         f"Fix: give {qty_how} or {percent_how}, not both")
    if qty is not None:
        if qty < 1:
            raise UsageError(f"fault.qty: {qty} is below 1. Fix: pass {qty_how} of at least 1")
        return qty
    if percent is None:
        return 1
    if not 0 < percent <= 100:
        raise UsageError(f"fault.percent: {percent:g} is not in (0, 100]. "
                         f"Fix: pass {percent_how} above 0 and at most 100")
    return max(1, math.ceil(total * percent / 100 - 1e-9))


def pick(pods: Sequence[PodRef], count: int, seed: int | None, *,
         front_end: FrontEnd = "chaosgate") -> list[PodRef]:
    """``count`` ready pods chosen at random with ``seed``; sorted by name."""
    ready = sorted((p for p in pods if p.ready), key=lambda p: (p.namespace, p.name))
    if count > len(ready):
        raise SafetyRefused(
            f"asked for {count} pod(s) but only {len(ready)} of {len(pods)} selected pod(s) "
            f"are ready. Fix: {_lower(front_end)}, or wait until the pods are ready"
        )
    chosen = random.Random(seed).sample(ready, count)
    return sorted(chosen, key=lambda p: (p.namespace, p.name))


def check_namespace(safety: Safety, namespace: str) -> None:
    """Refuse a namespace the allowlist does not name."""
    if safety.allows_namespace(namespace):
        return
    why = (" (a protected namespace: only an exact entry allows it)"
           if namespace in PROTECTED_NAMESPACES else "")
    raise SafetyRefused(
        f"safety: namespace {namespace!r} is not in safety.namespaces "
        f"{list(safety.namespaces)}{why}. Fix: add {namespace!r} to safety.namespaces "
        "in the target file if faults may touch it"
    )


def check_blast_radius(safety: Safety, victims: Sequence[PodRef],
                       selected: Sequence[PodRef], *, front_end: FrontEnd = "chaosgate") -> None:
    """Refuse more pods than allowed, or leaving too few ready pods."""
    n, total = len(victims), len(selected)
    if n > safety.max_pods_per_fault:
        raise SafetyRefused(
            f"safety: {n} pod(s) is more than safety.max_pods_per_fault "
            f"({safety.max_pods_per_fault}). Fix: {_lower(front_end)}, or raise the limit "
            "in the target file"
        )
    percent = 100.0 * n / total if total else 100.0
    if percent > safety.max_percent_per_fault + 1e-9:
        raise SafetyRefused(
            f"safety: {n} of {total} pod(s) is {percent:.0f} %, more than "
            f"safety.max_percent_per_fault ({safety.max_percent_per_fault:g} %). "
            f"Fix: {_lower(front_end)}, or raise the limit in the target file"
        )
    hit = {(p.namespace, p.name) for p in victims}
    left = sum(1 for p in selected if p.ready and (p.namespace, p.name) not in hit)
    if left < safety.min_ready_replicas:
        raise SafetyRefused(
            f"safety: only {left} ready pod(s) would be left, fewer than "
            f"safety.min_ready_replicas ({safety.min_ready_replicas}). Fix: "
            f"{_lower(front_end)}, wait until more pods are ready, or lower the limit"
        )
