"""One fault, both observers: timelines per SLO, their comparison and verdicts. Pure.

This is what scenarios, experiments and ``bench/measurement`` call after a
fault, with the fault's ground truth (``t_inject``), the request log, and the
server-side bins read by :func:`chaosgate.slo.check.fetch_bins`::

    catalog = load_catalog("probes")
    slo = catalog.get("time-to-recover")
    bins = {s.name: fetch_bins(prom, s, start, end, scrape) for s in timeline_slos(slo, catalog)}
    m = measure(slo, catalog, t_inject=t0, records=log, bins=bins, scrape_interval=scrape)
    m.client.ttr, m.server.ttr, m.disagreements, m.verdicts

For a ratio SLO the timeline is its own; for a ``recovery`` SLO it merges
the timelines of the SLOs it names (impacted from the first impact,
recovered when the last one is back), with the recovery SLO's hold-down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..load.requestlog import RequestRecord
from .catalog import SLO, Catalog
from .counters import Bin
from .evaluate import SLOVerdict, recovery_verdict, request_judge
from .timeline import (
    Disagreement,
    Estimate,
    Timeline,
    client_timeline,
    compare,
    merge_timelines,
)
from .timeline import server_timeline as _server_timeline

__all__ = [
    "Measurement",
    "client_timeline_for",
    "measure",
    "server_timeline_for",
    "timeline_slos",
]


def timeline_slos(slo: SLO, catalog: Catalog) -> list[SLO]:
    """The ratio SLOs whose timelines make up ``slo``'s (itself, or a recovery SLO's ``of``)."""
    return [catalog.get(name) for name in slo.of] if slo.type == "recovery" else [slo]


def _hold_down(slo: SLO, hold_down: float | None) -> float:
    return hold_down if hold_down is not None else slo.hold_down


def client_timeline_for(slo: SLO, catalog: Catalog, records: Iterable[RequestRecord], *,
                        t_inject: float, t_end: float | None = None,
                        hold_down: float | None = None,
                        clock_uncertainty: float = 0.0) -> Timeline:
    """The request log's timeline of ``slo`` (SLOs without a client reading are left out).

    ``clock_uncertainty``: seconds a record's start may be off the harness's
    clock (a distributed run's worker clock offsets,
    :attr:`chaosgate.load.run.LoadRun.clock_uncertainty`); it widens every
    edge's bounds beside the log's millisecond resolution."""
    log = list(records)
    parts = [
        client_timeline(log, t_inject=t_inject, judge=request_judge(s), objective=s.objective,
                        hold_down=_hold_down(slo, hold_down), detect_window=s.window,
                        t_end=t_end, slos=(s.name,), resolution=0.001 + clock_uncertainty)
        for s in timeline_slos(slo, catalog) if s.type != "ratio"
    ]
    if not parts:
        raise ValueError(f"SLO {slo.name!r} cannot be read from a request log")
    return merge_timelines(parts)


def server_timeline_for(slo: SLO, catalog: Catalog, bins: Mapping[str, Sequence[Bin]], *,
                        t_inject: float, scrape_interval: float, t_end: float | None = None,
                        hold_down: float | None = None,
                        t_alert: Estimate | None = None) -> Timeline:
    """Prometheus' timeline of ``slo`` from ``bins`` (SLO name -> its bins)."""
    parts = [
        _server_timeline(bins.get(s.name, ()), t_inject=t_inject, objective=s.objective,
                         scrape_interval=scrape_interval, hold_down=_hold_down(slo, hold_down),
                         detect_window=s.window, t_end=t_end, slos=(s.name,))
        for s in timeline_slos(slo, catalog)
    ]
    timeline = merge_timelines(parts)
    if t_alert is not None:
        timeline = replace(timeline, t_alert=t_alert)
    return timeline


@dataclass(frozen=True)
class Measurement:
    """Both observers' timelines of one fault for one SLO, and what they disagree on."""

    slo: str
    client: Timeline | None
    server: Timeline | None
    disagreements: tuple[Disagreement, ...] = ()
    verdicts: tuple[SLOVerdict, ...] = field(default=())


def measure(slo: SLO, catalog: Catalog, *, t_inject: float,
            records: Iterable[RequestRecord] | None = None,
            bins: Mapping[str, Sequence[Bin]] | None = None, scrape_interval: float = 1.0,
            t_end: float | None = None, hold_down: float | None = None,
            t_alert: Estimate | None = None, clock_uncertainty: float = 0.0) -> Measurement:
    """Timelines of ``slo`` from the request log and/or the server bins, compared.

    ``verdicts`` holds the recovery verdict of each observer when ``slo`` is
    a ``recovery`` SLO (ratio SLOs are judged on counts, not timelines).
    """
    client = server = None
    if records is not None:
        client = client_timeline_for(slo, catalog, records, t_inject=t_inject, t_end=t_end,
                                     hold_down=hold_down, clock_uncertainty=clock_uncertainty)
    if bins is not None:
        server = server_timeline_for(slo, catalog, bins, t_inject=t_inject,
                                     scrape_interval=scrape_interval, t_end=t_end,
                                     hold_down=hold_down, t_alert=t_alert)
    disagreements = tuple(compare(client, server)) if client and server else ()
    verdicts: tuple[SLOVerdict, ...] = ()
    if slo.type == "recovery":
        verdicts = tuple(recovery_verdict(slo, tl) for tl in (client, server) if tl is not None)
    return Measurement(slo.name, client, server, disagreements, verdicts)
