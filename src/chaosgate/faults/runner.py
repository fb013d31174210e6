"""Run one fault end to end: inject, verify, hold, revert, wait healed, gather truth.

:func:`run_fault` is what the CLI (and later the Chaos Toolkit actions and
the pytest fixtures) call. The revert runs whatever happens: success, a
fault that did not take hold, an error, Ctrl-C or SIGTERM (with
:func:`chaosgate.faults.signals.reverting_on_signals` around the call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..exceptions import FaultNotEffective
from ..platforms.base import ProbeResult
from .base import AppliedFault, Fault
from .timeline import Timeline

__all__ = ["Outcome", "hold", "run_fault"]


@dataclass
class Outcome:
    """How a fault run went."""

    applied: AppliedFault
    verified: ProbeResult
    healed: ProbeResult | None

    @property
    def timeline(self) -> Timeline:
        """The fault's timeline (marks and ground truth)."""
        return self.applied.timeline


def hold(until: float, step: float = 0.2) -> None:
    """Sleep until epoch ``until`` in short steps (signals are handled promptly)."""
    while (left := until - time.time()) > 0:
        time.sleep(min(step, left))


def run_fault(fault: Fault, duration: float, verify_timeout: float = 30.0,
              heal_timeout: float = 120.0,
              on_applied: Callable[[AppliedFault], None] | None = None) -> Outcome:
    """Inject ``fault``, verify it, hold it ``duration`` s from ``t_inject``, revert it.

    Raises :class:`FaultNotEffective` (after reverting) when the active probe
    never saw the fault take hold within ``verify_timeout``; the exception
    carries the :class:`Outcome` as ``exc.outcome``.
    """
    applied = fault.inject()
    if on_applied is not None:
        on_applied(applied)
    healed: ProbeResult | None = None
    try:
        verified = applied.verify(verify_timeout)
        if verified.ok:
            hold((applied.timeline.t_inject or time.time()) + duration)
    finally:
        applied.revert()
    healed = applied.wait_healed(heal_timeout)
    applied.collect_ground_truth()
    outcome = Outcome(applied, verified, healed)
    if not verified.ok:
        exc = FaultNotEffective(
            f"{fault.kind} {applied.fault_id} did not take hold within {verify_timeout:g} s: "
            f"{verified.detail} (it was reverted)")
        exc.outcome = outcome  # type: ignore[attr-defined]
        raise exc
    return outcome
