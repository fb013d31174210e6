"""Chaos Toolkit control: every fault this run applied is reverted, whatever happens.

Chaos Toolkit plays rollbacks only when a run completes (its default
strategy skips them on a failed hypothesis, an interruption, SIGINT or
SIGTERM). This control does not depend on them: in ``after_experiment``
(which Chaos Toolkit calls on every way out, signals included) and again in
``cleanup_control``, it calls the run's
:meth:`FaultSession.revert_all <chaosgate.faults.FaultSession.revert_all>`:
the faults the actions applied and did not revert, newest first, then any
ledger entry of the session's own still open (rebuilt from the ledger
alone), with SIGINT and SIGTERM ignored so a second Ctrl-C cannot abort a
revert half-way. At interpreter exit the session's own last-resort hook
reverts whatever is still applied, even in an experiment without this
control.

Then it checks that the ledger lists nothing of this run as open and
writes ``journal["chaosgate"]["ledger"]`` (:class:`LedgerSection`); a fault
left open makes the run inconclusive (``chaosgate cleanup`` is the way out).

It also guards the start: its ``before_experiment`` (the first hook of the
run, as this control is listed first) runs the error-budget admission and
checks no stop condition is already true; refused, the run is interrupted
before any load or fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Configuration, Experiment, Journal, Secrets

from ..config import cli_vars
from ..journal import LedgerSection
from ..state import current, log
from . import chaosgate_section

__all__ = [
    "after_experiment_control",
    "before_experiment_control",
    "cleanup_control",
    "configure_control",
    "revert_leftovers",
]


def revert_leftovers(configuration: Mapping[str, Any] | None, heal_timeout: float = 120.0,
                     wait: bool = True) -> LedgerSection:
    """Revert what this run left applied; report what was reverted and what is still open.

    ``wait``: also wait (up to ``heal_timeout``) until each fault's effect is
    gone, and gather its ground truth.
    """
    run = current()
    if run.fault_session is None:  # no action applied a fault: nothing can be open
        return {"reverted": [], "problems": [], "open": [], "clean": True}
    session = run.fault_session
    report = session.revert_all(heal_timeout, wait=wait)
    for line in report.reverted:
        log.warning("chaosgate ledger control reverted %s", line)
    for line in report.problems:
        log.error("chaosgate ledger control: %s", line)
    return {"path": str(session.ledger.path), "reverted": report.reverted,
            "problems": report.problems,
            "open": [f"{e.id} ({e.fault}, {e.state}): {e.change.description}"
                     for e in report.still_open],
            "clean": report.clean}


def configure_control(configuration: Configuration = None, secrets: Secrets = None,
                      experiment: Experiment = None, **_arguments: Any) -> None:
    """Remember the configuration (for cleanup) and the ``--var`` values (for the run's
    threads: :func:`chaosgate.ctk.config.cli_vars`); note the first SIGINT/SIGTERM."""
    run = current()
    run.configuration = configuration
    cli_vars()
    run.watch_signals()


def before_experiment_control(context: Experiment, configuration: Configuration = None,
                              secrets: Secrets = None, **_arguments: Any) -> None:
    """Before anything else (this control is listed first): the error-budget admission and
    one look at the stop conditions (:meth:`RunState.admit
    <chaosgate.ctk.state.RunState.admit>`). Refused, the run is interrupted before the load
    and any fault: inconclusive ("budget too low", exit code 3) or, with a stop condition
    already true, aborted (4)."""
    run = current()
    run.configuration = configuration or run.configuration
    try:
        why = run.admit(run.configuration)
    except Exception as exc:
        why = run.problem("ledger control could not check the run may start", exc)
        run.refused = why
    if why:
        raise InterruptExecution(why)


def after_experiment_control(context: Experiment, state: Journal = None,
                             configuration: Configuration = None, secrets: Secrets = None,
                             heal_timeout: float = 60.0, **_arguments: Any) -> None:
    """Revert whatever this run left applied, then check the ledger has nothing of it open."""
    run = current()
    run.stop_watching()  # the method and rollbacks are over: what is left is reverted here
    run.configuration = configuration or run.configuration
    report: LedgerSection
    try:
        report = revert_leftovers(run.configuration, float(heal_timeout))
    except Exception as exc:
        report = {"clean": False, "error": run.problem("ledger control could not revert", exc)}
    if report.get("open"):
        target = run.settings(run.configuration).target
        run.problems.append("faults of this run are still open in the ledger: "
                            + "; ".join(report["open"]) + ". Fix: run `chaosgate cleanup "
                            f"--target {target}`")
    if isinstance(state, dict):
        chaosgate_section(state)["ledger"] = report


def cleanup_control() -> None:
    """Revert again (idempotent) in case ``after_experiment`` never ran; put the signal
    handlers back."""
    run = current()
    run.unwatch_signals()
    if run.fault_session is not None and run.fault_session.still_applied():
        try:
            revert_leftovers(run.configuration)
        except Exception as exc:
            run.problem("ledger control could not revert at cleanup", exc)
