"""Time to detect of one run: ALERTS read from Prometheus, notifications from the receiver.

The game-day engine and the Chaos Toolkit ``slo`` control both call
:func:`detect` once the run's load has stopped and its impact is measured:
it reads the raw ``ALERTS{alertstate="firing"}`` samples of the run (from
ten evaluation intervals before it, so an alert already firing is no new
episode) and, on a sandbox target, the notifications chaosgate's receiver
recorded (:func:`receiver` runs it for the run's duration), and returns the
:class:`Detection`: the detection gates (:func:`chaosgate.slo.detection.detection_gate_specs`,
pure) and the time to detect by each observer, from the impact to the first
new firing of the expected alert (any alert when none is expected) and to
its first firing notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, cast

from ..clients.alertmanager import Notification, read_notifications, receiving
from ..clients.prometheus import PrometheusClient
from ..exceptions import ChaosgateError
from ..sandbox.topology import HOST
from ..slo.detection import (
    Firing,
    detection_gate_specs,
    firings,
    first_firing,
    first_notification,
    pending_at,
    series_key,
)
from ..targets import Target
from ..verdict import VerdictName
from .gates import Gate

__all__ = ["Detection", "detect", "receiver"]


@dataclass(frozen=True)
class Detection:
    """What the alerting saw of one run: its gates and the time to detect per observer."""

    expect: str | None
    within: float
    t_impact: float | None
    gates: tuple[Gate, ...] = ()
    alert: Firing | None = None  # the first new firing measured to (the expected alert's)
    notification: Notification | None = None  # its first firing notification
    fired: tuple[str, ...] = field(default=())  # every alert that started firing in the run
    recorded: bool = False  # a notification receiver ran for the target

    @property
    def ttd_alert(self) -> float | None:
        """Seconds from the impact to the first ALERTS firing sample (None: none)."""
        if self.alert is None or self.t_impact is None:
            return None
        return self.alert.hi - self.t_impact

    @property
    def ttd_notification(self) -> float | None:
        """Seconds from the impact to the first firing notification (None: none)."""
        if self.notification is None or self.t_impact is None:
            return None
        return self.notification.t_received - self.t_impact

    def to_json(self) -> dict[str, Any]:
        """Plain data for a journal: the expectation, the impact, each observer's first."""
        alert = None if self.alert is None else {
            "alertname": self.alert.alertname, "severity": self.alert.severity,
            "t_lo": self.alert.lo, "t": self.alert.hi, "ttd": self.ttd_alert}
        note = None if self.notification is None else {
            "alertnames": list(self.notification.alertnames),
            "t": self.notification.t_received, "ttd": self.ttd_notification}
        return {"expect_alert": self.expect, "detect_within": self.within,
                "t_impact": self.t_impact, "prometheus": alert, "notification": note,
                "fired": list(self.fired), "notifications_recorded": self.recorded}


def receiver(target: Target) -> ExitStack:
    """For a sandbox target: chaosgate's notification receiver on the sandbox's webhook
    port, recording into the sandbox's notifications file, until the stack is closed
    (a port already taken: the process that started this one receives)."""
    stack = ExitStack()
    if target.is_sandbox:
        topo = target.sandbox_topology()
        stack.enter_context(receiving(HOST, topo.ports.alert_webhook, topo.notifications_file))
    return stack


def detect(target: Target, *, start: float, end: float, t_impact: float | None,
           expect: str | None, within: float, baseline: bool,
           prometheus: PrometheusClient | None = None) -> Detection:
    """The detection of a run whose load ran over ``[start, end]`` (see the module doc).

    ``baseline``: no fault was applied, so any alert that starts firing is a false
    positive (a failed gate). ALERTS that cannot be read give one inconclusive gate.
    """
    interval = target.prometheus.scrape_interval  # the evaluation interval, at most
    read_from = start - 10 * interval
    prom = prometheus or PrometheusClient.from_config(target.prometheus)
    recorded = target.is_sandbox
    try:
        series = prom.raw_samples('ALERTS{alertstate="firing"}', read_from, end + 2 * interval)
    except ChaosgateError as exc:
        gate = Gate("alerts", "inconclusive", "no data", "read from Prometheus",
                    f"ALERTS could not be read: {exc}")
        return Detection(expect, within, t_impact, (gate,), recorded=recorded)
    found = firings(((s.labels, s.samples) for s in series), start=start,
                    end=end + 2 * interval, evaluation_interval=interval, read_from=read_from)
    if baseline and found:  # pending before the baseline began: an earlier period's alert
        try:
            pending = prom.raw_samples('ALERTS{alertstate="pending"}', read_from,
                                       start + 2 * interval)
        except ChaosgateError:
            pending = []
        earlier = pending_at(((s.labels, s.samples) for s in pending), start, interval)
        found = [f for f in found if series_key(f.labels) not in earlier]
    notes: Sequence[Notification] = ()
    if recorded and t_impact is not None:
        notes = read_notifications(target.sandbox_topology().notifications_file,
                                   since=t_impact)
    first_note = None if t_impact is None else first_notification(notes, expect, t_impact)
    specs = detection_gate_specs(
        expect=expect, within=within, t_impact=t_impact, found=found,
        notified=None if first_note is None else first_note.t_received,
        notifications_recorded=recorded, baseline=baseline)
    gates = tuple(Gate(s.name, cast(VerdictName, s.status), s.value, s.objective, s.detail,
                       measure=s.measure) for s in specs)
    return Detection(expect, within, t_impact, gates,
                     None if t_impact is None else first_firing(found, expect, t_impact),
                     first_note, tuple(dict.fromkeys(f.describe() for f in found)), recorded)
