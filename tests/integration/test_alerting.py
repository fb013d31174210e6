"""The sandbox's alerting: SLO rules in Prometheus, Alertmanager, chaosgate's receiver.

All real: the rules are ``chaosgate slo rules`` of the shop's catalogue (at
the sandbox's time scale), evaluated by the sandbox's Prometheus; alerts go
to the sandbox's Alertmanager, which delivers them to a
:class:`NotificationReceiver` on the sandbox's webhook port.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from _faults import ensure_healthy, eventually, outage, spend_error_budget

from chaosgate.clients.alertmanager import AlertmanagerClient, read_notifications, receiving
from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


def test_prometheus_evaluates_the_catalogues_rules_and_sends_to_alertmanager(
        sandbox: SandboxManager) -> None:
    groups = sandbox.prometheus.rule_groups()
    names = {g["name"] for g in groups}
    assert {"sloth-slo-sli-recordings-shop-availability",
            "sloth-slo-alerts-shop-availability",
            "sloth-slo-alerts-shop-checkout-latency-p95"} <= names
    rules = {(r.get("name"), r.get("labels", {}).get("sloth_severity"))
             for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert {("ShopAvailabilityBurn", "page"), ("ShopAvailabilityBurn", "ticket"),
            ("ShopErrorsHigh", None), ("ShopCheckoutSlow", None)} <= rules
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), \
        [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"]
    assert sandbox.prometheus.alertmanagers() == [
        f"http://127.0.0.1:{sandbox.topo.ports.alertmanager}/api/v2/alerts"]


def test_a_notification_is_recorded_with_the_time_it_arrived(sandbox, tmp_path) -> None:
    topo = sandbox.topo
    record = tmp_path / "notifications.jsonl"
    now = datetime.now(UTC).isoformat()
    with receiving("127.0.0.1", topo.ports.alert_webhook, record) as receiver:
        assert receiver is not None
        # a second receiver on the same port steps aside: the first one records
        with receiving("127.0.0.1", topo.ports.alert_webhook, record) as second:
            assert second is None
        t_sent = time.time()
        AlertmanagerClient(topo.alertmanager_url).post_alerts([{
            "labels": {"alertname": "ChaosgateTestAlert", "test": str(tmp_path)},
            "annotations": {"summary": "posted by the test"}, "startsAt": now}])
        eventually(lambda: any("ChaosgateTestAlert" in n.alertnames
                               for n in receiver.notifications),
                   "Alertmanager delivering the notification", timeout=30)
    notes = [n for n in read_notifications(record) if "ChaosgateTestAlert" in n.alertnames]
    assert notes and notes[0].status == "firing"
    assert t_sent <= notes[0].t_received <= time.time()
    assert notes[0].alerts[0]["labels"]["test"] == str(tmp_path)


def test_a_real_outage_fires_the_slo_alerts_and_they_are_delivered(sandbox, tmp_path) -> None:
    """Disable the gateway's link to the catalogue under light load: product listings fail
    (5xx), the error-ratio threshold alert and the page burn-rate alert fire in Prometheus
    and reach the receiver."""
    topo = sandbox.topo
    record = tmp_path / "notifications.jsonl"

    def firing() -> set[str]:
        return {s.labels.get("alertname", "") for s in sandbox.prometheus.query(
            'ALERTS{alertstate="firing",sloth_service="shop"}')}

    with receiving("127.0.0.1", topo.ports.alert_webhook, record) as receiver:
        assert receiver is not None
        t_outage = time.time()
        with outage(sandbox):
            eventually(lambda: {"ShopErrorsHigh", "ShopAvailabilityBurn"} <= firing(),
                       "the SLO alerts firing in Prometheus", timeout=60)
            eventually(lambda: {"ShopErrorsHigh", "ShopAvailabilityBurn"} <= {
                name for n in receiver.notifications if n.status == "firing"
                for name in n.alertnames}, "their notifications delivered", timeout=60)
    delivered = [n for n in read_notifications(record, since=t_outage) if n.status == "firing"]
    assert delivered
    ensure_healthy(sandbox)


def test_budget_admission_refuses_once_an_outage_spent_the_budget(sandbox) -> None:
    """An outage of its own (it does not rely on another test's): the shop's 99.99 %
    availability then has less than 99 % of its 30-day budget left, and the admission
    names the SLO and the target's setting."""
    short = spend_error_budget(sandbox, minimum=0.99)
    assert any(line.startswith("availability: ") for line in short), short
    assert all("safety.min_error_budget" in line for line in short)
    ensure_healthy(sandbox)
