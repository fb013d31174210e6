"""Stop what the sandbox started, and nothing else (``chaosgate sandbox down``).

A process is the sandbox's when it can be proven without reading a command
line:

- **supervisord**: the pid it reports over XML-RPC on the sandbox's port,
  accepted when the sandbox's own pid file (``run/supervisord.pid``) names
  the same pid or its working directory is the state directory (supervisord
  changes to it when it daemonizes). When it does not answer: the pid file,
  accepted when the process started shortly before the file was written.
- **what supervisord started**: its descendants by parent pid and, as it is a
  session leader (it daemonizes with ``setsid``), the members of its session,
  even when reparented after their parent died.
- **PostgreSQL postmasters**: Patroni starts them detached (a new session,
  reparented to init), so they are found by the ``postmaster.pid`` in each
  member's data directory, and accepted when their start time agrees with
  the file (within 3 s, Patroni's own rule) and their working directory is
  that data directory. Their children (backends) come with them.
- **stress hogs** that chaosgate's stress faults started against this
  sandbox: each records its own identity in ``run/hogs/<fault id>.json``;
  the hog and its workers (its session) count while that process runs.
- **the record**: ``up`` and ``down`` write the identities above (pid + start
  time, see :mod:`chaosgate.clients.processes`) to ``run/sandbox-processes.json``, so a
  later ``down`` still finds them after supervisord died; an entry counts
  only while the same process (same boot, same start time) is alive.

Every signal goes through :func:`chaosgate.clients.processes.signal_identity`, which checks
the start time and signals through a pidfd, so a reused pid is never hit.
Processes that merely name the state directory in their arguments are
reported and left running.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..clients.processes import (
    Identity,
    ProcStat,
    ancestors,
    boot_id,
    boot_time,
    clock_ticks,
    descendants,
    names_path,
    parse_postmaster_pid,
    process_table,
    read_cmdline,
    read_identity_file,
    read_link,
    read_stat,
    session_members,
    signal_identity,
    start_epoch,
)
from ..clients.supervisor import SupervisorClient
from ..exceptions import SandboxError
from .topology import Topology

__all__ = [
    "DownResult",
    "LeftRunning",
    "find_own_processes",
    "foreign_processes",
    "owned_processes",
    "record_processes",
    "stop_sandbox",
    "topmost",
]

RECORD_FILE = "sandbox-processes.json"
POSTMASTER_START_TOLERANCE = 3.0  # seconds, as Patroni's own check
PIDFILE_WRITE_WINDOW = 15.0  # supervisord writes its pid file this soon after it starts
SETTLE_SECONDS = 2.0  # for children to follow supervisord out
GRACE_SECONDS = 10.0  # after SIGTERM/SIGINT, before SIGKILL


@dataclass(frozen=True)
class LeftRunning:
    """A process that names the state directory but was not started by the sandbox."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} cmd {self.command}"


@dataclass(frozen=True)
class DownResult:
    """What ``down`` did beyond supervisord's own shutdown, and what it left alone."""

    stopped: list[int]  # the sandbox's, alive after supervisord's shutdown: signalled by down
    killed: list[int]  # of those, the ones that needed SIGKILL
    not_ours: list[LeftRunning]  # name the state directory, not the sandbox's: left running
    left: list[int]  # the sandbox's own processes still alive at the end (should be none)


# -- deciding what is ours (pure) ---------------------------------------------
def owned_processes(
    table: Mapping[int, ProcStat],
    supervisord: Identity | None,
    postmasters: Iterable[Identity] = (),
    recorded: Mapping[Identity, str] | None = None,
) -> dict[Identity, str]:
    """The live processes of ``table`` that the sandbox started, with their role.

    ``supervisord`` and ``postmasters`` must already be verified as the
    sandbox's; ``recorded`` identities count only while they still match.
    Descendants of every accepted process are the sandbox's too, and so are
    the members of supervisord's session when it leads one.
    """
    owned: dict[Identity, str] = {}

    def accept(identity: Identity, role: str) -> bool:
        if not identity.matches(table.get(identity.pid)):
            return False
        owned.setdefault(identity, role)
        return True

    if supervisord is not None and accept(supervisord, "supervisord"):
        if table[supervisord.pid].session == supervisord.pid:
            for stat in table.values():
                if stat.session == supervisord.pid:
                    accept(stat.identity, "supervised")
        for pid in descendants([supervisord.pid], table):
            accept(table[pid].identity, "supervised")
    for postmaster in postmasters:
        if accept(postmaster, "postmaster"):
            for pid in descendants([postmaster.pid], table):
                accept(table[pid].identity, "postgres")
    for identity, role in (recorded or {}).items():
        if accept(identity, role):
            for pid in descendants([identity.pid], table):
                accept(table[pid].identity, role)
    return owned


def topmost(identities: Iterable[Identity], table: Mapping[int, ProcStat]) -> list[Identity]:
    """The live ``identities`` whose parent is not one of them, by pid."""
    live = [i for i in identities if i.matches(table.get(i.pid))]
    pids = {i.pid for i in live}
    return sorted((i for i in live if table[i.pid].ppid not in pids), key=lambda i: i.pid)


def foreign_processes(
    table: Mapping[int, ProcStat],
    cmdlines: Mapping[int, list[str]],
    state_dirs: Iterable[str],
    ours: Iterable[int],
    me: int,
) -> list[LeftRunning]:
    """Live processes whose arguments name a state directory but are not the sandbox's.

    ``me`` and its ancestors (the command running ``down``, its shell) are
    not reported.
    """
    skip = {*ours, me, *ancestors(me, table)}
    dirs = list(state_dirs)
    found = []
    for pid, argv in sorted(cmdlines.items()):
        stat = table.get(pid)
        if pid in skip or stat is None or not stat.alive:
            continue
        if any(names_path(argv, d) for d in dirs):
            found.append(LeftRunning(pid, _short(shlex.join(argv))))
    return found


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the record ---------------------------------------------------------------
def _record_path(topo: Topology) -> Path:
    return topo.run_dir / RECORD_FILE


def load_record(path: Path, boot: str) -> dict[Identity, str]:
    """Identities a previous ``up``/``down`` wrote; none if from another boot or unreadable."""
    try:
        data = json.loads(path.read_text())
        if data.get("boot_id") != boot:
            return {}
        return {Identity(int(p["pid"]), int(p["start_ticks"])): str(p["role"])
                for p in data["processes"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_record(path: Path, boot: str, owned: Mapping[Identity, str]) -> None:
    """Write the identities (atomically), or remove the record when there are none."""
    if not owned:
        path.unlink(missing_ok=True)
        return
    if not path.parent.is_dir():
        return  # the state directory is gone: nothing to record into
    doc = {
        "boot_id": boot,
        "processes": [{"pid": i.pid, "start_ticks": i.start_ticks, "role": r}
                      for i, r in sorted(owned.items(), key=lambda kv: kv[0].pid)],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


# -- finding ours (reads /proc, asks supervisord) -----------------------------
@dataclass(frozen=True)
class _Supervisord:
    identity: Identity | None
    answering: bool  # it answered on the sandbox's port (so shut it down over XML-RPC)
    problem: str = ""  # why a supervisord that answered was not accepted


def _same_dir(link: str | None, directory: Path) -> bool:
    return link is not None and os.path.realpath(link) == os.path.realpath(directory)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _find_supervisord(
    topo: Topology, client: SupervisorClient, table: Mapping[int, ProcStat],
    recorded: Mapping[Identity, str],
) -> _Supervisord:
    pidfile = topo.run_dir / "supervisord.pid"
    file_pid = _read_pid(pidfile)
    if client.alive():
        try:
            pid = client.pid()
        except SandboxError:
            pid = 0
        stat = table.get(pid) or read_stat(pid)
        if stat is not None and (pid == file_pid or _same_dir(read_link(pid, "cwd"),
                                                               topo.state_dir)):
            return _Supervisord(stat.identity, answering=True)
        return _Supervisord(None, answering=False, problem=(
            f"the supervisord answering on {client.url} (pid {pid}) is not this sandbox's: "
            f"{pidfile} names pid {file_pid} and its working directory is not "
            f"{topo.state_dir}; check --state-dir and --base-port"))
    for identity, role in recorded.items():
        if role == "supervisord" and identity.matches(table.get(identity.pid)):
            return _Supervisord(identity, answering=False)
    stat = table.get(file_pid) if file_pid else None
    if stat is not None and stat.alive:
        started = start_epoch(stat.start_ticks, boot_time(), clock_ticks())
        try:
            written = pidfile.stat().st_mtime
        except OSError:
            return _Supervisord(None, answering=False)
        if started - 2 <= written <= started + PIDFILE_WRITE_WINDOW:
            return _Supervisord(stat.identity, answering=False)
    return _Supervisord(None, answering=False)


def _postmasters(topo: Topology, log: Callable[[str], None]) -> list[Identity]:
    found = []
    for member in topo.db_members:
        pidfile = member.data_dir / "postmaster.pid"
        try:
            recorded = parse_postmaster_pid(pidfile.read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log(f"cannot read {pidfile} ({exc}); its postmaster, if any, is not stopped")
            continue
        stat = read_stat(recorded.pid)
        if stat is None or not stat.alive:
            continue
        started = start_epoch(stat.start_ticks, boot_time(), clock_ticks())
        cwd = read_link(stat.pid, "cwd")
        same_start = recorded.start_time is not None and \
            abs(started - recorded.start_time) <= POSTMASTER_START_TOLERANCE
        same_dir = _same_dir(cwd, member.data_dir)
        if (same_start and (cwd is None or same_dir)) or (same_dir and _is_postgres(stat.pid)):
            found.append(stat.identity)
        else:
            log(f"{pidfile} names pid {stat.pid}, which is not that postmaster any more "
                "(other start time, working directory or program); left alone")
    return found


def _is_postgres(pid: int) -> bool:
    exe = read_link(pid, "exe")
    return exe is not None and os.path.basename(exe.removesuffix(" (deleted)")) == "postgres"


def find_own_processes(
    topo: Topology, client: SupervisorClient, log: Callable[[str], None] = lambda _m: None,
) -> tuple[dict[Identity, str], _Supervisord]:
    """The sandbox's live processes now (see the module docstring for how)."""
    table = process_table()
    recorded = load_record(_record_path(topo), boot_id())
    supervisord = _find_supervisord(topo, client, table, recorded)
    owned = owned_processes(table, supervisord.identity, _postmasters(topo, log), recorded)
    owned.update(_hogs(topo, table))
    return _without_me(owned, table), supervisord


def _hogs(topo: Topology, table: Mapping[int, ProcStat]) -> dict[Identity, str]:
    """Stress hogs (and their workers) recorded under ``run/hogs/`` that still run."""
    found: dict[Identity, str] = {}
    for pidfile in sorted((topo.run_dir / "hogs").glob("*.json")):
        hog = read_identity_file(pidfile)
        if hog is not None:
            for member in session_members(hog, table):
                found[member] = f"stress hog ({pidfile.name})"
    return found


def _without_me(owned: dict[Identity, str], table: Mapping[int, ProcStat]) -> dict[Identity, str]:
    """Never the process running this code, nor its ancestors."""
    me = {os.getpid(), *ancestors(os.getpid(), table)}
    return {i: r for i, r in owned.items() if i.pid not in me}


def record_processes(topo: Topology, client: SupervisorClient) -> None:
    """Write the sandbox's processes to its record (``up`` calls this when healthy)."""
    owned, _ = find_own_processes(topo, client)
    save_record(_record_path(topo), boot_id(), owned)


# -- stopping -----------------------------------------------------------------
def _alive(identities: Iterable[Identity]) -> list[Identity]:
    return [i for i in identities if i.matches(read_stat(i.pid))]


def _wait_gone(identities: Iterable[Identity], seconds: float) -> list[Identity]:
    deadline = time.monotonic() + seconds
    left = _alive(identities)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _alive(left)
    return left


def _stop(
    survivors: Mapping[Identity, str], log: Callable[[str], None],
) -> tuple[list[int], list[int], list[Identity]]:
    """SIGTERM (SIGINT for a postmaster) to the topmost survivors, then SIGKILL to all.

    Children are left to their parent first: a postmaster shuts its
    backends down itself, and a signal to a backend would look like a crash
    to it. Returns the pids signalled, the pids SIGKILLed, and who is left.
    """
    if not survivors:
        return [], [], []
    polite: dict[str, list[int]] = {}
    for identity in topmost(survivors, process_table()):
        role = survivors[identity]
        # a postmaster's fast shutdown is SIGINT; SIGTERM would wait for its clients
        sig = signal.SIGINT if role == "postmaster" else signal.SIGTERM
        if signal_identity(identity, sig):
            signal_identity(identity, signal.SIGCONT)  # a frozen process cannot act on it
            polite.setdefault(f"{role} ({sig.name})", []).append(identity.pid)
    for what, pids in polite.items():
        log(f"outlived supervisord, signalled: {what} {', '.join(map(str, pids))}")
    killed = []
    for identity in _wait_gone(survivors, GRACE_SECONDS):
        if signal_identity(identity, signal.SIGKILL):
            killed.append(identity.pid)
    if killed:
        log(f"still running {GRACE_SECONDS:.0f} s later, SIGKILLed: "
            f"{', '.join(map(str, killed))}")
    stopped = sorted({*(p for pids in polite.values() for p in pids), *killed})
    return stopped, killed, _wait_gone(survivors, 5.0)


def stop_sandbox(
    topo: Topology, client: SupervisorClient, log: Callable[[str], None], timeout: float = 60.0,
) -> DownResult:
    """Shut supervisord down, stop what outlived it, report what is not ours.

    Raises :class:`SandboxError` when a supervisord answers on the sandbox's
    port but is not this sandbox's (nothing is stopped then).
    """
    boot, record = boot_id(), _record_path(topo)
    owned, supervisord = find_own_processes(topo, client, log)
    if supervisord.problem:
        raise SandboxError(supervisord.problem)
    save_record(record, boot, owned)  # a second `down` can finish what this one starts
    if supervisord.identity is not None:
        if supervisord.answering:
            log("shutting supervisord down")
            try:
                client.shutdown()
            except SandboxError as exc:
                log(f"supervisord shutdown: {exc}")
        else:
            log(f"supervisord (pid {supervisord.identity.pid}) does not answer; sending SIGTERM")
            signal_identity(supervisord.identity, signal.SIGTERM)
            signal_identity(supervisord.identity, signal.SIGCONT)  # in case it is frozen
        _wait_gone([supervisord.identity], timeout)

    # What outlived supervisord: a postmaster whose Patroni died, a stuck program.
    _wait_gone(owned, SETTLE_SECONDS)
    again, _ = find_own_processes(topo, client, log)
    survivors = {i: r for i, r in {**owned, **again}.items() if _alive([i])}
    stopped, killed, left = _stop(survivors, log)
    save_record(record, boot, {i: survivors[i] for i in left})

    table = process_table()
    dirs = {str(topo.state_dir), os.path.realpath(topo.state_dir)}
    cmdlines = {pid: read_cmdline(pid) for pid in table}
    everything_ours = {i.pid for i in {**owned, **survivors} if i.matches(table.get(i.pid))}
    not_ours = foreign_processes(table, cmdlines, dirs, everything_ours, os.getpid())
    for proc in not_ours:
        log(f"not started by this sandbox, left running: {proc}")
    return DownResult(stopped, killed, not_ours, sorted(i.pid for i in left))
