"""Chaos Toolkit control: load on the target for the whole experiment (open model, bounded).

Arguments (all optional; ``${...}`` from the configuration works)::

    rate: 30            arrivals per second (open model: an outage is not hidden
                        by coordinated omission)
    profile: open       a profile of loadprofiles/ (or a .conf path)
    warmup: 8           seconds of load before the steady-state hypothesis
    duration: 300       the most the load may run (seconds): Locust stops itself
                        then, and the harness kills it past a grace period
    request_timeout:    seconds (default: the profile's)
    expect_workers: 0   distributed: a Locust master that waits for N workers
                        started on other hosts (``chaosgate load worker
                        --master-host H``); their request logs reach the harness
    master_bind: 0.0.0.0, master_port: 5557   where that master listens
    observe_after: 20   seconds of load kept after the last fault was reverted
                        (by the method, a rollback or the ledger control) before
                        the load stops and the ``slo`` control judges

``before_experiment`` starts Locust as a subprocess (never imported here:
:class:`chaosgate.load.LoadSession`) against the target's ingress and waits
``warmup`` seconds from its first recorded request (Locust takes seconds to
start on a busy machine: counted from the launch, the warmup left the
steady state too few requests); if none is recorded within
:data:`START_WITHIN` s, the experiment is interrupted (nothing could be
measured). The load runs through the
steady-state hypothesis, the method, the hypothesis after it and the
rollbacks. ``after_experiment`` (after the ``ledger`` control, so every
fault is reverted) keeps it ``observe_after`` seconds past the last revert
(or past now, when no fault was reverted), so the recovery's hold-down window
and the steady state after the fault (the second half of that period) are
observed, then stops it and writes the request log's path and Locust's counts
to ``journal["chaosgate"]["load"]``. The conventional shape (the fault in the
method, its revert in the rollbacks) is thus judged on a whole recovery,
with or without ``--rollback-strategy always``. An interrupted run (a
signal, Chaos Toolkit's status ``interrupted``) stops at once, and so does
a second signal during the wait. ``cleanup_control`` stops the load if the
run ended another way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Configuration, Experiment, Journal, Secrets

from ...load.profiles import find_profile, read_profile
from ...load.runner import LoadSession, spec_for_target
from ..state import LoadInfo, current, log
from . import chaosgate_section

__all__ = ["DEFAULT_OBSERVE_AFTER", "after_experiment_control", "before_experiment_control",
           "cleanup_control", "observation_end"]

POLL = 0.25
#: How long Locust may take to record its first request before the warmup begins (seconds).
START_WITHIN = 30.0
DEFAULT_OBSERVE_AFTER = 20.0  # seconds: a 10 s hold-down and a 10 s steady state after


def observation_end(reverts: Iterable[float | None], now: float, observe_after: float) -> float:
    """When the load may stop: ``observe_after`` s after the last revert (``now`` when no
    fault was reverted). Pure."""
    marks = [t for t in reverts if t is not None]
    return max(marks, default=now) + max(observe_after, 0.0)


def _observe(state: Journal, observe_after: float) -> None:
    """Keep the load until :func:`observation_end`, unless the run was interrupted or the
    load stopped; a signal meanwhile ends the wait (the run is then judged interrupted)."""
    run = current()
    if run.load is None or run.load_run is not None:
        return
    if run.cut_short(state if isinstance(state, dict) else {}):
        return
    until = observation_end([a.timeline.t_healed or a.timeline.t_revert for a in run.faults],
                            time.time(), observe_after)
    if until > time.time():
        log.info("load: observing %.0f s more after the last revert (observe_after %g s)",
                 until - time.time(), observe_after)
    try:
        while time.time() < until and run.interrupted_by is None and run.load.poll():
            time.sleep(POLL)
    except (KeyboardInterrupt, SystemExit, InterruptExecution):
        log.warning("chaosgate: the observation after the faults was interrupted")
        if isinstance(state, dict):
            state["status"] = "interrupted"


def _start(configuration: Configuration, rate: float, profile: str, warmup: float,
           duration: float, request_timeout: float | None,
           distributed: dict[str, Any] | None = None) -> LoadSession:
    run = current()
    settings = run.settings(configuration)
    target = run.target(configuration)
    prof = read_profile(find_profile(profile, Path.cwd(), target.source))
    options: dict[str, Any] = {"rate": rate, "front_end": "chaos run", **(distributed or {})}
    if request_timeout is not None:
        options["request_timeout"] = request_timeout
    spec = spec_for_target(target, prof, duration, out_root=settings.reports / "locust",
                           **options)
    session = LoadSession(spec, show_progress=False)
    timeout = request_timeout or float(prof.get("request-timeout") or 2.0)
    run.load_info = LoadInfo(rate, prof.name, warmup, duration, timeout)
    session.start()
    run.load = session
    log.info("load: %g requests/s (open model, profile %s) against %s; request log %s",
             rate, prof.name, spec.host, spec.request_log)
    return session


def before_experiment_control(context: Experiment, configuration: Configuration = None,
                              secrets: Secrets = None, rate: float = 30.0,
                              profile: str = "open", warmup: float = 8.0,
                              duration: float = 300.0, request_timeout: float | None = None,
                              expect_workers: int = 0, master_bind: str = "0.0.0.0",
                              master_port: int = 5557, **_arguments: Any) -> None:
    """Start the load and let it run ``warmup`` seconds; interrupt the run if it cannot.

    ``observe_after`` (read in ``after_experiment``) is accepted here too, as
    Chaos Toolkit passes a control's arguments to every hook.
    """
    run = current()
    run.configuration = configuration or run.configuration
    try:
        distributed = {"remote_workers": int(expect_workers), "master_bind": str(master_bind),
                       "master_port": int(master_port)} if int(expect_workers) else None
        session = _start(configuration, float(rate), str(profile), float(warmup),
                         float(duration), None if request_timeout is None
                         else float(request_timeout), distributed)
        log_file = session.spec.request_log
        deadline, until = time.time() + START_WITHIN + float(warmup), None
        while until is None or time.time() < until:
            if not session.poll():
                raise RuntimeError(f"Locust stopped during the warmup; see {session.spec.out_dir}")
            if until is None and log_file.exists() and log_file.stat().st_size > 0:
                until = time.time() + float(warmup)  # the warmup runs from the first request
            if until is None and time.time() > deadline:
                break
            time.sleep(POLL)
        if not log_file.exists() or not run.records():
            raise RuntimeError(f"no request recorded in {START_WITHIN + float(warmup):g} s "
                               f"after the load started; see {session.spec.out_dir}")
    except Exception as exc:
        text = run.problem("load control could not start the load", exc)
        raise InterruptExecution(text) from exc


def _stop() -> dict[str, Any]:
    run = current()
    if run.load is None:
        return {"error": "no load ran"}
    run.load.stop()
    load_run = run.load.wait()
    run.load_run = load_run
    info = run.load_info.to_json() if run.load_info else {}
    return {**info, "run_id": load_run.run_id, "host": load_run.host,
            "request_log": str(load_run.request_log), "out_dir": str(load_run.out_dir),
            "locust_log": str(load_run.logs[0]) if load_run.logs else None,
            "requests": load_run.requests, "ok": load_run.ok,
            "exit_codes": list(load_run.exit_codes), "started": load_run.started,
            "ended": load_run.ended, "stats": load_run.stats.to_json(),
            "clock_uncertainty_s": load_run.clock_uncertainty,
            "lost_workers": [n.describe() for n in load_run.lost_workers]}


def after_experiment_control(context: Experiment, state: Journal = None,
                             configuration: Configuration = None, secrets: Secrets = None,
                             observe_after: float = DEFAULT_OBSERVE_AFTER,
                             **_arguments: Any) -> None:
    """Keep the load ``observe_after`` s past the last revert, then stop it and put the
    request log's path and counts in the journal."""
    current().stop_watching()  # the method and rollbacks are over
    try:
        _observe(state, float(observe_after))
        report = _stop()
        if "error" not in report:
            report["observe_after"] = float(observe_after)
    except Exception as exc:
        report = {"error": current().problem("load control could not stop the load", exc)}
    if isinstance(state, dict):
        chaosgate_section(state)["load"] = report


def cleanup_control() -> None:
    """Stop the load if it still runs (the run ended before ``after_experiment``)."""
    run = current()
    if run.load is not None and run.load_run is None and run.load.procs:
        try:
            _stop()
        except Exception as exc:
            log.error("chaosgate: stopping the load failed: %s", exc)
