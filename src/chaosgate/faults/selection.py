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
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ..exceptions import UsageError
from ..platforms.base import PodRef
from ..targets import PROTECTED_NAMESPACES, Safety

__all__ = ["SafetyRefused", "check_blast_radius", "check_namespace", "how_many", "pick"]


class SafetyRefused(UsageError):
    """The target's safety block forbids this fault; nothing was touched."""


def how_many(total: int, qty: int | None, percent: float | None) -> int:
    """The number of pods to hit among ``total``: ``qty``, or ``percent`` rounded up."""
    if qty is not None and percent is not None:
        raise UsageError("give --qty or --percent, not both")
    if qty is not None:
        if qty < 1:
            raise UsageError(f"--qty must be at least 1, not {qty}")
        return qty
    if percent is None:
        return 1
    if not 0 < percent <= 100:
        raise UsageError(f"--percent must be in (0, 100], not {percent:g}")
    return max(1, math.ceil(total * percent / 100 - 1e-9))


def pick(pods: Sequence[PodRef], count: int, seed: int | None) -> list[PodRef]:
    """``count`` ready pods chosen at random with ``seed``; sorted by name."""
    ready = sorted((p for p in pods if p.ready), key=lambda p: (p.namespace, p.name))
    if count > len(ready):
        raise SafetyRefused(
            f"asked for {count} pod(s) but only {len(ready)} of {len(pods)} selected pod(s) "
            "are ready. Fix: lower --qty/--percent or wait until the pods are ready"
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
                       selected: Sequence[PodRef]) -> None:
    """Refuse more pods than allowed, or leaving too few ready pods."""
    n, total = len(victims), len(selected)
    if n > safety.max_pods_per_fault:
        raise SafetyRefused(
            f"safety: {n} pod(s) is more than safety.max_pods_per_fault "
            f"({safety.max_pods_per_fault}). Fix: lower --qty/--percent, or raise the limit "
            "in the target file"
        )
    percent = 100.0 * n / total if total else 100.0
    if percent > safety.max_percent_per_fault + 1e-9:
        raise SafetyRefused(
            f"safety: {n} of {total} pod(s) is {percent:.0f} %, more than "
            f"safety.max_percent_per_fault ({safety.max_percent_per_fault:g} %). "
            "Fix: lower --qty/--percent, or raise the limit in the target file"
        )
    hit = {(p.namespace, p.name) for p in victims}
    left = sum(1 for p in selected if p.ready and (p.namespace, p.name) not in hit)
    if left < safety.min_ready_replicas:
        raise SafetyRefused(
            f"safety: only {left} ready pod(s) would be left, fewer than "
            f"safety.min_ready_replicas ({safety.min_ready_replicas}). Fix: lower "
            "--qty/--percent, wait until more pods are ready, or lower the limit"
        )
