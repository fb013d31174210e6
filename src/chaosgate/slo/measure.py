"""One fault, both observers: timelines per SLO, their comparison and verdicts. Pure.

This is what scenarios, experiments and ``bench/measurement`` call after a
fault, with the fault's ground truth (``t_inject``), the request log, and the
server-side bins read by :func:`chaosgate.slo.check.fetch_bins`::

    catalog = load_catalog("probes")
    slo = catalog.get("time-to-recover")
    bins = {s.name: fetch_bins(prom, s, start, end, scrape) for s in timeline_slos(slo, catalog)}
    m = measure(slo, catalog, t_inject=t0, records=log, bins=bins, scrape_interval=scrape)
    m.client.ttr, m.server.ttr, m.disagreements, m.verdicts

For a ratio SLO the timeline is its own; for a ``recovery`` SLO it is the
incident of the SLOs it names together (:mod:`.incidents`: impacted while
any of them is, a request counted once), with the recovery SLO's hold-down.
``t_inject`` is only the hint that picks the fault's incident;
``fail_within`` is how long a request may take to fail (the server side's
bounds reach back that much).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..load.requestlog import RequestRecord
from .catalog import SLO, Catalog
from .counters import Bin
from .evaluate import SLOVerdict, recovery_verdict, request_judge
from .incidents import Covered
from .timeline import (
    Disagreement,
    Estimate,
    Timeline,
    client_timeline_of,
    compare,
    server_timeline_of,
)

__all__ = [
    "Measurement",
    "client_timeline_for",
    "covered",
    "measure",
    "server_timeline_for",
    "timeline_slos",
]


def timeline_slos(slo: SLO, catalog: Catalog) -> list[SLO]:
    """The SLOs whose timelines make up ``slo``'s (itself, or a recovery SLO's ``of``: ratio
    and gauge_bound SLOs)."""
    return [catalog.get(name) for name in slo.of] if slo.type == "recovery" else [slo]


def _hold_down(slo: SLO, hold_down: float | None) -> float:
    return hold_down if hold_down is not None else slo.hold_down


def covered(slo: SLO, catalog: Catalog, *, client: bool) -> list[Covered]:
    """The SLOs behind ``slo``'s timeline as the incident finder reads them (client side:
    those the request log can judge). A gauge_bound SLO's samples are its events, each
    bad above the threshold, and every one must be within it (objective 1)."""
    return [Covered(s.name, 1.0 if s.type == "gauge_bound" else s.objective,
                    request_judge(s) if client else None)
            for s in timeline_slos(slo, catalog) if not client or s.client_readable]


def client_timeline_for(slo: SLO, catalog: Catalog, records: Iterable[RequestRecord], *,
                        t_inject: float, t_end: float | None = None,
                        hold_down: float | None = None,
                        clock_uncertainty: float = 0.0,
                        t_healed: float | None = None) -> Timeline:
    """The request log's timeline of ``slo`` (SLOs without a client reading are left out).

    ``clock_uncertainty``: seconds a record's start may be off the harness's
    clock (a distributed run's worker clock offsets,
    :attr:`chaosgate.load.run.LoadRun.clock_uncertainty`); it widens every
    edge's bounds beside the log's millisecond resolution."""
    parts = covered(slo, catalog, client=True)
    if not parts:
        raise ValueError(f"SLO {slo.name!r} cannot be read from a request log")
    windows = {s.name: s.window for s in timeline_slos(slo, catalog)}
    return client_timeline_of(records, parts, t_inject=t_inject,
                              hold_down=_hold_down(slo, hold_down), detect_windows=windows,
                              t_end=t_end, resolution=0.001 + clock_uncertainty,
                              t_healed=t_healed)


def server_timeline_for(slo: SLO, catalog: Catalog, bins: Mapping[str, Sequence[Bin]], *,
                        t_inject: float, scrape_interval: float, t_end: float | None = None,
                        hold_down: float | None = None, fail_within: float = 0.0,
                        t_alert: Estimate | None = None,
                        t_healed: float | None = None) -> Timeline:
    """Prometheus' timeline of ``slo`` from ``bins`` (SLO name -> its bins)."""
    windows = {s.name: s.window for s in timeline_slos(slo, catalog)}
    return server_timeline_of(bins, covered(slo, catalog, client=False), t_inject=t_inject,
                              scrape_interval=scrape_interval, fail_within=fail_within,
                              hold_down=_hold_down(slo, hold_down), detect_windows=windows,
                              t_end=t_end, t_alert=t_alert, t_healed=t_healed)


@dataclass(frozen=True)
class Measurement:
    """Both observers' timelines of one fault for one SLO, and what they disagree on."""

    slo: str
    client: Timeline | None
    server: Timeline | None
    disagreements: tuple[Disagreement, ...] = ()
    verdicts: tuple[SLOVerdict, ...] = field(default=())

    @property
    def timelines(self) -> tuple[Timeline, ...]:
        """The observers' timelines, the request log's first (the one every figure prefers)."""
        return tuple(tl for tl in (self.client, self.server) if tl is not None)

    @property
    def t_impact(self) -> float | None:
        """When the impact began: the request log's estimate, else Prometheus'."""
        return next((float(tl.t_impact.t) for tl in self.timelines
                     if tl.t_impact is not None), None)


def measure(slo: SLO, catalog: Catalog, *, t_inject: float,
            records: Iterable[RequestRecord] | None = None,
            bins: Mapping[str, Sequence[Bin]] | None = None, scrape_interval: float = 1.0,
            t_end: float | None = None, hold_down: float | None = None,
            fail_within: float = 0.0, t_alert: Estimate | None = None,
            clock_uncertainty: float = 0.0, t_healed: float | None = None) -> Measurement:
    """Timelines of ``slo`` from the request log and/or the server bins, compared.

    The request log is left out when it can judge none of the SLOs behind
    ``slo`` (a recovery of a gauge_bound SLO alone is the server's only).
    ``t_healed``: when the fault was healed (reverted, or seen healed), which bounds
    the incident that is the fault's (:func:`~.incidents.incident_at`).

    ``verdicts`` holds the recovery verdict of each observer when ``slo`` is
    a ``recovery`` SLO (ratio SLOs are judged on counts, not timelines).
    """
    client = server = None
    if records is not None and covered(slo, catalog, client=True):
        client = client_timeline_for(slo, catalog, records, t_inject=t_inject, t_end=t_end,
                                     hold_down=hold_down, clock_uncertainty=clock_uncertainty,
                                     t_healed=t_healed)
    if bins is not None:
        server = server_timeline_for(slo, catalog, bins, t_inject=t_inject,
                                     scrape_interval=scrape_interval, t_end=t_end,
                                     hold_down=hold_down, fail_within=fail_within,
                                     t_alert=t_alert, t_healed=t_healed)
    disagreements = tuple(compare(client, server)) if client and server else ()
    verdicts: tuple[SLOVerdict, ...] = ()
    if slo.type == "recovery":
        verdicts = tuple(recovery_verdict(slo, tl) for tl in (client, server) if tl is not None)
    return Measurement(slo.name, client, server, disagreements, verdicts)
