"""The only module that reads ``/proc`` and signals local processes.

chaosgate signals only processes it can prove it (or the sandbox it runs)
started, and a process is known by its *identity*: pid plus start time
(clock ticks since boot, field 22 of ``/proc/<pid>/stat``). Two processes
never share both within one boot, so a recorded identity that still matches
is the same process, not a pid that was reused. Identities are recorded in
memory, in a fault's ledger entry, or in an *identity file* a process writes
about itself (:func:`write_identity_file`; the hogs of stress faults do).
Nothing here looks at command lines to decide what to signal;
:func:`names_path` only serves the report of processes left alone.

The first half is pure parsing (unit-tested with plain strings); the second
half reads ``/proc`` and signals through a pidfd.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Identity",
    "PostmasterPidFile",
    "ProcStat",
    "ancestors",
    "boot_id",
    "clock_ticks",
    "cpu_seconds",
    "descendants",
    "identify",
    "names_path",
    "parse_btime",
    "parse_postmaster_pid",
    "parse_stat",
    "process_table",
    "read_cmdline",
    "read_identity_file",
    "read_link",
    "read_stat",
    "rss_mib",
    "session_members",
    "signal_identity",
    "split_cmdline",
    "start_epoch",
    "write_identity_file",
]


# -- pure parsing --------------------------------------------------------------
@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` that ``sandbox down`` needs."""

    pid: int
    comm: str
    state: str  # R, S, D, T, Z, X, ...
    ppid: int
    pgrp: int
    session: int
    start_ticks: int  # clock ticks after boot

    @property
    def alive(self) -> bool:
        """False for a zombie (exited, not yet reaped) or a dead task."""
        return self.state not in ("Z", "X", "x")

    @property
    def identity(self) -> Identity:
        return Identity(self.pid, self.start_ticks)


@dataclass(frozen=True)
class Identity:
    """One process for the lifetime of a boot: its pid and when it started."""

    pid: int
    start_ticks: int

    def matches(self, stat: ProcStat | None) -> bool:
        """True when ``stat`` describes this very process, still not reaped."""
        return stat is not None and stat.alive and stat.start_ticks == self.start_ticks \
            and stat.pid == self.pid


def parse_stat(text: str) -> ProcStat:
    """Parse one ``/proc/<pid>/stat`` line.

    The command name (field 2) sits in parentheses and may itself contain
    spaces and parentheses, so the fields after it are split from the last
    ``)``.
    """
    open_paren, close_paren = text.find("("), text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        raise ValueError(f"not a /proc/<pid>/stat line: {text[:80]!r}")
    rest = text[close_paren + 1:].split()
    if len(rest) < 20:
        raise ValueError(f"/proc/<pid>/stat line has too few fields: {text[:80]!r}")
    return ProcStat(
        pid=int(text[:open_paren]),
        comm=text[open_paren + 1:close_paren],
        state=rest[0],
        ppid=int(rest[1]),
        pgrp=int(rest[2]),
        session=int(rest[3]),
        start_ticks=int(rest[19]),
    )


def parse_btime(proc_stat: str) -> int:
    """Boot time (epoch seconds) from the ``btime`` line of ``/proc/stat``."""
    for line in proc_stat.splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise ValueError("/proc/stat has no btime line")


def start_epoch(start_ticks: int, btime: int, ticks_per_second: int) -> float:
    """A process's start as epoch seconds (precise to about a second: btime is whole)."""
    return btime + start_ticks / ticks_per_second


def split_cmdline(raw: bytes) -> list[str]:
    """``/proc/<pid>/cmdline`` (NUL-separated arguments) as a list of arguments."""
    return [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")] if raw else []


def descendants(roots: Iterable[int], table: Mapping[int, ProcStat]) -> set[int]:
    """Every pid in ``table`` whose parent chain reaches one of ``roots`` (roots excluded)."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: set[int] = set()
    todo = [r for r in roots if r in table]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found - set(roots)


def ancestors(pid: int, table: Mapping[int, ProcStat]) -> list[int]:
    """``pid``'s parent, grandparent, ... as far as ``table`` knows them."""
    chain: list[int] = []
    stat = table.get(pid)
    while stat is not None and stat.ppid > 0 and stat.ppid not in chain:
        chain.append(stat.ppid)
        stat = table.get(stat.ppid)
    return chain


@dataclass(frozen=True)
class PostmasterPidFile:
    """What PostgreSQL's ``postmaster.pid`` says about the running postmaster."""

    pid: int
    data_dir: str
    start_time: int | None  # epoch seconds, when the line is there and readable


def parse_postmaster_pid(text: str) -> PostmasterPidFile:
    """Parse ``postmaster.pid``: line 1 the pid, 2 the data directory, 3 the start time.

    A negative pid (a single-user backend) is returned as its absolute value.
    """
    lines = text.splitlines()
    if not lines or not lines[0].strip().lstrip("-").isdigit():
        raise ValueError(f"postmaster.pid does not start with a pid: {text[:40]!r}")
    start: int | None = None
    if len(lines) > 2 and lines[2].strip().isdigit():
        start = int(lines[2])
    return PostmasterPidFile(
        pid=abs(int(lines[0])),
        data_dir=lines[1].strip() if len(lines) > 1 else "",
        start_time=start,
    )


# Characters that separate a path from what surrounds it inside one argument:
# "--data-dir=/x", "file:/x", "a,/x", "sh -c 'sleep 1 /x'".
_PATH_SEPARATORS = re.compile(r"[=:,;\s'\"]+")


def names_path(argv: Sequence[str], directory: str) -> bool:
    """True when an argument names ``directory`` or a path inside it.

    Paths are compared component by component, never as substrings:
    ``/tmp/sb/data`` is inside ``/tmp/sb``, ``/tmp/sb-other/x`` is not.
    ``directory`` must be absolute; relative arguments are ignored (their
    meaning depends on the process's working directory).
    """
    root = posixpath.normpath(directory)
    if not root.startswith("/"):
        raise ValueError(f"not an absolute path: {directory!r}")
    prefix = root if root.endswith("/") else root + "/"
    for arg in argv:
        for token in _PATH_SEPARATORS.split(arg):
            if not token.startswith("/"):
                continue
            path = posixpath.normpath(token)
            if path.startswith("//"):  # POSIX keeps a leading "//"; it is still "/"
                path = "/" + path.lstrip("/")
            if path == root or path.startswith(prefix):
                return True
    return False


# -- reading /proc and signalling ----------------------------------------------
PROC = Path("/proc")


def read_stat(pid: int) -> ProcStat | None:
    """``pid``'s stat now, or None when there is no such process."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError):
        return None


def process_table() -> dict[int, ProcStat]:
    """Every process visible in ``/proc``, by pid (a snapshot; processes come and go)."""
    table: dict[int, ProcStat] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                table[stat.pid] = stat
    return table


def read_cmdline(pid: int) -> list[str]:
    """``pid``'s arguments ([] for a kernel thread, a zombie, or a vanished process)."""
    try:
        return split_cmdline((PROC / str(pid) / "cmdline").read_bytes())
    except OSError:
        return []


def read_link(pid: int, name: str) -> str | None:
    """Target of ``/proc/<pid>/<name>`` (``cwd``, ``exe``), or None if unreadable."""
    try:
        return os.readlink(PROC / str(pid) / name)
    except OSError:
        return None


def boot_id() -> str:
    """This boot's random id: recorded identities are only valid within one boot."""
    return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


def boot_time() -> int:
    """When this machine booted, epoch seconds."""
    return parse_btime((PROC / "stat").read_text())


def clock_ticks() -> int:
    """The unit of ``start_ticks`` (``USER_HZ``, 100 on Linux)."""
    return os.sysconf("SC_CLK_TCK")


def signal_identity(identity: Identity, sig: signal.Signals) -> bool:
    """Send ``sig`` to the process ``identity`` names, never to a pid's next owner.

    The pidfd is opened first and the start time checked after: if it
    still matches, the pidfd refers to the recorded process (it held the
    pid before the pidfd was opened and still holds it), so the signal
    cannot reach a process that reused the pid. Returns False when the
    process is gone or is someone else now.
    """
    try:
        fd = os.pidfd_open(identity.pid)
    except ProcessLookupError:
        return False
    try:
        if not identity.matches(read_stat(identity.pid)):
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def identify(pid: int) -> Identity | None:
    """The identity of the process that has ``pid`` now (None: no such live process)."""
    stat = read_stat(pid)
    return stat.identity if stat is not None and stat.alive else None


def session_members(leader: Identity, table: Mapping[int, ProcStat]) -> list[Identity]:
    """The live processes of the session ``leader`` leads (itself included), when the
    leader is still that process; [] otherwise."""
    if not leader.matches(table.get(leader.pid)):
        return []
    return [st.identity for st in table.values() if st.session == leader.pid and st.alive]


def write_identity_file(path: Path) -> Identity:
    """Record this process's identity in ``path`` (atomically: write, then rename)."""
    me = identify(os.getpid())
    if me is None:  # pragma: no cover - this process is alive by definition
        raise RuntimeError("cannot read this process's /proc entry")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"boot_id": boot_id(), "pid": me.pid,
                               "start_ticks": me.start_ticks}) + "\n")
    tmp.replace(path)
    return me


def read_identity_file(path: Path) -> Identity | None:
    """The identity ``path`` records, when it is of this boot and that process still
    runs; None otherwise (missing, unreadable, another boot, gone, or a reused pid)."""
    try:
        doc = json.loads(path.read_text())
        if doc.get("boot_id") != boot_id():
            return None
        identity = Identity(int(doc["pid"]), int(doc["start_ticks"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return identity if identity.matches(read_stat(identity.pid)) else None


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time (user + system, seconds) the processes ``pids`` have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / clock_ticks()
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 when it is gone)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0
