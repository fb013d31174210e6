"""How the Chaos Toolkit actions apply and revert faults (the actions are thin on top).

:func:`apply_fault` builds a fault from plain data
(:func:`chaosgate.gameday.build_fault`), writes it to the ledger before it
touches anything (:meth:`chaosgate.faults.Fault.inject`), and verifies it
with its active probe. A fault that does not take hold is reverted and
:class:`~chaosgate.exceptions.FaultNotEffective` raised, so Chaos Toolkit
marks the action failed and the ``slo`` control makes the run inconclusive.

With a ``duration`` the fault is held and reverted by the action itself
(:func:`chaosgate.faults.run_fault`); without one it stays applied until a
rollback action (:func:`revert_faults`) or the ``ledger`` control reverts it.
Results are JSON-able dicts: the fault's id, kind, description, marks and
the ground truth gathered so far.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from chaoslib.exceptions import InterruptExecution

from ..exceptions import FaultNotEffective, Inconclusive
from ..faults import AppliedFault, run_fault
from ..faults.summary import summarize
from ..gameday import build_fault
from .config import Result
from .controls.ledger import arm_exit_revert
from .state import current, log

__all__ = ["apply_fault", "fault_result", "interruptible", "revert_faults"]

P = ParamSpec("P")
R = TypeVar("R")


def interruptible(func: Callable[P, R]) -> Callable[P, R]:
    """Let SIGTERM interrupt the run from inside an activity, as Ctrl-C does.

    Chaos Toolkit turns SIGTERM into ``InterruptExecution`` in the main
    thread; raised inside a Python activity, its runner records it as a
    failed activity and carries on with the method. Re-raised as
    ``KeyboardInterrupt`` it ends the run as interrupted (the ``ledger``
    control then reverts every fault). The signature and docstring are kept
    (``chaos discover`` and ``chaos validate`` read them).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InterruptExecution as exc:
            raise KeyboardInterrupt(f"{exc}") from exc

    return wrapper


def fault_result(applied: AppliedFault) -> Result:
    """What an action returns about one fault (plain data, no secret)."""
    tl = applied.timeline
    return {
        "fault_id": applied.fault_id,
        "kind": tl.kind,
        "description": tl.description,
        "t_inject": tl.t_inject,
        "t_verified": tl.t_verified,
        "verified": tl.verify_detail,
        "t_revert": tl.t_revert,
        "t_healed": tl.t_healed,
        "healed": tl.healed_detail,
        "reverted": applied.reverted,
        "ground_truth": [m.to_json() for m in sorted(tl.moments, key=lambda m: m.t)],
        "summary": summarize(tl, applied.change.data),
    }


def _not_effective(applied: AppliedFault, verify_timeout: float) -> FaultNotEffective:
    return FaultNotEffective(
        f"{applied.timeline.kind} {applied.fault_id} did not take hold within "
        f"{verify_timeout:g} s: {applied.timeline.verify_detail} (it was reverted)")


def apply_fault(spec: Mapping[str, Any], *, configuration: Mapping[str, Any] | None,
                duration: float | None = None, verify_timeout: float = 30.0,
                heal_timeout: float = 120.0) -> Result:
    """Apply the fault ``spec`` describes, verify it, and hold it ``duration`` s if given.

    Returns :func:`fault_result`; raises FaultNotEffective (after reverting)
    when the active probe never saw the fault take hold.
    """
    run = current()
    run.configuration = run.configuration or configuration
    arm_exit_revert()
    ctx = run.context(configuration)
    fault = build_fault(ctx, spec, source=f"chaosgate action ({spec.get('kind')})")
    if ctx.target.safety.dry_run:
        log.info("safety.dry_run is set: %s", fault.plan())
        return {"dry_run": True, "plan": fault.plan()}
    if duration is not None:
        try:
            outcome = run_fault(fault, duration, verify_timeout, heal_timeout,
                                on_applied=run.track)
        except FaultNotEffective as exc:
            run.errors.append(str(exc))
            raise
        return fault_result(outcome.applied)
    applied = fault.inject()
    run.track(applied)
    verified = applied.verify(verify_timeout)
    if not verified.ok:
        applied.revert()
        applied.wait_healed(heal_timeout)
        applied.collect_ground_truth()
        error = _not_effective(applied, verify_timeout)
        run.errors.append(str(error))
        raise error
    applied.collect_ground_truth()
    log.info("%s %s took hold: %s", applied.timeline.kind, applied.fault_id, verified.detail)
    return fault_result(applied)


def revert_faults(kinds: tuple[str, ...] = (), heal_timeout: float = 120.0) -> Result:
    """Revert this run's faults of ``kinds`` still applied (all when empty), newest first.

    Idempotent: nothing to revert is fine. Raises Inconclusive after
    reverting everything when a revert failed or the system did not heal
    within ``heal_timeout``.
    """
    done, problems = [], []
    for applied in current().applied(kinds):
        try:
            applied.revert()
        except Exception as exc:
            problems.append(f"revert of {applied.fault_id} failed: {exc}")
            continue
        healed = applied.wait_healed(heal_timeout)
        applied.collect_ground_truth()
        if not healed.ok:
            problems.append(f"{applied.fault_id} not healed within {heal_timeout:g} s: "
                            f"{healed.detail}")
        done.append(fault_result(applied))
    if problems:
        current().errors.extend(problems)
        raise Inconclusive("; ".join(problems))
    return {"reverted": done}
