"""The sandbox's resource hog: ``python -m chaosgate.platforms.hog``.

Started detached by a stress fault; its command line carries the fault's
marker (found again by :func:`find_hogs`, so a new process can stop it after
a SIGKILL) and the sandbox's state directory (so ``sandbox down`` sweeps it).
It ends by itself after ``--max-seconds`` even if nobody reverts the fault.

- ``--cpu N --core K``: N busy loops pinned to CPU K (the core the pod was
  pinned to): a noisy neighbour that takes the pod's CPU.
- ``--memory-mb M``: allocates and touches M MiB, then holds them.
- ``--cont-pid P`` (repeatable): a watchdog for a freeze: at the deadline it
  sends SIGCONT to P, so a frozen pod thaws even if chaosgate died.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

__all__ = ["find_hogs", "hog_command", "main"]

PAGE = 4096


def hog_command(marker: str, tag: str, max_seconds: float, *, cpu: int = 0, core: int = 0,
                memory_mb: int = 0, cont_pids: tuple[int, ...] = ()) -> list[str]:
    """The command line that starts a hog for fault ``marker``."""
    cmd = [sys.executable, "-m", "chaosgate.platforms.hog", "--marker", marker, "--tag", tag,
           "--max-seconds", f"{max_seconds:.0f}"]
    if cpu:
        cmd += ["--cpu", str(cpu), "--core", str(core)]
    if memory_mb:
        cmd += ["--memory-mb", str(memory_mb)]
    for pid in cont_pids:
        cmd += ["--cont-pid", str(pid)]
    return cmd


def find_hogs(marker: str) -> list[int]:
    """Pids of live hog processes started for ``marker``."""
    wanted = f"--marker\0{marker}\0".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"chaosgate.platforms.hog" in cmdline and wanted in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def _burn(deadline: float) -> None:
    x = 0
    while time.time() < deadline:
        for _ in range(100_000):
            x += 1


def _cpu(workers: int, core: int, deadline: float) -> None:
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
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


def _watch(pids: list[int], deadline: float) -> None:
    while time.time() < deadline:
        time.sleep(0.5)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def main(argv: list[str] | None = None) -> int:
    """Run the hog until ``--max-seconds`` have passed (or it is killed)."""
    parser = argparse.ArgumentParser(prog="chaosgate.platforms.hog")
    parser.add_argument("--marker", required=True)
    parser.add_argument("--tag", default="")
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--cont-pid", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    deadline = time.time() + args.max_seconds
    if args.cpu:
        _cpu(args.cpu, args.core, deadline)
    elif args.memory_mb:
        _memory(args.memory_mb, deadline)
    else:
        _watch(args.cont_pid, deadline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
