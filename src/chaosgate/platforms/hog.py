"""The processes platform's resource hog: ``python -m chaosgate.platforms.hog``.

Started detached (a session of its own) by a stress fault. It records its
own identity (pid and start time) in ``--pidfile`` before it does anything,
so a later process, even after chaosgate was SIGKILLed, finds it and its
workers by that identity (:func:`find_hogs`), never by its command line. It
ends by itself after ``--max-seconds`` even if nobody reverts the fault,
and removes its pid file when it ends.

- ``--cpu N --core K``: N busy loops pinned to CPU K (the core the pod was
  pinned to): a noisy neighbour that takes the pod's CPU.
- ``--memory-mb M``: allocates and touches M MiB, then holds them.
- ``--cont PID:START_TICKS`` (repeatable): a watchdog for a freeze: at the
  deadline it sends SIGCONT to that process (if it is still the same one),
  so a frozen pod thaws even if chaosgate died.

With ``--parent PID`` (the process that started it) the hog dies with that
process, even on a SIGKILL: once its SIGTERM handler is in place it asks the
kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``,
:func:`chaosgate.clients.children.arm_death_signal`), and acts at once if
the parent is already gone. A cpu or memory hog then ends (its workers die
with it the same way); a freeze watchdog first thaws the pods it guards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from signal import SIG_IGN, SIGCONT, SIGKILL, SIGTERM, signal
from types import FrameType

from ..clients.children import arm_death_signal
from ..clients.processes import (
    Identity,
    process_table,
    read_identity_file,
    session_members,
    signal_identity,
    write_identity_file,
)

__all__ = ["find_hogs", "hog_command", "main"]

PAGE = 4096


class ParentGone(Exception):
    """The process that started the hog is gone (raised by the SIGTERM handler)."""


def hog_command(pidfile: Path, max_seconds: float, *, cpu: int = 0, core: int = 0,
                memory_mb: int = 0, cont: tuple[Identity, ...] = (),
                parent: int | None = None) -> list[str]:
    """The command line that starts a hog recording itself in ``pidfile`` (dying with
    process ``parent``, when given)."""
    cmd = [sys.executable, "-m", "chaosgate.platforms.hog", "--pidfile", str(pidfile),
           "--max-seconds", f"{max_seconds:.0f}"]
    if parent is not None:
        cmd += ["--parent", str(parent)]
    if cpu:
        cmd += ["--cpu", str(cpu), "--core", str(core)]
    if memory_mb:
        cmd += ["--memory-mb", str(memory_mb)]
    for identity in cont:
        cmd += ["--cont", f"{identity.pid}:{identity.start_ticks}"]
    return cmd


def find_hogs(pidfile: Path) -> list[Identity]:
    """The hog ``pidfile`` records and its workers, while that very hog runs ([] when it
    has ended, or the file is missing or stale)."""
    hog = read_identity_file(pidfile)
    if hog is None:
        return []
    return session_members(hog, process_table())


def _burn(deadline: float) -> None:
    x = 0
    while time.time() < deadline:
        for _ in range(100_000):
            x += 1


def _cpu(workers: int, core: int, deadline: float) -> None:
    children = []
    for _ in range(workers):
        hog = os.getpid()
        pid = os.fork()
        if pid == 0:
            if not arm_death_signal(SIGKILL, hog):  # a worker never outlives its hog
                os._exit(0)
            os.sched_setaffinity(0, {core})
            _burn(deadline)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def _memory(megabytes: int, deadline: float) -> None:
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), PAGE):
        block[i] = 1
    while time.time() < deadline:
        time.sleep(0.5)
    del block


def _watch(frozen: list[Identity], deadline: float) -> None:
    """Wait for the deadline (or the parent's death), then thaw ``frozen``."""
    try:
        while time.time() < deadline:
            time.sleep(0.2)
    except ParentGone:
        pass
    finally:
        for identity in frozen:
            signal_identity(identity, SIGCONT)


def _parent_gone(_signum: int, _frame: FrameType | None) -> None:
    signal(SIGTERM, SIG_IGN)  # once: a second SIGTERM must not cut a thaw short
    raise ParentGone()


def _identity(text: str) -> Identity:
    pid, _, ticks = text.partition(":")
    return Identity(int(pid), int(ticks))


def main(argv: list[str] | None = None) -> int:
    """Run the hog until ``--max-seconds`` have passed (or it is killed)."""
    parser = argparse.ArgumentParser(prog="chaosgate.platforms.hog")
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--cont", type=_identity, action="append", default=[])
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    deadline = time.time() + args.max_seconds
    me = write_identity_file(args.pidfile)
    try:
        if args.parent is not None:
            signal(SIGTERM, _parent_gone)
            if not arm_death_signal(SIGTERM, args.parent):
                raise ParentGone()
        if args.cpu:
            _cpu(args.cpu, args.core, deadline)
        elif args.memory_mb:
            _memory(args.memory_mb, deadline)
        else:
            _watch(args.cont, deadline)
    except ParentGone:
        if not args.cpu and not args.memory_mb:
            _watch(args.cont, 0.0)  # a watchdog whose parent is gone thaws at once
        return 0
    finally:
        if os.getpid() == me.pid:  # not in a forked worker
            with contextlib.suppress(OSError):
                args.pidfile.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
