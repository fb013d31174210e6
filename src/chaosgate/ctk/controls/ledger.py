"""Chaos Toolkit control: every fault this run applied is reverted, whatever happens.

Chaos Toolkit plays rollbacks only when a run completes (its default
strategy skips them on a failed hypothesis, an interruption, SIGINT or
SIGTERM). This control does not depend on them: in ``after_experiment``
(which Chaos Toolkit calls on every way out, signals included) and again in
``cleanup_control`` and at interpreter exit, it reverts, newest first:

1. the faults the actions applied and did not revert (the run state);
2. anything else this process registered for revert
   (:mod:`chaosgate.faults.signals`);
3. ledger entries this process opened during the run and left open
   (rebuilt from the ledger alone, as ``chaosgate cleanup`` does).

SIGINT and SIGTERM are ignored while it reverts, so a second Ctrl-C cannot
abort a revert half-way. Then it checks that the ledger lists nothing of
this run as open and writes ``journal["chaosgate"]["ledger"]``; a fault
left open makes the run inconclusive (``chaosgate cleanup`` is the way out).
"""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from chaoslib.types import Configuration, Experiment, Journal, Secrets

from ...faults import Ledger, signals
from ...faults.cleanup import actuator_for
from ..state import current, log
from . import chaosgate_section

__all__ = [
    "after_experiment_control",
    "arm_exit_revert",
    "cleanup_control",
    "configure_control",
    "revert_leftovers",
]

_REGISTERED: list[bool] = []


@contextmanager
def _shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in old:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def revert_leftovers(configuration: Mapping[str, Any] | None, heal_timeout: float = 120.0,
                     wait: bool = True) -> dict[str, Any]:
    """Revert what this run left applied; report what was reverted and what is still open.

    ``wait``: also wait (up to ``heal_timeout``) until each fault's effect is
    gone, and gather its ground truth (not at interpreter exit: the active
    probes need threads, which are gone by then).
    """
    run = current()
    ledger = run.context(configuration).ledger
    reverted: list[str] = []
    with _shielded():
        for applied in run.applied():
            try:
                applied.revert()
                if not wait:
                    reverted.append(f"{applied.fault_id} ({applied.timeline.kind})")
                    continue
                healed = applied.wait_healed(heal_timeout)
                applied.collect_ground_truth()
                reverted.append(f"{applied.fault_id} ({applied.timeline.kind}): "
                                f"{'healed' if healed.ok else 'NOT healed'}: {healed.detail}")
            except Exception as exc:
                log.error("revert of %s failed: %s", applied.fault_id, exc)
        leftover = [f.fault_id for f in signals.active()]
        failed = signals.revert_all(log.error)
        reverted += [f"{i}: registered for revert" for i in leftover if i not in failed]
        _revert_from_ledger(ledger, configuration, reverted)
    still = run.own_entries(ledger)
    for line in reverted:
        log.warning("chaosgate ledger control reverted %s", line)
    return {"path": str(ledger.path), "reverted": reverted,
            "open": [f"{e.id} ({e.fault}, {e.state}): {e.change.description}" for e in still],
            "clean": not still}


def _revert_from_ledger(ledger: Ledger, configuration: Mapping[str, Any] | None,
                        reverted: list[str]) -> None:
    run = current()
    target, platform = run.target(configuration), run.platform(configuration)
    for entry in reversed(run.own_entries(ledger)):
        try:
            actuator_for(entry.change, target, platform).revert(entry.change)
        except Exception as exc:
            ledger.mark(entry.id, "revert_failed", error=str(exc))
            log.error("revert of %s from the ledger failed: %s", entry.id, exc)
            continue
        ledger.mark(entry.id, "reverted", note="chaosgate ledger control")
        reverted.append(f"{entry.id} ({entry.fault}): from the ledger")


def _at_exit() -> None:
    """Last resort when the interpreter exits with faults still applied."""
    run = current()
    if run.applied() or signals.active():
        try:
            revert_leftovers(run.configuration, wait=False)
        except Exception as exc:  # nothing is left to report to at exit
            log.error("chaosgate: reverting at exit failed: %s; run `chaosgate cleanup`", exc)


def arm_exit_revert() -> None:
    """Revert what is still applied when the interpreter exits (once; the actions arm it
    too, so a fault is undone at exit even in an experiment without this control)."""
    if not _REGISTERED:
        atexit.register(_at_exit)
        _REGISTERED.append(True)


def configure_control(configuration: Configuration = None, secrets: Secrets = None,
                      experiment: Experiment = None, **_arguments: Any) -> None:
    """Remember the configuration (for cleanup) and arm the revert at interpreter exit."""
    current().configuration = configuration
    arm_exit_revert()


def after_experiment_control(context: Experiment, state: Journal = None,
                             configuration: Configuration = None, secrets: Secrets = None,
                             heal_timeout: float = 60.0, **_arguments: Any) -> None:
    """Revert whatever this run left applied, then check the ledger has nothing of it open."""
    run = current()
    run.configuration = configuration or run.configuration
    try:
        report = revert_leftovers(run.configuration, float(heal_timeout))
    except Exception as exc:
        report = {"clean": False, "error": run.problem("ledger control could not revert", exc)}
    if report.get("open"):
        run.problems.append("faults of this run are still open in the ledger: "
                            + "; ".join(report["open"]) + ". Fix: run `chaosgate cleanup`")
    if isinstance(state, dict):
        chaosgate_section(state)["ledger"] = report


def cleanup_control() -> None:
    """Revert again (idempotent) in case ``after_experiment`` never ran."""
    run = current()
    if run.applied() or signals.active():
        try:
            revert_leftovers(run.configuration)
        except Exception as exc:
            run.problem("ledger control could not revert at cleanup", exc)
