"""The write-ahead fault ledger: a JSON-lines file of every fault and its revert.

Before a fault touches anything, an ``open`` record with everything needed
to revert it (the platform :class:`~chaosgate.platforms.Change`) is appended
and fsync'd; after the change is made an ``applied`` record follows, and
after the revert a ``reverted`` record (or ``revert_failed`` with the error).
A fault is *open* until its ``reverted`` record exists; ``chaosgate cleanup``
reverts every open fault of a target, e.g. after the harness was SIGKILLed.

Records (one JSON object per line, ``v`` 1)::

    {"v": 1, "op": "open", "id": "cg-3f2a...", "t": 1732170000.12, "fault": "partition",
     "target": {"key": "sandbox:/abs/state:27000", "name": "sandbox", "source": "..."},
     "pid": 4242, "host": "ci-1", "change": {"kind": ..., "platform": ..., "data": ...}}
    {"v": 1, "op": "applied", "id": "cg-3f2a...", "t": ...}
    {"v": 1, "op": "reverted", "id": "cg-3f2a...", "t": ..., "by": 4242, "note": "..."}
    {"v": 1, "op": "revert_failed", "id": "cg-3f2a...", "t": ..., "error": "..."}

Appends take an exclusive ``flock`` and readers a shared one, so two
processes never interleave or read half a line. :func:`fold` (pure) turns
records into :class:`LedgerEntry` states.

**One ledger per target**, wherever the command runs
(:func:`default_ledger_path`): a sandbox's is ``<state_dir>/ledger.jsonl``;
any other target's is ``$XDG_STATE_HOME/chaosgate/<name>/ledger.jsonl``
(``~/.local/state`` when unset), ``<name>`` made from :func:`target_key`.
``--ledger`` (``--chaos-ledger``, ``chaosgate_ledger``) and
``CHAOSGATE_LEDGER`` override it. :func:`ledger_for` opens a target's
ledger and records the children this process starts beside it, so
``chaosgate cleanup --target T`` from any folder finds every fault and
every orphan any front end left on T. Before this, the default was
``.chaosgate/ledger.jsonl`` under the working directory
(:data:`LEGACY_LEDGER`); cleanup still reads it there.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from ..clients.children import use_registry
from ..clients.processes import identify
from ..exceptions import UsageError
from ..frontends import FrontEnd, option
from ..platforms.base import Change, FaultKind
from ..targets import Target

__all__ = ["LEDGER_ENV", "LEGACY_LEDGER", "Ledger", "LedgerEntry", "LedgerRecord", "TargetRef",
           "default_ledger_path", "fold", "ledger_for", "ledger_path", "sandbox_key",
           "state_home", "target_key", "target_slug"]

#: The environment variable that names the ledger in every front end.
LEDGER_ENV = "CHAOSGATE_LEDGER"
#: The default before ledgers were per target: relative to the working directory.
LEGACY_LEDGER = Path(".chaosgate/ledger.jsonl")
LEDGER_NAME = "ledger.jsonl"
VERSION = 1
OPEN_STATES = ("open", "applied", "revert_failed")
Op = Literal["open", "applied", "reverted", "revert_failed"]


class TargetRef(TypedDict):
    """Which system a ledger entry's fault acts on (``key``: :func:`target_key`)."""

    key: str
    name: str
    source: str


class LedgerRecord(TypedDict):
    """One line of the ledger, as written (see the module doc); ``open`` carries the rest."""

    v: int
    op: Op
    id: str
    t: float
    fault: NotRequired[str]  # a FaultKind (open)
    target: NotRequired[TargetRef]  # open
    pid: NotRequired[int]  # open: the owner
    pid_start: NotRequired[int | None]  # open: the owner's start time
    host: NotRequired[str]  # open
    change: NotRequired[dict[str, Any]]  # open: Change.to_json()
    by: NotRequired[int]  # applied, reverted, revert_failed: the pid that wrote it
    note: NotRequired[str]  # reverted: who reverted it, e.g. "chaosgate cleanup"
    error: NotRequired[str]  # revert_failed


def sandbox_key(state_dir: Path, base_port: int | None) -> str:
    """The :func:`target_key` of the sandbox in ``state_dir`` on ``base_port``."""
    return f"sandbox:{state_dir.resolve()}:{base_port}"


def target_key(target: Target) -> str:
    """A stable identity for the system a target points at (not the file's path)."""
    if target.sandbox is not None:
        return sandbox_key(target.sandbox.state_dir, target.sandbox.base_port)
    p = target.platform
    if p.supervisor is not None:
        return f"processes:{p.supervisor.url}"
    where = "in-cluster" if p.in_cluster else f"{p.kubeconfig or '~/.kube/config'}"
    return f"kubernetes:{where}:{p.context or '(current)'}"


def target_slug(key: str) -> str:
    """A folder name for the target ``key`` (pure): readable, safe, stable, and distinct
    for distinct keys (a hash of the whole key ends it)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._-")[:60] or "target"
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME`` (when absolute, as the XDG spec requires), else ``~/.local/state``."""
    env = os.environ if environ is None else environ
    given = env.get("XDG_STATE_HOME", "")
    if given and Path(given).is_absolute():
        return Path(given)
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "state"


def default_ledger_path(target: Target, environ: Mapping[str, str] | None = None) -> Path:
    """Where ``target``'s ledger lives when nothing names another (an absolute path):
    a sandbox's in its state folder, any other in the XDG state folder."""
    if target.sandbox is not None:
        return target.sandbox.state_dir.resolve() / LEDGER_NAME
    return state_home(environ) / "chaosgate" / target_slug(target_key(target)) / LEDGER_NAME


def ledger_path(target: Target, given: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> Path:
    """The ledger a front end uses: ``given`` (its option), else ``$CHAOSGATE_LEDGER``,
    else the target's default (:func:`default_ledger_path`)."""
    env = os.environ if environ is None else environ
    chosen = given or env.get(LEDGER_ENV)
    return Path(chosen) if chosen else default_ledger_path(target, env)


def ledger_for(target: Target, given: str | Path | None = None,
               front_end: FrontEnd = "chaosgate") -> Ledger:
    """``target``'s ledger (:func:`ledger_path`), whose errors name ``front_end``'s ledger
    option. From now on the children this process starts are recorded beside it
    (``children/``), where ``chaosgate cleanup`` of the same target looks for orphans."""
    ledger = Ledger(ledger_path(target, given), option=option("ledger", front_end))
    use_registry(ledger.path.absolute().parent / "children")
    return ledger


@dataclass(frozen=True)
class LedgerEntry:
    """The folded state of one fault in the ledger."""

    id: str
    fault: FaultKind
    state: Op
    change: Change
    target: TargetRef
    pid: int
    t_open: float
    host: str = ""
    pid_start: int | None = None  # the owner's start time (/proc/<pid>/stat field 22)
    t_applied: float | None = None
    t_reverted: float | None = None
    error: str | None = None
    note: str | None = None
    reverted_by: int | None = None  # the pid that wrote the ``reverted`` record

    @property
    def is_open(self) -> bool:
        """True until the fault has been reverted."""
        return self.state in OPEN_STATES


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot); None if it is gone or a zombie.

    With the pid it names one process for good: a pid reused later has
    another start time (:class:`chaosgate.clients.processes.Identity`).
    """
    identity = identify(pid)
    return None if identity is None else identity.start_ticks


def fold(records: Iterable[Mapping[str, Any]]) -> dict[str, LedgerEntry]:
    """Fault id -> its latest state, from records in file order (pure)."""
    entries: dict[str, LedgerEntry] = {}
    for rec in records:
        fid, op = rec.get("id"), rec.get("op")
        if not isinstance(fid, str):
            continue
        if op == "open":
            change = Change.from_json(rec["change"])
            target = rec.get("target", {})
            entries[fid] = LedgerEntry(
                id=fid, fault=FaultKind.parse(str(rec.get("fault", change.kind))),
                state="open", change=change,
                target=TargetRef(key=str(target.get("key", "")),
                                 name=str(target.get("name", "")),
                                 source=str(target.get("source", ""))),
                pid=int(rec.get("pid", 0)), t_open=float(rec.get("t", 0.0)),
                host=str(rec.get("host", "")),
                pid_start=int(rec["pid_start"]) if rec.get("pid_start") is not None else None)
            continue
        old = entries.get(fid)
        if old is None:
            continue
        if op == "applied" and old.state == "open":
            entries[fid] = _replace(old, state="applied", t_applied=rec.get("t"))
        elif op == "reverted":
            by = rec.get("by")
            entries[fid] = _replace(old, state="reverted", t_reverted=rec.get("t"),
                                    note=rec.get("note"), error=None,
                                    reverted_by=by if isinstance(by, int) else None)
        elif op == "revert_failed" and old.state != "reverted":
            entries[fid] = _replace(old, state="revert_failed", error=rec.get("error"))
    return entries


def _replace(entry: LedgerEntry, **changes: Any) -> LedgerEntry:
    data = {**entry.__dict__, **changes}
    return LedgerEntry(**data)


class Ledger:
    """One ledger file; every method opens, locks and closes it. ``option``: how the front
    end that opened it names another ledger (for the fix of an unwritable one)."""

    def __init__(self, path: str | Path, option: str = f"{LEDGER_ENV}=FILE") -> None:
        self.path = Path(path)
        self.option = option

    def _append(self, record: LedgerRecord) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"cannot write the ledger {self.path}: {exc.strerror or exc}. "
                             f"Fix: make it writable, or name a writable file with "
                             f"{self.option}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        if created:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def records(self) -> list[Mapping[str, Any]]:
        """Every record, in file order (an absent file has none)."""
        try:
            with open(self.path, encoding="utf-8") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH)
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn line (power loss mid-write) is skipped
        return records

    def entries(self) -> dict[str, LedgerEntry]:
        """Every fault's folded state."""
        return fold(self.records())

    def open_entries(self, key: str | None = None) -> list[LedgerEntry]:
        """Faults not yet reverted (of the target ``key`` only, when given), oldest first."""
        found = [e for e in self.entries().values()
                 if e.is_open and (key is None or e.target.get("key") == key)]
        return sorted(found, key=lambda e: e.t_open)

    def open(self, change: Change, fault: FaultKind, target: Target) -> None:
        """Record ``change`` before it is applied (fsync'd when this returns)."""
        self._append({
            "v": VERSION, "op": "open", "id": change.fault_id, "t": time.time(),
            "fault": str(FaultKind(fault)),
            "target": {"key": target_key(target), "name": target.name, "source": target.source},
            "pid": os.getpid(), "pid_start": process_start(os.getpid()),
            "host": socket.gethostname(), "change": change.to_json(),
        })

    def mark(self, fault_id: str, op: Op, *, note: str | None = None,
             error: str | None = None) -> None:
        """Append an ``applied``, ``reverted`` or ``revert_failed`` record."""
        if op not in ("applied", "reverted", "revert_failed"):
            raise ValueError(f"unknown ledger op {op!r}")
        record: LedgerRecord = {"v": VERSION, "op": op, "id": fault_id, "t": time.time(),
                                "by": os.getpid()}
        if note is not None:
            record["note"] = note
        if error is not None:
            record["error"] = error
        self._append(record)
