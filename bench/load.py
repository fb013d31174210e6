"""Locust through chaosgate versus bare Locust: throughput ratio and recorder CPU cost.

Run: ``.venv/bin/python bench/load.py [--base-port N] [--duration 20] [--rounds 2]``.

Starts the sandbox on its own base port (28500, in a temporary state
directory) and stops it at the end, or uses a running one (``--base-port``
of a sandbox already up; its state directory from ``--state-dir``). Then,
for each round, the same locustfile (``loadprofiles/shop.py``), host, users
and pace run twice, one after the other:

- bare: ``python -m locust -f loadprofiles/shop.py --headless ...`` (no recorder);
- log only: through chaosgate with the recorder writing the request log
  (and checkout log) but exporting no client metrics;
- chaosgate: through chaosgate as ``chaosgate load run`` does it on the
  sandbox: request log plus client metrics scraped every second via file_sd.

It prints, per variant, the requests and RPS from Locust's own ``--json``
totals (the same source for both), the CPU seconds of the Locust processes
(from ``/proc/<pid>/task/*/schedstat``, in a steady-state window) per 1000 requests, the RPS ratio
chaosgate / bare (target >= 0.9) and the recorder's CPU cost. Load stays
at tens of requests per second (default 20 users x 1.5 tasks/s = 30 RPS);
the whole run takes under 3 minutes. Paced users fix the rate, so the RPS
ratio shows whether the recorder makes Locust miss its schedule; the CPU
figures are the overhead. ``--user-rate 0`` (no pacing) compares peak
throughput instead, at hundreds of requests per second: not on a shared
machine.

``--generator`` measures the load generator itself, without the sandbox,
against a trivial HTTP server fast enough that Locust is the bottleneck
(``bench/flat_locustfile.py``, unpaced users, the same worker count for
both):

- saturation: RPS of bare Locust (master + W workers) and of chaosgate
  (``LoadSpec(workers=W)``, recorder on) side by side, and the ratio
  (goal >= 0.9); CPU per request of every Locust process of each, and the
  difference (the recorder's cost);
- the request-log write path's maximum rate in one process (records/s:
  the recorder's ``dump_record`` into the buffer plus ``AppendLog`` flushes;
  goal >= 20 000/s), and the remote path (a worker's records packed as
  Locust packs a message, unpacked and written by the master);
- the open model under a stall: chaosgate at a fixed arrival rate while the
  server (its only replica) is frozen with SIGSTOP for 5 s: intended vs
  achieved arrivals per second inside the freeze (requests that time out
  and arrivals dropped as ``overload`` count as arrivals: the outage is
  not hidden by coordinated omission).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from chaosgate.load.command import LoadSpec
from chaosgate.load.profiles import read_profile
from chaosgate.load.requestlog import AppendLog, RequestRecord, dump_record, record_line
from chaosgate.load.runner import LoadSession, free_port, new_run_id, spec_for_target
from chaosgate.sandbox.manager import temporary_sandbox
from chaosgate.sandbox.topology import Topology, build_topology
from chaosgate.targets import Target, parse_target, render_sandbox_target

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = REPO / "loadprofiles" / "shop.py"
PROFILE = REPO / "loadprofiles" / "steady.conf"


class Sample(NamedTuple):
    """One run's steady-state window: requests, RPS, CPU seconds, log == Locust."""

    requests: int
    rps: float
    cpu: float
    exact: bool


@contextmanager
def sandbox(base_port: int, state_dir: str | None, keep: bool) -> Iterator[Topology]:
    """A healthy sandbox: the running one at ``base_port``, or a fresh one we stop."""
    if keep:
        yield build_topology(Path(state_dir or ".chaosgate/sandbox").resolve(), base_port)
        return
    print(f"starting the sandbox on base port {base_port} ...", file=sys.stderr)
    with temporary_sandbox(base_port, prefix="chaosgate-bench-load-", timeout=240,
                           log=lambda m: print(f"  sandbox: {m}", file=sys.stderr)) as manager:
        yield manager.topo


class CpuWindow(threading.Thread):
    """CPU seconds of one process over a steady-state window of whole seconds.

    Start-up (imports, spawning) and shutdown cost the same with and without
    the recorder and would dominate a short run, so the window opens
    ``warmup`` seconds after the process starts and closes ``cooldown``
    seconds before its run time ends, on whole-second edges, so that it
    matches Locust's per-second request counts.
    """

    def __init__(self, pid: int, started: float, duration: int, warmup: float = 4.0,
                 cooldown: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.t1 = math.ceil(started + warmup)
        self.t2 = math.floor(started + duration - cooldown)
        self.cpu = 0.0

    def _cpu_at(self, t: float) -> float:
        """On-CPU seconds of every thread, in nanoseconds from /proc/<pid>/task/*/schedstat
        (clock-tick resolution of /proc/<pid>/stat, 10 ms, is too coarse here)."""
        time.sleep(max(t - time.time(), 0.0))
        total = 0
        for stat in Path(f"/proc/{self.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError):
                total += int(stat.read_text().split()[0])
        return total / 1e9

    def run(self) -> None:
        first = self._cpu_at(self.t1)
        self.cpu = self._cpu_at(self.t2) - first


def window_requests(json_file: Path, t1: int, t2: int) -> int:
    """Requests Locust counted as completed in the whole seconds [t1, t2)."""
    entries = json.loads(json_file.read_text())
    return sum(n for e in entries for sec, n in e["num_reqs_per_sec"].items()
               if t1 <= int(sec) < t2)


def bare_locust(host: str, users: int, rate: float, duration: int, out: Path) -> Sample:
    """Plain Locust, same locustfile and host."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host,
           "--headless", "--only-summary", "-u", str(users), "-r", str(users),
           "-t", f"{duration}s", "--user-rate", f"{rate:g}", "--json-file", str(out / "locust")]
    with open(out / "locust.log", "wb") as log:
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        window = CpuWindow(proc.pid, started, duration)
        window.start()
        if proc.wait(timeout=duration + 60) != 0:
            raise SystemExit(f"bare locust failed; see {out / 'locust.log'}")
    window.join()
    n = window_requests(out / "locust.json", window.t1, window.t2)
    return Sample(n, n / (window.t2 - window.t1), window.cpu, True)


def chaosgate_locust(target: Target, users: int, rate: float, duration: int,
                     out: Path, metrics: bool = True) -> Sample:
    """The same load through chaosgate: recorder on, client metrics on unless ``metrics``."""
    profile = read_profile(PROFILE)
    extra: dict[str, Any] = {} if metrics else {"metrics_port": None}
    spec = spec_for_target(target, profile, duration, out_root=out, run_id=new_run_id(),
                           users=users, extra_args=("--spawn-rate", str(users),
                                                    "--user-rate", f"{rate:g}"), **extra)
    session = LoadSession(spec, show_progress=False)
    session.start()
    window = CpuWindow(session.procs[0].popen.pid, session.started, duration)
    window.start()
    run = session.wait()
    window.join()
    if not run.ok:
        raise SystemExit(f"chaosgate run failed:\n{run.log_tail()}")
    n = window_requests(run.locust_json, window.t1, window.t2)
    exact = run.requests == run.locust_requests and not run.mismatches
    return Sample(n, n / (window.t2 - window.t1), window.cpu, exact)


FLAT = REPO / "bench" / "flat_locustfile.py"

SERVER = r"""
import asyncio, sys
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


@contextmanager
def flat_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The trivial HTTP server (one process) on 127.0.0.1:port, for the block."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        yield proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


def _flat_spec(host: str, out: Path, duration: int, **kw: Any) -> LoadSpec:
    conf = out / "flat.conf"
    out.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"locustfile = {FLAT}\nusers = 10\nspawn-rate = 10\n")
    return LoadSpec(profile=read_profile(conf), host=host, duration=duration, out_dir=out,
                    run_id=new_run_id(), cwd=REPO, **kw)


def bare_distributed(host: str, users: int, workers: int, duration: int,
                     out: Path) -> tuple[float, float, int]:
    """Bare Locust, a master and ``workers`` workers: (RPS, CPU s, requests) of the
    steady window (:class:`CpuWindow`: start-up and shutdown left out)."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    common = [sys.executable, "-m", "locust", "-f", str(FLAT)]
    master = [*common, "--host", host, "--headless", "--only-summary", "-u", str(users),
              "-r", str(users), "-t", f"{duration}s", "--user-rate", "0", "--json-file",
              str(out / "locust"), "--master", "--expect-workers", str(workers),
              "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    started = time.time()
    with open(out / "locust.log", "wb") as log:
        procs = [subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
                 for cmd in [master] + [worker] * workers]
        windows = [CpuWindow(p.pid, started, duration) for p in procs]
        for w in windows:
            w.start()
        for proc in procs:
            proc.wait(duration + 60)
    for w in windows:
        w.join()
    n = window_requests(out / "locust.json", windows[0].t1, windows[0].t2)
    return n / (windows[0].t2 - windows[0].t1), sum(w.cpu for w in windows), n


def chaosgate_distributed(host: str, users: int, workers: int, duration: int,
                          out: Path) -> tuple[float, float, int]:
    """The same through chaosgate (recorder on): (RPS, CPU s, requests), steady window."""
    spec = _flat_spec(host, out, duration, users=users, workers=workers,
                      extra_args=("--spawn-rate", str(users), "--user-rate", "0"))
    session = LoadSession(spec, show_progress=False)
    session.start()
    windows = [CpuWindow(p.pid, session.started, duration) for p in session.procs]
    for w in windows:
        w.start()
    run = session.wait()
    for w in windows:
        w.join()
    if not run.ok:
        raise SystemExit(f"chaosgate run failed:\n{run.log_tail()}")
    n = window_requests(run.locust_json, windows[0].t1, windows[0].t2)
    return n / (windows[0].t2 - windows[0].t1), sum(w.cpu for w in windows), n


def write_path_rate(out: Path, seconds: float = 2.0) -> tuple[float, float]:
    """Records/s through the local write path, and through the remote one (a worker's
    batch packed as Locust packs messages, unpacked and written by the master)."""
    import msgpack  # type: ignore[import-untyped]  # Locust's own message encoding

    record = RequestRecord(t=time.time(), ms=12.345, name="/api/products/{id}", method="GET",
                           ok=True, status=200, error=None)
    log = AppendLog(out / "write-path.jsonl")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(5000):  # one flush per 5000 records (the recorder: every 0.25 s)
            dump_record(record, log.buffer)
        log.flush()
        n += 5000
    local = n / (time.perf_counter() - start)
    log.close()
    remote_log = AppendLog(out / "write-path-remote.jsonl")
    n, start = 0, time.perf_counter()
    row = [record.t, record.ms, record.name, record.method, record.ok, record.status, None]
    while time.perf_counter() - start < seconds:
        batch = [list(row) for _ in range(5000)]  # the worker's side
        wire = msgpack.packb({"records": batch, "checkouts": []})
        offset = 0.0001
        remote_log.buffer.writelines(  # what the master's WorkerBook does per message
            record_line(t - offset, ms, name, method, ok, status, error)
            for t, ms, name, method, ok, status, error in msgpack.unpackb(wire)["records"])
        remote_log.flush()
        n += 5000
    remote_log.close()
    return local, n / (time.perf_counter() - start)


RECORDER_COST = r"""
import gevent.monkey; gevent.monkey.patch_all()
import argparse, sys, tempfile, time
import locust.main  # noqa: F401  (the recorder's guard: a Locust process)
from locust.env import Environment
from chaosgate.load.recorder import Recorder
out = tempfile.mkdtemp()
env = Environment()
env.parsed_options = argparse.Namespace(
    request_log=out + "/r.jsonl", checkout_log=None, loadgen_run_id="bench",
    request_log_flush=0.25, metrics_linger=0, loadgen_sd_file=None, loadgen_metrics_port=0,
    ship_requests=False, workers_file=None)
env.create_local_runner()
recorder = Recorder(env)
class Response:
    status_code = 200
response, n = Response(), 200_000
start = time.perf_counter()
for _ in range(n):
    recorder.on_request("GET", "/api/products", 1.234, response=response, exception=None,
                        context={}, start_time=time.time())
recorder.flush()
print((time.perf_counter() - start) / n * 1e6)
"""


def recorder_cost() -> float:
    """Microseconds of the recorder's ``on_request`` (log line, counters, histogram) per
    request, in a process of its own that is a Locust process (gevent-patched)."""
    done = subprocess.run([sys.executable, "-c", RECORDER_COST], capture_output=True,
                          text=True, check=True, timeout=120)
    return float(done.stdout.split()[-1])


def freeze_figures(host: str, server: subprocess.Popen[bytes], rate: float, out: Path,
                   freeze: float = 5.0) -> tuple[float, float, dict[str, int]]:
    """Open model at ``rate``/s, the server frozen ``freeze`` s mid-run: (intended,
    achieved arrivals/s in the freeze, outcomes of those arrivals)."""
    duration = 16
    spec = _flat_spec(host, out, duration, users=10, rate=rate, request_timeout=1.0)
    with LoadSession(spec, show_progress=False) as session:
        time.sleep(6.0)
        t1 = time.time()
        server.send_signal(signal.SIGSTOP)
        time.sleep(freeze)
        server.send_signal(signal.SIGCONT)
        t2 = time.time()
    run = session.wait()
    inside = [r for r in run.records() if t1 <= r.t < t2]
    outcomes: dict[str, int] = {}
    for r in inside:
        key = "ok" if r.ok else (r.error or "error")
        outcomes[key] = outcomes.get(key, 0) + 1
    return rate, len(inside) / (t2 - t1), outcomes


def generator_bench(args: argparse.Namespace) -> None:
    """The generator's own figures (no sandbox): saturation, write path, freeze."""
    out = Path(tempfile.mkdtemp(prefix="chaosgate-bench-generator-"))
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    with flat_server(port) as server:
        rows = []
        for i in range(args.rounds):  # alternate the order: a drift of the machine's load
            first = "chaosgate" if i % 2 else "bare"  # must not favour either
            result = {}
            for variant in (first, "bare" if first == "chaosgate" else "chaosgate"):
                print(f"round {i + 1}/{args.rounds}: {variant}, {args.workers} workers ...",
                      file=sys.stderr)
                run = bare_distributed if variant == "bare" else chaosgate_distributed
                result[variant] = run(host, args.users, args.workers, args.duration,
                                      out / f"{variant}-{i}")
            rows.append((result["bare"], result["chaosgate"]))
        print("write path ...", file=sys.stderr)
        local, remote = write_path_rate(out)
        on_request = recorder_cost()
        print("open model under a 5 s freeze ...", file=sys.stderr)
        intended, achieved, outcomes = freeze_figures(host, server, args.freeze_rate,
                                                      out / "freeze")
    bare_rps = sum(b[0] for b, _ in rows) / len(rows)
    cg_rps = sum(c[0] for _, c in rows) / len(rows)
    bare_cpu = 1000 * sum(b[1] for b, _ in rows) / max(sum(b[2] for b, _ in rows), 1)
    cg_cpu = 1000 * sum(c[1] for _, c in rows) / max(sum(c[2] for _, c in rows), 1)
    ratio = cg_rps / bare_rps
    print(f"\nthe load generator at saturation: {args.users} unpaced users, master + "
          f"{args.workers} workers, bench/flat_locustfile.py against a trivial server, "
          f"{args.duration} s x {args.rounds} round(s) (steady windows)")
    print(f"  RPS bare Locust {bare_rps:8.0f}   chaosgate {cg_rps:8.0f}   ratio {ratio:.3f} "
          f"({'met' if ratio >= 0.9 else 'NOT met'}: goal >= 0.9)")
    print(f"  CPU ms per request (all Locust processes, steady window): bare {bare_cpu:.3f}, "
          f"chaosgate "
          f"{cg_cpu:.3f}: the recorder costs {cg_cpu - bare_cpu:+.3f} ms "
          f"({100 * (cg_cpu - bare_cpu) / bare_cpu:+.1f} %)")
    print(f"  the recorder's own work per request (on_request, in a Locust process, "
          f"nothing else running in it): {on_request:.1f} us")
    print(f"  request-log write path, one process: {local:,.0f} records/s local, "
          f"{remote:,.0f} records/s shipped to a master "
          f"({'met' if min(local, remote) >= 20000 else 'NOT met'}: goal >= 20 000/s)")
    print(f"  open model, the server frozen 5 s (SIGSTOP): intended {intended:.0f} arrivals/s, "
          f"achieved {achieved:.1f}/s inside the freeze; their outcomes: "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"bench took {time.monotonic() - began:.0f} s; files in {out}")


def main() -> None:
    """Parse the arguments, run the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, default=None,
                        help="Use the sandbox already running at this base port.")
    parser.add_argument("--state-dir", default=None, help="Its state directory (with --base-port).")
    parser.add_argument("--own-base-port", type=int, default=28500,
                        help="Base port of the sandbox this benchmark starts (default 28500).")
    parser.add_argument("--duration", type=int, default=20, help="Seconds per run (default 20).")
    parser.add_argument("--rounds", type=int, default=2, help="Bare/chaosgate pairs (default 2).")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--user-rate", type=float, default=1.5, help="Tasks/s per user.")
    parser.add_argument("--generator", action="store_true",
                        help="The generator's own figures, no sandbox (see above).")
    parser.add_argument("--workers", type=int, default=2, help="--generator: Locust workers.")
    parser.add_argument("--freeze-rate", type=float, default=100.0,
                        help="--generator: open-model arrivals/s during the freeze test.")
    args = parser.parse_args()
    if args.generator:
        generator_bench(args)
        return

    keep = args.base_port is not None
    out = Path(tempfile.mkdtemp(prefix="chaosgate-bench-load-out-"))
    rows: dict[str, list[Sample]] = {"bare": [], "log only": [], "chaosgate": []}
    started = time.monotonic()
    with sandbox(args.base_port or args.own_base_port, args.state_dir, keep) as topo:
        target = parse_target(render_sandbox_target(topo))
        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds}: bare locust ...", file=sys.stderr)
            rows["bare"].append(bare_locust(target.ingress_url, args.users, args.user_rate,
                                            args.duration, out / f"bare-{i}"))
            print(f"round {i + 1}/{args.rounds}: chaosgate, request log only ...",
                  file=sys.stderr)
            rows["log only"].append(chaosgate_locust(target, args.users, args.user_rate,
                                                     args.duration, out / "chaosgate", False))
            print(f"round {i + 1}/{args.rounds}: chaosgate ...", file=sys.stderr)
            rows["chaosgate"].append(chaosgate_locust(target, args.users, args.user_rate,
                                                      args.duration, out / "chaosgate"))

    print(f"\nLocust via chaosgate vs bare Locust: {args.users} users x {args.user_rate:g} "
          f"tasks/s, {args.duration} s per run, {args.rounds} round(s), shop.py on "
          f"{target.ingress_url}; steady-state windows (start-up and shutdown excluded)")
    print("(log only: chaosgate with the request log but no client metrics; chaosgate: both)")
    print(f"{'variant':<10} {'requests':>9} {'RPS':>8} {'CPU s':>7} {'CPU s/1000 req':>15}")
    figures = {}
    for name, runs in rows.items():
        req = sum(r.requests for r in runs)
        rps = sum(r.rps for r in runs) / len(runs)
        cpu = sum(r.cpu for r in runs)
        figures[name] = (rps, 1000 * cpu / max(req, 1))
        print(f"{name:<10} {req:>9} {rps:>8.2f} {cpu:>7.3f} {figures[name][1]:>15.3f}")
    ratio = figures["chaosgate"][0] / figures["bare"][0]
    cost = figures["chaosgate"][1] - figures["bare"][1]
    print(f"RPS ratio chaosgate/bare: {ratio:.3f} (target >= 0.9: "
          f"{'met' if ratio >= 0.9 else 'NOT met'})")
    log_cost = figures["log only"][1] - figures["bare"][1]
    print(f"recorder CPU cost: {cost:+.3f} CPU s per 1000 requests "
          f"({100 * cost / figures['bare'][1]:+.1f} % of bare Locust's), of which the "
          f"request log {log_cost:+.3f} and the client metrics (1 s scrapes) "
          f"{cost - log_cost:+.3f}")
    exact = all(r.exact for name in ("log only", "chaosgate") for r in rows[name])
    print(f"request log == Locust --json totals in every chaosgate run: {exact}")
    print(f"bench took {time.monotonic() - started:.0f} s; files in {out}")


if __name__ == "__main__":
    main()
