"""``chaosgate cleanup``: revert whatever the ledger still lists as open.

After a SIGKILL (or a power cut) a fault can stay applied with no process
left to revert it. Cleanup reads the ledger, and for every open fault of
the given target rebuilds the platform change from the ledger alone,
reverts it (idempotently: a half-applied or already-reverted change is
fine), closes the entry, and checks that the effect is gone. Faults still
owned by a live chaosgate process on this host are left alone unless
``force`` is set: that process will revert them itself.

On a sandbox target it then puts the fault proxy's links back as the
topology declares them (:meth:`chaosgate.sandbox.manager.SandboxManager.restore_links`):
a link deleted through the Toxiproxy API is created again, a disabled one
enabled, a stray toxic removed; what a fault still open holds (one left
open above because its owner lives) is left alone (:func:`link_holds`).

First it ends the processes chaosgate started (pytest, Locust, hogs) whose
owner is gone, from the children registry beside the ledger, by recorded
identity (:func:`chaosgate.clients.children.end_orphans`): a fault is never
reverted under a child that could still act.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..clients.children import ChildRegistry, Orphan, default_registry, end_orphans
from ..exceptions import ChaosgateError
from ..platforms.base import Change, FaultKind, Platform, ProbeResult
from ..sandbox.links import LinkHolds, LinkIssue
from ..targets import Target
from .base import Actuator, poll
from .ledger import Ledger, LedgerEntry, process_start, target_key
from .session import revert_entry

__all__ = ["CleanupReport", "cleanup", "link_holds"]


@dataclass
class CleanupReport:
    """What cleanup did: per fault, what happened."""

    reverted: list[tuple[LedgerEntry, ProbeResult]] = field(default_factory=list)
    failed: list[tuple[LedgerEntry, str]] = field(default_factory=list)
    skipped: list[tuple[LedgerEntry, str]] = field(default_factory=list)
    ended: list[Orphan] = field(default_factory=list)  # children of dead owners
    links: list[LinkIssue] = field(default_factory=list)  # sandbox links put right
    links_error: str = ""  # why the sandbox's links could not be put right

    @property
    def clean(self) -> bool:
        """True when nothing of this target is left open (or broken, for its links)."""
        return not self.failed and not self.skipped and not self.links_error


def link_holds(entries: Iterable[LedgerEntry]) -> LinkHolds:
    """What the open network faults of the processes platform (the sandbox's among them)
    among ``entries`` hold on the fault proxy's links."""
    from ..platforms.sandbox_net import link_holds as holds_of

    holds = LinkHolds()
    for entry in entries:
        change = entry.change
        if entry.is_open and change.platform in ("sandbox", "processes") and change.kind in (
                FaultKind.PARTITION, FaultKind.LATENCY):
            holds = holds.merge(holds_of(change))
    return holds


def _owner_alive(entry: LedgerEntry) -> bool:
    """True when the process that applied ``entry`` still runs (same pid, same start).

    Any front end may own a fault (``chaosgate``, ``chaos run``, pytest), so
    the owner is recognised by its pid and start time, not its command line.
    """
    if entry.pid == os.getpid() or entry.host != socket.gethostname():
        return False
    started = process_start(entry.pid)
    if started is None:
        return False
    return entry.pid_start is None or started == entry.pid_start


def cleanup(target: Target, ledger: Ledger, platform: Platform, *, force: bool = False,
            heal_timeout: float = 60.0,
            log: Callable[[str], None] = lambda _m: None) -> CleanupReport:
    """Revert every open fault of ``target`` in ``ledger``, newest first."""
    report = CleanupReport()
    registries = [ChildRegistry(ledger.path.resolve().parent / "children"), default_registry()]
    report.ended = end_orphans(registries, log=log)
    for entry in reversed(ledger.open_entries(target_key(target))):
        change = entry.change
        if not force and _owner_alive(entry):
            report.skipped.append((entry, f"still owned by running process {entry.pid}"))
            continue
        log(f"reverting {entry.fault} {entry.id}: {change.description}")
        try:
            actuator = revert_entry(entry, target, platform, ledger, note="chaosgate cleanup")
        except Exception as exc:
            report.failed.append((entry, str(exc)))
            continue

        def probe(a: Actuator = actuator, c: Change = change) -> ProbeResult:
            return a.verify_reverted(c)

        healed, _ = poll(probe, heal_timeout, interval=0.5)
        report.reverted.append((entry, healed))
    if target.is_sandbox:
        _restore_links(target, ledger, report)
    return report


def _restore_links(target: Target, ledger: Ledger, report: CleanupReport) -> None:
    """The sandbox's links restored into ``report`` (the caller says what was restored)."""
    from ..sandbox.manager import SandboxManager

    manager = SandboxManager(target.sandbox_topology())
    if not manager.running():  # a sandbox that is down has no link to restore
        return
    holds = link_holds(ledger.open_entries(target_key(target)))
    try:
        report.links = manager.restore_links(holds)
    except ChaosgateError as exc:
        report.links_error = str(exc)
