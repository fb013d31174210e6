"""What the Chaos Toolkit probes measure, from either observer.

- **client**: the request log of the load the ``load`` control drives
  (exact counts and percentiles, millisecond edges). A window ends when the
  probe is called; the probe first waits one request timeout so that every
  request started in the window has its record.
- **server**: Prometheus, through the SLO catalogue's PromQL (counts over
  the window) and the raw counters (timelines).
- **auto**: client when the ``load`` control runs, else server.

No data is never a pass: a window without a single event of an SLO raises
:class:`~chaosgate.exceptions.Inconclusive`, which fails the probe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import Inconclusive, UsageError
from ..frontends import option
from ..load.requestlog import RequestRecord
from ..slo.catalog import load_catalog
from ..slo.check import check_slos, fetch_bins
from ..slo.evaluate import SLOVerdict, client_blind_spot, records_verdicts
from ..slo.measure import measure, timeline_slos
from ..slo.model import SLO, WINDOW_FIX, Catalog, window_problem
from ..slo.timeline import Timeline
from .config import prometheus_client
from .state import current, log

__all__ = ["OBSERVERS", "catalog", "observer_of", "recovery", "verdicts", "window_records"]

OBSERVERS = ("auto", "client", "server")
POLL = 1.0  # seconds between two looks at a recovery in progress


def catalog(configuration: Mapping[str, Any] | None) -> Catalog:
    """The SLO catalogue the configuration names (``chaosgate_catalog``)."""
    return load_catalog(current().settings(configuration).catalog,
                        option=option("catalog", "chaos run"))


def observer_of(observer: str) -> str:
    """``client`` or ``server``: ``auto`` is client when the load control runs."""
    if observer not in OBSERVERS:
        raise UsageError(f"observer: {observer!r} is not an observer. Fix: use one of "
                         + ", ".join(OBSERVERS))
    if observer == "auto":
        return "client" if current().request_log is not None else "server"
    return observer


def _check_window(window: float) -> None:
    """UsageError (exit 2) naming the probe's ``window`` argument when it is out of bounds."""
    problem = window_problem(window)
    if problem is not None:
        raise UsageError(f"window: {problem}. Fix: {WINDOW_FIX} (in seconds)")


def window_records(window: float, *, server_observer: bool = False
                   ) -> tuple[list[RequestRecord], float, float]:
    """Requests started in the last ``window`` seconds (all recorded), with the window.
    ``server_observer``: the asking probe also takes ``observer: server``."""
    _check_window(window)
    end = current().settle()
    start = end - window
    records = current().records(until=end, server_observer=server_observer)
    return [r for r in records if r.t >= start], start, end


def verdicts(slos: Sequence[SLO], window: float, observer: str,
             configuration: Mapping[str, Any] | None,
             secrets: Mapping[str, Any] | None) -> list[SLOVerdict]:
    """One verdict per SLO judged over a window (ratio and measured types; the client only
    those the request log can read) over the last ``window`` s; raises when one has no data."""
    _check_window(window)
    chosen = [s for s in slos if s.is_window]
    blind: list[str] = []
    if observer_of(observer) == "client":
        blind = [why for s in chosen if (why := client_blind_spot(s)) is not None]
        for why in blind:
            log.info("left out of the client observer's verdicts: %s", why)
        records, start, end = window_records(window, server_observer=True)
        found = records_verdicts(chosen, records, start=start, end=end)
    else:
        target = current().target(configuration)
        found = check_slos(prometheus_client(target, secrets), chosen, window=window,
                           scrape_interval=target.prometheus.scrape_interval)
    empty = [v for v in found if not v.total]
    if empty or not found:
        names = (", ".join(f"{v.slo} ({v.reason})" for v in empty)
                 or "no SLO this observer can judge" + "".join(f"; {w}" for w in blind))
        raise Inconclusive(f"no data over the last {window:g} s: {names}")
    return found


def _timeline(slo: SLO, cat: Catalog, observer: str, t_inject: float,
              configuration: Mapping[str, Any] | None,
              secrets: Mapping[str, Any] | None) -> Timeline:
    run = current()
    end = run.settle()
    if observer == "client":
        records = run.records(until=end, server_observer=True)
        found = measure(slo, cat, t_inject=t_inject, records=records, t_end=end,
                        t_healed=run.t_healed)
        timeline = found.client
    else:
        target = run.target(configuration)
        prom = prometheus_client(target, secrets)
        scrape = target.prometheus.scrape_interval
        bins = {s.name: fetch_bins(prom, s, t_inject - 5, end, scrape)
                for s in timeline_slos(slo, cat)}
        found = measure(slo, cat, t_inject=t_inject, bins=bins, scrape_interval=scrape,
                        t_end=end, fail_within=target.prometheus.fail_within,
                        t_healed=run.t_healed)
        timeline = found.server
    if timeline is None or timeline.total == 0:
        raise Inconclusive(f"no {observer}-side data since the fault was applied")
    return timeline


def recovery(slo_name: str, observer: str, timeout: float | None,
             configuration: Mapping[str, Any] | None,
             secrets: Mapping[str, Any] | None) -> float:
    """Seconds from the first impact of this run's first fault until recovered.

    Waits (polling) until a hold-down window back within the SLOs is seen,
    or until recovery can no longer be within the objective (``timeout``
    caps the wait). 0.0 when nothing was impacted; when not recovered, the
    time since the impact so far (a lower bound, over the objective). 0.0
    as well before any fault (a steady-state hypothesis runs before the
    method too: there is nothing to recover from yet).
    """
    cat = catalog(configuration)
    slo = cat.get(slo_name)
    if slo.type != "recovery":
        raise UsageError(f"slo: {slo_name!r} is a {slo.type} SLO, not a recovery SLO")
    t_inject = current().t_inject
    if t_inject is None:
        log.info("%s: no fault applied yet, nothing to recover from", slo.name)
        return 0.0
    side = observer_of(observer)
    started = time.time()
    while True:
        timeline = _timeline(slo, cat, side, t_inject, configuration, secrets)
        if timeline.ttr is not None:
            return float(timeline.ttr.t)
        impact = timeline.t_impact.t if timeline.t_impact is not None else t_inject
        if timeline.t_impact is None and timeline.t_end - t_inject >= slo.hold_down:
            return 0.0
        deadline = impact + slo.objective + slo.hold_down
        if timeout is not None:
            deadline = min(deadline, started + timeout)
        if time.time() >= deadline:
            waited = timeline.t_end - impact
            log.warning("%s: not recovered %.1f s after the impact", slo.name, waited)
            return waited
        time.sleep(POLL)
