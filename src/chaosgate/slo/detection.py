"""Time to detect: when alerts started firing and when their notifications arrived. Pure.

Two observers of detection, like the two of recovery:

- **Prometheus**: raw samples of ``ALERTS{alertstate="firing"}`` (one per
  rule evaluation while an alert fires). A firing *episode* starts at a
  sample with no firing sample of the same series in the 1.5 evaluation
  intervals before it; the rule fired within one evaluation interval
  before that sample, so the time is an interval ``[lo, hi]``. An alert
  already firing when the window opens is not a new detection (a ticket
  alert still firing from an earlier outage says nothing about this one).
- **Notifications**: what the receiver recorded
  (:mod:`chaosgate.clients.alertmanager`), each with the time it arrived:
  the moment a person would have been paged.

:func:`detection_gates` turns them into the game days' gates: "the expected
alert fired within N s of the impact" (both observers) and, for a baseline,
"no alert started firing" (a false positive fails the baseline). An alert
that was already *pending* when the baseline began (its condition true on
data from before it, say a ticket alert's hours-long window still holding an
earlier outage) and fires during it is not the baseline's false positive
(:func:`pending_at`), and is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..clients.alertmanager import Notification

__all__ = ["Firing", "GateSpec", "detection_gate_specs", "firings", "first_firing",
           "first_notification", "first_notified", "pending_at", "series_key"]

Samples = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Firing:
    """One firing episode of one alert series that began in the window: ``[lo, hi]``."""

    alertname: str
    labels: Mapping[str, str]
    lo: float
    hi: float

    @property
    def severity(self) -> str:
        """Sloth's ``sloth_severity`` (page, ticket), else ``severity``, else ''."""
        return str(self.labels.get("sloth_severity") or self.labels.get("severity") or "")

    def describe(self) -> str:
        extra = f" ({self.severity})" if self.severity else ""
        return f"{self.alertname}{extra}"


def firings(series: Iterable[tuple[Mapping[str, str], Samples]], *, start: float,
            end: float, evaluation_interval: float, read_from: float) -> list[Firing]:
    """Every firing episode of any ``ALERTS`` series that began within ``[start, end]``,
    by start time. ``series`` are the raw samples read from ``read_from`` (a few
    evaluation intervals before ``start``): a series firing from the very beginning of
    the read range was firing before it, so that is no new episode."""
    out = []
    gap = 1.5 * evaluation_interval
    for labels, samples in series:
        previous = read_from if read_from < start - gap else None
        seen_quiet = previous is not None
        for t, value in sorted(samples):
            if value < 1:
                continue
            fresh = seen_quiet and (previous is None or t - previous > gap)
            previous, seen_quiet = t, True
            if fresh and start <= t <= end:
                out.append(Firing(str(labels.get("alertname", "")), dict(labels),
                                  t - evaluation_interval, t))
    return sorted(out, key=lambda f: f.lo)


def series_key(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """An ALERTS series without its ``alertstate``: one alert, pending or firing."""
    return frozenset((k, str(v)) for k, v in labels.items() if k not in ("alertstate",
                                                                         "__name__"))


def pending_at(series: Iterable[tuple[Mapping[str, str], Samples]], at: float,
               evaluation_interval: float) -> set[frozenset[tuple[str, str]]]:
    """The alerts (:func:`series_key`) with a *pending* sample within 1.5 evaluation
    intervals of ``at``: their conditions held on data from before ``at``."""
    gap = 1.5 * evaluation_interval
    return {series_key(labels) for labels, samples in series
            if any(v >= 1 and abs(t - at) <= gap for t, v in samples)}


def first_notification(notifications: Iterable[Notification], alertname: str | None,
                       since: float) -> Notification | None:
    """The first *firing* notification naming ``alertname`` (any alert when None) that
    arrived at or after ``since`` (None: none did)."""
    found = [n for n in notifications if n.status == "firing" and n.t_received >= since
             and (alertname is None or alertname in n.alertnames)]
    return min(found, key=lambda n: n.t_received) if found else None


def first_notified(notifications: Iterable[Notification], alertname: str,
                   since: float) -> float | None:
    """When the first *firing* notification naming ``alertname`` arrived at or after
    ``since`` (None: none did)."""
    first = first_notification(notifications, alertname, since)
    return None if first is None else first.t_received


def first_firing(found: Sequence[Firing], alertname: str | None,
                 since: float) -> Firing | None:
    """The episode a time to detect is measured to: the first of ``alertname`` (as the
    detection gate takes it), or, for any alert (None), the first whose first sample is at
    or after ``since`` (the impact)."""
    if alertname is not None:
        return next((f for f in found if f.alertname == alertname), None)
    return next((f for f in found if f.hi >= since), None)


@dataclass(frozen=True)
class GateSpec:
    """A detection gate before it becomes a :class:`~chaosgate.gameday.gates.Gate`."""

    name: str
    status: str  # pass | fail | inconclusive
    value: str
    objective: str
    detail: str
    measure: float | None = None


def detection_gate_specs(*, expect: str | None, within: float, t_impact: float | None,
                         found: Sequence[Firing], notified: float | None,
                         notifications_recorded: bool, baseline: bool) -> list[GateSpec]:
    """The detection gates of one run (see the module doc)."""
    specs: list[GateSpec] = []
    if baseline:
        names = ", ".join(f.describe() for f in found)
        specs.append(GateSpec(
            "alerts during the baseline", "fail" if found else "pass",
            f"{len(found)} fired ({names})" if found else "none fired", "none fires",
            f"a false positive: {names} started firing with no fault applied" if found
            else "no alert started firing while the system was healthy"))
    if expect is None:
        return specs
    objective = f"≤ {within:g} s after the impact"
    first = first_firing(found, expect, t_impact or 0.0)
    if t_impact is None:
        specs.append(GateSpec(f"time to detect ({expect}, Prometheus)", "inconclusive",
                              "no impact", objective,
                              "no impact was observed, so there was nothing to detect"))
        return specs
    if first is None:
        specs.append(GateSpec(f"time to detect ({expect}, Prometheus)", "fail", "never fired",
                              objective, f"{expect} never started firing after the impact"))
    else:
        ttd = first.hi - t_impact
        specs.append(GateSpec(
            f"time to detect ({expect}, Prometheus)", "pass" if ttd <= within else "fail",
            f"{ttd:.1f} s", objective,
            f"first ALERTS sample {ttd:.1f} s after the impact (fired within the evaluation "
            f"interval before it: {first.lo - t_impact:.1f} to {ttd:.1f} s)", ttd))
    if not notifications_recorded:
        specs.append(GateSpec(f"time to detect ({expect}, notification)", "inconclusive",
                              "no receiver", objective,
                              "no notification receiver ran for this target (the sandbox runs "
                              "one; other targets name none)"))
    elif notified is None:
        specs.append(GateSpec(f"time to detect ({expect}, notification)", "fail",
                              "not delivered", objective,
                              f"no firing notification of {expect} arrived after the impact"))
    else:
        ttd = notified - t_impact
        specs.append(GateSpec(
            f"time to detect ({expect}, notification)", "pass" if ttd <= within else "fail",
            f"{ttd:.1f} s", objective, f"the notification arrived {ttd:.1f} s after the impact",
            ttd))
    return specs
