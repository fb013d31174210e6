"""Processes chaosgate starts die with their owner, even when the owner is SIGKILLed.

Three mechanisms, one module (the starting side of :mod:`.processes`):

- **A death signal.** :func:`spawn` starts a child whose kernel-held
  ``PR_SET_PDEATHSIG`` (``prctl(2)``) sends it a signal the moment its parent
  dies, however it dies. It is set in the child between ``fork`` and
  ``exec``; if the parent died before that (a race), the child ends at once.
  A program of ours can arm it itself once its signal handler is in place
  (:func:`arm_death_signal`: the freeze watchdog thaws its pods on it).
  Linux sends it when the *thread* that forked the child ends, not the
  process, so :func:`spawn` forks from the main thread, and from any other
  thread through one spawner thread that lives as long as the process.
- **A registry of children per owner** (:class:`ChildRegistry`): one small
  JSON file per child, ``<owner pid>-<ticks>.<child pid>-<ticks>.json``, in
  the ``children/`` folder beside the target's ledger (:func:`use_registry`,
  called when a front end opens the ledger), removed when the child is
  reaped (:func:`release`). ``chaosgate cleanup`` ends the children of owners
  that are gone (:func:`end_orphans`), by recorded identity (pid and start
  time), never by command line: the death signal makes this rare, but a
  child that ignored it (a pytest mid-revert) is still found.
- **A lifeline for a game-day child.** ``chaosgate gameday`` passes its own
  identity to pytest in ``CHAOSGATE_PARENT`` (``pid:ticks``); before every
  fault the child checks it (:func:`parent_gone`) and applies nothing once
  its parent has gone.

The record logic (:func:`parse_record_name`, :func:`classify`) is pure.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .processes import Identity, boot_id, identify, read_stat, signal_identity

__all__ = ["PARENT_ENV", "ChildRecord", "ChildRegistry", "Orphan", "arm_death_signal",
           "classify", "default_registry", "end_orphans", "parent_env", "parent_gone",
           "parse_identity", "parse_record_name", "release", "spawn", "use_registry"]

#: The environment variable a game-day child reads its parent's identity from.
PARENT_ENV = "CHAOSGATE_PARENT"
#: Seconds an orphan gets between SIGTERM and SIGKILL when cleanup ends it.
ORPHAN_TERM_WAIT = 5.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)
_PRCTL = _LIBC.prctl  # looked up now: nothing is looked up between fork and exec


# -- pure: names and records ---------------------------------------------------
def parse_identity(text: str) -> Identity:
    """``"pid:ticks"`` -> Identity (ValueError for anything else)."""
    pid, sep, ticks = text.strip().partition(":")
    if not sep or not pid.isdigit() or not ticks.isdigit() or int(pid) <= 0:
        raise ValueError(f"not a process identity (pid:ticks): {text!r}")
    return Identity(int(pid), int(ticks))


def record_name(owner: Identity, child: Identity) -> str:
    """The file name of one child's record."""
    return (f"{owner.pid}-{owner.start_ticks}.{child.pid}-{child.start_ticks}.json")


def parse_record_name(name: str) -> tuple[Identity, Identity] | None:
    """(owner, child) from a record's file name; None for any other name."""
    if not name.endswith(".json"):
        return None
    parts = name[:-len(".json")].split(".")
    if len(parts) != 2:
        return None
    try:
        owner, child = (parse_identity(p.replace("-", ":", 1)) for p in parts)
    except ValueError:
        return None
    return owner, child


@dataclass(frozen=True)
class ChildRecord:
    """One child chaosgate started: who owns it, what it is, which boot it belongs to."""

    owner: Identity
    child: Identity
    role: str  # "pytest", "Locust master", "stress hog", ...
    boot: str
    path: Path


@dataclass(frozen=True)
class Orphan:
    """A recorded child whose owner is gone, and what cleanup did about it."""

    record: ChildRecord
    outcome: str  # "ended (SIGTERM)", "ended (SIGKILL)", "still alive", ...


def classify(records: Iterable[ChildRecord], boot: str,
             alive: Callable[[Identity], bool]) -> tuple[list[ChildRecord], list[ChildRecord]]:
    """Split records into (children to end, records to drop) (pure).

    A record of another boot names nobody any more: dropped. A child that is
    gone: dropped. A live child whose owner is gone (or is another process
    now): to end. A live child of a live owner: left alone (its owner reaps it).
    """
    to_end: list[ChildRecord] = []
    stale: list[ChildRecord] = []
    for rec in records:
        if rec.boot != boot or not alive(rec.child):
            stale.append(rec)
        elif not alive(rec.owner):
            to_end.append(rec)
    return to_end, stale


# -- the registry ----------------------------------------------------------------
class ChildRegistry:
    """The ``children/`` folder: one record file per live child chaosgate started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, owner: Identity, child: Identity, role: str) -> Path:
        """Record ``child`` of ``owner`` (atomically: write, then rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / record_name(owner, child)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"boot_id": boot_id(), "role": role, "t": time.time()}) + "\n")
        tmp.replace(path)
        return path

    def records(self) -> list[ChildRecord]:
        """Every readable record (files that are not records are ignored)."""
        found: list[ChildRecord] = []
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return []
        for path in entries:
            names = parse_record_name(path.name)
            if names is None:
                continue
            try:
                doc = json.loads(path.read_text())
                found.append(ChildRecord(names[0], names[1], str(doc.get("role", "child")),
                                         str(doc.get("boot_id", "")), path))
            except (OSError, ValueError, AttributeError):
                continue
        return found


_REGISTRY: list[Path] = []  # the folder use_registry chose for this process


def use_registry(directory: Path | None) -> None:
    """Record the children this process starts from now on in ``directory``: the
    ``children/`` folder beside the ledger of the target it works on (None: forget it)."""
    with _LOCK:
        _REGISTRY[:] = [] if directory is None else [directory.absolute()]


def default_registry() -> ChildRegistry:
    """Where this process records its children: the folder :func:`use_registry` chose,
    else beside ``$CHAOSGATE_LEDGER``, else ``.chaosgate/children`` under the working
    directory (a process that never opened a target's ledger)."""
    with _LOCK:
        chosen = list(_REGISTRY)
    if chosen:
        return ChildRegistry(chosen[0])
    ledger = os.environ.get("CHAOSGATE_LEDGER") or ".chaosgate/ledger.jsonl"
    return ChildRegistry(Path(ledger).resolve().parent / "children")


def _alive(identity: Identity) -> bool:
    return identity.matches(read_stat(identity.pid))


def end_orphans(registries: Sequence[ChildRegistry], *, grace: float = ORPHAN_TERM_WAIT,
                log: Callable[[str], None] = lambda _m: None) -> list[Orphan]:
    """End every recorded child whose owner is gone: SIGTERM, then SIGKILL after ``grace``
    seconds; drop its record and every stale one. Only recorded identities are signalled."""
    seen: set[Path] = set()
    records: list[ChildRecord] = []
    for registry in registries:
        for rec in registry.records():
            if rec.path.resolve() not in seen:
                seen.add(rec.path.resolve())
                records.append(rec)
    to_end, stale = classify(records, boot_id(), _alive)
    for rec in stale:
        rec.path.unlink(missing_ok=True)
    outcome: dict[Path, str] = {}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = [rec for rec in to_end if rec.path not in outcome]
        for rec in list(left):
            log(f"ending {rec.role} pid {rec.child.pid} of dead owner pid {rec.owner.pid} "
                f"({sig.name})")
            try:
                signal_identity(rec.child, sig)
            except PermissionError:  # another user's process: reported, left alone
                outcome[rec.path] = "left alone (no permission to signal it)"
                left.remove(rec)
        deadline = time.monotonic() + grace
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            for rec in [r for r in left if not _alive(r.child)]:
                outcome[rec.path] = f"ended ({sig.name})"
                left.remove(rec)
    ended = [Orphan(rec, outcome.get(rec.path, "still alive after SIGKILL")) for rec in to_end]
    for rec in to_end:
        if outcome.get(rec.path, "").startswith("ended"):
            rec.path.unlink(missing_ok=True)
    return ended


# -- the death signal ----------------------------------------------------------------
def arm_death_signal(sig: int, parent_pid: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies; False when the
    parent ``parent_pid`` is already gone (the caller acts as if it had just died)."""
    if _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return os.getppid() == parent_pid


def _death_signal_preexec(sig: int, parent_pid: int) -> Callable[[], None]:
    """The ``preexec_fn`` that arms ``sig`` in the child (between fork and exec).

    It only calls prctl and getppid (looked up beforehand), so it takes no lock
    another thread of the parent might have held at the fork.
    """

    def preexec() -> None:
        if _PRCTL(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0 or os.getppid() != parent_pid:
            os._exit(128 + sig)  # the parent is already gone: do not start at all

    return preexec


_SPAWN_QUEUE: queue.SimpleQueue[tuple[Callable[[], subprocess.Popen[bytes]],
                                      Future[subprocess.Popen[bytes]]]] = queue.SimpleQueue()
_SPAWNER: list[threading.Thread] = []
_LOCK = threading.Lock()
_RECORDS: dict[int, Path] = {}  # child pid -> its record, until released


def _spawner_loop() -> None:
    while True:
        start, future = _SPAWN_QUEUE.get()
        try:
            future.set_result(start())
        except BaseException as exc:  # handed to the thread that asked
            future.set_exception(exc)


def _from_a_lasting_thread(start: Callable[[], subprocess.Popen[bytes]]
                           ) -> subprocess.Popen[bytes]:
    """Run ``start`` (a fork) on the main thread or on the process-long spawner thread."""
    if threading.current_thread() is threading.main_thread():
        return start()
    with _LOCK:
        if not _SPAWNER:
            thread = threading.Thread(target=_spawner_loop, name="chaosgate-spawner",
                                      daemon=True)
            thread.start()
            _SPAWNER.append(thread)
    future: Future[subprocess.Popen[bytes]] = Future()
    _SPAWN_QUEUE.put((start, future))
    return future.result()


def spawn(cmd: Sequence[str], *, role: str, death_signal: int | None = signal.SIGKILL,
          registry: ChildRegistry | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (``Popen`` keyword arguments in ``popen``) so that it dies with this
    process: armed with ``death_signal`` (None: the program arms it itself, see
    :func:`arm_death_signal`) and recorded in ``registry`` (default: beside the ledger)
    until :func:`release`."""
    if death_signal is not None:
        popen["preexec_fn"] = _death_signal_preexec(int(death_signal), os.getpid())
    proc = _from_a_lasting_thread(lambda: subprocess.Popen(list(cmd), **popen))
    owner, child = identify(os.getpid()), identify(proc.pid)
    if owner is not None and child is not None:
        with contextlib.suppress(OSError):  # an unwritable folder must not stop the run
            path = (registry or default_registry()).add(owner, child, role)
            with _LOCK:
                _RECORDS[proc.pid] = path
    return proc


def release(pid: int) -> None:
    """Forget the record of child ``pid`` (call once it has been reaped)."""
    with _LOCK:
        path = _RECORDS.pop(pid, None)
    if path is not None:
        path.unlink(missing_ok=True)


# -- the lifeline of a game-day child ------------------------------------------------
def parent_env() -> dict[str, str]:
    """``{CHAOSGATE_PARENT: "pid:ticks"}`` naming this process, for a child's environment."""
    me = identify(os.getpid())
    return {} if me is None else {PARENT_ENV: f"{me.pid}:{me.start_ticks}"}


def parent_gone() -> str | None:
    """Why this process must not apply another fault, or None: ``CHAOSGATE_PARENT`` names a
    process that is gone (or is another process now). Unset or unreadable: None."""
    text = os.environ.get(PARENT_ENV)
    if not text:
        return None
    try:
        parent = parse_identity(text)
    except ValueError:
        return None
    if _alive(parent):
        return None
    return f"the chaosgate process that started this one (pid {parent.pid}) is gone"
