"""The fault contract: plan, inject, verify, revert, always through the ledger.

A :class:`Fault` resolves what it will do into a platform
:class:`~chaosgate.platforms.Change` (:meth:`Fault.prepare`), can describe it
without touching anything (:meth:`Fault.plan`, for dry runs), and
:meth:`Fault.inject` applies it in this order:

1. the change is written to the ledger and fsync'd (write-ahead);
2. the change is applied: ``t_apply`` is taken before the call (a fault may
   take hold before the call returns) and ``t_inject`` when it returns;
3. the ledger records ``applied``.

If anything fails or is interrupted on the way, the change is reverted
before the error propagates. The :class:`AppliedFault` returned has an
active probe (:meth:`AppliedFault.verify`) and an idempotent
:meth:`AppliedFault.revert`.

Nothing here decides *when* to verify, hold or revert, or keeps a list of
what is applied: that is the :class:`~chaosgate.faults.session.FaultSession`,
which every front end goes through.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ..exceptions import Inconclusive
from ..frontends import FrontEnd
from ..platforms.base import Change, FaultKind, Moment, Platform, PodRef, ProbeResult
from ..targets import Selector, Target
from .ledger import Ledger
from .selection import check_blast_radius, check_namespace, how_many, pick
from .timeline import FaultTimeline

__all__ = ["Actuator", "AppliedFault", "Fault", "FaultContext", "PodFault", "new_fault_id",
           "poll"]

POLL_INTERVAL = 0.1


def new_fault_id() -> str:
    """A fresh fault id: ``cg-`` and 10 hex digits (a valid Kubernetes name part)."""
    return f"cg-{secrets.token_hex(5)}"


class Actuator(Protocol):
    """What applies a change: a Platform, a DatabaseAdapter, or a fault's own helper."""

    def apply(self, change: Change) -> None:
        """Make the change."""
        ...

    def verify(self, change: Change) -> ProbeResult:
        """Active probe: the change took hold."""
        ...

    def revert(self, change: Change) -> None:
        """Undo the change (idempotent)."""
        ...

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Active probe: the change's effect is gone."""
        ...

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Ground truth since ``since``."""
        ...


@dataclass
class FaultContext:
    """What every fault needs: the target, its platform, the ledger, a seed, a logger, and
    the front end whose user wrote the fault (its errors name fields as that one spells them)."""

    target: Target
    platform: Platform
    ledger: Ledger
    seed: int | None = None
    log: Callable[[str], None] = field(default=lambda _m: None)
    front_end: FrontEnd = "chaosgate"


def poll(probe: Callable[[], ProbeResult], timeout: float,
         interval: float = POLL_INTERVAL) -> tuple[ProbeResult, float]:
    """Call ``probe`` until it is ok or ``timeout`` passes; the last result and its time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
        except Exception as exc:  # an unreachable component is "not yet", until the deadline
            result = ProbeResult(False, f"probe failed: {exc}")
        seen = time.time()
        if result.ok or time.monotonic() >= deadline:
            return result, seen
        time.sleep(interval)


class AppliedFault:
    """A fault in effect: verify it, revert it (idempotently), read its ground truth."""

    def __init__(self, change: Change, actuator: Actuator, ledger: Ledger,
                 timeline: FaultTimeline) -> None:
        self.fault_id = change.fault_id
        self.change = change
        self.actuator = actuator
        self.ledger = ledger
        self.timeline = timeline
        self.reverted = False
        self.healed: ProbeResult | None = None

    def verify(self, timeout: float = 30.0) -> ProbeResult:
        """Poll the active probe until the fault has taken hold (or ``timeout``)."""
        result, seen = poll(lambda: self.actuator.verify(self.change), timeout)
        if result.ok and self.timeline.t_verified is None:
            self.timeline.t_verified = seen
        self.timeline.verify_detail = result.detail
        return result

    def revert(self) -> None:
        """Undo the fault and close its ledger entry. Safe to call any number of times."""
        if self.reverted:
            return
        try:
            self.actuator.revert(self.change)
        except Exception as exc:
            self.ledger.mark(self.fault_id, "revert_failed", error=str(exc))
            raise
        self.timeline.t_revert = time.time()
        self.reverted = True
        self.ledger.mark(self.fault_id, "reverted")

    def wait_healed(self, timeout: float = 60.0) -> ProbeResult:
        """Poll until the fault's effect is gone (or ``timeout``); sets ``t_healed``."""
        result, seen = poll(lambda: self.actuator.verify_reverted(self.change), timeout)
        if result.ok:
            self.timeline.t_healed = seen
        self.timeline.healed_detail = result.detail
        self.healed = result
        return result

    def collect_ground_truth(self) -> FaultTimeline:
        """Add the platform's ground-truth moments since injection to the timeline."""
        since = (self.timeline.t_inject or time.time()) - 5.0
        try:
            self.timeline.add(self.actuator.moments(self.change, since))
        except Exception as exc:
            self.timeline.add([Moment(time.time(), f"ground truth unavailable: {exc}",
                                      "", "chaosgate")])
        return self.timeline


class Fault:
    """Base of every fault: subclasses implement :meth:`prepare` (and may add checks)."""

    kind: ClassVar[FaultKind]

    def __init__(self, ctx: FaultContext) -> None:
        self.ctx = ctx
        self.fault_id = new_fault_id()
        self._prepared: tuple[Change, Actuator] | None = None

    def prepare(self) -> tuple[Change, Actuator]:
        """Select targets, check safety, plan the change; touches nothing."""
        raise NotImplementedError

    def prepared(self) -> tuple[Change, Actuator]:
        """:meth:`prepare`, once."""
        if self._prepared is None:
            self._prepared = self.prepare()
        return self._prepared

    def plan(self) -> str:
        """What :meth:`inject` would do, for a dry run (no side effect, no ledger entry)."""
        change, _ = self.prepared()
        return f"[dry-run] {self.kind} {change.fault_id}: {change.description}"

    def inject(self) -> AppliedFault:
        """Ledger first, then apply; reverted at once if applying fails or is interrupted."""
        change, actuator = self.prepared()
        timeline = FaultTimeline(change.fault_id, self.kind, change.description,
                                 subjects=change.subjects)
        applied = AppliedFault(change, actuator, self.ctx.ledger, timeline)
        self.ctx.ledger.open(change, self.kind, self.ctx.target)
        try:
            timeline.t_apply = time.time()
            actuator.apply(change)
            timeline.t_inject = time.time()
            self.ctx.ledger.mark(change.fault_id, "applied")
        except BaseException:
            applied.revert()
            raise
        self.ctx.log(f"injected {self.kind} {change.fault_id}: {change.description}")
        return applied


class PodFault(Fault):
    """A fault on some of the pods ``selector`` selects: ``qty`` of them, or ``percent`` %."""

    def __init__(self, ctx: FaultContext, selector: str, namespace: str | None = None,
                 qty: int | None = None, percent: float | None = None) -> None:
        super().__init__(ctx)
        self.selector = Selector.parse(selector)
        self.namespace = namespace or ctx.target.namespace
        self.qty = qty
        self.percent = percent

    def victims(self) -> tuple[list[PodRef], list[PodRef]]:
        """(victims, every selected pod): seeded pick among the ready ones, safety checked."""
        safety = self.ctx.target.safety
        check_namespace(safety, self.namespace)
        pods = self.ctx.platform.list_pods(self.selector, self.namespace)
        if not pods:
            raise Inconclusive(f"no pod matches {self.selector} in namespace {self.namespace}")
        front_end = self.ctx.front_end
        count = how_many(len(pods), self.qty, self.percent, front_end=front_end)
        chosen = pick(pods, count, self.ctx.seed, front_end=front_end)
        check_blast_radius(safety, chosen, pods, front_end=front_end)
        return chosen, pods
