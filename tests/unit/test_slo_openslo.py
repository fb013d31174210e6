"""OpenSLO v1 ratio-metric files become catalogue SLOs; what cannot be imported says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.slo.catalog import CatalogError, load_catalog
from chaosgate.slo.openslo import import_openslo

SHOP = Path(__file__).resolve().parents[2] / "probes" / "shop.yaml"

INLINE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: Checkout availability
spec:
  description: Checkouts that do not fail.
  service: shop
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: checkout-errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: shop_http_requests_total{route="/api/checkout",code=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(increase(shop_http_requests_total{route="/api/checkout"}[$window]))
  objectives:
    - displayName: strict
      targetPercent: 99.9
"""

REFERENCED = """\
apiVersion: openslo/v1
kind: Service
metadata:
  name: shop
spec:
  description: the shop
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: fast-products
spec:
  ratioMetric:
    counter: true
    good:
      metricSource:
        metricSourceRef: prometheus
        spec:
          query: d_bucket{le="0.25"}
    total:
      metricSource:
        spec:
          query: d_count
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: products-latency
spec:
  indicatorRef: fast-products
  budgetingMethod: Occurrences
  objectives:
    - displayName: p95
      target: 0.95
    - displayName: p99 (stretch)
      target: 0.99
"""


def test_inline_ratio_metric() -> None:
    [slo] = import_openslo(INLINE, "openslo.yaml")
    assert (slo.name, slo.type, slo.objective, slo.window) == (
        "checkout-availability", "ratio", 0.999, 28 * 86400)
    assert slo.query["bad"] == ('sum(increase(shop_http_requests_total{route="/api/checkout",'
                                'code=~"5.."}[$window]))')
    assert slo.promql(60)["total"].endswith("[1m]))")
    assert slo.series["bad"].startswith("shop_http_requests_total{")
    assert slo.source == "openslo.yaml:1"


def test_referenced_sli_and_several_objectives() -> None:
    slos = import_openslo(REFERENCED, "ref.yaml")
    assert [(s.name, s.objective) for s in slos] == [("products-latency-p95", 0.95),
                                                      ("products-latency-p99-stretch", 0.99)]
    assert slos[0].window == 600.0  # no timeWindow: chaosgate's default check window
    assert slos[0].query == {"good": 'sum(increase(d_bucket{le="0.25"}[$window]))',
                             "total": "sum(increase(d_count[$window]))"}
    assert slos[0].source == "ref.yaml:25"


def test_a_catalogue_folder_mixes_both_formats(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(INLINE)
    (tmp_path / "b.yaml").write_text(SHOP.read_text())
    names = load_catalog(tmp_path).names()
    assert "checkout-availability" in names and "availability" in names


@pytest.mark.parametrize(("old", "new", "field", "line", "words"), [
    ("budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "spec.budgetingMethod", 9,
     "Occurrences"),
    ("duration: 28d", "duration: 1M", "spec.timeWindow[0].duration", 11, "calendar unit"),
    ("type: Prometheus\n            spec:\n              query: shop",
     "type: Datadog\n            spec:\n              query: shop",
     "spec.indicator.spec.ratioMetric.bad.metricSource.type", 21, "Prometheus"),
    ("targetPercent: 99.9", "target: 99.9", "spec.objectives[0]", 30, "between 0 and 1"),
    ("      ratioMetric:", "      thresholdMetric: {}\n      ratioMetric:",
     "spec.indicator.spec.thresholdMetric", 17, "ratioMetric"),
    ('code=~"5.."}\n', 'code=~"5.."} > 0\n',
     "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query", 23, "$window"),
    ("apiVersion: openslo/v1", "apiVersion: openslo/v1alpha", "apiVersion", 1, "openslo/v1"),
])
def test_errors_name_line_field_and_fix(old: str, new: str, field: str, line: int,
                                        words: str) -> None:
    refused(INLINE, old, new, field, line, words)


def refused(doc: str, old: str, new: str, field: str, line: int, words: str) -> None:
    """Importing ``doc`` with ``old`` replaced by ``new`` fails at ``field`` on ``line``."""
    assert old in doc
    with pytest.raises(CatalogError) as info:
        import_openslo(doc.replace(old, new, 1), "o.yaml")
    err = info.value
    assert err.field == field
    assert str(err).startswith(f"o.yaml:{line}: {field}: "), str(err)
    assert words in str(err) and "Fix:" in str(err)


def test_errors_inside_a_referenced_sli_point_at_the_sli() -> None:
    with pytest.raises(CatalogError) as info:
        import_openslo(REFERENCED.replace("query: d_count", "query: rate(d_count[5m])"), "r.yaml")
    assert str(info.value).startswith("r.yaml:23: spec.ratioMetric.total.metricSource.spec.query")


def test_missing_sli_reference_suggests_the_name() -> None:
    with pytest.raises(CatalogError, match=r"no SLI named 'fast-product'.*did you mean"):
        import_openslo(REFERENCED.replace("indicatorRef: fast-products",
                                          "indicatorRef: fast-product"), "r.yaml")


def test_a_file_without_an_slo() -> None:
    with pytest.raises(CatalogError, match="no `kind: SLO`"):
        import_openslo(REFERENCED.split("---")[0], "svc.yaml")


THRESHOLDS = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: ingest-mean
spec:
  thresholdMetric:
    metricSource:
      type: Prometheus
      spec:
        query: sum(increase(d_sum[$window])) / sum(increase(d_count[$window]))
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: ingest-latency-mean
spec:
  budgetingMethod: Occurrences
  timeWindow: [{duration: 10m, isRolling: true}]
  indicatorRef: ingest-mean
  objectives:
    - {op: lte, value: 0.2, target: 0.99}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: throughput
spec:
  timeWindow: [{duration: 1h, isRolling: true}]
  indicator:
    metadata: {name: processed}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: sum(rate(events_processed_total{stage="done"}[$window]))
  objectives:
    - {op: gte, value: 116, target: 0.99}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: consumer-lag
spec:
  indicator:
    metadata: {name: lag}
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: max(events_consumer_lag)
  objectives:
    - {op: lte, value: 1000, target: 0.999}
"""


def test_threshold_metrics_become_measured_slos() -> None:
    mean, rate, gauge = import_openslo(THRESHOLDS, "t.yaml")
    assert (mean.type, mean.objective, mean.threshold, mean.window) == (
        "mean_latency", 0.2, 0.2, 600)
    assert mean.query == {"sum": "sum(increase(d_sum[$window]))",
                          "count": "sum(increase(d_count[$window]))"}
    assert mean.source == "t.yaml:12"
    assert (rate.type, rate.objective, rate.window) == ("throughput", 116.0, 3600)
    assert rate.query == {"events": 'sum(increase(events_processed_total{stage="done"}'
                                    '[$window]))'}
    assert (gauge.type, gauge.objective, gauge.query) == (
        "gauge_bound", 1000.0, {"value": "max(events_consumer_lag)"})


@pytest.mark.parametrize(("old", "new", "field", "line", "words"), [
    ("{op: lte, value: 0.2, target: 0.99}", "{op: lt, value: 0.2, target: 0.99}",
     "spec.objectives[0].op", 21, "lte"),
    ("{op: gte, value: 116, target: 0.99}", "{op: lte, value: 116, target: 0.99}",
     "spec.objectives[0].op", 38, "bounded from below"),
    ("{op: lte, value: 1000, target: 0.999}", "{op: gte, value: 1000, target: 0.999}",
     "spec.objectives[0].op", 54, "op: lte"),
    ("{op: lte, value: 0.2, target: 0.99}", "{op: lte, value: 0, target: 0.99}",
     "spec.objectives[0].value", 21, "positive"),
    ("query: max(events_consumer_lag)",
     "query: histogram_quantile(0.95, sum(rate(d_bucket[$window])) by (le))",
     "spec.indicator.spec.thresholdMetric.metricSource.spec.query", 52, "neither a mean"),
])
def test_threshold_errors_name_line_field_and_fix(old: str, new: str, field: str, line: int,
                                                  words: str) -> None:
    refused(THRESHOLDS, old, new, field, line, words)


def test_a_threshold_query_in_a_referenced_sli_is_located_there() -> None:
    with pytest.raises(CatalogError) as info:
        import_openslo(THRESHOLDS.replace("query: sum(increase(d_sum[$window])) / ",
                                          "query: 2 * "), "t.yaml")
    assert str(info.value).startswith(
        "t.yaml:10: spec.thresholdMetric.metricSource.spec.query: this threshold query")
