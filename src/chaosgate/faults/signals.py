"""Revert on Ctrl-C and SIGTERM: every fault this process applied is undone first.

Applied faults register themselves here while they are in effect.
:func:`reverting_on_signals` installs SIGINT and SIGTERM handlers for the
duration of a ``with`` block: the first signal raises :class:`Interrupted`
(a ``BaseException``, like ``KeyboardInterrupt``) in the main thread, so the
code's ``finally`` blocks revert; later signals are ignored while reverting,
so a second Ctrl-C cannot abort a revert half-way. When the block exits,
whatever is still registered is reverted (each revert is idempotent), then
the old handlers come back. The caller exits with :attr:`Interrupted.exit_code`
(130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

__all__ = [
    "Interrupted",
    "Revertible",
    "active",
    "register",
    "revert_all",
    "reverting_on_signals",
    "unregister",
]


class Revertible(Protocol):
    """Anything with an idempotent ``revert()`` and a ``fault_id``."""

    fault_id: str

    def revert(self) -> Any:
        """Undo the fault."""
        ...


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; faults are being (or have been) reverted."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


_lock = threading.Lock()
_active: dict[str, Revertible] = {}
_state = {"interrupted": 0}


def register(fault: Revertible) -> None:
    """Track ``fault`` as applied by this process."""
    with _lock:
        _active[fault.fault_id] = fault


def unregister(fault_id: str) -> None:
    """Stop tracking a fault (it was reverted)."""
    with _lock:
        _active.pop(fault_id, None)


def active() -> list[Revertible]:
    """Faults applied by this process and not yet reverted, oldest first."""
    with _lock:
        return list(_active.values())


def revert_all(log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Revert every registered fault, newest first; return the ids that failed."""
    failed = []
    for fault in reversed(active()):
        try:
            fault.revert()
        except Exception as exc:
            log(f"revert of {fault.fault_id} failed: {exc}")
            failed.append(fault.fault_id)
    return failed


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _state["interrupted"]:
        return  # already reverting: never abort a revert half-way
    _state["interrupted"] = signum
    raise Interrupted(signum)


@contextmanager
def reverting_on_signals(log: Callable[[str], None] = lambda _m: None) -> Iterator[None]:
    """SIGINT/SIGTERM raise :class:`Interrupted`; on exit, revert what is still applied."""
    if threading.current_thread() is not threading.main_thread():
        try:
            yield
        finally:
            revert_all(log)
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _state["interrupted"] = 0
    for sig in previous:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        try:
            if active():
                _state["interrupted"] = _state["interrupted"] or -1  # shield the reverts
                revert_all(log)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            _state["interrupted"] = 0
