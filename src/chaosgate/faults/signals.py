"""Ctrl-C and SIGTERM while faults are applied: interrupt at once, never mid-revert.

One constraint: a revert, once started, runs to its end.

- :func:`interrupting` (around a run): the first SIGINT or SIGTERM raises
  :class:`Interrupted` (a ``BaseException``, like ``KeyboardInterrupt``) in
  the main thread, so ``finally`` blocks revert, and when the block ends its
  ``on_exit`` (the session's ``revert_all``) runs with both signals ignored;
  the caller exits with :attr:`Interrupted.exit_code` (130 for SIGINT, 143
  for SIGTERM).
- :func:`shielded` (around a revert): SIGINT and SIGTERM are ignored for the
  block, so a second Ctrl-C cannot abort a revert half-way.

Both restore the previous handlers, and do nothing outside the main thread
(where Python cannot install handlers). Which faults to revert is the
:class:`~chaosgate.faults.session.FaultSession`'s business, not this module's.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from ..verdict import interrupted_exit_code, interruption_reason

__all__ = ["Interrupted", "OwnerGone", "interrupting", "shielded"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; faults are being (or have been) reverted."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = interrupted_exit_code(signum)
        super().__init__(interruption_reason(signum))


class OwnerGone(Interrupted):
    """The chaosgate process that started this one is gone (a game day's pytest after a
    SIGKILL of ``chaosgate gameday``): stop as on SIGTERM, apply no new fault."""

    def __init__(self, why: str) -> None:
        super().__init__(signal.SIGTERM)
        self.args = (f"{why}: no new fault is applied",)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    # Later signals are ignored: the block's own ``finally`` is reverting now.
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def interrupting(on_exit: Callable[[], object] = lambda: None) -> Iterator[None]:
    """The first SIGINT/SIGTERM in the block raises :class:`Interrupted`; ``on_exit`` runs
    when the block ends, however it ends, with both signals ignored (it reverts)."""
    if not _in_main_thread():
        try:
            yield
        finally:
            on_exit()
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            on_exit()
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for the block (a revert is never cut half-way)."""
    if not _in_main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
