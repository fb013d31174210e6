"""The SLO catalogue's latency thresholds sit exactly on histogram bucket edges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS

PROBES = sorted((Path(__file__).resolve().parents[2] / "probes").glob("*.yaml"))
LATENCY_SLOS = [
    pytest.param(slo, id=f"{path.name}:{slo['name']}")
    for path in PROBES
    for slo in yaml.safe_load(path.read_text())["slos"]
    if slo["type"] == "latency"
]


def test_catalogue_has_latency_slos() -> None:
    assert PROBES and LATENCY_SLOS


@pytest.mark.parametrize("slo", LATENCY_SLOS)
def test_threshold_is_a_bucket_edge(slo: dict) -> None:
    assert slo["threshold"] in LATENCY_BUCKETS
    assert f'le="{slo["threshold"]}"' in slo["query"]["good"]
