"""SLO verdicts from counts, request logs and timelines (docs/architecture.md §6). Pure.

A ratio SLO (good events over all events, objective = minimum good ratio):

- **pass** only when the lower Clopper-Pearson bound (one-sided, at
  ``confidence``, 95 % by default) clears the objective: the data *prove* it;
- **fail** when the observed ratio misses the objective: the window's error
  budget is spent (more than 100 % consumed), whatever the sample size;
- **inconclusive** otherwise, and whenever there is no data or Prometheus
  could not be asked. With few requests, a 99.99 % SLO reads "not yet
  provable: N requests without a failure show >= L; 29 956 are needed".
  Never a silent pass.

Measured SLOs (docs/decisions.md, "SLO measurement"), with the same rules:
fail on the observed value, pass only on a bound, inconclusive in between or
without data:

- ``mean_latency``: fail when the observed mean exceeds the threshold; pass
  when the one-sided Student-t upper bound of the mean (client: the
  durations of the route's requests, at least :data:`MIN_MEAN_SAMPLES`) is
  within it. Server side ``sum/count`` is the exact mean of the requests
  Prometheus counted (no per-request values, so no variance): it passes
  within the threshold once that many requests were counted;
- ``throughput``: fail when the observed rate is under the objective; pass
  when the exact Poisson (Garwood) lower bound of the events credited to
  the window, over the window, clears it. The server credits only the
  window less one scrape interval at each edge (``increase()`` extrapolates
  those); the client's count is exact but bounded by the load it offered
  (an offered rate under the objective is inconclusive, never a fail);
- ``gauge_bound``: fail when a sample exceeds the threshold; pass when none
  does and the samples cover the window (at least :data:`GAUGE_COVERAGE` of
  one per scrape interval). A spike between two scrapes is not seen.

A ``recovery`` SLO passes when the upper bound of the time to recover is
within the objective, fails when its estimate (or the observation without a
recovery) exceeds it, and is inconclusive in between or without data.

Each judgement is an :class:`SLOVerdict` record; its ``status`` is a
:data:`chaosgate.verdict.VerdictName`. Several of them make one verdict
through :func:`chaosgate.verdict.combine`, and its exit code is
:func:`chaosgate.verdict.exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..load.requestlog import RequestRecord
from ..verdict import VerdictName
from .catalog import SLO
from .stats import (
    MIN_MEAN_SAMPLES,
    BurnRate,
    budget_consumed,
    clopper_pearson,
    exact,
    mean_bounds,
    meets,
    percentile,
    poisson_bounds,
    requests_needed,
)
from .timeline import Judge, Timeline

__all__ = [
    "GAUGE_COVERAGE",
    "MIN_MEAN_SAMPLES",
    "SLOVerdict",
    "client_blind_spot",
    "gauge_verdict",
    "is_server_error",
    "mean_latency_verdict",
    "objective_text",
    "on_route",
    "ratio_verdict",
    "records_verdicts",
    "recovery_verdict",
    "request_judge",
    "server_mean_verdict",
    "throughput_verdict",
    "unjudged",
    "value_text",
]

#: A gauge_bound passes only when its samples are at least this share of one per scrape.
GAUGE_COVERAGE = 0.9

@dataclass(frozen=True)
class SLOVerdict:
    """The judgement of one SLO by one observer, with the numbers behind it.

    ``value``: the observed good ratio (ratio SLOs), time to recover in
    seconds (``recovery``), mean latency in seconds (``mean_latency``),
    events per second (``throughput``) or the gauge's largest sample
    (``gauge_bound``); ``bounds``: its Clopper-Pearson bounds, the TTR's
    bounds, the mean's Student-t bounds or the rate's Poisson bounds;
    ``total``: the events, requests or samples judged; ``query``: the PromQL
    used, as sent (server side).
    """

    slo: str
    type: str
    status: VerdictName
    reason: str
    observer: str  # "server" | "client"
    objective: float
    value: float | None = None
    good: int | None = None
    total: int | None = None
    bounds: tuple[float, float] | None = None
    budget_consumed: float | None = None
    burn: BurnRate | None = None
    percentile_ms: float | None = None  # client side, latency SLOs: the exact percentile
    query: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping of every field."""
        out = {k: getattr(self, k) for k in (
            "slo", "type", "status", "reason", "observer", "objective", "value", "good",
            "total", "budget_consumed", "percentile_ms")}
        out["bounds"] = list(self.bounds) if self.bounds else None
        out["burn"] = None if self.burn is None else {
            "long": self.burn.long, "short": self.burn.short,
            "threshold": self.burn.threshold, "firing": self.burn.firing}
        out["query"] = dict(self.query)
        return out


def _pct(x: float) -> str:
    """A percentage with enough digits to compare with 99.99 % (no 2-digit rounding)."""
    return f"{x * 100:.4f}".rstrip("0").rstrip(".") + " %"


def _shown(slo: SLO, good_ratio: float) -> str:
    """A good ratio as the SLO states it (error ratios as errors)."""
    if slo.type == "error_ratio":
        return f"{_pct(max(0.0, 1.0 - good_ratio))} errors"
    return _pct(good_ratio)


def _bound(slo: SLO, lower: float) -> str:
    """The Clopper-Pearson bound that matters, as the SLO states it."""
    return f"≤ {_shown(slo, lower)}" if slo.type == "error_ratio" else f"≥ {_shown(slo, lower)}"


#: How a measured SLO's value reads: (name, comparison of the objective, scale, unit).
_MEASURED = {"mean_latency": ("mean ", "≤ ", 1000.0, " ms"), "throughput": ("", "≥ ", 1.0, " /s"),
             "gauge_bound": ("max ", "≤ ", 1.0, "")}


def objective_text(slo: SLO) -> str:
    """The objective as people write it: ``≥ 99.99 %``, ``p95 ≤ 500 ms``, ``TTR ≤ 30 s``."""
    if slo.type == "recovery":
        return f"TTR ≤ {slo.objective:g} s"
    if slo.type in _MEASURED:
        name, op, scale, unit = _MEASURED[slo.type]
        return f"{name}{op}{slo.objective * scale:g}{unit}"
    if slo.type == "latency" and slo.threshold is not None and slo.percentile is not None:
        return f"p{slo.percentile:g} ≤ {slo.threshold * 1000:g} ms"
    if slo.type == "error_ratio":
        return f"≤ {_pct(float(1 - exact(slo.objective)))} errors"
    return f"≥ {_pct(slo.objective)}"


def value_text(slo: SLO, value: float | None, percentile_ms: float | None = None) -> str:
    """An observed value (an :attr:`SLOVerdict.value`) as its SLO states it (``—``: none)."""
    if value is None:
        return "—"
    if slo.type in _MEASURED:
        name, _op, scale, unit = _MEASURED[slo.type]
        return f"{name}{value * scale:.5g}{unit}"
    if slo.type == "recovery":
        return f"{value:.2f} s"
    if slo.type == "error_ratio":
        return f"{(1 - value) * 100:.4f} % errors"
    text = f"{value * 100:.4f} %"
    return text + (f" (p{slo.percentile:g} {percentile_ms:.1f} ms)"
                   if percentile_ms is not None and slo.percentile else "")


def unjudged(slo: SLO, reason: str, observer: str = "server",
             query: Mapping[str, str] | None = None) -> SLOVerdict:
    """An inconclusive verdict: no data, or the data could not be read."""
    return SLOVerdict(slo.name, slo.type, "inconclusive", reason, observer, slo.objective,
                   query=dict(query or {}))


def ratio_verdict(slo: SLO, good: int, total: int, *, observer: str = "server",
                  confidence: float = 0.95, query: Mapping[str, str] | None = None,
                  burn: BurnRate | None = None, percentile_ms: float | None = None) -> SLOVerdict:
    """Judge ``good`` of ``total`` events against a ratio SLO (see the module doc)."""
    if total <= 0:
        return unjudged(slo, "no data: no events in the window", observer, query)
    good = min(max(good, 0), total)
    lower, upper = clopper_pearson(good, total, confidence)
    bad = total - good
    spent = budget_consumed(bad, total, slo.objective)
    level = f"{confidence * 100:g} %"
    status: VerdictName
    if not meets(good, total, slo.objective):
        status = "fail"
        budget = f"{spent:.0f} times the error budget" if spent >= 10 else \
            f"{spent * 100:.0f} % of the error budget"
        reason = (f"{bad} bad of {total}: {_shown(slo, good / total)} misses "
                  f"{objective_text(slo)}; {budget} spent")
    elif lower >= slo.objective:
        status = "pass"
        reason = (f"{bad} bad of {total}: at {level} confidence {_bound(slo, lower)}, "
                  f"within {objective_text(slo)}")
    else:
        status = "inconclusive"
        need = (f"{requests_needed(slo.objective, confidence)} events without a failure are "
                "needed" if bad == 0 else "more events are needed")
        reason = (f"not yet provable: {bad} bad of {total} show {_bound(slo, lower)} at "
                  f"{level} confidence, short of {objective_text(slo)}; {need}")
    return SLOVerdict(slo.name, slo.type, status, reason, observer, slo.objective,
                   value=good / total, good=good, total=total, bounds=(lower, upper),
                   budget_consumed=spent, burn=burn, percentile_ms=percentile_ms,
                   query=dict(query or {}))


def is_server_error(record: RequestRecord) -> bool:
    """A 5xx answer, or no answer at all (timeout, connection error)."""
    if record.status is not None:
        return record.status >= 500
    return not record.ok


def request_judge(slo: SLO) -> Judge:
    """Which requests of the log ``slo`` covers, and which of them are bad.

    availability and error_ratio: server errors (:func:`is_server_error`), on
    ``route`` if the SLO has one; latency: slower than the threshold, on its
    route. ``ratio`` SLOs (imported) have no client-side reading.
    """
    route = slo.route
    if slo.type == "latency" and slo.threshold is not None:
        limit_ms = slo.threshold * 1000.0
        return lambda r: None if r.name != route else r.ms > limit_ms
    if slo.type in ("availability", "error_ratio"):
        return lambda r: None if route is not None and r.name != route else is_server_error(r)
    raise ValueError(f"SLO {slo.name!r} ({slo.type}) cannot be judged from a request log")


def mean_latency_verdict(slo: SLO, durations_s: Sequence[float], *, observer: str = "client",
                         confidence: float = 0.95) -> SLOVerdict:
    """Judge a ``mean_latency`` SLO on request durations (seconds): fail when their mean is
    over the threshold, pass when the one-sided Student-t upper bound is within it."""
    n = len(durations_s)
    if n == 0:
        on = f" on {slo.route}" if slo.route else ""
        return unjudged(slo, f"no data: no request{on} in the window", observer)
    limit = slo.objective
    if n < 2:
        mean, lo, hi = durations_s[0], 0.0, float("inf")
    else:
        mean, lo, hi = mean_bounds(durations_s, confidence)
    lo = max(lo, 0.0)
    level = f"{confidence * 100:g} %"
    status: VerdictName
    if mean > limit:
        status = "fail"
        reason = f"mean of {n} requests {mean * 1000:.1f} ms misses {objective_text(slo)}"
    elif n >= MIN_MEAN_SAMPLES and hi <= limit:
        status = "pass"
        reason = (f"mean of {n} requests {mean * 1000:.1f} ms; at {level} confidence ≤ "
                  f"{hi * 1000:.1f} ms (Student t), within {objective_text(slo)}")
    elif n < MIN_MEAN_SAMPLES:
        status = "inconclusive"
        reason = (f"not yet provable: {n} requests, fewer than the {MIN_MEAN_SAMPLES} a "
                  f"mean's interval needs (mean {mean * 1000:.1f} ms)")
    else:
        status = "inconclusive"
        reason = (f"not yet provable: mean of {n} requests {mean * 1000:.1f} ms, but at "
                  f"{level} confidence only ≤ {hi * 1000:.1f} ms, over "
                  f"{objective_text(slo)}; more requests are needed")
    return SLOVerdict(slo.name, slo.type, status, reason, observer, slo.objective,
                      value=mean, total=n, bounds=(lo, hi))


def server_mean_verdict(slo: SLO, total_s: float | None, count: float | None, *,
                        query: Mapping[str, str] | None = None) -> SLOVerdict:
    """Judge a ``mean_latency`` SLO on Prometheus' ``sum`` (seconds) and ``count`` over the
    window: the exact mean of the requests counted, so pass or fail once at least
    :data:`MIN_MEAN_SAMPLES` were counted (fail whatever their number)."""
    n = 0 if count is None else round(count)
    if n <= 0 or total_s is None:
        return unjudged(slo, "no data: no request counted in the window (is traffic "
                        "flowing, and are the series scraped?)", query=query)
    mean = max(total_s, 0.0) / count if count else 0.0
    status: VerdictName = "fail" if mean > slo.objective else \
        "pass" if n >= MIN_MEAN_SAMPLES else "inconclusive"
    if status == "inconclusive":
        reason = (f"not yet provable: only {n} requests counted, fewer than "
                  f"{MIN_MEAN_SAMPLES} (mean {mean * 1000:.1f} ms)")
    else:
        reason = (f"sum/count of {n} requests: mean {mean * 1000:.1f} ms, "
                  f"{'misses' if status == 'fail' else 'within'} {objective_text(slo)} "
                  "(exact for the requests counted)")
    return SLOVerdict(slo.name, slo.type, status, reason, "server", slo.objective,
                      value=mean, total=n, bounds=(mean, mean), query=dict(query or {}))


def throughput_verdict(slo: SLO, events: int, seconds: float, *, credited: int | None = None,
                       offered: int | None = None, observer: str = "server",
                       confidence: float = 0.95,
                       query: Mapping[str, str] | None = None) -> SLOVerdict:
    """Judge a ``throughput`` SLO on ``events`` counted over ``seconds``.

    ``credited``: the events the lower bound is computed on, over the same
    ``seconds`` (server: the window less its scrape edges; default ``events``);
    ``offered``: the requests the client sent (client side): an offered rate
    under the objective cannot show it, so it is inconclusive, not a fail.
    """
    if seconds <= 0:
        return unjudged(slo, "no data: an empty window", observer, query)
    events = max(events, 0)
    rate = events / seconds
    base = events if credited is None else min(max(credited, 0), events)
    lo, hi = poisson_bounds(base, confidence)
    lower, upper = lo / seconds, max(hi / seconds, rate)
    level = f"{confidence * 100:g} %"
    counted = f"{events} events in {seconds:.0f} s: {rate:.1f} /s"
    status: VerdictName
    if offered is not None and offered / seconds < slo.objective and rate < slo.objective:
        status = "inconclusive"
        reason = (f"not provable: the load offered only {offered / seconds:.1f} requests/s, "
                  f"under {objective_text(slo)} ({counted} succeeded); a load of at least "
                  f"{slo.objective:g}/s is needed")
    elif rate < slo.objective:
        status = "fail"
        reason = f"{counted} misses {objective_text(slo)}"
    elif lower >= slo.objective:
        status = "pass"
        reason = (f"{counted}; at {level} confidence ≥ {lower:.1f} /s (Poisson"
                  f"{'' if credited is None else f', {base} events credited off the edges'}),"
                  f" within {objective_text(slo)}")
    else:
        status = "inconclusive"
        reason = (f"not yet provable: {counted}, but at {level} confidence only ≥ "
                  f"{lower:.1f} /s, short of {objective_text(slo)}; a longer window is needed")
    return SLOVerdict(slo.name, slo.type, status, reason, observer, slo.objective,
                      value=rate, total=events, bounds=(lower, upper),
                      query=dict(query or {}))


def gauge_verdict(slo: SLO, samples: Sequence[tuple[float, float]], *, window: float,
                  scrape_interval: float,
                  query: Mapping[str, str] | None = None) -> SLOVerdict:
    """Judge a ``gauge_bound`` SLO on the gauge's samples ``(t, value)`` over ``window``:
    fail when one exceeds the threshold; pass when none does and they cover the window."""
    if not samples:
        return unjudged(slo, "no data: the gauge has no sample in the window (is it "
                        "exported and scraped?)", query=query)
    t_max, v_max = max(samples, key=lambda s: s[1])
    n = len(samples)
    expected = max(1, int(window / scrape_interval))
    status: VerdictName
    if v_max > slo.objective:
        above = sum(1 for _, v in samples if v > slo.objective)
        status = "fail"
        when = datetime.fromtimestamp(t_max, UTC).strftime("%H:%M:%S UTC")
        reason = f"{above} of {n} samples over {slo.objective:g}; max {v_max:g} at {when}"
    elif n < GAUGE_COVERAGE * expected:
        status = "inconclusive"
        reason = (f"not provable: {n} samples of the ~{expected} one per "
                  f"{scrape_interval:g} s scrape would give; the window is not covered "
                  f"(max {v_max:g})")
    else:
        status = "pass"
        reason = f"all {n} samples ≤ {slo.objective:g} (max {v_max:g})"
    return SLOVerdict(slo.name, slo.type, status, reason, "server", slo.objective,
                      value=v_max, total=n, query=dict(query or {}))


def client_blind_spot(slo: SLO) -> str | None:
    """Why the request log cannot judge ``slo`` (None when it can): a gauge, an imported
    ratio's arbitrary PromQL, a measured SLO without a ``route``, a recovery."""
    if slo.client_readable:
        return None
    if slo.type == "gauge_bound":
        return (f"{slo.name} is a gauge_bound SLO: only the server observer (Prometheus) "
                "reads it, the request log has no gauge")
    if slo.type in ("mean_latency", "throughput"):
        return (f"{slo.name} ({slo.type}) has no `route`: the request log cannot tell its "
                "requests; give it a route, or read it on the server observer")
    if slo.type == "recovery":
        return f"{slo.name} is a recovery SLO: it is judged on a fault's timeline"
    return (f"{slo.name} is an imported ratio SLO: only its PromQL (the server observer) "
            "says what it counts")


def on_route(record: RequestRecord, route: str | None) -> bool:
    """Whether ``record`` is a request of ``route``: its name (``/events``), or its method
    and name (``POST /events``)."""
    return route is not None and route in (record.name, f"{record.method} {record.name}")


def _client_measured(slo: SLO, chosen: Sequence[RequestRecord], start: float | None,
                     end: float | None, confidence: float) -> SLOVerdict:
    """A mean_latency or throughput SLO on its route, from the requests in the window."""
    mine = [r for r in chosen if on_route(r, slo.route)]
    if slo.type == "mean_latency":
        return mean_latency_verdict(slo, [r.ms / 1000.0 for r in mine], confidence=confidence)
    if not mine:
        return unjudged(slo, f"no data: no {slo.route} request in the window", "client")
    t0 = start if start is not None else min(r.t for r in chosen)
    t1 = end if end is not None else max(r.end for r in chosen)
    ok = sum(1 for r in mine if r.ok)
    return throughput_verdict(slo, ok, t1 - t0, offered=len(mine), observer="client",
                              confidence=confidence)


def records_verdicts(slos: Iterable[SLO], records: Sequence[RequestRecord], *,
                     start: float | None = None, end: float | None = None,
                     confidence: float = 0.95) -> list[SLOVerdict]:
    """Client-side verdicts of the SLOs the request log can judge (requests started in
    ``[start, end)``); latency SLOs also report their exact percentile; mean_latency and
    throughput SLOs on a ``route`` are judged on its requests (throughput: the successful
    ones per second of ``[start, end)``, by default the log's own span)."""
    chosen = [r for r in records if (start is None or r.t >= start)
              and (end is None or r.t < end)]
    verdicts = []
    for slo in slos:
        if not slo.client_readable:
            continue
        if slo.type in ("mean_latency", "throughput"):
            verdicts.append(_client_measured(slo, chosen, start, end, confidence))
            continue
        judge = request_judge(slo)
        covered = [(r, bad) for r in chosen if (bad := judge(r)) is not None]
        exact_pct = None
        if slo.type == "latency" and slo.percentile is not None and covered:
            exact_pct = percentile([r.ms for r, _ in covered], slo.percentile)
        good = sum(1 for _, bad in covered if not bad)
        verdicts.append(ratio_verdict(slo, good, len(covered), observer="client",
                                      confidence=confidence, percentile_ms=exact_pct))
    return verdicts


def recovery_verdict(slo: SLO, timeline: Timeline) -> SLOVerdict:
    """Judge a ``recovery`` SLO on a (combined) timeline of one observer."""
    obs = timeline.observer
    if timeline.total == 0:
        return unjudged(slo, "no data after the injection", obs)
    if timeline.t_impact is None:
        return SLOVerdict(slo.name, slo.type, "pass", "no impact observed: nothing to recover "
                       f"({timeline.total} events after the injection)", obs, slo.objective,
                       value=0.0)
    ttr = timeline.ttr
    if ttr is None:
        waited = timeline.t_end - timeline.t_impact.t
        if waited > slo.objective:
            return SLOVerdict(slo.name, slo.type, "fail", f"not recovered {waited:.1f} s after "
                           f"the impact (objective {slo.objective:g} s)", obs, slo.objective)
        return unjudged(slo, f"the observation ended {waited:.1f} s after the impact, before "
                        f"a {slo.hold_down:g} s hold-down window back within the SLOs", obs)
    text = f"TTR {ttr.t:.3f} s (between {ttr.lo:.3f} and {ttr.hi:.3f})"
    status: VerdictName = "pass" if ttr.hi <= slo.objective else \
        "fail" if ttr.t > slo.objective else "inconclusive"
    word = {"pass": "within", "fail": "over", "inconclusive": "too close to call against"}
    return SLOVerdict(slo.name, slo.type, status,
                      f"{text}: {word[status]} {slo.objective:g} s", obs, slo.objective,
                      value=ttr.t, bounds=(ttr.lo, ttr.hi))

