"""What the pytest fixtures hand to custom scenarios: faults, load, SLOs, timelines.

The plugin (:mod:`chaosgate.pytest.plugin`) builds these lazily and owns
their teardown:

- :class:`FaultFactory` (``chaos_fault``): faults from specs
  (:mod:`chaosgate.faults.spec`), injected through the test's
  :class:`~chaosgate.faults.FaultSession`; at teardown the session reverts
  every fault it applied, through its handle or else from the ledger.
- :class:`LoadFactory` (``chaos_load``): bounded open-model Locust sessions
  (Locust always runs as a subprocess); stopped and reaped at teardown.
- :class:`SLOAccess` (``chaos_slo``): the SLO catalogue and the Prometheus client.
- :class:`TimelineHelper` (``chaos_timeline``): both observers' timelines and
  TTR of a custom scenario, and its timeline plot as an Allure attachment.

In a dry run (``--chaos-dry-run``) a fault prints its plan and the test is
skipped; no load is sent, nothing is touched and no ledger entry is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..clients.prometheus import PrometheusClient
from ..faults import AppliedFault, Fault, FaultRun, FaultSession
from ..gameday.evaluation import measure_recovery
from ..load.profiles import find_profile, read_profile
from ..load.requestlog import RequestRecord
from ..load.runner import LoadSession, spec_for_target
from ..slo.check import check_slos
from ..slo.evaluate import SLOVerdict
from ..slo.measure import Measurement
from ..slo.model import Catalog
from ..targets import Target

__all__ = ["FaultFactory", "LoadFactory", "SLOAccess", "TimelineHelper"]


class FaultFactory:
    """``chaos_fault(spec)`` injects a fault and returns it applied and verified."""

    def __init__(self, session: FaultSession, *, dry_run: bool = False,
                 on_plan: Callable[[str], None] = lambda _p: None) -> None:
        self.session = session
        self.dry_run = dry_run
        self.on_plan = on_plan

    def build(self, spec: Mapping[str, Any], source: str = "chaos_fault") -> Fault:
        """The fault ``spec`` describes, not applied."""
        return self.session.build(spec, source=source)

    def _skip_if_dry(self, fault: Fault) -> None:
        if self.dry_run:
            plan = fault.plan().removeprefix("[dry-run] ")
            self.on_plan(plan)
            pytest.skip(f"dry run: {plan}")

    def __call__(self, spec: Mapping[str, Any], *, verify_timeout: float = 30.0) -> AppliedFault:
        """Inject ``spec`` (ledger first) and verify it took hold; revert and raise
        :class:`~chaosgate.exceptions.FaultNotEffective` when it did not."""
        fault = self.build(spec)
        self._skip_if_dry(fault)
        return self.session.inject(fault, verify_timeout=verify_timeout)

    def run(self, spec: Mapping[str, Any], duration: float, *, verify_timeout: float = 30.0,
            heal_timeout: float = 120.0) -> FaultRun:
        """Inject, verify, hold ``duration`` s, revert and wait healed."""
        fault = self.build(spec)
        self._skip_if_dry(fault)
        return self.session.run(fault, duration, verify_timeout=verify_timeout,
                                heal_timeout=heal_timeout)


@dataclass
class LoadFactory:
    """``chaos_load(duration)`` starts a bounded open-model load session and returns it."""

    target: Target
    out_dir: Path
    profile: str | None = None
    rate: float | None = None
    dry_run: bool = False
    sessions: list[LoadSession] = field(default_factory=list)

    def __call__(self, duration: float, *, rate: float | None = None,
                 profile: str | None = None, **options: Any) -> LoadSession:
        """Start ``duration`` seconds of load (``rate`` arrivals/s; the profile's by default).

        ``options`` are :class:`~chaosgate.load.command.LoadSpec` fields. Call
        ``.wait()`` on the session for the :class:`~chaosgate.load.run.LoadRun`.
        """
        if self.dry_run:
            pytest.skip("dry run: no load is sent")
        prof = read_profile(find_profile(profile or self.profile or "open", Path.cwd(),
                                         self.target.source))
        chosen = rate or self.rate
        if chosen is not None:
            options["rate"] = chosen
        options.setdefault("front_end", "pytest")
        spec = spec_for_target(self.target, prof, duration, out_root=self.out_dir / "load",
                               **options)
        session = LoadSession(spec, show_progress=False)
        self.sessions.append(session)
        session.start()
        return session

    def close(self) -> None:
        """Teardown: stop every session still running and reap its processes."""
        for session in self.sessions:
            if session.running:
                session.stop()
            session.wait()


@dataclass
class SLOAccess:
    """``chaos_slo``: the SLO catalogue and the target's Prometheus client."""

    catalog: Catalog
    prometheus: PrometheusClient

    def check(self, names: Iterable[str] = (), *, window: float | None = None,
              at: float | None = None) -> list[SLOVerdict]:
        """Server-side verdicts of the named ratio SLOs (all by default) over ``window`` s."""
        chosen = self.catalog.select(names) if names else list(self.catalog)
        return check_slos(self.prometheus, chosen, window=window, at=at)


@dataclass
class TimelineHelper:
    """``chaos_timeline``: timelines and TTR of a custom scenario, and its plot."""

    target: Target
    slo: SLOAccess

    def measure(self, records: Sequence[RequestRecord], *, t_inject: float,
                recovery_slo: str = "time-to-recover",
                t_healed: float | None = None) -> Measurement:
        """Both observers' timelines of ``recovery_slo`` from ``t_inject`` (TTR, verdicts);
        ``t_healed`` (the fault's ``healed_at``) bounds which incident is the fault's."""
        if not records:
            raise ValueError("no requests to measure: run load with chaos_load first")
        start, end = min(r.t for r in records), max(r.end for r in records)
        recovery = self.slo.catalog.get(recovery_slo)
        return measure_recovery(recovery, self.slo.catalog, self.slo.prometheus, records,
                                t_inject, start, end, self.target.prometheus.scrape_interval,
                                fail_within=self.target.prometheus.fail_within,
                                t_healed=t_healed)

    def attach_plot(self, records: Sequence[RequestRecord], measurement: Measurement, *,
                    t_revert: float, title: str = "") -> bytes | None:
        """Draw the timeline plot, attach it to the Allure report, return the PNG."""
        from ..report.allure_pytest import attach_timeline
        from ..report.model import marks_from_timeline

        timeline = measurement.client or measurement.server
        if timeline is None:
            return None
        return attach_timeline(records, marks_from_timeline(timeline, t_revert=t_revert),
                               title=title)
