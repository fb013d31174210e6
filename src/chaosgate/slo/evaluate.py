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
from typing import Any

from ..load.requestlog import RequestRecord
from ..verdict import VerdictName
from .catalog import SLO
from .stats import (
    BurnRate,
    budget_consumed,
    clopper_pearson,
    exact,
    meets,
    percentile,
    requests_needed,
)
from .timeline import Judge, Timeline

__all__ = [
    "SLOVerdict",
    "is_server_error",
    "objective_text",
    "ratio_verdict",
    "records_verdicts",
    "recovery_verdict",
    "request_judge",
    "unjudged",
]

@dataclass(frozen=True)
class SLOVerdict:
    """The judgement of one SLO by one observer, with the numbers behind it.

    ``value``: the observed good ratio (ratio SLOs) or time to recover in
    seconds (``recovery``); ``bounds``: its Clopper-Pearson bounds, or the
    TTR's bounds; ``query``: the PromQL used, as sent (server side).
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


def objective_text(slo: SLO) -> str:
    """The objective as people write it: ``≥ 99.99 %``, ``p95 ≤ 500 ms``, ``TTR ≤ 30 s``."""
    if slo.type == "recovery":
        return f"TTR ≤ {slo.objective:g} s"
    if slo.type == "latency" and slo.threshold is not None and slo.percentile is not None:
        return f"p{slo.percentile:g} ≤ {slo.threshold * 1000:g} ms"
    if slo.type == "error_ratio":
        return f"≤ {_pct(float(1 - exact(slo.objective)))} errors"
    return f"≥ {_pct(slo.objective)}"


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


def records_verdicts(slos: Iterable[SLO], records: Sequence[RequestRecord], *,
                     start: float | None = None, end: float | None = None,
                     confidence: float = 0.95) -> list[SLOVerdict]:
    """Client-side verdicts of the ratio SLOs from the request log (requests started in
    ``[start, end)``); latency SLOs also report their exact percentile."""
    chosen = [r for r in records if (start is None or r.t >= start)
              and (end is None or r.t < end)]
    verdicts = []
    for slo in slos:
        if slo.type not in ("availability", "error_ratio", "latency"):
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

