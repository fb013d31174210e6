"""Incidents from an observer's samples alone: every outage in a window. Pure.

No ``t_inject`` is needed: an incident is found from the data, and a fault's
own times are only a hint to pick the incident it caused
(:func:`incident_at`). Both observers go through the same state machine:

- **healthy → impacted** when the SLO is breached over the trailing
  hold-down window (an evaluator of that window would see the breach); the
  bad events of an incident already closed count as good there, and a
  window cut by the start of the data counts as a whole one at the same
  rate, so one slow request in a thin window is no incident. The impact is the change point of a
  CUSUM of ``bad - (1 - objective)`` per event (the first bad event since
  the excess was last zero), so a stray slow request seconds before an
  outage does not drag the impact back (drift :data:`CHANGE_DRIFT`), and a
  single 5xx against 99.99 % is an incident of its own;
- **impacted → recovered** at the first good event after the detection (the
  event whose trailing window breached) that starts a whole hold-down window
  within the SLO (the window must fit before the end of
  the observation: else the incident is still open, ``t_recover`` None).

Two outages separated by a healthy hold-down are therefore two incidents.
A fault's incident must also begin by its heal plus :data:`HEAL_MARGIN`.
Per SLO, a failed request (5xx, timeout, no answer) is bad for every SLO
that covers it, latency included: a fast 503 is not a good answer. The
incidents of the SLOs are merged where they overlap (the system is out
while any SLO is), and the combined counts take each request once.

Bounds. Client side (:func:`client_incidents`): the truth of an impact lies
after the start of the last good request on a route the incident touched
(a route with a bad request in it, up to the incident's last bad one) and
before the end of its first bad request; a recovery after the start of the
incident's last bad request (the last one of an SLO before that SLO's own
recovery: a stray slow request later is not the outage's) and before the end
of the first good one that starts every SLO's window, on those routes. Each
estimate is the middle between the two requests around the edge on the
touched routes (last good and first bad; last bad and first good after it):
the recovery does not wait for the next request of the rarest route, whose
SLO recovers last, and the middle halves the spread of a request-spacing
error. Server side
(:func:`server_incidents`): an edge is known to the scrape interval it fell
in, and a request is counted when it ends: a request may fail up to
``fail_within`` seconds (the longest time a request takes to fail: an
upstream timeout, a stalled connection) after the outage hit it, so each
edge's lower bound reaches back that much. Bad counts are attributed to the
scrape in which they happened, never capped at that scrape's total.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..load.requestlog import RequestRecord
from ..verdict import VerdictName, combine
from .counters import Bin
from .stats import exact

__all__ = [
    "HEAL_MARGIN",
    "Covered",
    "Incident",
    "Seen",
    "Span",
    "client_incidents",
    "incident_at",
    "pair",
    "server_incidents",
    "verdict_of",
]

#: The CUSUM's drift per event (at least the SLO's tolerance): a bad event followed
#: by four good ones is forgotten, so the impact is where bad events began to dominate.
CHANGE_DRIFT = 0.2

#: A route is one the incident touched when its share of bad requests in it is at
#: least this part of the worst route's share (a stray slow request elsewhere is not).
ROUTE_SHARE = 0.25

#: Seconds after a fault's heal in which an incident may still begin and be the fault's
#: (:func:`incident_at`): a pod's cold first requests, pools reconnecting, the shop's
#: health checks readmitting a backend (the sandbox's every 0.5 s) all show within a few
#: seconds; a blip later than this is another incident, not the fault's.
HEAL_MARGIN = 5.0

#: Whether a request is bad (True), good (False) or not covered by an SLO (None).
Judge = Callable[[RequestRecord], "bool | None"]


@dataclass(frozen=True)
class Covered:
    """One SLO as the finder reads it: its name, which requests it judges, its objective."""

    name: str
    objective: float
    judge: Judge | None = None  # client side only


@dataclass(frozen=True)
class Span:
    """An estimate with bounds (the same shape as :class:`.timeline.Estimate`)."""

    t: float
    lo: float
    hi: float

    @property
    def err(self) -> float:
        """The ± of a report."""
        return max(self.t - self.lo, self.hi - self.t)


@dataclass(frozen=True)
class Incident:
    """One outage as one observer saw it.

    ``detect``: when an evaluator of the SLO over the trailing hold-down window
    first saw the breach (the end of the request that tipped it, client side;
    the scrape that showed it, server side): the earliest of the SLOs';
    ``bad``/``total``: the events from the impact to the recovery (or the end
    of the observation), each request once; ``per_slo``: the same per SLO;
    ``routes``: the routes with a bad request (client side).
    """

    observer: str
    impact: Span
    detect: Span
    recover: Span | None
    bad: int
    total: int
    slos: tuple[str, ...]
    per_slo: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    routes: tuple[str, ...] = ()

    @property
    def ttr(self) -> Span | None:
        """Time to recover with its bounds (never below zero); None while still out."""
        if self.recover is None:
            return None
        t = max(0.0, self.recover.t - self.impact.t)
        return Span(t, min(t, max(0.0, self.recover.lo - self.impact.hi)),
                    max(t, self.recover.hi - self.impact.lo))

    def to_json(self) -> dict[str, Any]:
        """``impact``, ``detected``, ``recovered`` (null while out), ``ttr`` and
        ``uncertainty`` (the ± on ``ttr``; on the impact while out), with bounds and counts."""
        ttr = self.ttr
        return {
            "impact": self.impact.t, "detected": self.detect.t,
            "recovered": None if self.recover is None else self.recover.t,
            "ttr": None if ttr is None else ttr.t,
            "uncertainty": self.impact.err if ttr is None else ttr.err,
            "impact_bounds": [self.impact.lo, self.impact.hi],
            "recovered_bounds": None if self.recover is None else [self.recover.lo,
                                                                   self.recover.hi],
            "ttr_bounds": None if ttr is None else [ttr.lo, ttr.hi],
            "bad": self.bad, "total": self.total, "slos": list(self.slos),
            "per_slo": {k: {"bad": b, "total": n} for k, (b, n) in self.per_slo.items()},
            "routes": list(self.routes),
        }


def _meets(good: float, total: float, objective: Fraction) -> bool:
    return total > 0 and Fraction(max(good, 0)) >= objective * Fraction(total)


def _intervals(t: Sequence[float], t_hi: Sequence[float], bad: Sequence[float],
               count: Sequence[float], objective: float, hold_down: float,
               end: float, resets: Sequence[float] = ()) -> list[tuple[int, int, int | None]]:
    """``(impact index, detection index, recovery index or None)`` of one SLO's events in
    time order. The detection is the event whose trailing window breached the SLO; the
    recovery is searched from the event after it.

    ``t``: an event's time (a bin's lower edge), ``t_hi`` when it was known (a
    bin's upper edge); ``bad``/``count``: its bad and total events;
    ``resets``: recoveries of the system (every SLO together), before which
    bad events belong to an incident already closed.
    """
    resets = sorted(resets)
    n = len(t)
    obj = exact(objective)
    drift = max(float(1 - obj), CHANGE_DRIFT)
    pb, pc = [0.0], [0.0]
    for b, c in zip(bad, count, strict=True):
        pb.append(pb[-1] + b)
        pc.append(pc[-1] + c)
    out: list[tuple[int, int, int | None]] = []
    base, i, excess, change = 0, 0, 0.0, -1
    while i < n:
        excess = max(0.0, excess + bad[i] - drift * count[i]) if bad[i] or excess else 0.0
        if excess <= 0:
            change = -1
        elif change < 0:
            change = i
        if bad[i]:
            lo = bisect_left(t_hi, t_hi[i] - hold_down, 0, i + 1)
            k = bisect_left(resets, t[i] + 1e-9) - 1
            since = max(base, lo, bisect_left(t, resets[k]) if k >= 0 else 0)
            b, c = pb[i + 1] - pb[since], pc[i + 1] - pc[lo]
            spanned = max(t_hi[i] - t[0], 1e-3)
            if lo == 0 and spanned < hold_down:  # cut by the start: as a whole window
                c *= hold_down / spanned
            if not _meets(c - b, max(c, b), obj):
                first_bad = next(k for k in range(since, i + 1) if bad[k])
                start = max(change if change >= 0 else i, first_bad)
                rec = _recovery(t, bad, count, pb, pc, i + 1, obj, hold_down, end)
                out.append((start, i, rec))
                if rec is None:
                    break
                base, i, excess, change = rec, rec, 0.0, -1
                continue
        i += 1
    return out


def _recovery(t: Sequence[float], bad: Sequence[float], count: Sequence[float],
              pb: Sequence[float], pc: Sequence[float], first: int, obj: Fraction,
              hold_down: float, end: float) -> int | None:
    """The first good event from ``first`` that starts a whole window within the SLO."""
    for k in range(first, len(t)):
        if t[k] + hold_down > end:
            return None
        if not _meets(count[k] - bad[k], max(count[k], bad[k]), obj):
            continue
        j = bisect_left(t, t[k] + hold_down, k)
        b, c = pb[j] - pb[k], pc[j] - pc[k]
        if _meets(c - b, max(c, b), obj):
            return k
    return None


def _merge(spans: list[tuple[float, float | None, str]]) -> list[tuple[float, float | None,
                                                                      list[str]]]:
    """Overlapping ``(impact, recover, slo)`` spans of several SLOs, merged."""
    merged: list[tuple[float, float | None, list[str]]] = []
    for start, stop, name in sorted(spans, key=lambda s: s[0]):
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            s0, e0, names = merged[-1]
            stop2 = None if e0 is None or stop is None else max(e0, stop)
            merged[-1] = (s0, stop2, [*names, name] if name not in names else names)
        else:
            merged.append((start, stop, [name]))
    return merged


def _two_passes(spans: Callable[[Sequence[float]], list[tuple[float, float | None, str]]]
                ) -> list[tuple[float, float | None, list[str]]]:
    """The SLOs' incidents merged, found again with the system's recoveries as resets
    (so bad events of a closed incident do not open another one in a slower SLO)."""
    first = _merge(spans(()))
    return _merge(spans([t1 for _, t1, _ in first if t1 is not None]))


def _slo_names(keys: Sequence[str]) -> tuple[str, ...]:
    """The SLOs of merged spans (each keyed ``slo@index``), once each, in order."""
    return tuple(dict.fromkeys(k.rsplit("@", 1)[0] for k in keys))


def _failed(r: RequestRecord) -> bool:
    return r.status >= 500 if r.status is not None else not r.ok


def _touched(names: Sequence[str], bad_names: Sequence[str]) -> tuple[str, ...]:
    """The routes whose share of bad requests is at least :data:`ROUTE_SHARE` of the worst."""
    shares = {n: bad_names.count(n) / names.count(n) for n in set(bad_names)}
    worst = max(shares.values(), default=0.0)
    return tuple(sorted(n for n, share in shares.items() if share >= ROUTE_SHARE * worst))


def client_incidents(records: Sequence[RequestRecord], slos: Sequence[Covered], *,
                     hold_down: float = 10.0, start: float | None = None,
                     end: float | None = None, resolution: float = 0.001) -> list[Incident]:
    """Every incident of ``slos`` in the request log between ``start`` and ``end``.

    Requests that started in ``[start, end)`` are read (defaults: the whole
    log); a recovery's hold-down window must end by ``end``.
    """
    judges = [(s, s.judge) for s in slos if s.judge is not None]
    log = sorted((r for r in records if (start is None or r.t >= start)
                  and (end is None or r.t < end)), key=lambda r: r.t)
    if not log or not judges:
        return []
    stop = end if end is not None else max(r.end for r in log)
    verdicts: list[dict[str, bool]] = []
    for r in log:
        seen = {}
        for s, judge in judges:
            v = judge(r)
            if v is not None:
                seen[s.name] = bool(v) or _failed(r)
        verdicts.append(seen)
    streams = []
    for s, _ in judges:
        idx = [i for i, v in enumerate(verdicts) if s.name in v]
        streams.append((s, [log[i].t for i in idx], [float(verdicts[i][s.name]) for i in idx],
                        [log[i].end for i in idx]))

    #: per SLO, the times of its bad events that belong to one of its incidents
    #: (from its impact to its own recovery; the last call of ``spans`` is the final one)
    owned: dict[str, list[float]] = {}
    #: per span (``slo@index``), when its breach was seen: the end of the request
    detected: dict[str, float] = {}

    def spans(resets: Sequence[float]) -> list[tuple[float, float | None, str]]:
        out: list[tuple[float, float | None, str]] = []
        owned.clear()
        for s, ts, flags, ends in streams:
            for a, d, b in _intervals(ts, ts, flags, [1.0] * len(ts), s.objective, hold_down,
                                      stop, resets):
                key = f"{s.name}@{a}"
                detected[key] = ends[d]
                out.append((ts[a], None if b is None else ts[b], key))
                owned.setdefault(s.name, []).extend(
                    ts[k] for k in range(a, len(ts) if b is None else b) if flags[k])
        return out

    starts = [r.t for r in log]
    found = []
    for t0, t1, keys in _two_passes(spans):
        names = _slo_names(keys)
        seen_at = min(detected[k] for k in keys)
        a = bisect_left(starts, t0)
        b = len(log) if t1 is None else bisect_left(starts, t1)
        # the incident's own bad events (not a stray one after its SLO recovered): the
        # routes it touched are read up to the last of them, so a rare route whose SLO
        # recovers late does not dilute the others' shares
        last = max((t for name in names for t in owned.get(name, ())
                    if t0 <= t and (t1 is None or t < t1)), default=t0)
        inside = [i for i in range(a, bisect_right(starts, last)) if verdicts[i]]
        bad_idx = [i for i in inside if any(verdicts[i].values())]
        routes = _touched([log[i].name for i in inside], [log[i].name for i in bad_idx])
        on = [i for i in range(len(log)) if log[i].name in routes and verdicts[i]]

        def good(i: int) -> bool:
            return not any(verdicts[i].values())

        before = [i for i in on if i < a and good(i)]
        lo = log[before[-1]].t - resolution if before else (start if start is not None
                                                            else t0 - resolution)
        hi = min(log[i].end for i in bad_idx if log[i].name in routes) + resolution
        # the onset lies between the last good request and the first bad one: their middle
        mid = (log[before[-1]].t + t0) / 2 if before else t0
        impact = Span(mid, min(lo, mid), max(hi, mid))
        recover = None
        if t1 is not None:
            recover = _client_recovery(log, on, good, t1, b, last, resolution)
        # the counts: the requests that started from the impact to the recovery
        b = len(log) if recover is None else bisect_left(starts, recover.t)
        inside = [i for i in range(bisect_left(starts, impact.t), b) if verdicts[i]]
        bad_idx = [i for i in inside if any(verdicts[i].values())]
        per = {}
        for s, _ in judges:
            mine = [verdicts[i][s.name] for i in inside if s.name in verdicts[i]]
            per[s.name] = (sum(mine), len(mine))
        tipped = max(seen_at, impact.t)
        found.append(Incident("client", impact, Span(tipped, tipped, tipped), recover, len(bad_idx),
                              len(inside), names, per, routes))
    return found


def _client_recovery(log: Sequence[RequestRecord], on: Sequence[int],
                     good: Callable[[int], bool], t1: float, b: int, last: float,
                     resolution: float) -> Span:
    """The recovery of one client incident: between the last bad request of the incident
    and the first good one after it on the touched routes (``on``, indices into ``log``),
    their middle.

    ``t1`` is the latest of the SLOs' own recoveries (each at its first good request
    that starts a window within it), ``last`` the start of the incident's last bad event
    (not a stray slow request after its SLO recovered). The
    estimate does not wait for the next request of the rarest route: that SLO's gap
    only widens the upper bound, the end of the first good request from ``t1`` on.
    """
    after = next((i for i in on if log[i].t > last and good(i)), None)
    t = t1 if after is None else (last + min(log[after].t, t1)) / 2  # between the two
    first_good = [i for i in on if i >= b and good(i)]
    hi = log[first_good[0]].end + resolution if first_good else t1 + resolution
    return Span(t, min(last - resolution, t), max(hi, t))


def _ratio(b: Bin | None) -> float:
    if b is None or b.bad <= 0:
        return 0.0
    return min(1.0, b.bad / b.total) if b.total > 0 else 1.0


def _bin_impact(bins: Sequence[Bin], i: int, fail_within: float) -> Span:
    """The onset inside bin ``i``: how much of it was bad, against the next bin's ratio."""
    b = bins[i]
    nxt = _ratio(bins[i + 1]) if i + 1 < len(bins) else 0.0
    t = b.hi - min(_ratio(b) / nxt, 1.0) * (b.hi - b.lo) if nxt > 0 else (b.lo + b.hi) / 2
    return Span(t, b.lo - fail_within, b.hi)


def _bin_recovery(bins: Sequence[Bin], m: int, scrape_interval: float,
                  fail_within: float) -> Span:
    """The end of the outage just before bin ``m`` starts a window within the SLO."""
    b = bins[m]
    if m == 0:
        return Span(b.lo, b.lo - scrape_interval - fail_within, b.hi)
    p = bins[m - 1]
    if p.bad == 0:
        return Span(b.lo, p.lo - fail_within, b.hi)
    before = _ratio(bins[m - 2]) if m >= 2 else 0.0
    t = p.lo + min(_ratio(p) / before, 1.0) * (p.hi - p.lo) if before > 0 \
        else (p.lo + p.hi) / 2
    return Span(t, p.lo - fail_within, b.hi)


def server_incidents(bins: Mapping[str, Sequence[Bin]], slos: Sequence[Covered], *,
                     scrape_interval: float, fail_within: float = 0.0,
                     hold_down: float = 10.0, start: float | None = None,
                     end: float | None = None) -> list[Incident]:
    """Every incident of ``slos`` in per-scrape bins (SLO name -> its bins).

    A window holds the bins that end within ``hold_down`` of its start (half
    a scrape of slack for jitter). Counts per SLO are the sums of its bins
    from the impact to the recovery; the combined ones, which cannot be told
    apart per request on the server, are the largest of any SLO's (a lower
    bound on the requests that were bad).
    """
    slack = scrape_interval / 2
    edges: dict[str, tuple[Span, Span | None]] = {}
    detected: dict[str, float] = {}  # the scrape that showed each span's breach
    chosen: dict[str, list[Bin]] = {}
    for s in slos:
        chosen[s.name] = sorted((b for b in bins.get(s.name, ()) if (start is None or b.hi > start)
                                 and (end is None or b.lo < end)), key=lambda b: b.hi)

    def spans(resets: Sequence[float]) -> list[tuple[float, float | None, str]]:
        out: list[tuple[float, float | None, str]] = []
        for s in slos:
            own = chosen[s.name]
            if not own:
                continue
            stop = end if end is not None else own[-1].hi
            for a, d, m in _intervals([b.lo for b in own], [b.hi for b in own],
                                      [float(b.bad) for b in own],
                                      [float(b.total) for b in own],
                                      s.objective, hold_down - slack, stop, resets):
                impact = _bin_impact(own, a, fail_within)
                recover = None if m is None else _bin_recovery(own, m, scrape_interval,
                                                               fail_within)
                if recover is not None and recover.t < impact.t:  # a blip inside one scrape
                    recover = Span(impact.t, min(recover.lo, impact.t),
                                   max(recover.hi, impact.t))
                key = f"{s.name}@{a}"
                edges[key] = (impact, recover)
                detected[key] = own[d].hi
                # merged from its impact's lower bound: a latency SLO counts a stalled
                # request when it ends, after the outage (up to fail_within later), so
                # its breach may come after the availability SLO's recovery: one outage
                out.append((impact.lo, None if recover is None else recover.t, key))
        return out

    found = []
    for t0, t1, keys in _two_passes(spans):
        impacts = [edges[k][0] for k in keys]
        impact = min(impacts, key=lambda e: e.t)
        recovers = [edges[k][1] for k in keys]
        recover = None if any(r is None for r in recovers) else max(
            (r for r in recovers if r is not None), key=lambda e: e.t)
        names = _slo_names(keys)
        seen_at = max(min(detected[k] for k in keys), impact.t)
        t0 = impact.t
        per = {}
        for s in slos:
            inside = [b for b in chosen[s.name] if b.hi > t0 and (t1 is None or b.lo < t1)]
            per[s.name] = (sum(b.bad for b in inside), sum(b.total for b in inside))
        bad = max((b for b, _ in per.values()), default=0)
        total = max((max(n, b) for b, n in per.values()), default=0)
        found.append(Incident("server", impact, Span(seen_at, seen_at, seen_at), recover,
                              bad, total, names, per))
    return found


def incident_at(incidents: Sequence[Incident], hint: float, healed: float | None = None,
                margin: float = HEAL_MARGIN) -> Incident | None:
    """The incident a fault applied at ``hint`` caused: the first one that may still
    have been out at ``hint`` (its recovery's upper bound is not before it) or was
    impacted after it, provided its impact may have begun (its lower bound) by the
    fault's heal, ``healed`` (its revert or ground-truth healed moment; None: no
    bound), plus ``margin`` (:data:`HEAL_MARGIN`). None: the fault had no visible
    impact; a later incident is not the fault's."""
    for incident in sorted(incidents, key=lambda x: x.impact.t):
        if incident.recover is None or incident.recover.hi >= hint:
            if healed is not None and incident.impact.lo > healed + margin:
                return None
            return incident
    return None


@dataclass(frozen=True)
class Seen:
    """One incident as both observers saw it (either may have missed it: None)."""

    client: Incident | None
    server: Incident | None

    @property
    def best(self) -> Incident:
        """The observer with the finer edges that saw it (the client's, else the server's)."""
        found = self.client or self.server
        assert found is not None
        return found

    @property
    def agree(self) -> bool:
        """Both saw it, and their impacts, recoveries and TTRs differ by no more than their
        combined uncertainty (both still out counts as agreeing on the recovery)."""
        c, s = self.client, self.server
        if c is None or s is None:
            return False
        if (c.recover is None) != (s.recover is None):
            return False
        pairs: list[tuple[Span, Span]] = [(c.impact, s.impact)]
        if c.recover is not None and s.recover is not None:
            pairs.append((c.recover, s.recover))
            ct, st = c.ttr, s.ttr
            assert ct is not None and st is not None
            pairs.append((ct, st))
        return all(abs(a.t - b.t) <= a.err + b.err for a, b in pairs)

    def to_json(self) -> dict[str, Any]:
        """``impact``, ``detected``, ``recovered``, ``ttr`` (the best observer's), ``agree`` and
        ``observers`` -> ``client``/``server`` -> the same plus ``uncertainty`` (or null)."""
        best = self.best.to_json()
        return {"impact": best["impact"], "detected": best["detected"],
                "recovered": best["recovered"], "ttr": best["ttr"],
                "uncertainty": best["uncertainty"], "observer": self.best.observer,
                "agree": self.agree,
                "observers": {"client": None if self.client is None else self.client.to_json(),
                              "server": None if self.server is None else self.server.to_json()}}


def _reach(x: Incident) -> tuple[float, float]:
    return x.impact.lo, float("inf") if x.recover is None else x.recover.hi


def pair(client: Sequence[Incident], server: Sequence[Incident]) -> list[Seen]:
    """The incidents of both observers, matched where their spans (with bounds) overlap,
    in time order; an incident one observer missed stands alone."""
    out: list[Seen] = []
    rest = sorted(server, key=lambda x: x.impact.t)
    for c in sorted(client, key=lambda x: x.impact.t):
        lo, hi = _reach(c)
        match = next((s for s in rest if _reach(s)[0] <= hi and lo <= _reach(s)[1]), None)
        if match is not None:
            early = [s for s in rest if s.impact.t < match.impact.t]
            out += [Seen(None, s) for s in early]
            rest = rest[len(early) + 1:]
        out.append(Seen(c, match))
    out += [Seen(None, s) for s in rest]
    return sorted(out, key=lambda x: x.best.impact.t)


def verdict_of(seen: Sequence[Seen], objective: float, end: float,
          have_data: bool) -> tuple[VerdictName, str]:
    """The verdict of a window's incidents against a recovery objective (seconds), and why.

    fail: an observer's TTR, or an incident still out at ``end``, is over the
    objective; inconclusive: no data at all, an incident still out for less
    than the objective, or a TTR whose bounds straddle it; pass otherwise
    (no incident in a window with data is a pass).
    """
    if not have_data:
        return "inconclusive", "no data from either observer in the window"
    statuses: list[VerdictName] = []
    reasons: list[str] = []
    for k, s in enumerate(seen, 1):
        for x in (s.client, s.server):
            if x is None:
                continue
            ttr = x.ttr
            if ttr is None:
                out = end - x.impact.t
                status: VerdictName = "fail" if out > objective else "inconclusive"
                reasons.append(f"incident {k}: still out after {out:.1f} s ({x.observer})")
            elif ttr.t > objective:
                status = "fail"
                reasons.append(f"incident {k}: TTR {ttr.t:.2f} s over {objective:g} s "
                               f"({x.observer})")
            elif ttr.hi > objective:
                status = "inconclusive"
                reasons.append(f"incident {k}: TTR {ttr.t:.2f} s ± {ttr.err:.2f} s too close to "
                               f"{objective:g} s ({x.observer})")
            else:
                status = "pass"
            statuses.append(status)
    verdict = combine(statuses) if statuses else "pass"
    if not reasons:
        reasons.append(f"{len(seen)} incident(s), each recovered within {objective:g} s"
                       if seen else "no incident in the window")
    return verdict, "; ".join(reasons)
