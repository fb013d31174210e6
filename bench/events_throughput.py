"""Throughput of the sandbox's events pipeline: does it sustain 10 million events a day?

Run: ``.venv/bin/python bench/events_throughput.py [--base-port N] [--rates 150,300,450]
[--duration 20]``.

Starts an events sandbox on its own base port (28600, in a temporary state
directory) and stops it at the end, or uses a running one (``--state-dir``
of a sandbox that ``chaosgate sandbox up --system events`` started). For each
rate it runs ``chaosgate load run --profile open --rate R`` (one event per
request) and prints, from Locust's totals and the sandbox's Prometheus:

- offered and achieved events/s (accepted = 202) and failures;
- events processed in the run's window, and whether every accepted event
  was processed (the consumer group's backlog back to 0 afterwards);
- the largest consumer lag seen (``max_over_time(max(events_consumer_lag))``);
- the share of events processed within 100 ms end to end (the SLO's bucket);
- ingest request p95/p99 (client side);
- CPU seconds of the ingest and consumer replicas per 1000 events.

The throughput SLO asks for 116 events/s (10 million a day); headroom is
the highest rate whose events were all accepted and processed, with the
lag back to 0, divided by 116. Figures depend on the machine's load: on a
shared machine run it twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from chaosgate.clients.prometheus import PrometheusClient
from chaosgate.clients.redis import RedisClient
from chaosgate.sandbox.manager import SandboxManager, temporary_sandbox
from chaosgate.sandbox.state import saved_topology, write_state

SLO_RATE = 10_000_000 / 86_400  # 115.7 events/s


@contextlib.contextmanager
def _sandbox(state_dir: str | None, base_port: int) -> Iterator[SandboxManager]:
    if state_dir is not None:
        manager = SandboxManager(saved_topology(state_dir, None, "events"))
        manager.up()
        yield manager
        return
    with temporary_sandbox(base_port, prefix="chaosgate-bench-events-", log=lambda _m: None,
                           system="events") as manager:
        yield manager


def _one(prometheus: PrometheusClient, expr: str, at: float) -> float:
    samples = prometheus.query(expr, at=at)
    return samples[0].value if samples else float("nan")


def _measure(manager: SandboxManager, target: Path, rate: float, duration: int) -> dict[str, float]:
    topo = manager.topo
    assert topo.broker is not None
    prometheus = PrometheusClient(topo.prometheus_url, timeout=5)
    proc = subprocess.run(
        [sys.executable, "-m", "chaosgate.cli", "load", "run", "--target", str(target),
         "--profile", "open", "--rate", f"{rate:g}", "--duration", f"{duration}s", "--json",
         "--no-progress"], capture_output=True, text=True, check=True)
    run = json.loads(proc.stdout)
    broker = RedisClient("127.0.0.1", topo.broker.pod.port)
    drained = time.time() + 30
    while (broker.group_lag(topo.broker.stream, topo.broker.group) or 0) > 0 \
            and time.time() < drained:
        time.sleep(0.2)
    backlog = broker.group_lag(topo.broker.stream, topo.broker.group)
    time.sleep(2.5)  # two more scrapes
    end = time.time()
    window = f"{end - run['started']:.0f}s"
    total = run["stats"]["total"]
    processed = _one(prometheus, f"sum(increase(events_processed_total[{window}]))", end)
    fast = _one(prometheus, "sum(increase(events_end_to_end_seconds_bucket{le=\"0.1\"}"
                f"[{window}])) / sum(increase(events_end_to_end_seconds_count[{window}]))", end)
    cpu = _one(prometheus, "sum(increase(process_cpu_seconds_total{job=~\"ingest|consumer\"}"
               f"[{window}]))", end)
    return {
        "offered": rate, "achieved": total["rps"], "requests": total["count"],
        "failures": total["failures"], "processed": processed, "backlog": float(backlog or 0),
        "max_lag": _one(prometheus, f"max_over_time(max(events_consumer_lag)[{window}:1s])", end),
        "within_100ms": fast, "p95_ms": total["p95_ms"], "p99_ms": total["p99_ms"],
        "cpu_per_1000": 1000 * cpu / max(total["count"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each rate; print a table and the headroom over the throughput SLO."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=28600)
    parser.add_argument("--state-dir", default=None,
                        help="use the running events sandbox of this state folder")
    parser.add_argument("--rates", default="150,300,450")
    parser.add_argument("--duration", type=int, default=20)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    rows = []
    with _sandbox(args.state_dir, args.base_port) as manager:
        target = write_state(manager.topo)
        for rate in rates:
            rows.append(_measure(manager, target, rate, args.duration))
    print(f"{'offered/s':>9} {'achieved/s':>10} {'failed':>6} {'requests':>8} "
          f"{'processed':>9} {'backlog':>7} {'max lag':>7} {'<=100ms':>8} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'CPU s/1k':>8}")
    sustained = 0.0
    for r in rows:
        print(f"{r['offered']:9.0f} {r['achieved']:10.1f} {r['failures']:6.0f} "
              f"{r['requests']:8.0f} {r['processed']:9.0f} {r['backlog']:7.0f} "
              f"{r['max_lag']:7.0f} {r['within_100ms']:8.2%} {r['p95_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['cpu_per_1000']:8.2f}")
        if r["failures"] == 0 and r["backlog"] == 0 and r["achieved"] >= 0.95 * r["offered"]:
            sustained = max(sustained, r["achieved"])
    print(f"sustained: {sustained:.0f} events/s = {sustained / SLO_RATE:.1f} x the throughput "
          f"SLO ({SLO_RATE:.1f}/s, 10 million a day)")
    return 0 if sustained >= SLO_RATE else 1


if __name__ == "__main__":
    sys.exit(main())
