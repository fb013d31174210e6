"""Ctrl-C and SIGTERM while ``chaosgate`` starts: exit 130/143 at once, no traceback.

Importing the command line (click, rich, the command modules, the fault
modules) takes a few hundred milliseconds, and nothing is touched during
it. :func:`arm` runs first thing when the ``chaosgate`` program (the
console script, or ``python -m chaosgate.cli``) imports
:mod:`chaosgate.cli`, before any heavy import: until the app's ``main``
installs its own handlers (:func:`chaosgate.cli._app.main`), SIGINT and
SIGTERM write one line on stderr and end the process at once with
``128 + signal``. Imported by anything else (pytest, Chaos Toolkit, tests
through click's runner), it changes nothing.

This module imports only small standard-library modules (``os``, ``signal``,
``sys``), so the window before it runs is Python's own start-up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

__all__ = ["arm", "catches", "is_chaosgate_program"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def is_chaosgate_program(argv0: str | None = None,
                         orig_argv: Sequence[str] | None = None) -> bool:
    """Whether this process is the ``chaosgate`` program (not a host that imports it).

    The console script's ``sys.argv[0]`` is the script (``.../bin/chaosgate``);
    ``python -m chaosgate.cli`` names the module right after ``-m`` in the
    interpreter's own arguments (``sys.orig_argv``).
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    orig = list(sys.orig_argv if orig_argv is None else orig_argv)
    if os.path.basename(argv0) == "chaosgate":
        return True
    if "-m" in orig:
        at = orig.index("-m")
        return orig[at + 1:at + 2] == ["chaosgate.cli"]
    return False


def _exit_at_once(signum: int, _frame: FrameType | None) -> None:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    with contextlib.suppress(OSError):
        os.write(2, f"chaosgate: interrupted by {name} while starting; nothing was "
                    "touched\n".encode())
    os._exit(128 + signum)  # nothing to revert or flush: no command has run yet


def arm() -> bool:
    """In the ``chaosgate`` program's main thread, make SIGINT/SIGTERM exit 128 + signal at
    once until ``main`` takes over; whether it did."""
    if not is_chaosgate_program():
        return False
    try:
        for sig in _SIGNALS:
            signal.signal(sig, _exit_at_once)
    except ValueError:  # not the main thread: Python cannot install handlers there
        return False
    return True


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (``SigCgt`` of /proc/<pid>/status).

    The interpreter catches SIGINT from its own start-up but never SIGTERM,
    and :func:`arm` installs SIGTERM's handler last: a ``chaosgate`` that
    catches SIGTERM is armed, so a test or bench that waits for it signals
    chaosgate's own code, not the interpreter's start-up (whose SIGINT is a
    ``KeyboardInterrupt`` traceback chaosgate cannot prevent). False when the
    process is gone.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except OSError:
        return False
    return False
