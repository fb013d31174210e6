"""ResourceExhaustion: a CPU hog, a memory hog, or a freeze of some pods.

Victims are picked like :class:`~chaosgate.faults.pods.PodKill`'s (seeded
random among ready pods, within the safety block: a frozen pod is not
ready, so ``min_ready_replicas`` matters). The platform does the work
(sandbox: :mod:`chaosgate.platforms.sandbox_stress`; Kubernetes: Chaos Mesh
StressChaos) and its active probe checks that the hog burns CPU, holds the
memory, or that the frozen pod answers nothing. The stress carries a safety
net: the platform ends it by itself ``SAFETY_MARGIN`` seconds after the planned
duration (or, without one, after the target's ``safety.max_fault_duration``),
even if chaosgate dies without reverting.
"""

from __future__ import annotations

import math

from ..platforms.base import Change, FaultKind, StressMode, StressSpec
from .base import Actuator, FaultContext, PodFault

__all__ = ["SAFETY_MARGIN", "ResourceExhaustion", "safety_net"]

SAFETY_MARGIN = 120.0


def safety_net(duration: float | None, max_fault_duration: float) -> float:
    """When the platform ends a stress by itself: ``SAFETY_MARGIN`` after its planned end.

    The planned end is ``duration``, at most the target's ``max_fault_duration``;
    without a duration (held until reverted) it is ``max_fault_duration``: the
    net is always finite, so a frozen pod always thaws.
    """
    held = max_fault_duration if duration is None else min(duration, max_fault_duration)
    return held + SAFETY_MARGIN


class ResourceExhaustion(PodFault):
    """Stress ``qty`` (or ``percent`` %) of the pods ``selector`` selects."""

    kind = FaultKind.STRESS

    def __init__(self, ctx: FaultContext, selector: str, mode: StressMode,
                 namespace: str | None = None, qty: int | None = None,
                 percent: float | None = None, cpu_workers: int = 1, memory_mb: int = 256,
                 duration: float | None = None) -> None:
        super().__init__(ctx, selector, namespace, qty, percent)
        if duration is not None and not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"a stress needs a finite duration >= 0 s, not {duration!r}")
        self.spec = StressSpec(mode, cpu_workers, memory_mb,
                               safety_net(duration, ctx.target.safety.limits.max_fault_duration))

    def prepare(self) -> tuple[Change, Actuator]:
        """Pick the victims (safety checked), let the platform plan the stress."""
        victims, _ = self.victims()
        return self.ctx.platform.plan_stress(self.spec, victims, self.fault_id), self.ctx.platform
