"""The shipped SLO catalogue loads, and its latency thresholds sit exactly on bucket edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS
from chaosgate.slo.catalog import SLO, load_catalog

PROBES = Path(__file__).resolve().parents[2] / "probes"
CATALOG = load_catalog(PROBES)
LATENCY_SLOS = [pytest.param(slo, id=f"{Path(slo.source).name}:{slo.name}")
                for slo in CATALOG if slo.type == "latency"]


def test_catalogue_covers_the_issue() -> None:
    types = {slo.type for slo in CATALOG}
    assert {"availability", "latency", "error_ratio", "recovery"} <= types
    assert CATALOG.get("availability").objective == 0.9999
    assert {s.route for s in CATALOG if s.type == "latency"} >= {"/api/checkout",
                                                                   "/api/products"}


@pytest.mark.parametrize("slo", LATENCY_SLOS)
def test_threshold_is_a_bucket_edge(slo: SLO) -> None:
    assert slo.threshold in LATENCY_BUCKETS
    assert f'le="{slo.threshold}"' in slo.query["good"]


@pytest.mark.parametrize("slo", [s for s in CATALOG if s.is_ratio], ids=lambda s: s.name)
def test_every_ratio_slo_has_raw_series_for_the_server_timeline(slo: SLO) -> None:
    assert set(slo.series) == set(slo.query)
    assert all("[" not in sel for sel in slo.series.values())
