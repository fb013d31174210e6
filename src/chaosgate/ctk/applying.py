"""How the Chaos Toolkit actions apply and revert faults (the actions are thin on top).

Every action goes through the run's :class:`~chaosgate.faults.FaultSession`
(:meth:`RunState.session <chaosgate.ctk.state.RunState.session>`): the fault
is built from plain data (:mod:`chaosgate.faults.spec`), written to the
ledger before it touches anything, and verified with its active probe. A
fault that does not take hold is reverted and
:class:`~chaosgate.exceptions.FaultNotEffective` raised, so Chaos Toolkit
marks the action failed and the ``slo`` control makes the run inconclusive.

With a ``duration`` the fault is held and reverted by the action itself
(:meth:`FaultSession.run <chaosgate.faults.FaultSession.run>`); without one
it stays applied until a rollback action (:func:`revert_faults`) or the
``ledger`` control reverts it. Either way the run's stop conditions are
watched while it is applied (:meth:`RunState.watch_faults
<chaosgate.ctk.state.RunState.watch_faults>`): one that trips reverts every
fault of the run at once and ends the run ``aborted``. Results are JSON-able dicts
(:class:`FaultResult`): the fault's id, kind, description, marks and the
ground truth gathered so far.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypedDict, TypeVar

from chaoslib.exceptions import InterruptExecution

from ..exceptions import FaultAborted, FaultNotEffective, Inconclusive
from ..faults import AppliedFault, FaultKind
from ..faults.summary import summarize
from .config import Result
from .state import current, log

__all__ = ["FaultResult", "apply_fault", "fault_result", "interruptible", "revert_faults"]

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


class FaultResult(TypedDict):
    """What an action returns about one fault (plain data, no secret)."""

    fault_id: str
    kind: str
    description: str
    t_inject: float | None
    t_verified: float | None
    verified: str
    t_revert: float | None
    t_healed: float | None
    healed: str
    reverted: bool
    ground_truth: list[dict[str, Any]]
    summary: list[str]


def fault_result(applied: AppliedFault) -> FaultResult:
    """What an action returns about one fault."""
    tl = applied.timeline
    return {
        "fault_id": applied.fault_id,
        "kind": str(tl.kind),
        "description": tl.description,
        "t_inject": tl.t_inject,
        "t_verified": tl.t_verified,
        "verified": tl.verify_detail,
        "t_revert": tl.t_revert,
        "t_healed": tl.t_healed,
        "healed": tl.healed_detail,
        "reverted": applied.reverted,
        "ground_truth": [m.to_json() for m in sorted(tl.moments, key=lambda m: m.t)],
        "summary": summarize(tl),
    }


def apply_fault(spec: Mapping[str, Any], *, configuration: Mapping[str, Any] | None,
                duration: float | None = None, verify_timeout: float = 30.0,
                heal_timeout: float = 120.0) -> Result:
    """Apply the fault ``spec`` describes, verify it, and hold it ``duration`` s if given.

    Returns :func:`fault_result`; raises FaultNotEffective (after reverting)
    when the active probe never saw the fault take hold.
    """
    run = current()
    run.configuration = run.configuration or configuration
    if duration is not None:  # checked with the spec, as the CLI's --duration is
        spec = {**spec, "duration": duration}
    run.check_may_apply()
    session = run.session(configuration)
    fault = session.build(spec, source=f"chaosgate action ({spec.get('kind')})")
    if session.dry_run:
        log.info("safety.dry_run is set: %s", fault.plan())
        return {"dry_run": True, "plan": fault.plan()}
    try:
        if duration is not None:
            applied = session.run(fault, duration, verify_timeout=verify_timeout,
                                  heal_timeout=heal_timeout,
                                  on_applied=lambda _a: run.watch_faults()).applied
        else:
            applied = session.inject(fault, verify_timeout=verify_timeout,
                                     heal_timeout=heal_timeout)
            run.watch_faults()  # the stop conditions, while it stays applied
            log.info("%s %s took hold: %s", applied.timeline.kind, applied.fault_id,
                     applied.timeline.verify_detail)
    except FaultNotEffective as exc:
        run.errors.append(str(exc))
        raise
    except FaultAborted as exc:  # this fault reverted at once: the others too, the run ends
        tripped = getattr(exc, "tripped", None)
        if tripped is not None:
            run.abort(tripped)
        run.aborted = run.aborted or str(exc)
        raise
    return dict(fault_result(applied))


def revert_faults(kinds: tuple[FaultKind, ...] = (), heal_timeout: float = 120.0) -> Result:
    """Revert this run's faults of ``kinds`` still applied (all when empty), newest first.

    Idempotent: nothing to revert is fine. Raises Inconclusive after
    reverting everything when a revert failed or the system did not heal
    within ``heal_timeout``.
    """
    session = current().fault_session
    done: list[Result] = []
    problems: list[str] = []
    for applied in ([] if session is None else session.still_applied(kinds)):
        try:
            healed = session.revert(applied, heal_timeout) if session else None
        except Exception as exc:
            problems.append(f"revert of {applied.fault_id} failed: {exc}")
            continue
        if healed is not None and not healed.ok:
            problems.append(f"{applied.fault_id} not healed within {heal_timeout:g} s: "
                            f"{healed.detail}")
        done.append(dict(fault_result(applied)))
    if problems:
        current().errors.extend(problems)
        raise Inconclusive("; ".join(problems))
    return {"reverted": done}
