"""One observer's timeline of an SLO around a fault (docs/architecture.md §4). Pure.

Definitions (epoch seconds, each an :class:`Estimate` with bounds):

- ``t_impact``: start of the first bad request (error, or slower than the SLO
  threshold) affected by the fault: the first bad one still in flight at or
  started after ``t_inject``;
- ``t_detect``: when an evaluator of the SLO over its window first sees the
  SLI breach (and, separately, ``t_alert``: when a Prometheus alert fired);
- ``t_recover``: start of the first hold-down window (default 10 s), at or
  after the impact, in which the bad ratio stays within the SLO;
- ``ttr = t_recover - t_impact`` (and :attr:`Timeline.ttr_from_inject`).

Client side (:func:`client_timeline`): the request log, millisecond edges;
an edge's bounds reach back to the previous request, since the change
happened between the two. Server side (:func:`server_timeline`): counter
increments between consecutive scrapes (:mod:`chaosgate.slo.counters`), so
an edge is known to one scrape interval; inside that interval the estimate is
interpolated from the bad ratio of the edge's interval against its
neighbour's. :func:`compare` reports where the observers disagree by more
than their combined uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..load.requestlog import RequestRecord
from .counters import Bin
from .stats import meets

__all__ = [
    "Disagreement",
    "Estimate",
    "Judge",
    "Timeline",
    "client_timeline",
    "compare",
    "merge_timelines",
    "server_timeline",
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


def _first_window(starts: Sequence[float], bad: Sequence[int], count: Sequence[int],
                  first: int, hold_down: float, t_end: float, objective: float) -> int | None:
    """Index of the first event, from ``first``, that starts a window within the SLO."""
    n = len(starts)
    j, bad_in, total_in = first, 0, 0
    for i in range(first, n):
        if starts[i] + hold_down > t_end:
            return None
        while j < n and starts[j] < starts[i] + hold_down:
            bad_in, total_in, j = bad_in + bad[j], total_in + count[j], j + 1
        if total_in > 0 and meets(total_in - bad_in, total_in, objective):
            return i
        bad_in, total_in = bad_in - bad[i], total_in - count[i]
    return None


def _first_breach(ends: Sequence[float], bad: Sequence[int], count: Sequence[int],
                  t_inject: float, window: float, objective: float) -> int | None:
    """Index (in ``ends`` order) of the first event at or after ``t_inject`` whose
    trailing ``window`` misses the objective."""
    k, bad_in, total_in = 0, 0, 0
    for i, end in enumerate(ends):
        bad_in, total_in = bad_in + bad[i], total_in + count[i]
        while ends[k] <= end - window:
            bad_in, total_in, k = bad_in - bad[k], total_in - count[k], k + 1
        if end >= t_inject and total_in > 0 and not meets(total_in - bad_in, total_in,
                                                          objective):
            return i
    return None


def client_timeline(records: Iterable[RequestRecord], *, t_inject: float, judge: Judge,
                    objective: float, hold_down: float = 10.0, detect_window: float = 600.0,
                    t_end: float | None = None, resolution: float = 0.001,
                    slos: tuple[str, ...] = ()) -> Timeline:
    """The client-side timeline of one SLO from the request log.

    ``judge`` says which requests the SLO covers and which are bad;
    ``objective`` is its minimum good ratio. ``t_end`` (default: the last
    response) ends the observation: a hold-down window must fit before it.
    """
    events = sorted((r.t, r.end, int(v)) for r in records if (v := judge(r)) is not None)
    starts = [e[0] for e in events]
    bad = [e[2] for e in events]
    ones = [1] * len(events)
    end = t_end if t_end is not None else max((e[1] for e in events), default=t_inject)
    after = [e for e in events if e[1] >= t_inject]
    i0 = next((i for i, e in enumerate(events) if e[2] and e[1] >= t_inject), None)
    impact = recover = None
    if i0 is not None:
        impact = Estimate(starts[i0], starts[max(i0 - 1, 0)] - resolution,
                          starts[i0] + resolution)
        i = _first_window(starts, bad, ones, i0, hold_down, end, objective)
        if i is not None:
            recover = Estimate(starts[i], starts[max(i - 1, 0)] - resolution,
                               starts[i] + resolution)
    by_end = sorted(events, key=lambda e: e[1])
    k = _first_breach([e[1] for e in by_end], [e[2] for e in by_end], ones, t_inject,
                      detect_window, objective)
    detect = None if k is None else Estimate(by_end[k][1], by_end[k][1] - resolution,
                                             by_end[k][1] + resolution)
    return Timeline("client", t_inject, end, impact, detect, recover,
                    bad=sum(e[2] for e in after), total=len(after), slos=slos)


def _ratio(b: Bin | None) -> float:
    return b.bad / b.total if b is not None and b.total > 0 else 0.0


def _inside(t: float, lo: float, hi: float) -> Estimate:
    return Estimate(min(max(t, lo), hi), lo, hi)


def _impact(bins: Sequence[Bin], i: int, t_inject: float) -> Estimate:
    """The onset inside bin ``i``: how much of it was bad, against the next bin's ratio."""
    b = bins[i]
    lo = max(b.lo, min(t_inject, b.hi))
    nxt = _ratio(bins[i + 1]) if i + 1 < len(bins) else 0.0
    if nxt > 0:
        return _inside(b.hi - min(_ratio(b) / nxt, 1.0) * (b.hi - b.lo), lo, b.hi)
    return _inside((lo + b.hi) / 2, lo, b.hi)


def _recovery(bins: Sequence[Bin], m: int, scrape_interval: float) -> Estimate:
    """The end of the outage just before bin ``m`` starts a window within the SLO."""
    b = bins[m]
    if m == 0:
        return _inside(b.lo, b.lo - scrape_interval, b.hi)
    p = bins[m - 1]
    if p.bad == 0:
        return _inside(b.lo, p.lo, b.hi)
    before = _ratio(bins[m - 2]) if m >= 2 else 0.0
    t = p.lo + min(_ratio(p) / before, 1.0) * (p.hi - p.lo) if before > 0 \
        else (p.lo + p.hi) / 2
    return _inside(t, p.lo, b.hi)


def server_timeline(bins: Sequence[Bin], *, t_inject: float, objective: float,
                    scrape_interval: float, hold_down: float = 10.0,
                    detect_window: float = 600.0, t_end: float | None = None,
                    t_alert: Estimate | None = None, slos: tuple[str, ...] = ()) -> Timeline:
    """The server-side timeline of one SLO from per-scrape counter increments.

    ``bins`` come from :func:`chaosgate.slo.counters.bin_counters`. A window
    starts at a bin's lower edge and holds the bins that end within
    ``hold_down`` of it (half a scrape of slack for jitter).
    """
    bins = sorted(bins, key=lambda b: b.hi)
    end = t_end if t_end is not None else (bins[-1].hi if bins else t_inject)
    slack = scrape_interval / 2
    i0 = next((i for i, b in enumerate(bins) if b.bad > 0 and b.hi > t_inject), None)
    impact = recover = None
    if i0 is not None:
        impact = _impact(bins, i0, t_inject)
        m = _first_window([b.lo for b in bins], [b.bad for b in bins],
                          [b.total for b in bins], i0, hold_down - slack, end, objective)
        if m is not None:
            recover = _recovery(bins, m, scrape_interval)
            if recover.t < impact.t:  # a blip inside one scrape interval
                recover = Estimate(impact.t, min(recover.lo, impact.t), recover.hi)
    k = _first_breach([b.hi for b in bins], [b.bad for b in bins], [b.total for b in bins],
                      t_inject, detect_window, objective)
    detect = None if k is None else Estimate(bins[k].hi, bins[k].hi,
                                             bins[k].hi + scrape_interval)
    after = [b for b in bins if b.hi > t_inject]
    return Timeline("server", t_inject, end, impact, detect, recover, t_alert,
                    bad=sum(b.bad for b in after), total=sum(b.total for b in after), slos=slos)


def merge_timelines(timelines: Sequence[Timeline]) -> Timeline:
    """One observer's timeline over several SLOs: the system is impacted from the
    earliest impact and recovered when the last impacted SLO has recovered."""
    if not timelines:
        raise ValueError("no timeline to merge")
    impacted = [tl for tl in timelines if tl.t_impact is not None]
    recover = None
    if impacted and all(tl.t_recover is not None for tl in impacted):
        recover = max((tl.t_recover for tl in impacted if tl.t_recover is not None),
                      key=lambda e: e.t)

    def first(values: Iterable[Estimate | None]) -> Estimate | None:
        return min((v for v in values if v is not None), key=lambda e: e.t, default=None)

    return Timeline(
        observer=timelines[0].observer, t_inject=timelines[0].t_inject,
        t_end=min(tl.t_end for tl in timelines),
        t_impact=first(tl.t_impact for tl in timelines),
        t_detect=first(tl.t_detect for tl in timelines), t_recover=recover,
        t_alert=first(tl.t_alert for tl in timelines),
        bad=sum(tl.bad for tl in timelines), total=sum(tl.total for tl in timelines),
        slos=tuple(name for tl in timelines for name in tl.slos),
    )


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
