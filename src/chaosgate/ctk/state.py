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
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..exceptions import UsageError
from ..faults import AppliedFault, FaultSession, ledger_for
from ..load.requestlog import RequestRecord, read_request_log
from ..load.run import LoadRun
from ..load.runner import LoadSession
from ..platforms import Platform, platform_for
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
    aborted: str = ""  # a stop condition tripped during a held action: which, and when
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

    def session(self, configuration: Mapping[str, Any] | None) -> FaultSession:
        """The run's fault session on the configured target and ledger (built once)."""
        if self.fault_session is None:
            settings = self.settings(configuration)
            target, platform = self._target_and_platform(configuration)
            stop = None
            if target.safety.stop_when:  # the target's stop conditions, for held actions
                from ..clients.prometheus import PrometheusClient
                from ..faults.stop import StopWatch
                from ..slo.catalog import load_catalog

                catalog = load_catalog(settings.catalog) \
                    if any(c.kind == "burn" for c in target.safety.stop_when) else None
                stop = StopWatch(target.safety.stop_when,
                                 PrometheusClient.from_config(target.prometheus),
                                 catalog=catalog, since=self.started)
            self.fault_session = FaultSession(target, platform,
                                              ledger_for(target, settings.ledger, "chaos run"),
                                              seed=settings.seed, log=log.info,
                                              owner="chaosgate ledger control",
                                              front_end="chaos run", stop=stop)
        return self.fault_session

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
        if self.interrupted_by is None:
            self.interrupted_by = signum
            log.warning("chaosgate: %s: the run is interrupted (inconclusive)",
                        signal.Signals(signum).name)
        previous = self._watched.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
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


_RUN: list[RunState] = [RunState()]


def current() -> RunState:
    """This process's run."""
    return _RUN[0]


def reset() -> RunState:
    """Start a fresh run state (one process runs one experiment; tests run several)."""
    _RUN[0] = RunState()
    return _RUN[0]
