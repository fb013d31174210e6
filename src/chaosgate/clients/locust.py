"""The only module that starts Locust: one process per role, always as a subprocess.

Locust is never imported in a chaosgate, pytest or ``chaos`` process (it
monkey-patches gevent, which breaks ``ssl`` and pytest-xdist). A
:class:`LocustProcess` is started here with its output in a log file, in a
session of its own, and is only ever signalled through its own ``Popen``
(so chaosgate never signals a process it did not start). It dies with the
process that started it, even on a SIGKILL (the kernel sends it SIGKILL:
a measurement nobody reads is useless; :mod:`.children`), and is recorded
as that process's child until it is reaped. The command lines
come from :mod:`chaosgate.load.command`; supervising the run (deadline,
SIGTERM then SIGKILL) is :class:`chaosgate.load.runner.LoadSession`'s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .children import release, spawn

__all__ = ["LocustProcess"]


@dataclass
class LocustProcess:
    """One Locust process (``local``, ``master`` or ``worker-N``) that chaosgate started."""

    role: str
    popen: subprocess.Popen[bytes]
    log: Path
    out: IO[bytes]
    exit_code: int | None = None
    cpu_s: float = 0.0

    @classmethod
    def start(cls, role: str, cmd: Sequence[str], log: Path, *, cwd: Path | str | None,
              env: Mapping[str, str]) -> LocustProcess:
        """Start ``cmd`` with stdout and stderr in ``log`` (its first line: the command)."""
        out = open(log, "wb")  # noqa: SIM115 - closed when the process is reaped
        out.write((" ".join(cmd) + "\n").encode())
        out.flush()
        popen = spawn(cmd, role=f"Locust {role}", death_signal=signal.SIGKILL, stdout=out,
                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                      env=dict(env), start_new_session=True)
        return cls(role, popen, log, out)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def reap(self) -> bool:
        """True once the process has exited (collects its exit code and CPU time)."""
        if self.exit_code is None:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid == 0:
                return False
            self.exit_code = os.waitstatus_to_exitcode(status)
            self.popen.returncode = self.exit_code
            self.cpu_s = usage.ru_utime + usage.ru_stime
            self.out.close()
            release(self.popen.pid)
        return True

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` unless the process has already been reaped."""
        if self.exit_code is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL, wait for the exit and reap."""
        self.signal(signal.SIGKILL)
        if self.exit_code is None:
            self.popen.wait(timeout=timeout)
            self.reap()
        release(self.popen.pid)
