"""The fault session: the one owner of the faults a run applies.

Every front end — ``chaosgate fault``, the Chaos Toolkit actions and
controls, the pytest fixtures and the game-day engine — injects and reverts
through a :class:`FaultSession`. The session owns:

- the ledger, and the ids of the faults it opened (noted *before* the
  write-ahead entry, so an entry whose handle was lost is still its own);
- the lifecycle: :meth:`~FaultSession.inject` (ledger, apply, verify; a
  fault that did not take hold is reverted and
  :class:`~chaosgate.exceptions.FaultNotEffective` raised) and
  :meth:`~FaultSession.run` (inject, hold, revert, wait until healed,
  gather the ground truth; a fault another process reverts during the hold,
  ``chaosgate cleanup --force``, ends the hold at once and the run
  inconclusive: :class:`~chaosgate.exceptions.FaultRevertedElsewhere`);
- :meth:`~FaultSession.revert_all`: every fault still applied, newest
  first, through its handle, then every entry of its own the ledger still
  lists as open, rebuilt from the ledger alone (:func:`revert_entry`, which
  ``chaosgate cleanup`` uses for other processes' leftovers);
- a lifeline: before every fault, :meth:`~FaultSession.check_owner` stops
  the run (:class:`~chaosgate.faults.signals.OwnerGone`, like a SIGTERM)
  when the process that started this one (``CHAOSGATE_PARENT``, set by
  ``chaosgate gameday`` for its pytest) is gone;
- :meth:`~FaultSession.guard`: SIGINT and SIGTERM interrupt the block
  (:class:`~chaosgate.faults.signals.Interrupted`) and ``revert_all`` runs
  when it ends, with both signals ignored.

Its one constraint: a fault the session opened is not left applied when its
owner ends — on success, failure, a fault that did not take hold, Ctrl-C,
SIGTERM, or interpreter exit (a last-resort hook reverts, without waiting
for healing, whatever a live session still holds).
"""

from __future__ import annotations

import atexit
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..clients.children import parent_gone
from ..exceptions import FaultAborted, FaultNotEffective, FaultRevertedElsewhere
from ..frontends import FrontEnd
from ..platforms import database_for
from ..platforms.base import Change, FaultKind, Platform, ProbeResult
from ..targets import Target
from . import signals
from .base import Actuator, AppliedFault, Fault, FaultContext
from .ledger import Ledger, LedgerEntry, target_key
from .pods import PodKillActuator
from .spec import build_fault
from .stop import StopWatch, Tripped
from .timeline import FaultTimeline, format_clock

#: Seconds between two looks at the stop conditions (and the ledger) while a fault is held.
STOP_CHECK_EVERY = 0.5

__all__ = ["STOP_CHECK_EVERY", "FaultRun", "FaultSession", "RevertReport", "actuator_for",
           "hold", "revert_entry", "reverted_elsewhere"]

Log = Callable[[str], None]
T = TypeVar("T")


@dataclass
class FaultRun:
    """One fault's whole lifecycle: the applied fault, its verification and healing."""

    applied: AppliedFault
    verified: ProbeResult
    healed: ProbeResult | None

    @property
    def timeline(self) -> FaultTimeline:
        """The fault's timeline (marks and ground truth)."""
        return self.applied.timeline


@dataclass
class RevertReport:
    """What :meth:`FaultSession.revert_all` did, in lines for humans and journals."""

    reverted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    still_open: list[LedgerEntry] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when every revert worked and the ledger lists nothing of the session open."""
        return not self.problems and not self.still_open


def hold(until: float, step: float = 0.2, *, check: Callable[[], T | None] | None = None,
         check_every: float = 1.0) -> T | None:
    """Sleep until epoch ``until`` in short steps (signals are handled promptly).

    ``check`` is called every ``check_every`` seconds meanwhile; the hold ends
    early with the first thing it returns that is not None (else None).
    """
    next_check = time.monotonic()
    while (left := until - time.time()) > 0:
        if check is not None and time.monotonic() >= next_check:
            found = check()
            if found is not None:
                return found
            next_check = time.monotonic() + check_every
        time.sleep(min(step, left))
    return None


def reverted_elsewhere(ledger: Ledger, fault_id: str) -> LedgerEntry | None:
    """The ledger entry of ``fault_id`` when another process (``chaosgate cleanup
    --force``) has reverted it; None while it is open (or the ledger cannot be read)."""
    try:
        entry = ledger.entries().get(fault_id)
    except (OSError, ValueError, KeyError):  # unreadable now: the next look may succeed
        return None
    return entry if entry is not None and entry.state == "reverted" else None


def reverted_early(applied: AppliedFault, entry: LedgerEntry,
                   duration: float) -> FaultRevertedElsewhere:
    """The error for a fault another process reverted during its hold (already healed
    or not: the caller waited); ``run`` is set by the caller."""
    by = "" if entry.reverted_by is None else f" (pid {entry.reverted_by})"
    when = ""
    if entry.t_reverted is not None:
        when = f" at {format_clock(entry.t_reverted)} UTC"
        if applied.timeline.t_inject is not None:
            when += (f", {entry.t_reverted - applied.timeline.t_inject:.1f} s into its "
                     f"{duration:g} s hold")
    return FaultRevertedElsewhere(
        f"{applied.timeline.kind} {applied.fault_id} was reverted early by "
        f"{entry.note or 'another process'}{by}{when}: the fault did not last as planned, "
        "so this run is inconclusive. Fix: run it again, and run `chaosgate cleanup "
        "--force` only when its owner is stuck")


def actuator_for(change: Change, target: Target, platform: Platform) -> Actuator:
    """Who reverts ``change`` from the ledger alone: the database adapter, the pod-kill
    helper, or the platform."""
    if change.kind == FaultKind.FAILOVER_DB:
        return database_for(target, platform)
    if change.kind == FaultKind.KILL_PODS:
        return PodKillActuator(platform)
    return platform


def revert_entry(entry: LedgerEntry, target: Target, platform: Platform, ledger: Ledger,
                 note: str) -> Actuator:
    """Revert an open ledger entry from its recorded change and close it; the actuator
    (for a healing probe). On failure the entry is marked ``revert_failed`` and the error
    re-raised."""
    actuator = actuator_for(entry.change, target, platform)
    try:
        actuator.revert(entry.change)
    except Exception as exc:
        ledger.mark(entry.id, "revert_failed", error=str(exc))
        raise
    ledger.mark(entry.id, "reverted", note=note)
    return actuator


def not_effective(applied: AppliedFault, verify_timeout: float,
                  run: FaultRun) -> FaultNotEffective:
    """The error for a fault whose active probe never saw it take hold (it was reverted)."""
    tl = applied.timeline
    exc = FaultNotEffective(f"{tl.kind} {applied.fault_id} did not take hold within "
                            f"{verify_timeout:g} s: {tl.verify_detail} (it was reverted)")
    exc.run = run
    return exc


def aborted(applied: AppliedFault, tripped: Tripped, duration: float,
            run: FaultRun) -> FaultAborted:
    """The error for a fault a stop condition ended: which tripped, when, and the revert."""
    tl = applied.timeline
    into = "" if tl.t_inject is None else \
        f", {tripped.t - tl.t_inject:.1f} s into its {duration:g} s hold"
    took = "" if tl.t_revert is None else \
        f"; reverted {max(tl.t_revert - tripped.t, 0.0):.2f} s later"
    exc = FaultAborted(f"{tripped} at {format_clock(tripped.t)} UTC{into}{took}: "
                       f"{tl.kind} {applied.fault_id} was reverted at once and the run is "
                       "aborted. Fix: look at what the system did (the condition was given in "
                       f"{tripped.condition.source or 'the run'}); run it again when it is "
                       "healthy, with a smaller fault")
    exc.run, exc.tripped = run, tripped
    return exc


class FaultSession:
    """The faults one run applies (see the module doc)."""

    def __init__(self, target: Target, platform: Platform, ledger: Ledger, *,
                 seed: int | None = None, log: Log = lambda _m: None,
                 owner: str = "chaosgate", front_end: FrontEnd = "chaosgate",
                 stop: StopWatch | None = None) -> None:
        self.context = FaultContext(target, platform, ledger, seed, log=log,
                                    front_end=front_end)
        # the run's stop conditions, checked every second while a fault is held
        self.stop = stop
        self.owner = owner  # who reverts, as the ledger notes it ("chaos_fault teardown", ...)
        self.faults: list[AppliedFault] = []  # every fault applied, oldest first
        self.fault_ids: list[str] = []  # every fault opened, applied or not
        self.last_report: RevertReport | None = None  # of the guard's revert_all
        _LIVE.add(self)
        _arm_exit_hook()

    # -- what the session holds ------------------------------------------------
    @property
    def target(self) -> Target:
        """The target the faults act on."""
        return self.context.target

    @property
    def ledger(self) -> Ledger:
        """The write-ahead ledger."""
        return self.context.ledger

    @property
    def log(self) -> Log:
        """Where progress lines go."""
        return self.context.log

    def still_applied(self, kinds: tuple[FaultKind, ...] = ()) -> list[AppliedFault]:
        """Faults not reverted yet (of ``kinds`` only, when given), newest first."""
        return [a for a in reversed(self.faults)
                if not a.reverted and (not kinds or a.timeline.kind in kinds)]

    def open_entries(self) -> list[LedgerEntry]:
        """Ledger entries this session opened that the ledger still lists as open."""
        mine = set(self.fault_ids)
        return [e for e in self.ledger.open_entries(target_key(self.target)) if e.id in mine]

    @property
    def t_inject(self) -> float | None:
        """When the session's first fault was applied (None: none yet)."""
        times = [a.timeline.t_inject for a in self.faults if a.timeline.t_inject is not None]
        return min(times) if times else None

    # -- the lifecycle ----------------------------------------------------------
    def build(self, spec: Mapping[str, Any], source: str = "fault") -> Fault:
        """The fault a spec describes (see :mod:`.spec`), bound to this session's context."""
        return build_fault(self.context, spec, source=source)

    @property
    def dry_run(self) -> bool:
        """The target's safety block asks for dry runs only."""
        return self.target.safety.dry_run

    def check_owner(self) -> None:
        """Raise :class:`~chaosgate.faults.signals.OwnerGone` when the process that started
        this one (``CHAOSGATE_PARENT``: ``chaosgate gameday``) is gone."""
        why = parent_gone()
        if why is not None:
            self.log(f"{why}: stopping, no new fault")
            raise signals.OwnerGone(why)

    def _apply(self, fault: Fault) -> AppliedFault:
        self.check_owner()  # before every fault: never one after the owner's death
        self.fault_ids.append(fault.fault_id)
        applied = fault.inject()  # reverts by itself if applying fails or is interrupted
        self.faults.append(applied)
        return applied

    def inject(self, fault: Fault, *, verify_timeout: float = 30.0,
               heal_timeout: float = 120.0) -> AppliedFault:
        """Apply ``fault`` (ledger first) and verify it took hold; it stays applied.

        When the active probe never sees it take hold within ``verify_timeout``
        it is reverted (healing awaited up to ``heal_timeout``) and
        :class:`FaultNotEffective` raised, carrying the :class:`FaultRun`.
        """
        applied = self._apply(fault)
        verified = applied.verify(verify_timeout)
        if not verified.ok:
            healed = self.revert(applied, heal_timeout)
            raise not_effective(applied, verify_timeout, FaultRun(applied, verified, healed))
        applied.collect_ground_truth()
        return applied

    def run(self, fault: Fault, duration: float, *, verify_timeout: float = 30.0,
            heal_timeout: float = 120.0,
            on_applied: Callable[[AppliedFault], None] | None = None) -> FaultRun:
        """Inject ``fault``, verify it, hold it ``duration`` s from ``t_inject``, revert it,
        wait until healed and gather the ground truth.

        Raises :class:`FaultNotEffective` (after reverting) when the active probe
        never saw the fault take hold, :class:`FaultRevertedElsewhere` (after
        healing was awaited) when another process reverted it during the hold,
        and :class:`FaultAborted` (reverted at once, healing awaited) when one of
        the session's stop conditions tripped: the ledger and the stop
        conditions are read every second meanwhile, so the hold stops at once.
        Each carries the :class:`FaultRun`.
        """
        applied = self._apply(fault)
        if on_applied is not None:
            on_applied(applied)
        early: LedgerEntry | None = None
        tripped: Tripped | None = None

        def look() -> LedgerEntry | Tripped | None:
            found = reverted_elsewhere(self.ledger, applied.fault_id)
            return found if found is not None or not self.stop else self.stop.check()

        try:
            verified = applied.verify(verify_timeout)
            if verified.ok:
                ended = cast("LedgerEntry | Tripped | None", hold(
                    (applied.timeline.t_inject or time.time()) + duration, check=look,
                    check_every=STOP_CHECK_EVERY if self.stop else 1.0))
                if isinstance(ended, Tripped):
                    tripped = ended
                    self.log(f"{ended}: reverting {applied.fault_id} now")
                elif isinstance(ended, LedgerEntry):  # its revert is done and recorded
                    early = ended
                    applied.reverted = True
                    applied.timeline.t_revert = early.t_reverted
        finally:
            with signals.shielded():
                applied.revert()
        healed = self.revert(applied, heal_timeout)
        run = FaultRun(applied, verified, healed)
        if not verified.ok:
            raise not_effective(applied, verify_timeout, run)
        if early is not None:
            exc = reverted_early(applied, early, duration)
            exc.run = run
            raise exc
        if tripped is not None:
            raise aborted(applied, tripped, duration, run)
        return run

    def revert(self, applied: AppliedFault, heal_timeout: float = 120.0,
               wait: bool = True) -> ProbeResult | None:
        """Revert one fault (idempotent); with ``wait``, wait until healed and gather its
        ground truth. The healing probe's last result (None without ``wait``)."""
        with signals.shielded():
            applied.revert()
        if not wait:
            return None
        healed = applied.wait_healed(heal_timeout)
        applied.collect_ground_truth()
        return healed

    def revert_all(self, heal_timeout: float = 60.0, wait: bool = True) -> RevertReport:
        """Revert everything the session still holds, newest first, then whatever of its own
        the ledger still lists as open; report what was done and what is left."""
        report = RevertReport()
        with signals.shielded():
            for applied in self.still_applied():
                name = f"{applied.fault_id} ({applied.timeline.kind})"
                try:
                    healed = self.revert(applied, heal_timeout, wait)
                except Exception as exc:
                    report.problems.append(f"{name}: revert failed: {exc}")
                    continue
                if healed is None:
                    report.reverted.append(name)
                else:
                    state = "healed" if healed.ok else f"NOT healed within {heal_timeout:g} s"
                    report.reverted.append(f"{name}: {state}: {healed.detail}")
            for entry in reversed(self.open_entries()):
                try:
                    revert_entry(entry, self.target, self.context.platform, self.ledger,
                                 note=f"{self.owner}, from the ledger")
                except Exception as exc:
                    report.problems.append(f"{entry.id}: revert from the ledger failed: {exc}")
                    continue
                self.log(f"reverted {entry.fault} {entry.id} from the ledger")
                report.reverted.append(f"{entry.id} ({entry.fault}): from the ledger")
        report.still_open = self.open_entries()
        return report

    @contextmanager
    def guard(self, heal_timeout: float = 60.0) -> Iterator[FaultSession]:
        """SIGINT/SIGTERM in the block raise Interrupted; when it ends, however it ends,
        :meth:`revert_all` runs with both signals ignored (its report: ``last_report``)."""
        with signals.interrupting(lambda: self._revert_at_end(heal_timeout)):
            yield self

    def _revert_at_end(self, heal_timeout: float) -> None:
        if not self.still_applied() and not self.fault_ids:
            return
        report = self.last_report = self.revert_all(heal_timeout)
        for line in report.reverted:
            self.log(f"reverted {line}")
        for line in report.problems:
            self.log(f"could not revert {line}; run `chaosgate cleanup`")


# -- the last resort ---------------------------------------------------------------
_LIVE: weakref.WeakSet[FaultSession] = weakref.WeakSet()
_HOOKED: list[bool] = []


def _revert_at_exit() -> None:
    """At interpreter exit, revert what live sessions still hold (no healing wait: the
    probes need threads, which are gone by then)."""
    for session in list(_LIVE):
        if session.still_applied():
            try:
                session.revert_all(wait=False)
            except Exception as exc:  # nothing is left to report to at exit
                session.log(f"reverting at exit failed: {exc}; run `chaosgate cleanup`")


def _arm_exit_hook() -> None:
    if not _HOOKED:
        atexit.register(_revert_at_exit)
        _HOOKED.append(True)
