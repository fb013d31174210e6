"""How accurate are chaosgate's observers on outages it did not cause? (issue 10)

On a sandbox of its own, under open-model load (``chaosgate load run``'s
``open`` profile), this script makes outages itself, with its own clock,
without chaosgate's faults, interleaving three kinds (``--reps`` of each):

- **link**: the gateway→catalog link disabled through the fault proxy's
  API for 3 to 7 s; truth: the proxy's own ``proxy_disabled``/``proxy_enabled``
  event times;
- **stop**: SIGSTOP of every catalog replica for 3 to 7 s (the processes the
  sandbox started, by the identity of the pid supervisord reports: pid and
  start time, through a pidfd), then SIGCONT; truth: the SIGSTOP, and the
  first answer through HAProxy's catalog service after the SIGCONT (polled
  every 10 ms): HAProxy took the stalled replicas out and readmits them at
  its next health check, up to 0.5 s later, answering 503 till then;
- **crash**: the Patroni leader's node killed (SIGSTOP then SIGKILL of
  Patroni and its postmaster, by identity, supervisord told not to restart
  it in between); truth: the SIGSTOP (the node stops answering), and the
  moment every orders replica stores orders again (each polled directly,
  past the gateway and HAProxy, back to back in a thread of its own, about
  every 15 ms: the later of the replicas' recoveries, each the middle
  between its last failed store and the first 201 that began 5 successive
  ones, so the orders services' own reconnection and circuit breaker are in
  the truth: a replica's first 201 can be followed by more 503s for half a
  second, which the users saw as the outage going on); the old node is
  started again and rejoins before the next outage.

Then ``chaosgate timeline`` (the command, no hint) lists the incidents of
the whole run from both observers. Each outage is matched with the
incidents that overlap it; it prints, per kind and observer, the error
median / p95 / max of t_impact, t_recover and TTR, the share of outages whose
truth lies inside the stated bounds, outages found as one incident, missed,
split, and incidents invented in the healthy gaps.

    .venv/bin/python bench/measurement.py [--reps 8] [--rate 100] [--base-port 28900]

The client observer knows an edge to about half the spacing of the requests
on the routes the outage touched, so its precision is set by the load: the
table's ``req/s`` column gives that rate per kind. The default 100 req/s puts
about 19/s on the crash's routes (checkout and order lookup, 3/16 of the
shop's mix); at ``--rate 50`` they see about 9.7/s and the crash's client
TTR error p95 is about 0.25 s (link cuts and SIGSTOPs touch most routes and
stay within 0.06 s either way).

Everything runs on 127.0.0.1, bounded in time; the sandbox is brought down at
the end. ``--out FILE`` keeps the outages and the timeline as JSON, and the
request log beside it (``FILE`` with the suffix ``.requests.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from chaosgate.clients.processes import Identity, identify, signal_identity  # noqa: E402
from chaosgate.load.profiles import find_profile, read_profile  # noqa: E402
from chaosgate.load.requestlog import read_request_log  # noqa: E402
from chaosgate.load.runner import LoadSession, spec_for_target  # noqa: E402
from chaosgate.sandbox.manager import SandboxManager, temporary_sandbox  # noqa: E402
from chaosgate.targets import dump_target, parse_target, render_sandbox_target  # noqa: E402

STREAK = 5  # a replica stores again: this many successive 201s (one poll every ~15 ms)
GAP = 14.0  # healthy seconds between outages: the 10 s hold-down plus margin
LINK = "gateway-catalog"
APP = "catalog"
KINDS = ("link", "stop", "crash")


@dataclass
class Outage:
    kind: str
    t0: float
    t1: float
    cause_end: float | None = None  # when the cause ended, when the shop's outage ran on


def link_outage(manager: SandboxManager, length: float) -> Outage:
    fp = manager.topo.faultproxy_url
    since = max((e["seq"] for e in requests.get(f"{fp}/events", timeout=5).json()), default=0)
    requests.post(f"{fp}/proxies/{LINK}", json={"enabled": False}, timeout=5).raise_for_status()
    time.sleep(length)
    requests.post(f"{fp}/proxies/{LINK}", json={"enabled": True}, timeout=5).raise_for_status()
    events = requests.get(f"{fp}/events", params={"since": since}, timeout=5).json()
    t0 = next(e["time"] for e in events if e["event"] == "proxy_disabled")
    t1 = next(e["time"] for e in events if e["event"] == "proxy_enabled")
    return Outage("link", t0, t1)


def replicas(manager: SandboxManager) -> list[Identity]:
    """Every replica of APP the sandbox started, by supervisord's pid and its start time."""
    found = [identify(manager.supervisor.process(p.name).pid or -1)
             for p in manager.topo.pods_of(APP)]
    if any(i is None for i in found):
        raise RuntimeError(f"a {APP} replica is not running")
    return [i for i in found if i is not None]


def _serves(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).status_code == 200
    except requests.RequestException:
        return False


def readmitted(url: str, after: float, deadline: float) -> float:
    """When ``url`` first answers 200 again from ``after`` on (polled every 10 ms: the
    start of the first good poll), at most ``deadline``."""
    while time.time() < deadline:
        t = time.time()
        if _serves(url):
            return max(t, after)
        time.sleep(0.01)
    return deadline


def stop_outage(manager: SandboxManager, length: float) -> Outage:
    """SIGSTOP of every APP replica; the outage ends when the shop can reach APP again:
    SIGCONT, then HAProxy's next health check readmits the replicas (every 0.5 s while
    down): till then the ingress answers 503, which is the shop's outage, not an error
    of the observers. Polled through HAProxy's APP service, past the fault proxy."""
    victims = replicas(manager)
    for v in victims:
        signal_identity(v, signal.SIGSTOP)
    t0 = time.time()
    time.sleep(length)
    t1 = time.time()
    for v in victims:
        signal_identity(v, signal.SIGCONT)
    service = f"http://127.0.0.1:{manager.topo.ports.service(APP)}/products"
    return Outage("stop", t0, readmitted(service, t1, t1 + 10), cause_end=t1)


def _stores(url: str) -> bool:
    try:
        return requests.post(f"{url}/orders", timeout=0.5, json={
            "items": [{"product_id": 1, "qty": 1}], "client_seq": None}).status_code == 201
    except requests.RequestException:
        return False


def _recovered(url: str, deadline: float) -> float | None:
    """When the orders replica at ``url`` stores orders again: the middle between the
    start of its last failed store and of the first good one that began :data:`STREAK`
    successive ones (polled back to back, 5 ms apart: about 15 ms between polls, so the
    truth itself is known to about ±8 ms). None: not by ``deadline``."""
    last_bad = time.time()
    first = 0.0
    streak = 0
    while streak < STREAK and time.time() < deadline:
        t = time.time()
        if _stores(url):
            first = first if streak else t
            streak += 1
        else:
            streak, last_bad = 0, t
        time.sleep(0.005)
    return (last_bad + first) / 2 if streak >= STREAK else None


def crash_outage(manager: SandboxManager) -> Outage:
    from concurrent.futures import ThreadPoolExecutor

    from chaosgate.platforms.sandbox_db import postmaster_pid

    members = manager.topo.db_members
    orders = [f"http://127.0.0.1:{p.port}" for p in manager.topo.pods_of("orders")]
    leader = manager.patroni.leader()
    assert leader is not None, "no Patroni leader"
    member = next(m for m in members if m.name == leader.name)
    pids = [manager.supervisor.process(member.name).pid, postmaster_pid(member.data_dir)]
    victims = [i for i in (identify(p) for p in pids if p) if i is not None]
    for v in victims:
        signal_identity(v, signal.SIGSTOP)
    t0 = time.time()  # the node stopped answering: the crash, as its clients see it
    manager.supervisor.stop(member.name, wait=False)  # not restarted on exit
    for v in victims:
        signal_identity(v, signal.SIGKILL)
    deadline = t0 + 60
    with ThreadPoolExecutor(len(orders)) as pool:  # every replica polled at once
        found = list(pool.map(lambda url: _recovered(url, deadline), orders))
    t1 = max((t for t in found if t is not None), default=deadline)
    manager.supervisor.start(member.name, wait=False)
    while time.time() < deadline + 60:  # the old node rejoins as a replica
        states = [m.state for m in manager.patroni.cluster()]
        if len(states) == len(members) and all(s in ("running", "streaming") for s in states):
            break
        time.sleep(0.5)
    return Outage("crash", t0, t1)


def make_outages(manager: SandboxManager, reps: int, kinds: tuple[str, ...], log: Any,
                 seed: int) -> list[Outage]:
    rng = random.Random(seed)
    out = []
    for _ in range(reps):
        for kind in kinds:
            length = rng.uniform(3.0, 7.0)
            o = (link_outage(manager, length) if kind == "link" else
                 stop_outage(manager, length) if kind == "stop" else crash_outage(manager))
            out.append(o)
            log(f"{kind}: truth {o.t1 - o.t0:.3f} s" + ("" if o.cause_end is None else
                f" (readmitted {o.t1 - o.cause_end:.3f} s after the SIGCONT)"))
            time.sleep(GAP)
    return out


def timeline(target_file: Path, request_log: Path, start: float, end: float) -> dict[str, Any]:
    """``chaosgate timeline --json`` over the run, as a user would call it (no hint)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "chaosgate.cli", "timeline", "--target", str(target_file),
         "--from", f"{start:.3f}", "--to", f"{end:.3f}", "--request-log", str(request_log),
         "--json"], capture_output=True, text=True, env=env, timeout=300, check=False)
    if not done.stdout.strip():
        raise RuntimeError(f"chaosgate timeline exited {done.returncode}: {done.stderr}")
    return dict(json.loads(done.stdout))


def overlaps(x: dict[str, Any], o: Outage, margin: float) -> bool:
    lo = x["impact_bounds"][0]
    hi = x["recovered_bounds"][1] if x["recovered_bounds"] else float("inf")
    return lo <= o.t1 + margin and o.t0 - margin <= hi


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]


def route_rate(starts: dict[str, list[float]], routes: list[str], t0: float,
               span: float = 10.0) -> float:
    """Requests per second on ``routes`` in the ``span`` seconds before ``t0``: how densely
    the client observer samples the edges of an outage on those routes."""
    return sum(bisect_left(starts.get(r, []), t0) - bisect_left(starts.get(r, []), t0 - span)
               for r in routes) / span


def report(outages: list[Outage], doc: dict[str, Any], margin: float,
           starts: dict[str, list[float]]) -> None:
    print(f"\n{len(outages)} outages made by this script; chaosgate timeline listed "
          f"{len(doc['incidents'])} incidents (verdict {doc['verdict']})")
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    used: dict[str, set[int]] = {"client": set(), "server": set()}
    for o in outages:
        for obs in ("client", "server"):
            seen = [(k, i["observers"][obs]) for k, i in enumerate(doc["incidents"])
                    if i["observers"][obs] is not None
                    and overlaps(i["observers"][obs], o, margin)]
            c = counts.setdefault((o.kind, obs), {"one": 0, "missed": 0, "split": 0})
            used[obs].update(k for k, _ in seen)
            if not seen:
                c["missed"] += 1
                continue
            if len(seen) > 1:
                c["split"] += 1
                continue
            c["one"] += 1
            x = seen[0][1]
            ttr = "still out" if x["ttr"] is None else (
                f"TTR {x['ttr']:.3f} [{x['ttr_bounds'][0]:.3f}, {x['ttr_bounds'][1]:.3f}]")
            print(f"  {o.kind:5} {obs:6} truth {o.t1 - o.t0:7.3f}  impact "
                  f"{x['impact'] - o.t0:+.3f}  recovered "
                  f"{'—' if x['recovered'] is None else format(x['recovered'] - o.t1, '+.3f')}"
                  f"  {ttr}")
            r = rows.setdefault((o.kind, obs), {"impact": [], "recover": [], "ttr": [],
                                                "inside": [], "rate": []})
            if x.get("routes"):
                r["rate"].append(route_rate(starts, x["routes"], o.t0))
            r["impact"].append(x["impact"] - o.t0)
            if x["recovered"] is not None:
                r["recover"].append(x["recovered"] - o.t1)
                r["ttr"].append(x["ttr"] - (o.t1 - o.t0))
                lo, hi = x["ttr_bounds"]
                r["inside"].append(float(lo <= o.t1 - o.t0 <= hi))
            else:
                r["inside"].append(0.0)
    print("\nerror against the truth, seconds (median / p95 / max of |error|); truth inside "
          "the stated TTR bound; req/s: the client's requests per second on the routes the "
          "outage touched, before it (median; each edge is known to about half their spacing)")
    print(f"{'kind':6} {'observer':8} {'t_impact':>22} {'t_recover':>22} {'TTR':>22} "
          f"{'inside':>7} {'one':>4} {'missed':>6} {'split':>5} {'req/s':>6}")
    for kind in KINDS:
        for obs in ("client", "server"):
            c = counts.get((kind, obs))
            if c is None:
                continue
            r = rows.get((kind, obs), {"impact": [], "recover": [], "ttr": [], "inside": [],
                                       "rate": []})
            cells = []
            for key in ("impact", "recover", "ttr"):
                errs = [abs(e) for e in r[key]]
                cells.append(f"{statistics.median(errs):6.3f} {p95(errs):6.3f} {max(errs):7.3f}"
                             if errs else f"{'—':>22}")
            inside = (f"{100 * sum(r['inside']) / len(r['inside']):6.0f}%" if r["inside"]
                      else f"{'—':>7}")
            rate = f"{statistics.median(r['rate']):6.1f}" if r["rate"] else f"{'':>6}"
            print(f"{kind:6} {obs:8} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} {inside} "
                  f"{c['one']:4d} {c['missed']:6d} {c['split']:5d} {rate}")
    for obs in ("client", "server"):
        invented = [i for k, i in enumerate(doc["incidents"])
                    if i["observers"][obs] is not None and k not in used[obs]]
        print(f"{obs}: {len(invented)} incident(s) invented in the healthy gaps"
              + "".join(f"\n  at {i['impact']:.3f}: {i['observers'][obs]['slos']}"
                        for i in invented))
    for obs, limit in (("client", 0.100), ("server", 2.0)):
        errs = [abs(e) for (_, o), r in rows.items() if o == obs for e in r["ttr"]]
        inside = [v for (_, o), r in rows.items() if o == obs for v in r["inside"]]
        if errs:
            print(f"{obs}: TTR error p95 {p95(errs):.3f} s (target ≤ {limit:g} s), truth "
                  f"inside the bound {100 * sum(inside) / len(inside):.0f} % (target ≥ 95 %)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--rate", type=float, default=100.0,
                    help="open-model load, requests/s (the client's edges are as fine as the "
                         "requests on the touched routes are dense)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="link,stop,crash")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-port", type=int, default=28900)
    ap.add_argument("--out", default=None, help="write the outages and the timeline here")
    args = ap.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    log = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731

    with temporary_sandbox(args.base_port, prefix="chaosgate-bench-", log=log) as manager:
        state = manager.topo.state_dir
        target = parse_target(render_sandbox_target(manager.topo), "bench target")
        target_file = state / "bench-target.yaml"
        dump_target(render_sandbox_target(manager.topo), target_file)
        per_rep = sum({"link": 5 + GAP, "stop": 5 + GAP, "crash": 40 + GAP}[k] for k in kinds)
        duration = args.reps * per_rep + 60
        spec = spec_for_target(target, read_profile(find_profile("open", ROOT)), duration,
                               rate=args.rate, out_root=state / "load")
        with LoadSession(spec, show_progress=False) as session:
            time.sleep(GAP)
            start = time.time() - 2
            outages = make_outages(manager, args.reps, kinds, log, args.seed)
            session.stop()
        session.wait()
        end = time.time()
        time.sleep(2 * target.prometheus.scrape_interval)
        doc = timeline(target_file, spec.request_log, start, end)
        if args.out:  # the outages, the timeline, and the request log beside them
            Path(args.out).write_text(json.dumps({"outages": [o.__dict__ for o in outages],
                                                  "timeline": doc}, indent=1))
            shutil.copyfile(spec.request_log, Path(args.out).with_suffix(".requests.jsonl"))
        starts: dict[str, list[float]] = {}
        for rec in read_request_log(spec.request_log):
            starts.setdefault(rec.name, []).append(rec.t)
        for ts in starts.values():
            ts.sort()
        report(outages, doc, margin=target.prometheus.fail_within + 2.0, starts=starts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
