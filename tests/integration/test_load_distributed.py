"""Distributed load across hosts: a master and two workers in separate network namespaces.

Three namespaces joined by veth pairs stand for three hosts: the master's
(which also runs a small HTTP server, the system under load, on its veth
address) and one per worker, each reaching the master only over its own
link. The master runs through :class:`LoadSession` (what ``chaosgate load
run --master --expect-workers 2`` does); each worker is ``chaosgate load
worker --master-host <master's address>``. One worker is killed mid-run.

Checked: every worker's requests reach the harness's request log (the
workers write nothing there themselves), each worker's clock offset was
measured, and the killed worker is reported as lost — in the run's
``problem()`` and its worker list — while the other one's load goes on.
No timing is asserted. Needs root (``ip netns``); about 15 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaosgate.load.command import LoadSpec
from chaosgate.load.profiles import read_profile
from chaosgate.load.run import read_workers_file
from chaosgate.load.runner import LoadSession, free_port, new_run_id

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (ip netns)"),
]

WAIT = 30.0
SRC = Path(__file__).resolve().parents[2] / "src"

SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""

LOCUSTFILE = """
from locust import HttpUser, constant_throughput, task

class Visitor(HttpUser):
    wait_time = constant_throughput(10)

    @task
    def home(self):
        self.client.get("/")
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=WAIT)


@dataclass
class Hosts:
    master: str  # namespace names
    workers: tuple[str, str]
    master_address: str  # the master's address on the first worker's link
    exec_prefix: tuple[str, ...] = ("ip", "netns", "exec")

    def run_in(self, ns: str) -> tuple[str, ...]:
        return (*self.exec_prefix, ns)


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    tag = f"cgd{os.getpid() % 100000}"
    third = 20 + os.getpid() % 200  # 10.231.<third>.0/29 for this test session
    master, workers = f"{tag}m", (f"{tag}w1", f"{tag}w2")
    made: list[str] = []
    try:
        for ns in (master, *workers):
            ip("netns", "add", ns)
            made.append(ns)
        ip("-n", master, "link", "set", "lo", "up")
        for i, ns in enumerate(workers):
            here, there = f"{tag}a{i}", f"{tag}b{i}"
            base = 4 * i  # link i: .base+1 (master) and .base+2 (worker), a /30
            ip("link", "add", here, "netns", master, "type", "veth", "peer", there, "netns", ns)
            ip("-n", master, "addr", "add", f"10.231.{third}.{base + 1}/30", "dev", here)
            ip("-n", ns, "addr", "add", f"10.231.{third}.{base + 2}/30", "dev", there)
            for n, dev in ((master, here), (ns, there), (ns, "lo")):
                ip("-n", n, "link", "set", dev, "up")
            ip("-n", ns, "route", "add", "default", "via", f"10.231.{third}.{base + 1}")
        yield Hosts(master, workers, f"10.231.{third}.1")
    finally:
        for ns in made:  # deleting a namespace deletes its veth ends
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=WAIT)


@contextlib.contextmanager
def started(argv: list[str] | tuple[str, ...], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=str(SRC)))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(WAIT)


def eventually(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def test_workers_on_other_hosts_ship_their_logs_and_a_lost_one_is_reported(
    hosts: Hosts, tmp_path: Path
) -> None:
    port, master_port = 8080, free_port()
    (tmp_path / "visit.py").write_text(LOCUSTFILE)
    conf = tmp_path / "visit.conf"
    conf.write_text("locustfile = visit.py\nusers = 4\nspawn-rate = 4\n")
    host = f"http://{hosts.master_address}:{port}"
    spec = LoadSpec(profile=read_profile(conf), host=host, duration=8.0,
                    out_dir=tmp_path / "run", run_id=new_run_id(), remote_workers=2,
                    master_bind=hosts.master_address, master_port=master_port,
                    launcher=hosts.run_in(hosts.master), cwd=tmp_path)
    server = [*hosts.run_in(hosts.master), sys.executable, "-c", SERVER,
              hosts.master_address, str(port)]

    def worker(i: int) -> list[str]:
        return [*hosts.run_in(hosts.workers[i]), sys.executable, "-m", "chaosgate.cli", "load",
                "worker", "--master-host", hosts.master_address, "--master-port",
                str(master_port), "--locustfile", str(tmp_path / "visit.py"), "--max-time",
                "60s", "--log", str(tmp_path / f"worker{i}.log")]

    with (started(server, tmp_path / "server.log"),
          LoadSession(spec, show_progress=False) as session,
          started(worker(0), tmp_path / "w0.cli.log"),
          started(worker(1), tmp_path / "w1.cli.log") as doomed):

        def both_shipped() -> bool:
            session.poll()
            nodes = read_workers_file(spec.workers_file)
            return len(nodes) == 2 and all(n.records > 0 for n in nodes)

        eventually(both_shipped, "both workers' records reached the master")
        doomed.send_signal(signal.SIGKILL)  # its Locust dies with it (death signal)
        doomed.wait(WAIT)
        lost_mark = time.time()
        while session.poll():
            time.sleep(0.25)
    run = session.wait()

    assert run.requests > 0
    assert not list((tmp_path / "run").glob("requests.*.jsonl"))
    nodes = {n.index: n for n in run.nodes}
    assert set(nodes) == {0, 1}
    assert sum(n.records for n in run.nodes) == run.requests  # every record came by message
    for n in run.nodes:  # the clock offset was estimated, with its uncertainty
        assert n.offset_s is not None and n.uncertainty_s is not None
    assert 0 < run.clock_uncertainty < 1.0
    lost = run.lost_workers
    assert len(lost) == 1, [n.describe() for n in run.nodes]
    problem = run.problem()
    assert problem is not None and "LOST" in problem and lost[0].id in problem
    survivor = next(n for n in run.nodes if n.lost_at is None)
    assert survivor.last_request_t is not None and survivor.last_request_t > lost_mark
