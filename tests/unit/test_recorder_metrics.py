"""The recorder's client metrics are exactly what prometheus_client's Counter and
Histogram would export, though counted without a lock per request.

The recorder imports locust, so the comparison runs in a subprocess that is
a Locust process (gevent-patched), never in pytest's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

SCRIPT = r"""
import gevent.monkey; gevent.monkey.patch_all()
import locust.main  # noqa: F401  (the recorder's guard)
from prometheus_client import (CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
disable_created_metrics()
from chaosgate.load.export import METRIC_DURATION, METRIC_REQUESTS
from chaosgate.load.recorder import ClientMetrics
from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS
samples = [("/a", "GET", "ok", 0.005), ("/a", "GET", "ok", 0.0051), ("/a", "GET", "timeout", 2.0),
           ("/b", "POST", "ok", 7.5), ("/b", "POST", "http_5xx", 0.0), ("/a", "GET", "ok", 1.0)]
ours, reference = CollectorRegistry(), CollectorRegistry()
metrics = ClientMetrics()
ours.register(metrics)
counter = Counter(METRIC_REQUESTS, "Requests sent by the load generator.",
                  ["name", "method", "outcome"], registry=reference)
histogram = Histogram(METRIC_DURATION, "Request duration seen by the load generator.",
                      ["name", "method"], buckets=LATENCY_BUCKETS, registry=reference)
for name, method, outcome, seconds in samples:
    metrics.add(name, method, outcome, seconds)
    counter.labels(name, method, outcome).inc()
    histogram.labels(name, method).observe(seconds)
a = sorted(generate_latest(ours).decode().splitlines())
b = sorted(generate_latest(reference).decode().splitlines())
print("identical" if a == b else "\n".join(sorted(set(a) ^ set(b))))
"""


def test_client_metrics_match_prometheus_clients_own() -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), CHAOSGATE_ALLOW_LOCUST_IMPORT="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "identical", done.stdout
