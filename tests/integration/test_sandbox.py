"""The sandbox for real: every component up, pods restarted, failover, links cut."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import requests
from _faults import chaosgate, checkout_status, ensure_healthy, eventually

from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.faults import Ledger
from chaosgate.platforms.base import LatencySpec, NetworkScope
from chaosgate.platforms.sandbox_net import plan_latency
from chaosgate.sandbox.events import read_events
from chaosgate.sandbox.links import LinkHolds
from chaosgate.sandbox.manager import SandboxManager, leftover_processes
from chaosgate.targets import parse_target, render_sandbox_target

pytestmark = pytest.mark.integration


def checkout(manager: SandboxManager, seq: int = 1) -> requests.Response:
    return requests.post(
        f"{manager.topo.ingress_url}/api/checkout",
        json={"items": [{"product_id": 2, "qty": 3}], "client_seq": seq},
        timeout=10,
    )


def test_status_lists_every_component(sandbox: SandboxManager) -> None:
    rows = {r.name: r for r in sandbox.status()}
    pods = [r for r in rows.values() if r.kind == "pod"]
    assert len(pods) == 6 and all(p.state == "RUNNING" and p.pid > 0 for p in pods)
    members = [r for r in rows.values() if r.kind == "database"]
    assert len(members) == 2
    assert sum(r.detail.startswith("leader") for r in members) == 1
    for component in ("etcd", "haproxy", "prometheus", "faultproxy", "alertmanager"):
        assert rows[component].state == "RUNNING"


def test_up_is_idempotent(sandbox: SandboxManager) -> None:
    before = {r.name: r.pid for r in sandbox.status()}
    after = {r.name: r.pid for r in sandbox.up(timeout=60)}
    assert after == before


def test_checkout_through_the_ingress_creates_an_order(sandbox: SandboxManager) -> None:
    resp = checkout(sandbox, seq=42)
    assert resp.status_code == 201, resp.text
    order_id = resp.json()["order_id"]
    got = requests.get(f"{sandbox.topo.ingress_url}/api/orders/{order_id}", timeout=5)
    assert got.status_code == 200
    assert got.json()["client_seq"] == 42


def test_prometheus_scrapes_every_component(sandbox: SandboxManager) -> None:
    samples = sandbox.prometheus.query("up")
    up = {s.labels["instance"]: s.value for s in samples if s.labels["job"] != "loadgen"}
    assert up == {t.address: 1.0 for t in sandbox.topo.scrape_targets()}
    # the shop's request metrics arrive labelled with the pod they came from
    eventually(
        lambda: bool(sandbox.prometheus.query('shop_http_requests_total{app="gateway"}')),
        what="gateway request metrics in Prometheus",
    )


def test_killed_replica_is_restarted_while_haproxy_routes_around_it(
    sandbox: SandboxManager,
) -> None:
    victim = "catalog-0"
    old_pid = sandbox.supervisor.process(victim).pid
    failures: list[str] = []
    sent = 0
    stop = threading.Event()

    def browse() -> None:
        nonlocal sent
        session = requests.Session()
        while not stop.is_set():
            try:
                resp = session.get(f"{sandbox.topo.ingress_url}/api/products", timeout=5)
                if resp.status_code != 200:
                    failures.append(f"HTTP {resp.status_code}")
            except requests.RequestException as exc:
                failures.append(repr(exc))
            sent += 1
            time.sleep(0.02)

    worker = threading.Thread(target=browse)
    worker.start()
    try:
        time.sleep(1)
        t_kill = time.time()
        sandbox.supervisor.signal(victim, "KILL")
        eventually(
            lambda: sandbox.supervisor.process(victim).pid not in (0, old_pid)
            and sandbox.supervisor.process(victim).running,
            what=f"{victim} restarted by supervisord",
        )
        eventually(
            lambda: sandbox.haproxy_servers()[f"catalog/{victim}"] == "UP",
            what=f"HAProxy to see {victim} UP again",
        )
        time.sleep(1)
    finally:
        stop.set()
        worker.join()
    assert sent > 50
    assert failures == [], f"{len(failures)} of {sent} requests failed: {failures[:5]}"
    restarts = [e for e in read_events(sandbox.topo.events_file)
                if e["process"] == victim and e["to"] == "RUNNING" and e["ts"] > t_kill]
    assert restarts, "the event log has no RUNNING event after the kill"
    row = next(r for r in sandbox.status() if r.name == victim)
    assert row.restarts >= 1


def test_switchover_then_checkout_succeeds(sandbox: SandboxManager) -> None:
    old = sandbox.patroni.leader()
    assert old is not None
    candidate = next(m.name for m in sandbox.topo.db_members if m.name != old.name)
    sandbox.patroni.switchover(old.name, candidate)
    eventually(
        lambda: (lead := sandbox.patroni.leader()) is not None and lead.name == candidate,
        what=f"{candidate} to lead",
    )
    eventually(lambda: checkout(sandbox).status_code == 201, timeout=30,
               what="a checkout after the switchover")
    eventually(sandbox.patroni.healthy, what="the old leader to rejoin as a replica")


def test_disabled_link_cuts_an_open_connection(sandbox: SandboxManager) -> None:
    topo = sandbox.topo
    leader = sandbox.patroni.leader()
    assert leader is not None
    link = topo.link(f"orders-{leader.name}")
    conninfo = (f"host=127.0.0.1 port={link.listen} dbname=shop user=shop "
                "connect_timeout=3 options='-c statement_timeout=5000'")
    api = f"{topo.faultproxy_url}/proxies/{link.name}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        resp = requests.post(api, json={"enabled": False}, timeout=5)
        assert resp.status_code == 200, resp.text
        try:
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
            with pytest.raises(OSError), socket.create_connection(
                ("127.0.0.1", link.listen), timeout=2
            ):
                pass
        finally:
            requests.post(api, json={"enabled": True}, timeout=5).raise_for_status()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cli_status_prints_the_table(sandbox: SandboxManager) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chaosgate.cli", "sandbox", "status",
         "--state-dir", str(sandbox.topo.state_dir),
         "--base-port", str(sandbox.topo.ports.base)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    for name in ("gateway-0", "orders-1", "pg0", "pg1", "etcd", "haproxy", "prometheus"):
        assert name in out


def _sandbox_cli(sandbox: SandboxManager, command: str,
                 ledger: object) -> subprocess.CompletedProcess[str]:
    result = chaosgate("sandbox", command, "--state-dir", str(sandbox.topo.state_dir),
                       "--base-port", str(sandbox.topo.ports.base), "--ledger", str(ledger))
    print(result.stdout, result.stderr)
    return result


def test_status_shows_a_deleted_and_a_disabled_link_and_up_restores_them(sandbox, tmp_path):
    topo = sandbox.topo
    leader = sandbox.patroni.leader()
    assert leader is not None
    deleted, disabled = f"orders-{leader.name}", "gateway-catalog"
    ledger = tmp_path / "ledger.jsonl"
    try:
        # what toxiproxy-python's destroy() does, and a disable through the API
        requests.delete(f"{topo.faultproxy_url}/proxies/{deleted}", timeout=5
                        ).raise_for_status()
        ToxiproxyClient(topo.faultproxy_url).set_enabled(disabled, False)
        status = _sandbox_cli(sandbox, "status", ledger)
        assert status.returncode == 3
        def row(name: str) -> str:
            return next(line for line in status.stdout.splitlines()
                        if f" {name} " in line and " link " in line)

        assert "MISSING" in row(deleted) and "DISABLED" in row(disabled)
        assert f"{deleted} MISSING" in status.stderr and f"{disabled} DISABLED" in status.stderr
        assert "chaosgate sandbox up" in status.stderr

        up = _sandbox_cli(sandbox, "up", ledger)
        assert up.returncode == 0
        assert f"restored link {deleted}: deleted from the fault proxy" in up.stderr
        assert f"restored link {disabled}: disabled" in up.stderr
        assert _sandbox_cli(sandbox, "status", ledger).returncode == 0
        # the shop answers again (its pods reconnect on their own schedule)
        eventually(lambda: checkout_status(sandbox) == 201, "a checkout after `sandbox up`", 60)
        assert requests.get(f"{topo.ingress_url}/api/products", timeout=5).status_code == 200
    finally:
        sandbox.restore_links(LinkHolds())
        ensure_healthy(sandbox)


def test_up_leaves_a_toxic_an_open_fault_holds(sandbox, tmp_path):
    topo = sandbox.topo
    target = parse_target(render_sandbox_target(topo))
    change = plan_latency(target, LatencySpec(NetworkScope("shop", links=("gateway-orders",)),
                                              50), "cg-held", {x.name: x.listen_address
                                                               for x in topo.links})
    ledger = Ledger(tmp_path / "ledger.jsonl")
    client = ToxiproxyClient(topo.faultproxy_url)
    toxic = {"name": "cg-held-latency-upstream", "type": "latency", "stream": "upstream",
             "toxicity": 1.0, "attributes": {"latency": 50, "jitter": 0}}
    ledger.open(change, change.kind, target)  # this process owns the fault
    try:
        client.add_toxic("gateway-orders", toxic)
        client.add_toxic("gateway-catalog", {**toxic, "name": "stray"})
        status = _sandbox_cli(sandbox, "status", ledger.path)
        assert status.returncode == 3  # the stray toxic; the held one is FAULT
        assert "gateway-catalog TOXIC" in status.stderr and "gateway-orders" not in status.stderr
        assert "held by open fault cg-held" in status.stdout
        up = _sandbox_cli(sandbox, "up", ledger.path)
        assert up.returncode == 0, up.stderr
        assert "restored link gateway-catalog: toxic stray" in up.stderr
        proxies = client.proxies()
        assert proxies["gateway-orders"].toxic_names == ("cg-held-latency-upstream",)
        assert proxies["gateway-catalog"].toxic_names == ()
        assert _sandbox_cli(sandbox, "status", ledger.path).returncode == 0
    finally:
        client.remove_toxic("gateway-orders", toxic["name"])
        client.remove_toxic("gateway-catalog", "stray")
        ledger.mark(change.fault_id, "reverted", note="test")


@pytest.mark.sandbox_teardown
def test_down_leaves_no_process(sandbox: SandboxManager) -> None:
    sandbox.down()
    assert not sandbox.running()
    assert leftover_processes(sandbox.topo) == []
    for port in (sandbox.topo.ports.ingress, sandbox.topo.ports.prometheus):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
