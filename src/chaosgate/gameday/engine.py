"""Run one game day: load, a fault, both observers, gates, a report entry.

The phases (each timed, for the report's steps):

1. **load**: an open-model Locust run (constant arrival rate) starts;
2. **steady state before**: ``warmup`` seconds of load with no fault,
   counted from 2 s after the first request, and on until every
   steady-state gate has the requests it needs (below);
3. **fault**: inject through the ledger, verify it took hold, hold it,
   revert it, wait until healed (:meth:`chaosgate.faults.FaultSession.run`);
   a baseline game day has no fault;
4. **recovery**: ``observe`` more seconds of load, so a hold-down window
   after the revert is seen by both observers; the steady state after the
   fault is its second half, extended like the one before;
5. **evaluate**: the request log and Prometheus' raw samples give the
   timelines, TTR and verdicts (:mod:`chaosgate.slo.measure`); the gates of
   :mod:`.gates` decide pass, fail or inconclusive, with any scenario
   ``checks`` (callables that add gates of their own, e.g. "the breaker
   opened during the fault").

A steady state is judged only on enough data: each of its gates needs
:data:`~.gates.MIN_STEADY_REQUESTS` requests of its own (every request; the
successful requests of each latency SLO's route), or it is inconclusive.
With an open model those counts are random, so a fixed-length phase would
be inconclusive by chance on some runs. Each steady-state phase therefore
runs past its nominal length, reading the request log as it grows, until
:func:`~.gates.steady_state_shortfall` of its window is empty, for at most
``max_extension`` seconds more (default 60); then the game day goes on and
the short gates say inconclusive. An extension is logged with its reason
and recorded in the phase's detail.

A ``phase_hook`` wraps every phase as it happens (the pytest plugin opens an
Allure step there, so each step carries the phase's real timing and status).

Nothing here imports Locust (it runs as a subprocess), pytest, Allure or
click: the front ends wrap this engine. Every fault is reverted whatever
happens: the game day's :class:`~chaosgate.faults.FaultSession` guards the
whole run (SIGINT/SIGTERM interrupt it, and ``revert_all`` runs at its end).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import (
    ChaosgateError,
    FaultAborted,
    FaultNotEffective,
    FaultRevertedElsewhere,
)
from ..faults import FaultRun, FaultSession, describe_fault, ledger_for
from ..faults.stop import StopWatch, admit
from ..faults.timeline import FaultTimeline, healed_by
from ..frontends import option
from ..load.profiles import find_profile, read_profile
from ..load.requestlog import RequestRecord
from ..load.run import LoadRun
from ..load.runner import LoadSession, spec_for_target
from ..paths import default_folder, default_reports
from ..platforms import platform_for
from ..slo.catalog import load_catalog
from ..slo.measure import Measurement
from ..slo.model import SLO, Catalog
from ..targets import Target, parse_stop_condition
from ..verdict import VerdictName, combine
from .detection import detect
from .detection import receiver as detection_receiver
from .evaluation import evaluate, fault_took_hold, gating_slos
from .gates import (
    DEFAULT_BUDGET_PERIOD,
    DEFAULT_MAX_BUDGET_BURN,
    MIN_STEADY_REQUESTS,
    STEADY_ALL_REQUESTS,
    Gate,
    steady_state_counts,
    steady_state_shortfall,
)

__all__ = ["Check", "GameDayConfig", "GameDayRun", "Phase", "PhaseHook", "apply_checks",
           "catalog_of", "out_dir_of", "run_gameday"]


@dataclass(frozen=True)
class GameDayConfig:
    """What a game day does. ``fault`` is a fault spec (see :mod:`.faultspec`) or None."""

    name: str
    fault: Mapping[str, Any] | None = None
    rate: float = 40.0  # arrivals per second (open model)
    warmup: float = 10.0  # seconds of steady state before the fault
    hold: float | None = None  # seconds the fault is held; default: fault["duration"] or 10
    observe: float = 20.0  # seconds of load after the fault healed
    # seconds a steady-state phase (before, after) may run past warmup/observe until
    # each of its gates has MIN_STEADY_REQUESTS requests (0: never extend)
    max_extension: float = 60.0
    profile: str = "open"
    # distributed load: workers started elsewhere (chaosgate load worker) that the
    # Locust master, bound to master_bind:master_port, waits for
    expect_workers: int = 0
    master_bind: str = "0.0.0.0"
    master_port: int = 5557
    catalog: Path | None = None  # default: probes/ beside the target file, else shipped
    recovery_slo: str = "time-to-recover"
    # SLOs (any type but recovery) whose verdicts over the load window gate the game day,
    # by each observer that can read them (e.g. ("throughput",) for a baseline that
    # proves it); the others are reported, not gating
    gate_slos: tuple[str, ...] = ()
    max_budget_burn: float = DEFAULT_MAX_BUDGET_BURN
    budget_period: float = DEFAULT_BUDGET_PERIOD
    seed: int | None = None
    ledger: Path | None = None  # None: $CHAOSGATE_LEDGER, else the target's own ledger
    out_dir: Path | None = None  # default: gamedays/ in the target's reports folder
    verify_timeout: float = 30.0
    heal_timeout: float = 120.0
    # stop conditions (alert:NAME, burn:SLO>X%, PromQL), added to the target's
    # safety.stop_when; checked every second while the fault is held
    stop_when: tuple[str, ...] = ()
    # the alert that must detect the fault (e.g. "ShopAvailabilityBurn"), and how soon
    # after the impact: gated by both observers (ALERTS in Prometheus, the notification)
    expect_alert: str | None = None
    detect_within: float = 60.0
    # start even when an SLO has less error budget left than safety.min_error_budget
    force_budget: bool = False

    @property
    def hold_s(self) -> float:
        """Seconds the fault is held before its revert."""
        if self.hold is not None:
            return self.hold
        if self.fault and "duration" in self.fault:
            return float(self.fault["duration"])
        return 0.0 if self.fault and self.fault.get("kind") == "kill-pods" else 10.0


@dataclass
class Phase:
    """A timed step of the game day (an Allure step in the report)."""

    name: str
    start: float
    stop: float | None = None
    status: str = "passed"  # passed | failed | broken
    detail: str = ""


@dataclass
class GameDayRun:
    """Everything one game day measured."""

    config: GameDayConfig
    target: Target
    phases: list[Phase] = field(default_factory=list)
    load: LoadRun | None = None
    fault_run: FaultRun | None = None
    fault_error: str = ""
    aborted: str = ""  # a stop condition tripped: which, when, how soon the revert followed
    ttd: float | None = None  # seconds from the impact to the expected alert's first firing
    measurement: Measurement | None = None
    gates: list[Gate] = field(default_factory=list)
    reported: list[Any] = field(default_factory=list)  # slo.evaluate.SLOVerdict, not gating
    started: float = 0.0
    stopped: float = 0.0
    before_end: float | None = None  # when the steady state before ended (the fault began)
    after_start: float | None = None  # when the steady state after the fault began
    _records: list[RequestRecord] | None = field(default=None, repr=False)
    phase_hook: PhaseHook | None = field(default=None, repr=False)

    @property
    def records(self) -> list[RequestRecord]:
        """The request log (client-side observer), by start time; read once."""
        if self._records is None:
            self._records = self.load.records() if self.load is not None else []
        return self._records

    @property
    def fault_timeline(self) -> FaultTimeline | None:
        """The fault's marks and ground truth, when a fault ran."""
        return self.fault_run.timeline if self.fault_run is not None else None

    @property
    def verdict(self) -> VerdictName:
        """The run's verdict, decided here only: its gates combined; a stop condition that
        tripped makes it aborted, a fault that did not take hold inconclusive, whatever
        the gates say."""
        if self.aborted:
            return "aborted"
        if self.fault_error:
            return "inconclusive"
        return combine(g.status for g in self.gates)

    @property
    def ttr(self) -> float | None:
        """Time to recover from the request log (else Prometheus), seconds."""
        m = self.measurement
        return next((float(tl.ttr.t) for tl in m.timelines if tl.ttr is not None), None) \
            if m else None

    @property
    def t_impact(self) -> float | None:
        """When the fault's impact began: the request log's estimate, else Prometheus'."""
        return self.measurement.t_impact if self.measurement else None

    @contextmanager
    def phase(self, name: str, log: Callable[[str], None]) -> Iterator[Phase]:
        """Time a phase; an exception marks it broken (or failed for an SLO) and propagates."""
        step = Phase(name, time.time())
        self.phases.append(step)
        log(f"{self.config.name}: {name}")
        hook = self.phase_hook(step) if self.phase_hook is not None else nullcontext()
        try:
            with hook:
                yield step
        except AssertionError as exc:
            step.status, step.detail = "failed", str(exc)
            raise
        except BaseException as exc:
            step.status, step.detail = "broken", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            step.stop = time.time()


#: Wraps one phase while it runs (entered before, left after; sees its exception).
PhaseHook = Callable[[Phase], AbstractContextManager[Any]]
#: A scenario-specific judgement of a finished run: the gates it adds.
Check = Callable[[GameDayRun], Iterable[Gate]]


def apply_checks(run: GameDayRun, checks: Sequence[Check]) -> list[Gate]:
    """Add the gates of each check to ``run`` (and return them).

    A check that raises adds an *inconclusive* gate naming the check and the
    error: a judgement that could not be made is never a pass.
    """
    added: list[Gate] = []
    for check in checks:
        name = getattr(check, "__name__", type(check).__name__).replace("_", " ")
        try:
            added += list(check(run))
        except Exception as exc:
            added.append(Gate(name, "inconclusive", "error", "a judgement",
                              f"the check failed: {type(exc).__name__}: {exc}"))
    run.gates += added
    return added


def catalog_of(config: GameDayConfig, target: Target) -> Catalog:
    """The game day's SLO catalogue: its own, else ``probes/`` beside the target file,
    else the shipped one (:mod:`chaosgate.paths`)."""
    return load_catalog(config.catalog or default_folder("probes", target.source),
                        option=option("catalog", "pytest"))


def out_dir_of(config: GameDayConfig, target: Target) -> Path:
    """Where the game day's load logs go: its own folder, else ``gamedays/`` of the
    target's reports folder (:mod:`chaosgate.paths`)."""
    return config.out_dir or default_reports(target.source) / "gamedays"


def run_gameday(target: Target, config: GameDayConfig, *,
                log: Callable[[str], None] = lambda _m: None,
                show_progress: bool = False, checks: Sequence[Check] = (),
                phase_hook: PhaseHook | None = None) -> GameDayRun:
    """Run one game day against ``target``; never leaves its fault applied.

    ``checks`` judge the finished run further (their gates count in the
    verdict); ``phase_hook`` wraps each phase as it runs.
    """
    catalog = catalog_of(config, target)
    gating_slos(catalog, config.gate_slos)  # bad names: exit 2 before any load or fault
    run = GameDayRun(config, target, started=time.time(), phase_hook=phase_hook)
    profile = read_profile(find_profile(config.profile, Path.cwd(), target.source))
    stop = _stop_watch(target, config, catalog, run.started)
    faults = FaultSession(target, platform_for(target),
                          ledger_for(target, config.ledger, "pytest"),
                          seed=config.seed, log=log, owner=f"game day {config.name!r}",
                          front_end="pytest", stop=stop)
    fault = None
    if config.fault is not None:
        fault = faults.build(config.fault, source=f"game day {config.name!r}")
        fault.prepared()  # selection and safety checks before any load is sent
    # the longest run: both steady-state phases extended to their bound
    budget = (config.warmup + config.hold_s + config.heal_timeout + config.observe
              + 2 * max(config.max_extension, 0.0) + 30)
    distributed: dict[str, Any] = {}
    if config.expect_workers:
        distributed = {"remote_workers": config.expect_workers,
                       "master_bind": config.master_bind, "master_port": config.master_port}
    spec = spec_for_target(target, profile, budget, rate=config.rate, front_end="pytest",
                           out_root=out_dir_of(config, target) / _slug(config.name),
                           **distributed)
    load = LoadSession(spec, show_progress=show_progress)
    faults.check_owner()  # no game day starts once chaosgate gameday is gone
    _admit(target, config, catalog, log)
    if stop and fault is not None:
        stop.preflight()  # one already true: aborted before any load; bad PromQL: exit 2
        log(f"{config.name}: stop conditions (checked every second while the fault is "
            "held): " + "; ".join(str(c) for c in stop.conditions))
    with run.phase("load: start", log) as step:
        load.start()
        step.detail = f"{config.rate:g} requests/s, open model, profile {profile.name}"
    watch = _RequestWatch(load, faults.check_owner)
    slos = list(catalog)
    receiver = detection_receiver(target)
    try:
        with faults.guard(config.heal_timeout):
            with run.phase("steady state before the fault", log) as step:
                fallback = step.start + 2.0  # until the first request is seen
                step.detail = _steady_state(
                    watch, slos, lambda: fallback if watch.first is None else watch.first + 2.0,
                    config.warmup, max_extension=config.max_extension,
                    what="steady state before the fault", nominal="warmup",
                    log=lambda m: log(f"{config.name}: {m}"))
                run.before_end = time.time()
            if fault is not None:
                with run.phase(f"fault: {describe_fault(config.fault or {})}", log) as step:
                    try:
                        run.fault_run = faults.run(fault, config.hold_s,
                                                   verify_timeout=config.verify_timeout,
                                                   heal_timeout=config.heal_timeout)
                        step.detail = run.fault_run.verified.detail
                    except (FaultNotEffective, FaultRevertedElsewhere) as exc:
                        run.fault_run = exc.run
                        run.fault_error = str(exc)
                        step.status, step.detail = "broken", str(exc)
                    except FaultAborted as exc:
                        run.fault_run = exc.run
                        run.aborted = str(exc)
                        step.status, step.detail = "failed", str(exc)
                        log(f"{config.name}: aborted: {exc}")
            with run.phase("recovery: observe after the fault", log) as step:
                # the steady state after the fault: the second half of observe, and on
                after = step.start + config.observe / 2
                run.after_start = after
                step.detail = _steady_state(
                    watch, slos, lambda: after, config.observe / 2,
                    max_extension=config.max_extension,
                    what="steady state after the fault", nominal="observation",
                    log=lambda m: log(f"{config.name}: {m}"))
    finally:
        load.stop()
        run.load = load.wait()
        receiver.close()
    with run.phase("evaluate SLOs", log):
        _evaluate(run, catalog, log)
        _detect(run, log)
        apply_checks(run, checks)
    run.stopped = time.time()
    return run


class _RequestWatch:
    """The request log of a running load, read incrementally (the load polled meanwhile).

    Each step first calls ``check_owner`` (the fault session's: it raises once the
    ``chaosgate gameday`` that started this process is gone, so a game day whose
    death signal was lost during a revert stops within a step, not at its end).
    """

    def __init__(self, session: LoadSession,
                 check_owner: Callable[[], None] = lambda: None) -> None:
        self.session = session
        self.check_owner = check_owner
        self.records: list[RequestRecord] = []
        self.first: float | None = None  # the earliest request start seen

    def step(self) -> None:
        """One supervision step and the new records; raises if the load stopped early."""
        self.check_owner()
        if not self.session.poll():  # also enforces the run's time bound
            raise ChaosgateError("the load generator stopped early; see its log in "
                                 f"{self.session.spec.out_dir}")
        new = self.session.new_records()
        if new:
            self.records += new
            first = min(r.t for r in new)
            self.first = first if self.first is None else min(self.first, first)


def _steady_state(watch: _RequestWatch, slos: Sequence[SLO], window_start: Callable[[], float],
                  length: float, *, max_extension: float, what: str, nominal: str,
                  log: Callable[[str], None]) -> str:
    """Load until the window ``[window_start(), now)`` has lasted ``length`` seconds and
    :func:`~.gates.steady_state_shortfall` of it is empty, or ``max_extension`` seconds
    more have passed; the phase's detail. ``window_start`` may move while it runs
    (the first request seen), so each check reads it again."""
    extended_from: float | None = None
    while True:
        watch.step()
        now = time.time()
        start = window_start()
        if now >= start + length:
            short = steady_state_shortfall(slos, watch.records, start=start, end=now)
            give_up = now >= start + length + max(max_extension, 0.0)
            if not short or give_up:
                break
            if extended_from is None:
                extended_from = now
                log(f"{what}: only {_counts_text(short)} in {now - start:.1f} s, "
                    f"{MIN_STEADY_REQUESTS} needed for each gate; the {nominal} goes on "
                    f"until there are (at most {max_extension:g} s more)")
        time.sleep(0.25)
    counts = steady_state_counts(slos, watch.records, start=start, end=now)
    detail = f"{now - start:.1f} s of steady state: {_counts_text(counts)}"
    if extended_from is not None:
        detail += (f"; extended {now - start - length:.1f} s past the {length:g} s {nominal} "
                   "for lack of requests")
    if short:
        detail += (f"; still fewer than {MIN_STEADY_REQUESTS} for {', '.join(short)} at the "
                   f"{max_extension:g} s bound: those gates are inconclusive")
        log(f"{what}: {detail}")
    return detail


def _counts_text(counts: Mapping[str, int]) -> str:
    """``412 requests, 48 /api/checkout, ...``: the counts of :func:`steady_state_counts`."""
    return ", ".join(f"{n} requests" if key == STEADY_ALL_REQUESTS else f"{n} {key}"
                     for key, n in counts.items())


def _evaluate(run: GameDayRun, catalog: Catalog, log: Callable[[str], None]) -> None:
    config = run.config
    timeline = run.fault_timeline
    result = evaluate(run.target, catalog, run.records,
                      t_inject=timeline.t_inject if timeline and timeline.t_inject else None,
                      warmup=config.warmup, observe=config.observe,
                      before_end=run.before_end, after_start=run.after_start,
                      recovery_slo=config.recovery_slo, gate_slos=config.gate_slos,
                      max_budget_burn=config.max_budget_burn,
                      budget_period=config.budget_period, log=log,
                      fault_applied=fault_took_hold(config.fault is not None, [timeline]),
                      clock_uncertainty=run.load.clock_uncertainty if run.load else 0.0,
                      t_healed=healed_by([timeline]))
    run.gates += result.gates
    if run.load is not None and run.load.lost_workers:  # the load was short: no verdict on it
        run.gates.append(Gate("load workers", "inconclusive",
                              f"{len(run.load.lost_workers)} lost", "every worker to the end",
                              "; ".join(n.describe() for n in run.load.lost_workers)))
    run.measurement = result.measurement
    run.reported = list(result.reported)


def _admit(target: Target, config: GameDayConfig, catalog: Catalog,
           log: Callable[[str], None]) -> None:
    """Error-budget admission before any load or fault (:func:`chaosgate.faults.stop.admit`):
    Inconclusive ("budget too low") when an SLO has less budget left than the target's
    ``safety.min_error_budget``, unless ``force_budget``."""
    from ..clients.prometheus import PrometheusClient

    if target.safety.min_error_budget is None:
        return
    admit(PrometheusClient.from_config(target.prometheus), catalog,
          minimum=target.safety.min_error_budget, period_s=config.budget_period,
          force=config.force_budget, who=config.name, front_end="pytest", log=log)


def _detect(run: GameDayRun, log: Callable[[str], None]) -> None:
    """Detection gates: the expected alert's time to detect (ALERTS and the notification),
    and, for a baseline, that no alert started firing (:mod:`.detection`)."""
    config = run.config
    baseline = config.fault is None
    if (config.expect_alert is None and not baseline) or not run.records:
        return
    found = detect(run.target, start=min(r.t for r in run.records),
                   end=max(r.end for r in run.records), t_impact=run.t_impact,
                   expect=config.expect_alert, within=config.detect_within, baseline=baseline)
    run.gates += found.gates
    if config.expect_alert is not None:
        run.ttd = found.ttd_alert
    for gate in found.gates:
        log(f"{config.name}: {gate.name}: {gate.value} ({gate.status})")


def _stop_watch(target: Target, config: GameDayConfig, catalog: Catalog,
                since: float) -> StopWatch | None:
    """The game day's stop conditions: the target's and its own; None without any."""
    from ..clients.prometheus import PrometheusClient

    conditions = [*target.safety.stop_when,
                  *(parse_stop_condition(text, f"game day {config.name!r}", "stop_when")
                    for text in config.stop_when)]
    if not conditions:
        return None
    return StopWatch(conditions, PrometheusClient.from_config(target.prometheus),
                     catalog=catalog, since=since, period_s=config.budget_period)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
