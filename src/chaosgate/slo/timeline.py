"""One observer's timeline of an SLO around a fault (docs/architecture.md §4). Pure.

Definitions (epoch seconds, each an :class:`Estimate` with bounds):

- ``t_impact``: the onset of the fault's incident: between the start of the
  last good request and of the first bad one (error, or slower than the SLO
  threshold) on the routes it touched, their middle;
- ``t_detect``: when an evaluator of the SLO over its window first sees the
  SLI breach (and, separately, ``t_alert``: when a Prometheus alert fired);
- ``t_recover``: the end of the outage before the first hold-down window
  (default 10 s) in which the bad ratio stays within the SLO: the middle
  between the incident's last bad request and the first good one after it;
- ``ttr = t_recover - t_impact`` (and :attr:`Timeline.ttr_from_inject`).

The incident is found by :mod:`chaosgate.slo.incidents` from the data
alone, several SLOs together (a request counted once, a failed request bad
for every SLO); ``t_inject`` only picks which incident the fault caused.
Client side (:func:`client_timeline_of`): the request log, millisecond
edges bounded by the neighbouring requests on the routes the incident
touched. Server side (:func:`server_timeline_of`): counter increments
between consecutive scrapes (:mod:`chaosgate.slo.counters`), so an edge is
known to one scrape interval, plus how long a request may take to fail;
inside that interval the estimate is interpolated from the bad ratio of the
edge's interval against its neighbour's. :func:`compare` reports where the
observers disagree by more than their combined uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..load.requestlog import RequestRecord
from .counters import Bin
from .incidents import Covered, Span, client_incidents, incident_at, server_incidents
from .stats import meets

__all__ = [
    "Disagreement",
    "Estimate",
    "Judge",
    "Timeline",
    "client_timeline",
    "client_timeline_of",
    "compare",
    "server_timeline",
    "server_timeline_of",
]

#: Whether a request is bad (True), good (False) or not covered by the SLO (None).
Judge = Callable[[RequestRecord], "bool | None"]


@dataclass(frozen=True)
class Estimate:
    """A time or duration: best estimate ``t``, the truth within ``[lo, hi]``."""

    t: float
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not self.lo <= self.t <= self.hi:
            raise ValueError(f"estimate {self.t} is outside its bounds [{self.lo}, {self.hi}]")

    @property
    def err(self) -> float:
        """The larger distance from the estimate to a bound (the ± of a report)."""
        return max(self.t - self.lo, self.hi - self.t)

    def minus(self, other: Estimate | float) -> Estimate:
        """The duration ``self - other``, bounds combined (never below zero)."""
        o = other if isinstance(other, Estimate) else Estimate(other, other, other)
        t = max(0.0, self.t - o.t)
        return Estimate(t, min(t, max(0.0, self.lo - o.hi)), max(t, self.hi - o.lo))

    def to_json(self) -> dict[str, float]:
        """``{"t", "lo", "hi", "err"}``."""
        return {"t": self.t, "lo": self.lo, "hi": self.hi, "err": self.err}


@dataclass(frozen=True)
class Timeline:
    """What one observer saw of one fault, for one SLO (or several, :func:`merge_timelines`)."""

    observer: str  # "client" | "server"
    t_inject: float
    t_end: float  # end of the observation
    t_impact: Estimate | None
    t_detect: Estimate | None
    t_recover: Estimate | None
    t_alert: Estimate | None = None
    bad: int = 0  # bad events observed from t_inject to t_end
    total: int = 0  # all events observed from t_inject to t_end
    slos: tuple[str, ...] = field(default=())

    @property
    def ttr(self) -> Estimate | None:
        """Time to recover, from the impact; None when there was none or no recovery."""
        if self.t_impact is None or self.t_recover is None:
            return None
        return self.t_recover.minus(self.t_impact)

    @property
    def ttr_from_inject(self) -> Estimate | None:
        """Time to recover, from the injection."""
        return None if self.t_recover is None else self.t_recover.minus(self.t_inject)

    @property
    def ttd(self) -> Estimate | None:
        """Time to detect: from the impact to the evaluator seeing the breach."""
        if self.t_impact is None or self.t_detect is None:
            return None
        return self.t_detect.minus(self.t_impact)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping, estimates as ``{"t", "lo", "hi", "err"}`` or null."""
        out: dict[str, Any] = {"observer": self.observer, "slos": list(self.slos),
                               "t_inject": self.t_inject, "t_end": self.t_end,
                               "bad": self.bad, "total": self.total}
        for name in ("t_impact", "t_detect", "t_recover", "t_alert", "ttr", "ttr_from_inject"):
            value = getattr(self, name)
            out[name] = None if value is None else value.to_json()
        return out


def _first_breach(ends: Sequence[float], bad: Sequence[int], count: Sequence[int],
                  t_inject: float, window: float, objective: float) -> int | None:
    """Index (in ``ends`` order) of the first event at or after ``t_inject`` whose
    trailing ``window`` misses the objective."""
    k, bad_in, total_in = 0, 0, 0
    for i, end in enumerate(ends):
        bad_in, total_in = bad_in + bad[i], total_in + count[i]
        while ends[k] <= end - window:
            bad_in, total_in, k = bad_in - bad[k], total_in - count[k], k + 1
        if end >= t_inject and total_in > 0 and not meets(max(total_in - bad_in, 0), total_in,
                                                          objective):
            return i
    return None


def _estimate(span: Span | None) -> Estimate | None:
    return None if span is None else Estimate(span.t, span.lo, span.hi)


def _failed(r: RequestRecord) -> bool:
    return r.status >= 500 if r.status is not None else not r.ok


def client_timeline_of(records: Iterable[RequestRecord], slos: Sequence[Covered], *,
                       t_inject: float, hold_down: float = 10.0,
                       detect_windows: Mapping[str, float] | None = None,
                       t_end: float | None = None, resolution: float = 0.001,
                       t_healed: float | None = None) -> Timeline:
    """The request log's timeline of several SLOs together around a fault at ``t_inject``.

    The incident is the one :func:`~.incidents.incident_at` picks from
    :func:`~.incidents.client_incidents` (``t_inject`` is only the hint; an
    incident that began after the fault's heal ``t_healed`` plus a margin is not it);
    requests that started at or after ``t_end`` (default: the last response)
    are not read. ``bad``/``total``: the requests answered from ``t_inject``
    on, each once (bad: bad for any SLO, or failed).
    """
    log = [r for r in records if t_end is None or r.t < t_end]
    judged = [s for s in slos if s.judge is not None]
    end = t_end if t_end is not None else max((r.end for r in log), default=t_inject)
    found = incident_at(client_incidents(log, judged, hold_down=hold_down, end=end,
                                         resolution=resolution), t_inject, t_healed)
    detect = None
    bad = total = 0
    for r in log:
        seen = [v for s in judged if s.judge is not None and (v := s.judge(r)) is not None]
        if seen and r.end >= t_inject:
            total += 1
            bad += int(any(seen) or _failed(r))
    for s in judged:
        assert s.judge is not None
        events = sorted((r.end, int(bool(v) or _failed(r))) for r in log
                        if (v := s.judge(r)) is not None)
        window = (detect_windows or {}).get(s.name, 600.0)
        k = _first_breach([e[0] for e in events], [e[1] for e in events], [1] * len(events),
                          t_inject, window, s.objective)
        if k is not None and (detect is None or events[k][0] < detect.t):
            t = events[k][0]
            detect = Estimate(t, t - resolution, t + resolution)
    impact, recover = (None, None) if found is None else (found.impact, found.recover)
    return Timeline("client", t_inject, end, _estimate(impact), detect, _estimate(recover),
                    bad=bad, total=total, slos=tuple(s.name for s in judged))


def client_timeline(records: Iterable[RequestRecord], *, t_inject: float, judge: Judge,
                    objective: float, hold_down: float = 10.0, detect_window: float = 600.0,
                    t_end: float | None = None, resolution: float = 0.001,
                    slos: tuple[str, ...] = ()) -> Timeline:
    """The client-side timeline of one SLO from the request log.

    ``judge`` says which requests the SLO covers and which are bad;
    ``objective`` is its minimum good ratio. ``t_end`` (default: the last
    response) ends the observation: a hold-down window must fit before it.
    """
    name = slos[0] if slos else "slo"
    return client_timeline_of(records, [Covered(name, objective, judge)], t_inject=t_inject,
                              hold_down=hold_down, detect_windows={name: detect_window},
                              t_end=t_end, resolution=resolution)


def server_timeline_of(bins: Mapping[str, Sequence[Bin]], slos: Sequence[Covered], *,
                       t_inject: float, scrape_interval: float, fail_within: float = 0.0,
                       hold_down: float = 10.0, detect_windows: Mapping[str, float] | None = None,
                       t_end: float | None = None, t_alert: Estimate | None = None,
                       t_healed: float | None = None) -> Timeline:
    """Prometheus' timeline of several SLOs together around a fault at ``t_inject``.

    The incident is the one :func:`~.incidents.incident_at` picks from
    :func:`~.incidents.server_incidents` (bounded by ``t_healed`` as on the client
    side); ``bad``/``total``: the largest of any SLO's counts after ``t_inject`` (the
    server cannot tell requests apart).
    """
    ordered = {s.name: sorted(bins.get(s.name, ()), key=lambda b: b.hi) for s in slos}
    last = max((b[-1].hi for b in ordered.values() if b), default=t_inject)
    end = t_end if t_end is not None else last
    found = incident_at(server_incidents(ordered, slos, scrape_interval=scrape_interval,
                                         fail_within=fail_within, hold_down=hold_down,
                                         end=end), t_inject, t_healed)
    detect = None
    bad = total = 0
    for s in slos:
        own = [b for b in ordered[s.name] if b.lo < end]
        after = [b for b in own if b.hi > t_inject]
        bad = max(bad, sum(b.bad for b in after))
        total = max(total, sum(max(b.total, b.bad) for b in after))
        window = (detect_windows or {}).get(s.name, 600.0)
        k = _first_breach([b.hi for b in own], [b.bad for b in own],
                          [max(b.total, b.bad) for b in own], t_inject, window, s.objective)
        if k is not None and (detect is None or own[k].hi < detect.t):
            detect = Estimate(own[k].hi, own[k].hi, own[k].hi + scrape_interval)
    impact, recover = (None, None) if found is None else (found.impact, found.recover)
    return Timeline("server", t_inject, end, _estimate(impact), detect, _estimate(recover),
                    t_alert, bad=bad, total=total, slos=tuple(s.name for s in slos))


def server_timeline(bins: Sequence[Bin], *, t_inject: float, objective: float,
                    scrape_interval: float, hold_down: float = 10.0,
                    detect_window: float = 600.0, t_end: float | None = None,
                    t_alert: Estimate | None = None, fail_within: float = 0.0,
                    slos: tuple[str, ...] = ()) -> Timeline:
    """The server-side timeline of one SLO from per-scrape counter increments.

    ``bins`` come from :func:`chaosgate.slo.counters.bin_counters`;
    ``fail_within`` is how long a request can take to fail (module doc of
    :mod:`.incidents`).
    """
    name = slos[0] if slos else "slo"
    return server_timeline_of({name: bins}, [Covered(name, objective)], t_inject=t_inject,
                              scrape_interval=scrape_interval, fail_within=fail_within,
                              hold_down=hold_down, detect_windows={name: detect_window},
                              t_end=t_end, t_alert=t_alert)


@dataclass(frozen=True)
class Disagreement:
    """Where the client and server timelines differ by more than their uncertainty."""

    what: str  # "t_impact", "t_recover" or "ttr"
    client: Estimate | None
    server: Estimate | None

    def describe(self) -> str:
        """One line for a report."""
        if self.client is None or self.server is None:
            seen, unseen = ("client", "server") if self.server is None else ("server", "client")
            return f"{self.what}: the {seen} observed one, the {unseen} did not"
        delta = self.server.t - self.client.t
        return (f"{self.what}: client {self.client.t:.3f} ± {self.client.err:.3f} s, server "
                f"{self.server.t:.3f} ± {self.server.err:.3f} s: they differ by {delta:+.3f} s, "
                f"more than the combined ± {self.client.err + self.server.err:.3f} s")


def compare(client: Timeline, server: Timeline) -> list[Disagreement]:
    """The edges (impact, recovery, TTR) on which the two observers disagree."""
    found = []
    for what in ("t_impact", "t_recover", "ttr"):
        c, s = getattr(client, what), getattr(server, what)
        if (c is None) != (s is None) or (
                c is not None and s is not None and abs(c.t - s.t) > c.err + s.err):
            found.append(Disagreement(what, c, s))
    return found
