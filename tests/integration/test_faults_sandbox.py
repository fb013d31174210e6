"""Every fault on the real sandbox: inject, verify the effect, revert, verify healed.

Each test leaves the sandbox healthy (every link up, a Patroni leader with a
streaming replica, every pod ready). Nothing here asserts a duration: the
figures (restart and failover times) are printed by the CLI and bench/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _faults import (
    checkout_status,
    context,
    ensure_healthy,
    eventually,
    run_fault,
    write_target,
)

from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.faults import (
    DatabaseFailover,
    Latency,
    NetworkPartition,
    PodKill,
    ResourceExhaustion,
    SafetyRefused,
    build_scope,
    cleanup,
)
from chaosgate.gameday.recovery_point import recovery_point
from chaosgate.load.run import Checkout
from chaosgate.platforms.hog import find_hogs
from chaosgate.platforms.recovery import stored_writes
from chaosgate.sandbox.manager import SandboxManager
from chaosgate.targets import load_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture
def target_file(sandbox: SandboxManager, tmp_path: Path) -> Iterator[Path]:
    path = write_target(sandbox, tmp_path)
    yield path
    ensure_healthy(sandbox)


def test_kill_pod_restarts_it_and_it_is_ready_again(sandbox, target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl", seed=3)
    outcome = run_fault(PodKill(ctx, "app=orders", qty=1), duration=0)
    assert outcome.verified.ok and outcome.healed is not None and outcome.healed.ok
    [victim] = outcome.applied.change.data["pods"]
    new_pid = sandbox.supervisor.process(victim["name"]).pid
    assert str(new_pid) != victim["uid"]
    seen = {m.what.split(" (")[0] for m in outcome.timeline.moments
            if m.subject == victim["name"]}
    assert {"process died", "starting", "ready again"} <= seen
    assert ctx.ledger.open_entries() == []


def test_kill_pods_respects_the_safety_block(target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    with pytest.raises(SafetyRefused, match="max_pods_per_fault"):
        PodKill(ctx, "app=orders", qty=2).plan()
    with pytest.raises(SafetyRefused, match=r"safety\.namespaces"):
        PodKill(ctx, "app=orders", namespace="kube-system").plan()
    assert not ctx.ledger.path.exists()


def test_partition_from_postgres_fails_checkouts_then_heals(sandbox, target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    scope = build_scope(ctx.target, "app=orders", None, None, "postgres", ())
    applied = NetworkPartition(ctx, scope).inject()
    try:
        verified = applied.verify()
        assert verified.ok, verified.detail
        assert "already-open connection(s) cut" in verified.detail
        proxies = ToxiproxyClient(sandbox.topo.faultproxy_url).proxies()
        assert not proxies["orders-pg0"].enabled and not proxies["orders-pg1"].enabled
        eventually(lambda: checkout_status(sandbox) >= 500, "a checkout to fail", 30)
    finally:
        applied.revert()
    assert applied.wait_healed().ok
    eventually(lambda: checkout_status(sandbox) == 201, "a checkout to succeed again")
    moments = {(m.subject, m.what.split(" (")[0]) for m in applied.collect_ground_truth().moments}
    assert {("orders-pg0", "link down"), ("orders-pg0", "link up")} <= moments
    assert ctx.ledger.open_entries() == []


def test_partition_between_two_selectors(sandbox, target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    scope = build_scope(ctx.target, "app=gateway", None, "app=catalog", None, ())
    products = f"{sandbox.topo.ingress_url}/api/products"
    applied = NetworkPartition(ctx, scope).inject()
    try:
        assert applied.verify().ok
        assert [x["name"] for x in applied.change.data["links"]] == ["gateway-catalog"]
        eventually(lambda: requests.get(products, timeout=5).status_code >= 500,
                   "browsing the catalog to fail", 30)
    finally:
        applied.revert()
    assert applied.wait_healed().ok
    eventually(lambda: requests.get(products, timeout=5).status_code == 200, "browsing again")


def test_one_way_partition_blackholes_requests(target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    scope = build_scope(ctx.target, "app=orders", None, None, "postgres", ())
    outcome = run_fault(NetworkPartition(ctx, scope, "to"), duration=1)
    assert "requests unanswered" in outcome.verified.detail
    assert outcome.healed is not None and outcome.healed.ok
    streams = {t["stream"] for e in outcome.applied.change.data["links"] for t in e["toxics"]}
    assert streams == {"upstream"}


def test_latency_on_a_link(sandbox, target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    scope = build_scope(ctx.target, None, None, None, None, ("gateway-orders",))
    applied = Latency(ctx, scope, 200, 20).inject()
    try:
        assert applied.verify().ok
        toxics = ToxiproxyClient(sandbox.topo.faultproxy_url).proxy("gateway-orders").toxics
        assert [(t["type"], t["attributes"]) for t in toxics] == [
            ("latency", {"latency": 200, "jitter": 20})]
    finally:
        applied.revert()
    assert applied.wait_healed().ok
    assert ToxiproxyClient(sandbox.topo.faultproxy_url).proxy("gateway-orders").toxics == ()


@pytest.mark.parametrize("mode", ["cpu", "memory", "freeze"])
def test_stress_takes_hold_and_leaves_nothing(sandbox, target_file, tmp_path, mode):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    fault = ResourceExhaustion(ctx, "app=catalog", mode, memory_mb=128, duration=2)
    outcome = run_fault(fault, duration=2)
    assert outcome.verified.ok, outcome.verified.detail
    assert outcome.healed is not None and outcome.healed.ok, outcome.healed
    data = outcome.applied.change.data
    assert find_hogs(Path(data["pidfile"])) == []
    [pod] = data["pods"]
    info = sandbox.supervisor.process(pod["name"])
    assert info.running and info.pid == pod["pid"]  # stressed, never restarted


@pytest.mark.parametrize("method", ["switchover", "failover"])
def test_planned_failover_moves_the_leader(sandbox, target_file, tmp_path, method):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    old = sandbox.patroni.leader()
    assert old is not None
    outcome = run_fault(DatabaseFailover(ctx, method), duration=0, verify_timeout=60)
    new = sandbox.patroni.leader()
    assert new is not None and new.name != old.name
    assert outcome.healed is not None and outcome.healed.ok, outcome.healed
    assert any(m.what.startswith("timeline") for m in outcome.timeline.moments)
    eventually(lambda: checkout_status(sandbox) == 201, "a checkout after the failover")


def test_acknowledged_checkouts_are_read_back_on_the_new_primary(sandbox, target_file,
                                                                 tmp_path):
    """The recovery point check on a real switchover: every 201 is found, none twice."""
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    base = int(time.time() * 1000) % 10**9 * 1000  # client_seq restarts every run

    def buy(k: int) -> Checkout:
        t = time.time()
        try:
            resp = requests.post(f"{sandbox.topo.ingress_url}/api/checkout", timeout=5,
                                 json={"items": [{"product_id": 1, "qty": 1}],
                                       "client_seq": base + k})
            order_id = resp.json().get("order_id") if resp.status_code == 201 else None
            return Checkout(t, base + k, order_id, resp.status_code == 201, resp.status_code)
        except requests.RequestException:
            return Checkout(t, base + k, None, False, None)

    log = [buy(k) for k in range(5)]
    run_fault(DatabaseFailover(ctx, "switchover"), duration=0, verify_timeout=60)
    eventually(lambda: checkout_status(sandbox) == 201, "a checkout after the failover")
    log += [buy(k) for k in range(5, 10)]
    acked = [c for c in log if c.ok]
    assert len(acked) >= 8
    target = load_target(target_file)
    found = stored_writes(target, [c.client_seq for c in acked], log[0].t - 5)
    point = recovery_point(log, found)
    assert (point.checked, point.lost, point.duplicated) == (len(acked), (), ())
    # a write the system never stored is reported lost
    assert recovery_point([*log, Checkout(time.time(), base + 99, 10**9, True, 201)],
                          found).lost == (base + 99,)


def test_cleanup_reverts_what_a_dead_process_left(sandbox, target_file, tmp_path):
    ctx = context(target_file, tmp_path / "ledger.jsonl")
    scope = build_scope(ctx.target, "app=gateway", None, "app=catalog", None, ())
    applied = NetworkPartition(ctx, scope).inject()  # and "forget" it
    assert applied.verify().ok
    fresh = context(target_file, tmp_path / "ledger.jsonl")
    report = cleanup(fresh.target, fresh.ledger, fresh.platform)
    assert report.clean and len(report.reverted) == 1
    assert report.reverted[0][1].ok
    assert fresh.ledger.open_entries() == []
    again = cleanup(fresh.target, fresh.ledger, fresh.platform)
    assert again.clean and again.reverted == []
    applied.reverted = True  # reverted by cleanup


def test_toxiproxy_client_calls_are_idempotent(sandbox):
    client = ToxiproxyClient(sandbox.topo.faultproxy_url)
    toxic = {"name": "cg-test-latency", "type": "latency", "stream": "upstream",
             "toxicity": 1.0, "attributes": {"latency": 5, "jitter": 0}}
    try:
        client.add_toxic("gateway-catalog", toxic)
        client.add_toxic("gateway-catalog", {**toxic, "attributes": {"latency": 7}})
        [state] = client.proxy("gateway-catalog").toxics
        assert state["attributes"]["latency"] == 7
    finally:
        assert client.remove_toxic("gateway-catalog", "cg-test-latency")
    assert not client.remove_toxic("gateway-catalog", "cg-test-latency")
    assert client.set_enabled("gateway-catalog", True).enabled
    assert any(e.event == "toxic_removed" for e in client.events())
    assert client.version()
