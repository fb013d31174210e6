"""Patroni failover on the processes platform (the sandbox's too): members by their
Patroni REST URLs; switchover, failover and node crash.

- ``switchover``: ``POST /switchover`` (leader -> candidate), planned.
- ``failover``: ``POST /failover`` to the candidate (manual failover).
- ``node-crash`` (only when every member names its supervisord ``programs``):
  the leader's programs, their descendants *and* its postmaster (when the
  member names its ``data_dir``: the pid in ``<data_dir>/postmaster.pid``;
  Patroni double-forks it out of supervisord's reach) are frozen, the
  programs are stopped in supervisord (so they are not restarted: a
  restarted Patroni would retake its still-valid leader key), and all are
  SIGKILLed. Nothing shuts down cleanly, the leader key expires after
  Patroni's ``ttl`` and the replica promotes. Revert starts the programs
  again; the old leader rejoins as a replica on the new timeline.

A failover is not undone by failing back: reverting a switchover or failover
only waits for the cluster to be healthy again, every member on the new
timeline and that timeline in the leader's ``/history`` (:func:`rejoined`).

The change's data (:class:`PatroniFailoverData`) is private to this module;
its ``subjects`` are ``(old_leader,)``.

When Patroni cannot say who leads, the error names the dependency that is
down (:func:`outage_message`, exit 3): etcd (Patroni's DCS, asked directly
for its ``/health`` when the target names ``database.etcd_url``), the Patroni
REST endpoints that refuse connections, or
Patroni answering but unable to read etcd (a partition between them?), each
with the fix.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

from ..clients.etcd import etcd_problem
from ..clients.patroni import ClusterMember, PatroniClient
from ..clients.processes import descendants, identify, process_table, signal_identity
from ..clients.supervisor import SupervisorClient
from ..exceptions import Inconclusive, SandboxError, UsageError
from ..sandbox.events import read_events
from ..targets import DbMember, Target
from . import groundtruth
from .base import DB_METHODS, Change, DbMemberState, FaultKind, Moment, ProbeResult

__all__ = ["PatroniFailoverData", "ProcessesPatroni", "outage_message", "postmaster_pid",
           "rejoined"]

PatroniMethod = Literal["switchover", "failover", "node-crash"]


class PatroniFailoverData(TypedDict):
    """The data of a Patroni failover :class:`Change` of the processes platform.

    Written by :meth:`ProcessesPatroni.plan_failover`, read only by
    :class:`ProcessesPatroni`.
    """

    method: PatroniMethod
    old_leader: str  # the member that led when the failover was planned
    candidate: str  # the replica meant to take over
    old_timeline: int | None  # the old leader's timeline then
    program: str  # the old leader's first supervisord program ("" when it names none)
    programs: NotRequired[list[str]]  # all its programs (node-crash stops them); older: program
    data_dir: str  # the old leader's PostgreSQL data directory (its postmaster.pid), or ""


def _data(change: Change) -> PatroniFailoverData:
    """``change.data`` as :meth:`ProcessesPatroni.plan_failover` wrote it."""
    return cast(PatroniFailoverData, change.data)


def postmaster_pid(data_dir: Path) -> int | None:
    """The postmaster's pid from ``postmaster.pid`` (first line), if the file is there."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


def rejoined(old_leader: str, old_timeline: int | None, members: Sequence[ClusterMember],
             healthy: bool, history: Sequence[Sequence[Any]] | None) -> ProbeResult:
    """Whether a failed-over cluster is healed, from ``/cluster`` and the leader's ``/history``.

    Healed: the cluster is healthy and every member is on the leader's
    timeline; and when that is not still ``old_leader`` on ``old_timeline``
    (the node came back before Patroni failed over: healed too, and the fault
    was reported as not effective), the leader's timeline is past
    ``old_timeline`` and its start is in the leader's ``/history``.

    ``/cluster`` alone is not enough. A member's timeline there is what it
    last wrote to the DCS, so right after the leader key moves every member
    can still show the old timeline. And the new leader writes the history
    key only in the HA cycle after its promotion completed, while its
    ``GET /history`` serves the DCS state it cached at the start of a cycle:
    the new timeline's row shows there a cycle or two after every member is
    on it in ``/cluster``. Ground truth read before then has no timeline change.
    """
    old = next((m for m in members if m.name == old_leader), None)
    leader = next((m for m in members if m.is_leader), None)
    if old is None or leader is None:
        return ProbeResult(False, f"{old_leader} or a leader is missing")
    role = "leader" if old.is_leader else "replica"
    detail = (f"{old.name} is {role} ({old.state}, timeline {old.timeline}, "
              f"leader {leader.name} on {leader.timeline}); "
              f"cluster {'healthy' if healthy else 'not healthy'}")
    if not healthy or any(m.timeline != leader.timeline for m in members):
        return ProbeResult(False, detail)
    if leader.name == old_leader and leader.timeline == old_timeline:
        return ProbeResult(True, detail)
    timeline = leader.timeline
    if timeline is None or (old_timeline is not None and timeline <= old_timeline):
        return ProbeResult(False, f"{detail}; {leader.name} does not show a timeline after "
                                  f"{old_timeline} yet")
    if history is None:
        return ProbeResult(False, f"{detail}; {leader.name}'s /history did not answer")
    if not any(row and row[0] == timeline - 1 for row in history):
        return ProbeResult(False, f"{detail}; timeline {timeline} is not in "
                                  f"{leader.name}'s /history yet")
    return ProbeResult(True, f"{detail}; timeline {timeline} is in {leader.name}'s /history")


def outage_message(what: str, etcd_url: str | None, etcd_down: str | None,
                   patroni_down: Mapping[str, str | None], target_source: str) -> str:
    """What is down behind a Patroni error, and the fix. Pure.

    ``what`` is the error seen; ``etcd_down`` why etcd's ``/health`` failed
    (None: healthy, or ``etcd_url`` is None: not known); ``patroni_down`` each
    Patroni REST endpoint -> why it refuses TCP connections (None: it accepts
    them). etcd down is named first: Patroni without its DCS has no leader,
    whatever else is up.
    """
    refused = {url: why for url, why in patroni_down.items() if why is not None}
    patroni = "; ".join(f"{url} {why}" for url, why in refused.items())
    restart = ("in the sandbox: chaosgate sandbox status shows it, chaosgate sandbox down "
               "then chaosgate sandbox up starts it again")
    cleanup = f"chaosgate cleanup --target {target_source}"
    if etcd_url is None:
        if refused and len(refused) == len(patroni_down):
            return (f"Patroni is down: no REST API accepts connections ({patroni}). Fix: if "
                    f"a fault crashed a member, run {cleanup}; else start Patroni")
        return (f"{what}. Fix: revert any fault between Patroni and its DCS ({cleanup}), "
                "check Patroni's log, and name the DCS in database.etcd_url so chaosgate "
                "can say whether it is down")
    if etcd_down is not None:
        both = bool(refused) and len(refused) == len(patroni_down)
        also = f"; the Patroni REST API is down too ({patroni})" if both else ""
        return (f"etcd, Patroni's DCS, at {etcd_url} is not answering ({etcd_down}): Patroni "
                f"cannot read or keep the cluster's leader{also}. Fix: start etcd"
                f"{' and Patroni' if both else ''} ({restart}), then try again")
    if refused and len(refused) == len(patroni_down):
        return (f"Patroni is down: no REST API accepts connections ({patroni}); etcd at "
                f"{etcd_url} is up. Fix: if a fault crashed a member, run {cleanup}; "
                f"else start Patroni ({restart})")
    return (f"{what}; etcd at {etcd_url} answers chaosgate, so Patroni cannot reach it or is "
            f"failing. Fix: revert any partition between Patroni and etcd ({cleanup}) and "
            "check Patroni's log (in the sandbox's state directory, logs/)")


class ProcessesPatroni:
    """:class:`~chaosgate.platforms.base.DatabaseAdapter` for a Patroni cluster reached by
    its members' REST URLs; node crashes through the members' supervisord programs."""

    kind = "patroni"

    def __init__(self, target: Target) -> None:
        assert target.database is not None
        self.target = target
        self.patroni = PatroniClient([m.patroni_url for m in target.database.members], timeout=2)
        self.etcd_url = target.database.etcd_url
        self.database_members = target.database.members
        self._supervisor: SupervisorClient | None = None
        self._kills: dict[str, list[Moment]] = {}

    @property
    def supervisor(self) -> SupervisorClient:
        """The target's supervisord (only a node crash needs it)."""
        if self._supervisor is None:
            from .processes import supervisor_client

            self._supervisor = supervisor_client(self.target)
        return self._supervisor

    @supervisor.setter
    def supervisor(self, client: SupervisorClient) -> None:
        self._supervisor = client

    def methods(self) -> tuple[str, ...]:
        """switchover, failover, and node-crash when every member names its programs."""
        crashable = self.target.platform.supervisor is not None and all(
            m.programs for m in self.database_members)
        return tuple(m for m in DB_METHODS["patroni"] if crashable or m != "node-crash")

    def _cluster(self) -> list[ClusterMember]:
        try:
            return self.patroni.cluster()
        except SandboxError as exc:
            raise self._outage(str(exc)) from exc

    def _etcd_down(self) -> str | None:
        return None if self.etcd_url is None else etcd_problem(self.etcd_url)

    def _outage(self, what: str) -> Inconclusive:
        """Inconclusive (exit 3) naming what is down behind ``what``, and the fix."""
        return Inconclusive(outage_message(what, self.etcd_url, self._etcd_down(),
                                           self.patroni.listening(), self.target.source))

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

    def _member(self, name: str) -> DbMember:
        member = next((m for m in self.database_members if m.name == name), None)
        if member is None:
            raise UsageError(f"{self.target.source}: database.members: Patroni's leader "
                             f"{name!r} is not a member of the target. Fix: list every "
                             "member of the Patroni cluster")
        return member

    def plan_failover(self, method: str, fault_id: str, candidate: str | None = None) -> Change:
        """Resolve leader and candidate now (reads ``/cluster``; changes nothing)."""
        if method not in self.methods():
            fix = (" (node-crash needs each member's `programs:` and platform.supervisor)"
                   if method == "node-crash" else "")
            raise UsageError(f"--method {method!r} is not a Patroni method of this target. "
                             f"Fix: use one of {', '.join(self.methods())}{fix}")
        members = self._cluster()
        leader = next((m for m in members if m.is_leader and m.state == "running"), None)
        if leader is None or not self.healthy():
            unhealthy = ("the Patroni cluster is not healthy (no running leader with a "
                         "streaming replica); refusing to fail it over")
            if self._etcd_down() is not None:
                raise self._outage(unhealthy)
            raise Inconclusive(f"{unhealthy}. Fix: wait until Patroni shows a leader and a "
                               "streaming replica (a fault still open? "
                               f"chaosgate cleanup --target {self.target.source})")
        replicas = [m.name for m in members if not m.is_leader]
        if candidate is not None and candidate not in replicas:
            raise UsageError(f"--candidate {candidate!r} is not a replica. "
                             f"Fix: use one of {', '.join(replicas)}")
        chosen = candidate or replicas[0]
        member = self._member(leader.name)
        how = {"switchover": f"switchover {leader.name} -> {chosen}",
               "failover": f"failover to {chosen} (leader {leader.name})",
               "node-crash": f"crash {leader.name} (SIGKILL "
                             f"{', '.join(member.programs) or 'its programs'}"
                             f"{' and postmaster' if member.data_dir else ''}, held down); "
                             f"{chosen} should promote"}[method]
        data = PatroniFailoverData(
            method=cast(PatroniMethod, method),  # one of methods(), checked above
            old_leader=leader.name, candidate=chosen, old_timeline=leader.timeline,
            program=member.programs[0] if member.programs else "",
            programs=list(member.programs),
            data_dir=str(member.data_dir.absolute()) if member.data_dir else "")
        return Change(FaultKind.FAILOVER_DB, "processes", fault_id, how, data,
                      subjects=(leader.name,))

    def apply(self, change: Change) -> None:
        """Request the switchover/failover, or crash the leader's node."""
        data = _data(change)
        try:
            if data["method"] == "switchover":
                self.patroni.switchover(data["old_leader"], data["candidate"])
            elif data["method"] == "failover":
                self.patroni.failover(data["candidate"])
            else:
                self._crash(change.fault_id, _programs(data),
                            Path(data["data_dir"]) if data["data_dir"] else None)
        except SandboxError as exc:
            raise self._outage(str(exc)) from exc

    def _crash(self, fault_id: str, programs: list[str], data_dir: Path | None) -> None:
        roots = [p for p in (self.supervisor.process(name).pid for name in programs) if p]
        tree = descendants(roots, process_table())
        postmaster = postmaster_pid(data_dir) if data_dir is not None else None
        pids = list(dict.fromkeys([*roots, *sorted(tree)]))
        victims = [i for i in (identify(pid) for pid in [*pids, *([postmaster] if postmaster
                                                               else [])]) if i is not None]
        for victim in victims:  # freeze first: no clean shutdown, no key released
            signal_identity(victim, signal.SIGSTOP)
        for name in programs:
            self.supervisor.stop(name, wait=False)  # STOPPING: not restarted on exit
        for victim in victims:
            signal_identity(victim, signal.SIGKILL)
        what = (f"SIGKILL {', '.join(programs)} (pid {', '.join(map(str, pids))})"
                f"{f' and postmaster (pid {postmaster})' if postmaster else ''}")
        self._kills[fault_id] = [Moment(time.time(), what, programs[0], "chaosgate")]

    def verify(self, change: Change) -> ProbeResult:
        """Ok when a member other than the old leader is the running leader."""
        now = self.primary()
        old = _data(change)["old_leader"]
        return ProbeResult(now is not None and now != old,
                           f"leader now {now or 'none'} (was {old})")

    def revert(self, change: Change) -> None:
        """Start a crashed node's programs again (no-op otherwise). Idempotent."""
        data = _data(change)
        if data["method"] != "node-crash":
            return
        for program in _programs(data):
            try:
                info = self.supervisor.process(program)
                if info.state in ("STOPPED", "EXITED", "FATAL", "STOPPING"):
                    self.supervisor.start(program, wait=False)
            except SandboxError as exc:
                if "ALREADY_STARTED" not in str(exc):
                    raise Inconclusive(str(exc)) from exc

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when the cluster is healthy on one timeline, and a new one is in ``/history``.

        See :func:`rejoined`; the history is the leader's own, which
        :meth:`moments` reads next.
        """
        members = self._cluster()
        leader = next((m for m in members if m.is_leader), None)
        history = self._history(leader.name) if leader is not None else None
        data = _data(change)
        return rejoined(data["old_leader"], data.get("old_timeline"), members,
                        self.healthy(), history)

    def _history(self, member: str) -> list[list[Any]] | None:
        """``member``'s ``GET /history`` (None when it does not answer)."""
        urls = {m.name: m.patroni_url for m in self.database_members}
        if member not in urls:
            return None
        try:
            return PatroniClient([urls[member]], timeout=2).history()
        except SandboxError:
            return None

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Process events of the crashed node's programs and Patroni timeline changes."""
        programs = set(_programs(_data(change)))
        moments: list[Moment] = []
        if programs and self.target.is_sandbox:
            moments += groundtruth.process_moments(
                read_events(self.target.sandbox_topology().events_file), programs, since)
        elif programs:
            from .processes import supervisor_moments

            try:
                infos = {p.name: p for p in self.supervisor.processes()}
            except SandboxError:
                infos = {}
            moments += supervisor_moments(infos, programs, since)
        moments += self._kills.get(change.fault_id, [])
        leader = self.primary()
        # the leader's history is complete (verify_reverted waited for it); a rejoining
        # node's may lag
        history = self._history(leader) if leader is not None else None
        if history is not None:
            moments += groundtruth.history_moments(history, since)
        return sorted(moments, key=lambda m: m.t)


def _programs(data: PatroniFailoverData) -> list[str]:
    """The old leader's programs (an older ledger's one ``program``)."""
    return list(data.get("programs") or ([data["program"]] if data["program"] else []))
