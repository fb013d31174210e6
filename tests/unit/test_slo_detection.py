"""Time to detect from ALERTS samples and recorded notifications (pure)."""

from __future__ import annotations

from chaosgate.clients.alertmanager import Notification
from chaosgate.gameday.detection import Detection
from chaosgate.slo.detection import (
    detection_gate_specs,
    firings,
    first_firing,
    first_notification,
    first_notified,
    pending_at,
    series_key,
)

PAGE = {"alertname": "ShopAvailabilityBurn", "sloth_severity": "page"}
TICKET = {"alertname": "ShopAvailabilityBurn", "sloth_severity": "ticket"}


def samples(*spans: tuple[float, float]) -> list[tuple[float, float]]:
    """One firing sample per second over each ``(first, last)`` span."""
    return [(float(t), 1.0) for a, b in spans for t in range(int(a), int(b) + 1)]


def test_a_new_episode_is_found_and_one_firing_all_along_is_not() -> None:
    found = firings([(PAGE, samples((120, 140))), (TICKET, samples((90, 200)))],
                    start=100, end=200, evaluation_interval=1.0, read_from=90)
    assert [(f.describe(), f.lo, f.hi) for f in found] == [
        ("ShopAvailabilityBurn (page)", 119.0, 120.0)]


def test_an_alert_pending_when_a_baseline_begins_is_known_apart() -> None:
    # the ticket alert's condition held on an earlier outage: pending at 100, fires at 130
    pending = [({**TICKET, "alertstate": "pending"}, samples((95, 129))),
               ({**PAGE, "alertstate": "pending"}, samples((10, 20)))]
    earlier = pending_at(pending, 100.0, 1.0)
    assert earlier == {series_key(TICKET)}
    found = firings([({**TICKET, "alertstate": "firing"}, samples((130, 200))),
                     ({**PAGE, "alertstate": "firing"}, samples((150, 160)))],
                    start=100, end=200, evaluation_interval=1.0, read_from=90)
    assert [f.describe() for f in found if series_key(f.labels) not in earlier] == [
        "ShopAvailabilityBurn (page)"]


def test_two_episodes_with_a_quiet_gap_are_two() -> None:
    found = firings([(PAGE, samples((110, 115), (130, 135)))], start=100, end=200,
                    evaluation_interval=1.0, read_from=90)
    assert [f.hi for f in found] == [110.0, 130.0]
    # a missed evaluation (gap of 1.5 intervals or less) is the same episode
    one = firings([(PAGE, [(110.0, 1.0), (111.0, 1.0), (112.4, 1.0)])], start=100, end=200,
                  evaluation_interval=1.0, read_from=90)
    assert len(one) == 1


def test_episodes_outside_the_window_do_not_count() -> None:
    assert firings([(PAGE, samples((210, 220)))], start=100, end=200,
                   evaluation_interval=1.0, read_from=90) == []


def test_the_first_firing_notification_after_a_moment() -> None:
    def note(t: float, status: str, name: str = "ShopAvailabilityBurn") -> Notification:
        return Notification(t, status, "chaosgate", ({"labels": {"alertname": name}},))

    notes = [note(95, "firing"), note(121.5, "firing", "Other"), note(122.0, "firing"),
             note(150, "resolved")]
    assert first_notified(notes, "ShopAvailabilityBurn", since=100) == 122.0
    assert first_notified(notes, "Nope", since=0) is None


def test_gates_for_a_fault_and_for_a_baseline() -> None:
    found = firings([(PAGE, samples((120, 140)))], start=100, end=200,
                    evaluation_interval=1.0, read_from=90)
    gates = detection_gate_specs(expect="ShopAvailabilityBurn", within=10, t_impact=117.0,
                                 found=found, notified=121.2, notifications_recorded=True,
                                 baseline=False)
    assert [(g.name, g.status, g.value) for g in gates] == [
        ("time to detect (ShopAvailabilityBurn, Prometheus)", "pass", "3.0 s"),
        ("time to detect (ShopAvailabilityBurn, notification)", "pass", "4.2 s")]
    late = detection_gate_specs(expect="ShopAvailabilityBurn", within=2, t_impact=117.0,
                                found=found, notified=None, notifications_recorded=True,
                                baseline=False)
    assert [g.status for g in late] == ["fail", "fail"]
    assert late[1].value == "not delivered"
    quiet = detection_gate_specs(expect=None, within=10, t_impact=None, found=[],
                                 notified=None, notifications_recorded=False, baseline=True)
    assert [(g.name, g.status) for g in quiet] == [("alerts during the baseline", "pass")]
    noisy = detection_gate_specs(expect=None, within=10, t_impact=None, found=found,
                                 notified=None, notifications_recorded=False, baseline=True)
    assert noisy[0].status == "fail" and "false positive" in noisy[0].detail
    blind = detection_gate_specs(expect="X", within=10, t_impact=100.0, found=[],
                                 notified=None, notifications_recorded=False, baseline=False)
    assert [g.status for g in blind] == ["fail", "inconclusive"]


def test_without_an_expected_alert_the_first_of_any_after_the_impact() -> None:
    errors = {"alertname": "ShopErrorsHigh"}
    found = firings([(PAGE, samples((130, 140))), (errors, samples((105, 108), (125, 140)))],
                    start=100, end=200, evaluation_interval=1.0, read_from=90)
    assert first_firing(found, None, since=120.0).describe() == "ShopErrorsHigh"  # 125
    assert first_firing(found, "ShopAvailabilityBurn", since=120.0).hi == 130.0
    assert first_firing(found, None, since=150.0) is None
    notes = [Notification(t, "firing", "chaosgate", ({"labels": {"alertname": n}},))
             for t, n in ((121.0, "ShopErrorsHigh"), (131.0, "ShopAvailabilityBurn"))]
    first = first_notification(notes, None, since=120.0)
    assert first is not None and first.alertnames == ("ShopErrorsHigh",)
    assert first_notified(notes, "ShopAvailabilityBurn", since=120.0) == 131.0


def test_a_detection_as_the_journal_records_it() -> None:
    found = firings([(PAGE, samples((130, 140)))], start=100, end=200,
                    evaluation_interval=1.0, read_from=90)
    note = Notification(132.5, "firing", "chaosgate",
                        ({"labels": {"alertname": "ShopAvailabilityBurn"}},))
    seen = Detection("ShopAvailabilityBurn", 30.0, 120.0, alert=found[0], notification=note,
                     fired=("ShopAvailabilityBurn (page)",), recorded=True)
    assert (seen.ttd_alert, seen.ttd_notification) == (10.0, 12.5)
    doc = seen.to_json()
    assert doc["prometheus"] == {"alertname": "ShopAvailabilityBurn", "severity": "page",
                                 "t_lo": 129.0, "t": 130.0, "ttd": 10.0}
    assert doc["notification"] == {"alertnames": ["ShopAvailabilityBurn"], "t": 132.5,
                                   "ttd": 12.5}
    assert Detection(None, 60.0, None).to_json()["prometheus"] is None
