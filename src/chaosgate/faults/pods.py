"""PodKill: kill pods at once (grace period 0) and watch them come back.

The victims are picked at random (seeded) among the ready pods a label
selector selects, within the target's safety block. The active probe: the
killed incarnation (pid in the sandbox, ``metadata.uid`` in Kubernetes) is
gone. There is nothing to revert (supervisord or the Deployment brings a
replacement up); "healed" means as many pods are ready as before and none
is a killed incarnation. The moment each pod answered ready again is taken
from that poll (to :data:`~chaosgate.faults.base.POLL_INTERVAL`).
"""

from __future__ import annotations

import time
from typing import TypedDict, cast

from ..platforms.base import Change, FaultKind, Moment, Platform, PodRef, PodRefDict, ProbeResult
from ..targets import Selector
from .base import Actuator, PodFault

__all__ = ["PodKill", "PodKillActuator", "PodKillData"]

READY_SOURCE = "readiness poll"


class PodKillData(TypedDict):
    """The data of a pod kill's :class:`Change` (written by :meth:`PodKill.prepare`,
    read only by :class:`PodKillActuator`)."""

    pods: list[PodRefDict]  # the victims, as listed (uid = the incarnation to kill)
    selector: str  # the label selector the victims were picked from
    namespace: str
    ready_before: int  # how many selected pods were ready before the kill
    seed: int | None  # the seed the victims were picked with


def _data(change: Change) -> PodKillData:
    """``change.data`` as the pod kill wrote it."""
    return cast(PodKillData, change.data)


class PodKillActuator:
    """Kills the planned pods through the platform and waits for replacements."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.ready_at: dict[str, tuple[float, str]] = {}  # pod -> (when, new uid)

    @staticmethod
    def _victims(change: Change) -> list[PodRef]:
        return [PodRef.from_json(p) for p in _data(change)["pods"]]

    def apply(self, change: Change) -> None:
        """Kill every victim (grace period 0)."""
        for pod in self._victims(change):
            self.platform.kill_pod(pod)

    def verify(self, change: Change) -> ProbeResult:
        """Ok when no killed incarnation exists any more."""
        alive = [p.name for p in self._victims(change) if not self.platform.pod_gone(p)]
        if alive:
            return ProbeResult(False, f"still running as the killed incarnation: {alive}")
        return ProbeResult(True, "killed incarnation(s) gone: " + ", ".join(
            f"{p.name} ({p.uid})" for p in self._victims(change)))

    def revert(self, change: Change) -> None:
        """Nothing to undo: the platform replaces killed pods."""

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when as many pods are ready as before the kill, none a killed incarnation."""
        data = _data(change)
        pods = self.platform.list_pods(Selector.parse(data["selector"]), data["namespace"])
        killed = {p.uid for p in self._victims(change)}
        ready = [p for p in pods if p.ready and p.uid not in killed]
        now = time.time()
        victims = {p.name for p in self._victims(change)}
        for pod in ready:
            if pod.name in victims and pod.name not in self.ready_at:
                self.ready_at[pod.name] = (now, pod.uid)
        ok = len(ready) >= data["ready_before"]
        names = ", ".join(f"{p.name} ({p.uid})" for p in ready)
        return ProbeResult(ok, f"{len(ready)}/{data['ready_before']} ready: {names}")

    def moments(self, change: Change, since: float) -> list[Moment]:
        """The platform's process events, plus when each pod answered ready again."""
        moments = self.platform.moments(change, since)
        moments += [Moment(t, f"ready again (uid {uid})", name, READY_SOURCE)
                    for name, (t, uid) in self.ready_at.items()]
        return moments


class PodKill(PodFault):
    """Kill ``qty`` (or ``percent`` %) of the pods ``selector`` selects, seeded random."""

    kind = FaultKind.KILL_PODS

    def prepare(self) -> tuple[Change, Actuator]:
        """List the pods, pick the victims, check the safety block."""
        victims, pods = self.victims()
        data = PodKillData(
            pods=[p.to_json() for p in victims], selector=str(self.selector),
            namespace=self.namespace, ready_before=sum(p.ready for p in pods),
            seed=self.ctx.seed,
        )
        names = ", ".join(f"{p.name} (uid {p.uid})" for p in victims)
        change = Change(FaultKind.KILL_PODS, self.ctx.platform.kind, self.fault_id,
                        f"kill {names} of {len(pods)} pod(s) {self.selector}, grace period 0",
                        data, subjects=tuple(p.name for p in victims))
        return change, PodKillActuator(self.ctx.platform)
