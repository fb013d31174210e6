"""How accurate are chaosgate's TTR measurements? (docs/architecture.md §4; issue 4.6)

On a sandbox of its own, under open-model load, this injects N pod kills
(every catalog replica at once, so the service really goes down) and N
network partitions of known duration (the gateway-catalog link), and
compares the time to recover each observer reports with the ground truth the
faults recorded:

- partition: the fault proxy's own "link down" and "link up" times;
- pod kill: the first replica's death (supervisord event) to the moment a
  replica serves again (its socket bound, from the pod log), or to HAProxy's
  "server UP" when HAProxy had marked the replicas down.

It prints, per method (request log, Prometheus), the error of the TTR
against that truth (median and max), the targets from the issue, and what a
steady-state probe polling every 5 s would have reported instead.

    .venv/bin/python bench/measurement.py [--reps 5] [--rate 50] [--base-port 28900]

Everything runs on 127.0.0.1, bounded in time; the sandbox is brought down at
the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from chaosgate.clients.prometheus import PrometheusClient  # noqa: E402
from chaosgate.faults import FaultSession, Ledger  # noqa: E402
from chaosgate.faults.timeline import FaultTimeline  # noqa: E402
from chaosgate.load.profiles import find_profile, read_profile  # noqa: E402
from chaosgate.load.runner import LoadSession, spec_for_target  # noqa: E402
from chaosgate.platforms import platform_for  # noqa: E402
from chaosgate.sandbox.manager import temporary_sandbox  # noqa: E402
from chaosgate.slo.catalog import load_catalog  # noqa: E402
from chaosgate.slo.check import fetch_bins  # noqa: E402
from chaosgate.slo.measure import measure, timeline_slos  # noqa: E402
from chaosgate.targets import parse_target, render_sandbox_target  # noqa: E402

GAP = 14.0  # seconds between faults: a 10 s hold-down window plus margin
POLL_EVERY = 5.0


@dataclass
class Trial:
    kind: str
    timeline: FaultTimeline
    truth_impact: float
    truth_recover: float

    @property
    def truth_ttr(self) -> float:
        return self.truth_recover - self.truth_impact


def _first(timeline: FaultTimeline, what: str, after: float) -> float | None:
    times = [m.t for m in timeline.moments if m.what.startswith(what) and m.t >= after]
    return min(times) if times else None


def kill_truth(tl: FaultTimeline) -> tuple[float, float]:
    died = _first(tl, "process died", (tl.t_inject or 0) - 1)
    assert died is not None, "no death in the ground truth"
    serving = _first(tl, "serving (socket bound)", died)
    marked_down = _first(tl, "HAProxy: server DOWN", died)
    up = _first(tl, "HAProxy: server UP", died) if marked_down else None
    recover = up if up is not None else serving
    assert recover is not None, "no recovery in the ground truth"
    return died, recover


def partition_truth(tl: FaultTimeline) -> tuple[float, float]:
    down = _first(tl, "link down", (tl.t_inject or 0) - 1)
    up = _first(tl, "link up", down or 0)
    assert down is not None and up is not None, "no link down/up in the ground truth"
    return down, up


class Poller(threading.Thread):
    """A steady-state probe as typical tolerance checks do it: one GET every 5 s."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.samples, self.stop = url, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t = time.time()
            try:
                ok = requests.get(self.url, timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            self.samples.append((t, ok))
            self.stop.wait(max(0.0, POLL_EVERY - (time.time() - t)))

    def ttr(self, start: float, end: float) -> float | None:
        window = [(t, ok) for t, ok in self.samples if start <= t < end]
        bad = [t for t, ok in window if not ok]
        if not bad:
            return None
        good_after = [t for t, ok in window if ok and t > bad[0]]
        return (good_after[0] - bad[0]) if good_after else None


def run_faults(target, reps: int, partition_s: float, log) -> list[Trial]:
    session = FaultSession(target, platform_for(target),
                           Ledger(target.sandbox_topology().state_dir / "bench-ledger.jsonl"),
                           seed=1)
    trials = []
    plans = [("pod kill", {"kind": "kill-pods", "selector": "app=catalog", "qty": 2})] * reps
    plans += [("partition", {"kind": "partition", "links": ["gateway-catalog"],
                             "duration": partition_s})] * reps
    for kind, spec in plans:
        with session.guard():
            outcome = session.run(session.build(spec, "bench"), float(spec.get("duration", 0)))
        time.sleep(1.0)  # late ground truth (supervisord RUNNING, HAProxy UP) lands
        tl = outcome.applied.collect_ground_truth()
        impact, recover = kill_truth(tl) if kind == "pod kill" else partition_truth(tl)
        trials.append(Trial(kind, tl, impact, recover))
        log(f"{kind}: truth TTR {recover - impact:.3f} s")
        time.sleep(GAP)
    return trials


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--partition", type=float, default=5.0, help="partition length, s")
    ap.add_argument("--base-port", type=int, default=28900)
    args = ap.parse_args()
    log = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731

    with temporary_sandbox(args.base_port, prefix="chaosgate-bench-", log=log) as manager:
        topo, state = manager.topo, manager.topo.state_dir
        doc = render_sandbox_target(topo)
        # Killing every catalog replica is the point here: relax the safety block.
        doc["safety"].update({"max_pods_per_fault": 2, "max_percent_per_fault": 100,
                              "min_ready_replicas": 0})
        target = parse_target(doc, "bench target")
        catalog = load_catalog(ROOT / "probes")
        recovery = catalog.get("time-to-recover")
        duration = args.reps * 2 * (GAP + args.partition + 8) + 40
        spec = spec_for_target(target, read_profile(find_profile("open", ROOT)), duration,
                               rate=args.rate, out_root=state / "load")
        poller = Poller(f"{topo.ingress_url}/api/products")
        with LoadSession(spec, show_progress=False) as session:
            time.sleep(8)
            poller.start()
            trials = run_faults(target, args.reps, args.partition, log)
            poller.stop.set()
            session.stop()
        records = session.wait().records()
        time.sleep(2 * target.prometheus.scrape_interval)
        prom = PrometheusClient.from_config(target.prometheus)
        start, end = records[0].t - 5, records[-1].end + 2
        bins = {s.name: fetch_bins(prom, s, start, end, target.prometheus.scrape_interval)
                for s in timeline_slos(recovery, catalog)}
        report(trials, records, bins, recovery, catalog, poller, args,
               target.prometheus.scrape_interval)
    return 0


def report(trials, records, bins, recovery, catalog, poller, args, scrape) -> None:
    errors: dict[tuple[str, str], list[float]] = {}
    print(f"\nTTR accuracy: {args.reps} pod kills (all catalog replicas) and {args.reps} "
          f"partitions of {args.partition:g} s, open-model load at {args.rate:g} requests/s\n")
    print(f"{'fault':10} {'truth':>8} {'request log':>12} {'err':>8} {'Prometheus':>11} "
          f"{'err':>8} {'5 s poll':>9}")
    for i, trial in enumerate(trials):
        t0 = trial.timeline.t_inject or trial.truth_impact
        t1 = trials[i + 1].timeline.t_inject - 1 if i + 1 < len(trials) else records[-1].end
        window = [r for r in records if t0 - 3 <= r.t < t1]
        cut = {k: [b for b in v if t0 - 3 <= b.hi and b.lo < t1] for k, v in bins.items()}
        m = measure(recovery, catalog, t_inject=t0, records=window, bins=cut,
                    scrape_interval=scrape, t_end=t1)
        row = [f"{trial.kind:10}", f"{trial.truth_ttr:8.3f}"]
        for name, tl in (("request log", m.client), ("Prometheus", m.server)):
            ttr = tl.ttr.t if tl is not None and tl.ttr is not None else None
            if ttr is None:
                row += [f"{'none':>12}" if name == "request log" else f"{'none':>11}", " " * 8]
                continue
            err = ttr - trial.truth_ttr
            errors.setdefault((trial.kind, name), []).append(abs(err))
            row += [f"{ttr:12.3f}" if name == "request log" else f"{ttr:11.3f}", f"{err:+8.3f}"]
        polled = poller.ttr(t0 - 1, t1)
        row.append(f"{polled:9.1f}" if polled is not None else f"{'missed':>9}")
        print(" ".join(row))
    rate = args.rate
    print("\n|error| of TTR against the ground truth (seconds)")
    print(f"{'fault':10} {'method':12} {'median':>8} {'max':>8} {'target':>8}  met")
    for (kind, name), errs in sorted(errors.items()):
        target = max(0.100, 1 / rate) if name == "request log" else 2 * scrape
        ok = max(errs) <= target
        print(f"{kind:10} {name:12} {statistics.median(errs):8.3f} {max(errs):8.3f} "
              f"{target:8.3f}  {'yes' if ok else 'NO'}")
    missed = sum(1 for i, t in enumerate(trials)
                 if poller.ttr((t.timeline.t_inject or 0) - 1,
                               trials[i + 1].timeline.t_inject - 1 if i + 1 < len(trials)
                               else records[-1].end) is None)
    print(f"\na steady-state probe polling every {POLL_EVERY:g} s saw {len(trials) - missed} "
          f"of {len(trials)} outages (and then only to ±{POLL_EVERY:g} s)")


if __name__ == "__main__":
    raise SystemExit(main())
