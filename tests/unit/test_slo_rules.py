"""``chaosgate slo rules``: the burn-rate maths, and the rules as Prometheus runs them.

The alerts are checked with ``promtool test rules`` (Debian's prometheus
package, installed by scripts/bootstrap): synthetic counters go in, and
Prometheus' own rule engine says which alerts fire when. So the factors,
windows, labels and the threshold alert are tested as Prometheus reads
them, not as strings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.slo.catalog import build_catalog, parse_catalog
from chaosgate.slo.rules import (
    ALERT_WINDOWS,
    RuleOptions,
    build_rules,
    burn_rate_factor,
    dump_rules,
    duration_text,
    parse_time_scale,
)

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

CATALOG = {
    "apiVersion": "chaosgate/v1",
    "kind": "SLOCatalog",
    "slos": [
        {"name": "availability", "type": "availability", "objective": 0.9999, "window": "10m",
         "query": {"bad": 'sum(increase(req_total{code="5xx"}[$window]))',
                   "total": "sum(increase(req_total[$window]))"}},
        {"name": "checkout-p95", "type": "latency", "route": "/c", "percentile": 95,
         "threshold": 0.5, "window": "10m", "alert": "CheckoutBudgetBurn",
         "threshold_alert": {"name": "CheckoutSlow", "for": "1m"},
         "query": {"good": 'sum(increase(dur_bucket{le="0.5"}[$window]))',
                   "total": "sum(increase(dur_count[$window]))"}},
        {"name": "recovers", "type": "recovery", "objective": "30s", "of": ["availability"]},
    ],
}


def _catalog(doc: dict[str, Any] = CATALOG):  # type: ignore[no-untyped-def]
    return build_catalog(parse_catalog(doc, "cat.yaml"))


def _labels(slo: str, **extra: str) -> dict[str, str]:
    return {"sloth_id": f"cat-{slo}", "sloth_service": "cat", "sloth_slo": slo, **extra}


def _burn(severity: str) -> dict[str, Any]:
    return {"exp_labels": _labels("availability", sloth_severity=severity,
                                  chaosgate_kind="burn-rate"),
            "exp_annotations": {
                "title": f"({severity}) cat availability SLO error budget burn rate is too fast.",
                "summary": "cat availability SLO error budget burn rate is over expected."}}


def _promtool_test(tmp_path: Path, options: RuleOptions, interval: str,
                   series: dict[str, str], checks: list[dict[str, Any]]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(dump_rules(build_rules(_catalog(), options), "test"))
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    spec = {"rule_files": [rules.name], "evaluation_interval": interval,
            "tests": [{"interval": interval,
                       "input_series": [{"series": k, "values": v} for k, v in series.items()],
                       "alert_rule_test": checks}]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = subprocess.run([PROMTOOL, "test", "rules", "test.yaml"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _traffic(errors_per_10k: int, slow_per_100: int, samples: int = 200) -> dict[str, str]:
    return {'req_total{code="200"}': f"0+{10_000 - errors_per_10k}x{samples}",
            'req_total{code="5xx"}': f"0+{errors_per_10k}x{samples}",
            'dur_bucket{le="0.5"}': f"0+{100 - slow_per_100}x{samples}",
            "dur_count": f"0+100x{samples}"}


def test_the_workbook_factors_for_a_30_day_period() -> None:
    period = 30 * 86400
    factors = [round(burn_rate_factor(w.budget_share, period, w.long_s), 9)
               for w in ALERT_WINDOWS]
    assert factors == [14.4, 6.0, 3.0, 1.0]
    # a burn rate of F spends budget_share of the budget in exactly the long window
    for w in ALERT_WINDOWS:
        factor = burn_rate_factor(w.budget_share, period, w.long_s)
        assert factor * w.long_s / period == pytest.approx(w.budget_share)
    # shrinking every window and the period together keeps the factors
    scale = 1 / 60
    assert [round(burn_rate_factor(w.budget_share, period * scale, w.long_s * scale), 9)
            for w in ALERT_WINDOWS] == factors
    assert burn_rate_factor(0.02, 28 * 86400, 3600) == pytest.approx(13.44)


@pytest.mark.parametrize(("seconds", "text"), [
    (300, "5m"), (3600, "1h"), (1800, "30m"), (86400, "1d"), (3 * 86400, "3d"),
    (30 * 86400, "30d"), (7 * 86400, "1w"), (4320, "1h12m"), (5, "5s"), (0.25, "250ms"),
    (365 * 86400, "1y")])
def test_durations_are_printed_as_prometheus_prints_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_time_scales_are_fractions_that_only_shrink() -> None:
    assert parse_time_scale("1/60") == pytest.approx(1 / 60)
    assert parse_time_scale("0.5") == 0.5
    for bad in ("0", "2", "-1/60", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_time_scale(bad)


def test_the_recordings_carry_sloths_names_and_labels() -> None:
    doc = build_rules(_catalog(), RuleOptions(service="cat"))
    names = [g["name"] for g in doc["groups"]]
    assert names[:3] == ["sloth-slo-sli-recordings-cat-availability",
                         "sloth-slo-meta-recordings-cat-availability",
                         "sloth-slo-alerts-cat-availability"]
    assert len(names) == 6  # the recovery SLO has no SLI of its own
    sli = doc["groups"][0]["rules"]
    assert [r["record"] for r in sli] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")]
    assert sli[2]["labels"] == _labels("availability", sloth_window="1h")
    assert '[1h]' in sli[2]["expr"]
    meta = {r["record"]: r for r in doc["groups"][1]["rules"]}
    assert meta["slo:error_budget:ratio"]["expr"] == "vector(1-0.9999)"
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    assert "ratio_rate5m" in meta["slo:current_burn_rate:ratio"]["expr"]
    assert "ratio_rate30d" in meta["slo:period_burn_rate:ratio"]["expr"]
    # a latency SLO's error ratio is 1 - good/total
    latency = doc["groups"][3]["rules"][0]["expr"]
    assert latency.startswith("1 - (") and 'le="0.5"' in latency


def test_a_time_scale_shrinks_windows_and_names_what_it_uses() -> None:
    doc = build_rules(_catalog(), RuleOptions(service="cat", time_scale=1 / 60))
    assert [r["labels"]["sloth_window"] for r in doc["groups"][0]["rules"]] == [
        "5s", "30s", "1m", "2m", "6m", "24m", "1h12m", "12h"]
    with pytest.raises(ValueError, match="shortest window would be 300ms"):
        build_rules(_catalog(), RuleOptions(service="cat", time_scale=1 / 1000))


def test_one_percent_errors_page_and_ticket_at_once(tmp_path: Path) -> None:
    # 1 % errors against a 99.99 % objective: a burn rate of 100, over 14.4 and 6
    _promtool_test(tmp_path, RuleOptions(service="cat"), "1m", _traffic(100, 0), [
        {"eval_time": "30m", "alertname": "AvailabilityBurnRate",
         "exp_alerts": [_burn("page"), _burn("ticket")]}])


def test_a_slow_burn_opens_a_ticket_and_does_not_page(tmp_path: Path) -> None:
    # 0.05 % errors: a burn rate of 5, under both page factors (14.4, 6), over 3 and 1
    _promtool_test(tmp_path, RuleOptions(service="cat"), "1m", _traffic(5, 0), [
        {"eval_time": "30m", "alertname": "AvailabilityBurnRate",
         "exp_alerts": [_burn("ticket")]}])


def test_within_budget_nothing_fires(tmp_path: Path) -> None:
    # 0.005 % errors: half the budget, a burn rate of 0.5
    _promtool_test(tmp_path, RuleOptions(service="cat"), "1m",
                   {**_traffic(0, 0, 400), 'req_total{code="5xx"}': "0+1x400",
                    'req_total{code="200"}': "0+19999x400"}, [
        {"eval_time": "6h", "alertname": "AvailabilityBurnRate", "exp_alerts": []}])


def test_a_time_scaled_page_fires_within_seconds(tmp_path: Path) -> None:
    # at 1/60, the page alert looks at 5 s and 1 min: errors that start after a healthy
    # minute page within seconds (the 1-min window needs 0.144 % of its requests to fail)
    _promtool_test(tmp_path, RuleOptions(service="cat", time_scale=1 / 60), "1s",
                   {'req_total{code="200"}': "0+10000x60 600000+9900x60",
                    'req_total{code="5xx"}': "0x60 0+100x60"}, [
        {"eval_time": "60s", "alertname": "AvailabilityBurnRate", "exp_alerts": []},
        {"eval_time": "75s", "alertname": "AvailabilityBurnRate",
         "exp_alerts": [_burn("page"), _burn("ticket")]}])


def test_the_threshold_alert_is_p95_above_the_threshold_for_a_minute(tmp_path: Path) -> None:
    slow = {"exp_labels": _labels("checkout-p95", chaosgate_kind="threshold"),
            "exp_annotations": {"summary": "checkout-p95: error ratio over 1m above 0.05 "
                                           "for 1m."}}
    # 20 % of checkouts over 500 ms: p95 above the threshold; pending first, firing after 1m
    _promtool_test(tmp_path, RuleOptions(service="cat"), "15s", _traffic(0, 20), [
        {"eval_time": "60s", "alertname": "CheckoutSlow", "exp_alerts": []},
        {"eval_time": "5m", "alertname": "CheckoutSlow", "exp_alerts": [slow]}])
    # 4 % slow: p95 is still within 500 ms
    _promtool_test(tmp_path, RuleOptions(service="cat"), "15s", _traffic(0, 4), [
        {"eval_time": "5m", "alertname": "CheckoutSlow", "exp_alerts": []}])


def test_the_shipped_catalogue_passes_promtool_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "shop.rules.yaml"
    for scale in ("1", "1/60"):
        run = subprocess.run([sys.executable, "-m", "chaosgate.cli", "slo", "rules",
                              "--catalog", str(ROOT / "probes"), "--time-scale", scale,
                              "--out", str(out)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        check = subprocess.run([PROMTOOL, "check", "rules", str(out)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "sloth_service: shop" in out.read_text()


def test_bad_options_and_fields_exit_2_naming_them(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "chaosgate.cli", "slo", "rules", "--catalog",
                          str(ROOT / "probes"), "--time-scale", "1/1000"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "--time-scale 1/1000" in run.stderr
    assert "Traceback" not in run.stderr
    bad = dict(CATALOG, slos=[dict(CATALOG["slos"][0], threshold_alert={"name": "X"})])
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(yaml.safe_dump(bad))
    run = subprocess.run([sys.executable, "-m", "chaosgate.cli", "slo", "rules", "--catalog",
                          str(bad_file)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "threshold_alert.above" in run.stderr and "above: 0.01" in run.stderr
