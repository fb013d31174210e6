"""Patroni failover on the sandbox: switchover, failover and node crash.

- ``switchover``: ``POST /switchover`` (leader -> candidate), planned.
- ``failover``: ``POST /failover`` to the candidate (manual failover).
- ``node-crash``: the leader's Patroni *and* its postmaster (the pid in
  ``<data_dir>/postmaster.pid``: Patroni double-forks it into its own process
  group, out of supervisord's reach) are frozen, the program is stopped in
  supervisord (so it is not restarted: a restarted Patroni would retake its
  still-valid leader key), and both are SIGKILLed. Nothing shuts down
  cleanly, the leader key expires after Patroni's ``ttl`` and the replica
  promotes. Revert starts the program again; the old leader rejoins as a
  replica on the new timeline.

A failover is not undone by failing back: reverting a switchover or failover
only waits for the cluster to be healthy again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from ..clients.patroni import ClusterMember, PatroniClient
from ..clients.supervisor import SupervisorClient
from ..exceptions import Inconclusive, SandboxError, UsageError
from ..sandbox.events import read_events
from ..sandbox.topology import Topology
from ..targets import Target
from . import groundtruth
from .base import DB_METHODS, Change, DbMemberState, FaultKind, Moment, ProbeResult

__all__ = ["SandboxPatroni", "postmaster_pid"]


def postmaster_pid(data_dir: Path) -> int | None:
    """The postmaster's pid from ``postmaster.pid`` (first line), if the file is there."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


class SandboxPatroni:
    """:class:`~chaosgate.platforms.base.DatabaseAdapter` for the sandbox's Patroni cluster."""

    kind = "patroni"

    def __init__(self, target: Target) -> None:
        assert target.database is not None
        self.target = target
        self.topo: Topology = target.sandbox_topology()
        self.patroni = PatroniClient([m.patroni_url for m in target.database.members], timeout=2)
        self.supervisor = SupervisorClient(self.topo.supervisor_url, timeout=10)
        self.database_members = target.database.members
        self._kills: dict[str, list[Moment]] = {}

    def methods(self) -> tuple[str, ...]:
        """switchover, failover, node-crash."""
        return DB_METHODS["patroni"]

    def _cluster(self) -> list[ClusterMember]:
        try:
            return self.patroni.cluster()
        except SandboxError as exc:
            raise Inconclusive(str(exc)) from exc

    def members(self) -> list[DbMemberState]:
        """Members from Patroni's ``/cluster``."""
        return [
            DbMemberState(m.name, "primary" if m.is_leader else "replica",
                          m.state in ("running", "streaming"), m.timeline)
            for m in self._cluster()
        ]

    def primary(self) -> str | None:
        """The running leader's name."""
        leader = next((m for m in self._cluster() if m.is_leader and m.state == "running"), None)
        return leader.name if leader else None

    def healthy(self) -> bool:
        """One running leader, every other member streaming."""
        return self.patroni.healthy()

    def plan_failover(self, method: str, fault_id: str, candidate: str | None = None) -> Change:
        """Resolve leader and candidate now (reads ``/cluster``; changes nothing)."""
        if method not in self.methods():
            raise UsageError(f"--method {method!r} is not a Patroni method. "
                             f"Fix: use one of {', '.join(self.methods())}")
        members = self._cluster()
        leader = next((m for m in members if m.is_leader and m.state == "running"), None)
        if leader is None or not self.healthy():
            raise Inconclusive("the Patroni cluster is not healthy (no running leader with a "
                               "streaming replica); refusing to fail it over")
        replicas = [m.name for m in members if not m.is_leader]
        if candidate is not None and candidate not in replicas:
            raise UsageError(f"--candidate {candidate!r} is not a replica. "
                             f"Fix: use one of {', '.join(replicas)}")
        chosen = candidate or replicas[0]
        member = next(m for m in self.topo.db_members if m.name == leader.name)
        how = {"switchover": f"switchover {leader.name} -> {chosen}",
               "failover": f"failover to {chosen} (leader {leader.name})",
               "node-crash": f"crash {leader.name} (SIGKILL Patroni and postmaster, held down); "
                             f"{chosen} should promote"}[method]
        return Change(FaultKind.FAILOVER_DB, "sandbox", fault_id, how, {
            "method": method, "old_leader": leader.name, "candidate": chosen,
            "old_timeline": leader.timeline, "program": leader.name,
            "data_dir": str(member.data_dir),
        })

    def apply(self, change: Change) -> None:
        """Request the switchover/failover, or crash the leader's node."""
        data = change.data
        try:
            if data["method"] == "switchover":
                self.patroni.switchover(data["old_leader"], data["candidate"])
            elif data["method"] == "failover":
                self.patroni.failover(data["candidate"])
            else:
                self._crash(change.fault_id, data["program"], Path(data["data_dir"]))
        except SandboxError as exc:
            raise Inconclusive(str(exc)) from exc

    def _crash(self, fault_id: str, program: str, data_dir: Path) -> None:
        patroni_pid = self.supervisor.process(program).pid
        pids = [p for p in (patroni_pid, postmaster_pid(data_dir)) if p]
        for pid in pids:  # freeze first: no clean shutdown, no key released
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        self.supervisor.stop(program, wait=False)  # STOPPING: not restarted on exit
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        what = f"SIGKILL Patroni (pid {pids[0]}) and postmaster (pid {pids[-1]})"
        self._kills[fault_id] = [Moment(time.time(), what, program, "chaosgate")]

    def verify(self, change: Change) -> ProbeResult:
        """Ok when a member other than the old leader is the running leader."""
        now = self.primary()
        old = change.data["old_leader"]
        return ProbeResult(now is not None and now != old,
                           f"leader now {now or 'none'} (was {old})")

    def revert(self, change: Change) -> None:
        """Start a crashed node again (no-op otherwise). Idempotent."""
        if change.data["method"] != "node-crash":
            return
        program = change.data["program"]
        try:
            info = self.supervisor.process(program)
            if info.state in ("STOPPED", "EXITED", "FATAL", "STOPPING"):
                self.supervisor.start(program, wait=False)
        except SandboxError as exc:
            if "ALREADY_STARTED" not in str(exc):
                raise Inconclusive(str(exc)) from exc

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when the cluster is healthy and every member follows the leader's timeline.

        Usually the old leader is back as a replica of the promoted one; when
        the node came back before Patroni failed over, it is the leader again,
        which is healed too (and the fault was reported as not effective).
        """
        members = {m.name: m for m in self._cluster()}
        old = members.get(change.data["old_leader"])
        leader = next((m for m in members.values() if m.is_leader), None)
        if old is None or leader is None:
            return ProbeResult(False, f"{change.data['old_leader']} or a leader is missing")
        healthy = self.healthy()
        ok = healthy and all(m.timeline == leader.timeline for m in members.values())
        role = "leader" if old.is_leader else "replica"
        return ProbeResult(ok, f"{old.name} is {role} ({old.state}, timeline {old.timeline}, "
                               f"leader {leader.name} on {leader.timeline}); "
                               f"cluster {'healthy' if healthy else 'not healthy'}")

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Process events of the crashed node and Patroni timeline changes."""
        moments = groundtruth.process_moments(
            read_events(self.topo.events_file), {change.data["program"]}, since)
        moments += self._kills.get(change.fault_id, [])
        leader = self.primary()
        urls = {m.name: m.patroni_url for m in self.database_members}
        if leader in urls:  # the leader's history is complete; a rejoining node's may lag
            with contextlib.suppress(SandboxError):
                history = PatroniClient([urls[leader]], timeout=2).history()
                moments += groundtruth.history_moments(history, since)
        return sorted(moments, key=lambda m: m.t)
