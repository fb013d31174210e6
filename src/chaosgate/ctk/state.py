"""What one ``chaos run`` shares between chaosgate's actions, probes and controls.

Chaos Toolkit runs an experiment in one process and calls activities and
control hooks as plain functions, so they share a process-wide
:class:`RunState` (:func:`current`): the target, every fault the actions
applied (the run's :class:`~chaosgate.faults.FaultSession`, with each
fault's timeline: ``t_inject``, ground truth), the running load session of
the ``load`` control, the actions that failed, and the first SIGINT/SIGTERM
the run received (:meth:`RunState.watch_signals`: Chaos Toolkit's own
handlers still act; the ``slo`` control then judges the run interrupted,
inconclusive, exit 130/143). Nothing here holds a secret.

The session also knows its faults' write-ahead ledger entries; the
``ledger`` control reverts through it, so a fault is undone even when its
handle was lost.

Safety (:meth:`RunState.admit`, once, in the first control's
``before_experiment`` and again before the first fault): the error-budget
admission (``safety.min_error_budget``; ``chaosgate_force`` overrides) and
a first look at the stop conditions (``chaosgate_stop_when``, else the
target's ``safety.stop_when``); refused, the run is :attr:`RunState.refused`
(inconclusive, "budget too low") or :attr:`RunState.aborted` (a condition
already true), and nothing is applied. While any fault of the run is applied
(a held action's, or one a non-blocking action left across pauses and
probes), a watcher thread (:meth:`RunState.watch_faults`) checks the stop
conditions every half second; the first that trips (:meth:`RunState.abort`)
reverts every fault of the run at once and ends the run as Chaos Toolkit's
graceful exit does (its SIGUSR1: the rollbacks still play): the verdict is
``aborted``, exit code 4. A notification receiver
(:meth:`RunState.start_receiver`) records the alerts delivered during the run
for the time to detect.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from chaoslib.exceptions import InterruptExecution

from ..clients.prometheus import PrometheusClient
from ..exceptions import FaultAborted, Inconclusive, UsageError
from ..faults import AppliedFault, FaultSession, ledger_for
from ..faults.session import STOP_CHECK_EVERY
from ..faults.stop import StopWatch, Tripped, admit
from ..faults.timeline import format_clock
from ..frontends import option
from ..gameday.detection import receiver as detection_receiver
from ..gameday.gates import DEFAULT_BUDGET_PERIOD as BUDGET_PERIOD
from ..load.requestlog import RequestRecord, read_request_log
from ..load.run import LoadRun
from ..load.runner import LoadSession
from ..platforms import Platform, platform_for
from ..slo.catalog import load_catalog
from ..targets import Target, load_target
from .config import Settings, settings_from

__all__ = ["LoadInfo", "RunState", "current", "log", "reset"]

#: Chaos Toolkit's logger: what chaosgate says shows in ``chaos run``'s output and log.
log = logging.getLogger("chaostoolkit")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SETTLE = 0.5  # seconds after the request timeout before a request's record is surely written


@dataclass(frozen=True)
class LoadInfo:
    """How the ``load`` control drives the run (read by probes and the ``slo`` control)."""

    rate: float
    profile: str
    warmup: float
    duration: float
    request_timeout: float = 2.0

    def to_json(self) -> dict[str, Any]:
        """Plain data for the journal."""
        return dict(self.__dict__)


@dataclass
class RunState:
    """The state of this process's run (see the module doc)."""

    started: float = field(default_factory=time.time)
    fault_session: FaultSession | None = None  # built by the first action that needs it
    errors: list[str] = field(default_factory=list)  # faults that did not take hold or heal
    problems: list[str] = field(default_factory=list)  # controls that could not do their work
    load: LoadSession | None = None
    load_info: LoadInfo | None = None
    load_run: LoadRun | None = None  # the finished load run (the load control waited for it)
    configuration: Mapping[str, Any] | None = None  # as the controls last saw it
    interrupted_by: int | None = None  # the first SIGINT/SIGTERM seen (watch_signals)
    aborted: str = ""  # a stop condition tripped while a fault was applied: which, and when
    tripped: dict[str, Any] | None = None  # the stop condition that tripped, for the journal
    refused: str = ""  # the error-budget admission refused the run (nothing applied)
    detection: dict[str, Any] | None = None  # the slo control's time to detect
    _admitted: bool = field(default=False, repr=False)
    _stop: StopWatch | None = field(default=None, repr=False)
    _watcher: threading.Thread | None = field(default=None, repr=False)
    _ending: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _receiver: ExitStack | None = field(default=None, repr=False)
    _watched: dict[int, Any] = field(default_factory=dict, repr=False)  # signal -> previous
    _targets: dict[Path, tuple[Target, Platform]] = field(default_factory=dict, repr=False)

    def settings(self, configuration: Mapping[str, Any] | None) -> Settings:
        """The run's settings (configuration, environment, defaults)."""
        return settings_from(configuration)

    def target(self, configuration: Mapping[str, Any] | None) -> Target:
        """The target the configuration names (loaded once per path)."""
        return self._target_and_platform(configuration)[0]

    def platform(self, configuration: Mapping[str, Any] | None) -> Platform:
        """The target's platform (built once per target path)."""
        return self._target_and_platform(configuration)[1]

    def _target_and_platform(self, configuration: Mapping[str, Any] | None
                             ) -> tuple[Target, Platform]:
        settings = self.settings(configuration)
        path = settings.target.resolve()
        if path not in self._targets:
            target = load_target(path)
            # the children this run starts (Locust, hogs) are recorded beside the target's
            # ledger, where `chaosgate cleanup --target` looks, from whatever folder
            ledger_for(target, settings.ledger, "chaos run")
            self._targets[path] = (target, platform_for(target))
        return self._targets[path]

    def stop_watch(self, configuration: Mapping[str, Any] | None) -> StopWatch | None:
        """The run's stop conditions (``chaosgate_stop_when``, else the target's
        ``safety.stop_when``), built once; None without any."""
        if self._stop is None:
            settings = self.settings(configuration)
            target = self.target(configuration)
            conditions = target.safety.stop_when if settings.stop_when is None \
                else settings.stop_when
            if not conditions:
                return None
            catalog = load_catalog(settings.catalog, option=option("catalog", "chaos run")) \
                if any(c.kind == "burn" for c in conditions) else None
            self._stop = StopWatch(conditions, PrometheusClient.from_config(target.prometheus),
                                   catalog=catalog, since=self.started)
        return self._stop

    def admit(self, configuration: Mapping[str, Any] | None) -> str:
        """Before anything is applied (once per run): the error-budget admission, then one
        look at every stop condition. Returns why the run may not start ('' : it may):
        :attr:`refused` (budget too low, inconclusive) or :attr:`aborted` (a condition
        already true). A bad condition or catalogue raises UsageError (exit 2)."""
        if self._admitted:
            return self.refused or self.aborted
        settings = self.settings(configuration)
        target = self.target(configuration)
        if target.safety.min_error_budget is not None:
            try:
                admit(PrometheusClient.from_config(target.prometheus),
                      load_catalog(settings.catalog, option=option("catalog", "chaos run")),
                      minimum=target.safety.min_error_budget, period_s=BUDGET_PERIOD,
                      force=settings.force, who="chaos run", front_end="chaos run",
                      log=log.info)
            except Inconclusive as exc:
                self.refused = str(exc)
        stop = None if self.refused else self.stop_watch(configuration)
        if stop:
            try:
                stop.preflight()
            except FaultAborted as exc:
                self.aborted = str(exc)
                self.tripped = _tripped_json(exc.tripped, None, [])
            else:
                log.info("chaosgate: stop conditions (checked every 0.5 s while a fault is "
                         "applied): %s", "; ".join(str(c) for c in stop.conditions))
        self._admitted = True
        if self.refused or self.aborted:
            log.error("chaosgate: %s", self.refused or self.aborted)
        return self.refused or self.aborted

    def session(self, configuration: Mapping[str, Any] | None) -> FaultSession:
        """The run's fault session on the configured target and ledger (built once, after
        :meth:`admit`; a run refused there raises instead: nothing is applied)."""
        if self.fault_session is None:
            why = self.admit(configuration)
            if why:
                raise Inconclusive(why) if self.refused else FaultAborted(why)
            settings = self.settings(configuration)
            target, platform = self._target_and_platform(configuration)
            self.fault_session = FaultSession(target, platform,
                                              ledger_for(target, settings.ledger, "chaos run"),
                                              seed=settings.seed, log=log.info,
                                              owner="chaosgate ledger control",
                                              front_end="chaos run",
                                              stop=self.stop_watch(configuration))
        return self.fault_session

    def stop_watch_if_built(self) -> StopWatch | None:
        """The run's stop conditions, when :meth:`stop_watch` built them (never loads the
        target: for the journal)."""
        return self._stop

    def cut_short(self, journal: Mapping[str, Any] | None) -> bool:
        """Whether the run was interrupted by a signal or Chaos Toolkit (an abort's own
        interruption does not count: the run is judged, its verdict aborted)."""
        if self.interrupted_by is not None:
            return True
        status = (journal or {}).get("status") if isinstance(journal, Mapping) else None
        return status == "interrupted" and not (self.aborted or self.refused)

    def check_may_apply(self) -> None:
        """Raise when no new fault may be applied: the run was refused (Inconclusive) or
        aborted (FaultAborted: a stop condition tripped or was true before the run)."""
        if self.refused:
            raise Inconclusive(self.refused)
        if self.aborted:
            raise FaultAborted(f"no new fault after the run was aborted: {self.aborted}")

    # -- stop conditions while any fault is applied --------------------------------
    def watch_faults(self) -> None:
        """Start (once) the thread that checks the stop conditions every
        :data:`~chaosgate.faults.session.STOP_CHECK_EVERY` s while any fault of the run is
        applied; a trip calls :meth:`abort`."""
        session = self.fault_session
        if session is None or not session.stop or self._watcher is not None \
                or self._ending.is_set():
            return
        self._watcher = threading.Thread(target=self._watch, args=(session,), daemon=True,
                                         name="chaosgate-stop-conditions")
        self._watcher.start()

    def _watch(self, session: FaultSession) -> None:
        stop = session.stop
        while stop is not None and not self._ending.is_set() and not self.aborted:
            if session.still_applied():
                try:
                    tripped = stop.check()
                except Exception as exc:  # a query Prometheus refused mid-run: not safe
                    tripped = Tripped(stop.conditions[0], time.time(),
                                      f"could not be checked: {exc}")
                if tripped is not None:
                    self.abort(tripped)
                    return
            self._ending.wait(STOP_CHECK_EVERY)

    def abort(self, tripped: Tripped) -> None:
        """A stop condition tripped: revert every fault of the run at once (no healing
        wait), note which condition and when, and end the run (Chaos Toolkit's graceful
        exit: the rollbacks and the ``after_experiment`` hooks still run) unless it is
        already ending. Once per run; from the watcher or a held action."""
        with self._lock:
            if self.aborted and self.tripped is not None:
                return
            session = self.fault_session
            report = session.revert_all(wait=False) if session is not None else None
            t_reverted = time.time()
            reverted = report.reverted if report is not None else []
            self.tripped = _tripped_json(tripped, t_reverted, reverted)
            self.aborted = (f"{tripped} at {format_clock(tripped.t)} UTC: every fault of "
                            f"the run was reverted {max(t_reverted - tripped.t, 0.0):.2f} s "
                            f"later ({', '.join(reverted) or 'none was applied'}) and the run "
                            "is aborted. Fix: look at what the system did (the condition was "
                            f"given in {tripped.condition.source or 'the run'}); run it again "
                            "when it is healthy, with a smaller fault")
            ending = self._ending.is_set()
        log.error("chaosgate: %s", self.aborted)
        for line in report.problems if report is not None else ():
            log.error("chaosgate: could not revert %s; run `chaosgate cleanup`", line)
        if not ending:
            _end_run()

    def stop_watching(self) -> None:
        """The method and rollbacks are over (an ``after_experiment`` hook runs): the
        watcher stops (the ledger control reverts what is left) and a trip no longer ends
        the run."""
        self._ending.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=10)

    # -- the notification receiver ------------------------------------------------
    def start_receiver(self, configuration: Mapping[str, Any] | None) -> None:
        """Run chaosgate's notification receiver (sandbox targets) until
        :meth:`stop_receiver`; once per run."""
        if self._receiver is None:
            self._receiver = detection_receiver(self.target(configuration))

    def stop_receiver(self) -> None:
        """Stop the receiver, if it runs (idempotent)."""
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.close()

    def watch_signals(self) -> None:
        """Note the first SIGINT/SIGTERM in :attr:`interrupted_by`, then let the handler
        in place (Chaos Toolkit's) act as before. Main thread only; once per run."""
        if self._watched or threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            self._watched[sig] = signal.signal(sig, self._note_signal)

    def unwatch_signals(self) -> None:
        """Put back the handlers :meth:`watch_signals` wrapped (where still ours)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._watched.items():
            if signal.getsignal(sig) == self._note_signal:
                signal.signal(sig, previous)
        self._watched.clear()

    def _note_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted_by is None and not self.aborted:  # an abort's own interrupt
            self.interrupted_by = signum
            log.warning("chaosgate: %s: the run is interrupted (inconclusive)",
                        signal.Signals(signum).name)
        previous = self._watched.get(signum, signal.SIG_DFL)
        if callable(previous):
            try:
                previous(signum, frame)
            except InterruptExecution as exc:
                # Chaos Toolkit's SIGTERM handler raises an Exception, which a probe loop's
                # `except Exception` (a fault's verification) would swallow: the run went on
                # with the fault applied. KeyboardInterrupt ends it as interrupted all the same.
                raise KeyboardInterrupt(str(exc)) from exc
        elif previous == signal.SIG_DFL:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    @property
    def faults(self) -> list[AppliedFault]:
        """Every fault this run applied, oldest first (reverted ones too)."""
        return [] if self.fault_session is None else list(self.fault_session.faults)

    @property
    def t_inject(self) -> float | None:
        """When the run's first fault was applied (None: no fault yet)."""
        return None if self.fault_session is None else self.fault_session.t_inject

    @property
    def t_healed(self) -> float | None:
        """When the run's last fault was over (None: none yet, or one still applied)."""
        from ..faults.timeline import healed_by

        return healed_by(a.timeline for a in self.faults)

    def problem(self, what: str, exc: BaseException) -> str:
        """Record (and log) that a control could not do its work: the run is inconclusive."""
        text = f"{what}: {type(exc).__name__}: {exc}"
        log.error("chaosgate: %s", text)
        self.problems.append(text)
        return text

    @property
    def request_log(self) -> Path | None:
        """The load control's request log, when it runs one."""
        return None if self.load is None else self.load.spec.request_log

    def records(self, until: float | None = None, *,
                server_observer: bool = False) -> list[RequestRecord]:
        """The request log so far (requests started before ``until``), by start time.

        ``server_observer``: the probe asking takes ``observer: server`` (Prometheus
        instead of the request log), so the fix may suggest it."""
        path = self.request_log
        if path is None:
            other = ", or pass the probe observer: server" if server_observer else ""
            raise UsageError("no request log: this probe reads the load the `load` control "
                             "drives. Fix: add chaosgate.ctk.controls.load to the experiment's "
                             f"controls{other}")
        if self.load is not None and self.load_run is None and self.load.procs:
            self.load.poll()  # keep the run bounded (deadline) while nobody waits on it
        if not path.exists():
            return []
        found = [r for r in read_request_log(path) if until is None or r.t < until]
        return sorted(found, key=lambda r: r.t)

    def settle(self) -> float:
        """Wait until every request started by now has its record; return that 'now'."""
        now = time.time()
        timeout = self.load_info.request_timeout if self.load_info else 2.0
        time.sleep(timeout + SETTLE)
        return now


def _tripped_json(tripped: Tripped | None, t_reverted: float | None,
                  reverted: list[str]) -> dict[str, Any]:
    """The journal's record of the stop condition that tripped."""
    if tripped is None:
        return {}
    return {"condition": str(tripped.condition), "kind": tripped.condition.kind,
            "source": tripped.condition.source, "t": tripped.t,
            "at": f"{format_clock(tripped.t)} UTC", "seen": tripped.seen,
            "t_reverted": t_reverted, "reverted": reverted,
            "reverted_after_s": None if t_reverted is None else max(t_reverted - tripped.t, 0.0)}


def _end_run() -> None:
    """End the run from another thread as Chaos Toolkit's graceful exit does: SIGUSR1 to
    this process, whose handler (Chaos Toolkit's, during a run) raises SystemExit(20) in
    the main thread; the rollbacks and the controls' ``after_experiment`` still run.
    Without that handler (a run started from Python), KeyboardInterrupt in the main thread."""
    handler = signal.getsignal(signal.SIGUSR1)
    if callable(handler) and getattr(handler, "__module__", "") == "chaoslib.exit":
        os.kill(os.getpid(), signal.SIGUSR1)
    else:
        _thread.interrupt_main()


_RUN: list[RunState] = [RunState()]


def current() -> RunState:
    """This process's run."""
    return _RUN[0]


def reset() -> RunState:
    """Start a fresh run state (one process runs one experiment; tests run several); the
    old one's watcher and receiver are stopped."""
    _RUN[0].stop_watching()
    _RUN[0].stop_receiver()
    _RUN[0] = RunState()
    return _RUN[0]
