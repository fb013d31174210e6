"""The fault proxy's links held against the topology: the pure comparison with plain data,
and the restore against a real fault proxy process (no sandbox needed)."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaosgate.clients.toxiproxy import ProxyState, ToxiproxyClient
from chaosgate.faults.cleanup import link_holds
from chaosgate.faults.ledger import LedgerEntry, sandbox_key, target_key
from chaosgate.platforms.base import LatencySpec, NetworkScope, PartitionSpec
from chaosgate.platforms.sandbox_net import plan_latency, plan_partition
from chaosgate.sandbox.config import faultproxy_config
from chaosgate.sandbox.links import LinkHolds, check_links, link_state
from chaosgate.sandbox.manager import SandboxManager
from chaosgate.sandbox.topology import Topology, build_topology
from chaosgate.targets import parse_target, render_sandbox_target

TOPO = build_topology(Path("/tmp/sb"), 47000)
LINKS = TOPO.links


def healthy() -> dict[str, ProxyState]:
    return {x.name: ProxyState(x.name, x.listen_address, x.upstream_address, True, ())
            for x in LINKS}


def with_proxy(proxies: dict[str, ProxyState], name: str, **changes: object) -> None:
    old = proxies[name]
    proxies[name] = ProxyState(**{**old.__dict__, **changes})


LATENCY = {"name": "t1", "type": "latency", "stream": "downstream", "toxicity": 1.0,
           "attributes": {"latency": 300, "jitter": 0}}


def test_links_as_declared_have_no_issue_and_foreign_proxies_are_ignored():
    proxies = healthy()
    proxies["mine"] = ProxyState("mine", "127.0.0.1:1", "127.0.0.1:2", False, ())
    assert check_links(LINKS, proxies) == []


def test_a_deleted_and_a_disabled_link_are_both_wrong():
    proxies = healthy()
    del proxies["orders-pg0"]
    with_proxy(proxies, "pg1-etcd", enabled=False)
    issues = check_links(LINKS, proxies)
    assert [(i.link, i.kind, i.wrong) for i in issues] == [
        ("orders-pg0", "missing", True), ("pg1-etcd", "disabled", True)]
    assert issues[0].describe() == "link orders-pg0: deleted from the fault proxy"
    assert link_state(TOPO.link("orders-pg0"), issues)[0] == "MISSING"
    assert link_state(TOPO.link("pg1-etcd"), issues) == ("DISABLED", "disabled")
    assert link_state(TOPO.link("orders-pg1"), issues) == (
        "UP", f"127.0.0.1:{TOPO.link('orders-pg1').listen} -> "
              f"127.0.0.1:{TOPO.link('orders-pg1').upstream}")


def test_other_addresses_are_moved_and_the_any_address_is_loopback():
    proxies = healthy()
    link = TOPO.link("gateway-catalog")
    with_proxy(proxies, link.name, listen=f"0.0.0.0:{link.listen}")
    assert check_links(LINKS, proxies) == []
    with_proxy(proxies, link.name, listen="127.0.0.1:1", upstream="127.0.0.1:2")
    issues = check_links(LINKS, proxies)
    assert [i.kind for i in issues] == ["moved", "moved"]
    assert "listens on 127.0.0.1:1, the topology says" in issues[0].detail
    assert "forwards to 127.0.0.1:2" in issues[1].detail
    assert link_state(link, issues)[0] == "MOVED"


def test_a_toxic_or_a_disabled_link_held_by_an_open_fault_is_not_wrong():
    proxies = healthy()
    with_proxy(proxies, "orders-pg0", enabled=False, toxics=(LATENCY,))
    holds = LinkHolds(toxics={("orders-pg0", "t1"): "cg-1"}, disabled={"orders-pg0": "cg-2"})
    issues = check_links(LINKS, proxies, holds)
    assert [(i.kind, i.fault, i.wrong) for i in issues] == [
        ("disabled", "cg-2", False), ("toxic", "cg-1", False)]
    assert link_state(TOPO.link("orders-pg0"), issues)[0] == "FAULT"
    # the same toxic name on another link is not the fault's
    with_proxy(proxies, "orders-pg1", toxics=(LATENCY,))
    [issue] = [i for i in check_links(LINKS, proxies, holds) if i.link == "orders-pg1"]
    assert issue.wrong and issue.toxic == "t1"
    assert "toxic t1 (latency downstream latency=300,jitter=0)" in issue.describe()


def test_the_worst_wrong_issue_names_the_state():
    proxies = healthy()
    with_proxy(proxies, "orders-pg0", enabled=False, toxics=(LATENCY,))
    assert link_state(TOPO.link("orders-pg0"), check_links(LINKS, proxies))[0] == "DISABLED"


def _entry(change, state="applied") -> LedgerEntry:
    return LedgerEntry(id=change.fault_id, fault=change.kind, state=state, change=change,
                       target={"key": "k", "name": "sandbox", "source": ""}, pid=1, t_open=0.0)


def test_open_network_faults_hold_their_toxics_and_disabled_links():
    target = parse_target(render_sandbox_target(TOPO))
    listen = {x.name: x.listen_address for x in LINKS}
    def scope(name: str) -> NetworkScope:
        return NetworkScope("shop", links=(name,))

    down = plan_partition(target, PartitionSpec(scope("orders-pg0"), "both"), "cg-a", listen)
    slow = plan_latency(target, LatencySpec(scope("gateway-orders"), 200), "cg-b", listen)
    gone = plan_latency(target, LatencySpec(scope("orders-pg1"), 200), "cg-c", listen)
    holds = link_holds([_entry(down), _entry(slow), _entry(gone, "reverted")])
    assert holds.disabled == {"orders-pg0": "cg-a"}
    assert holds.toxics == {("gateway-orders", "cg-b-latency-upstream"): "cg-b"}


def test_the_sandbox_key_is_its_target_key():
    target = parse_target(render_sandbox_target(TOPO))
    assert sandbox_key(TOPO.state_dir, TOPO.ports.base) == target_key(target)


# -- against a real fault proxy process ----------------------------------------------

def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_topology(state: Path) -> Topology:
    """A topology whose fault proxy API and link ports are all free."""
    rng = random.Random()
    for _ in range(50):
        topo = build_topology(state, rng.randrange(20000, 32000 - 60))
        if all(_free(p) for p in [topo.ports.faultproxy_api, *(x.listen for x in topo.links)]):
            return topo
    pytest.skip("no free block of ports for a fault proxy")


@pytest.fixture
def proxy_topo(tmp_path: Path) -> Iterator[Topology]:
    """The fault proxy of a topology, alone, populated as the sandbox populates it."""
    topo = _free_topology(tmp_path)
    config = tmp_path / "faultproxy.json"
    config.write_text(json.dumps(faultproxy_config(topo)))
    log = (tmp_path / "faultproxy.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "chaosgate.sandbox.faultproxy",
                             "--port", str(topo.ports.faultproxy_api), "--config", str(config)],
                            stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "faultproxy.log").read_text()
            with contextlib.suppress(requests.RequestException):
                requests.get(topo.faultproxy_url + "/version", timeout=1).raise_for_status()
                break
            assert time.monotonic() < deadline, "the fault proxy did not start"
            time.sleep(0.05)
        yield topo
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def test_restore_recreates_enables_and_removes_what_no_open_fault_holds(proxy_topo):
    topo = proxy_topo
    client = ToxiproxyClient(topo.faultproxy_url)
    requests.delete(f"{topo.faultproxy_url}/proxies/orders-pg0", timeout=5).raise_for_status()
    client.set_enabled("pg1-etcd", False)
    client.set_enabled("pg0-etcd", False)
    client.add_toxic("gateway-orders", {**LATENCY, "name": "stray"})
    client.add_toxic("gateway-orders", {**LATENCY, "name": "cg-b-latency-upstream",
                                        "stream": "upstream"})
    client.move_proxy("gateway-catalog", "127.0.0.1:0", "127.0.0.1:9")
    holds = LinkHolds(toxics={("gateway-orders", "cg-b-latency-upstream"): "cg-b"},
                      disabled={"pg0-etcd": "cg-a"})
    manager = SandboxManager(topo)

    # without holds, only what no fault does is restored: deleted and moved links
    fixed = manager.restore_links()
    assert sorted((i.link, i.kind) for i in fixed) == [
        ("gateway-catalog", "moved"), ("gateway-catalog", "moved"), ("orders-pg0", "missing")]
    assert sorted(i.link for i in manager.link_issues() if i.wrong) == [
        "gateway-orders", "gateway-orders", "pg0-etcd", "pg1-etcd"]

    fixed = manager.restore_links(holds)
    assert sorted((i.link, i.kind) for i in fixed) == [
        ("gateway-orders", "toxic"), ("pg1-etcd", "disabled")]
    left = manager.link_issues(holds)
    assert [(i.link, i.kind, i.fault) for i in left] == [
        ("gateway-orders", "toxic", "cg-b"), ("pg0-etcd", "disabled", "cg-a")]
    proxies = client.proxies()
    restored = topo.link("orders-pg0")
    assert proxies["orders-pg0"].enabled
    assert proxies["orders-pg0"].listen == restored.listen_address
    assert proxies["orders-pg0"].upstream == restored.upstream_address
    with socket.create_connection(("127.0.0.1", restored.listen), timeout=2):
        pass  # it listens again where orders connects


def test_restore_names_a_link_it_cannot_put_back(proxy_topo):
    topo = proxy_topo
    link = topo.link("orders-pg1")
    requests.delete(f"{topo.faultproxy_url}/proxies/{link.name}", timeout=5).raise_for_status()
    with socket.socket() as squatter:  # someone else took the link's port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", link.listen))
        squatter.listen()
        with pytest.raises(Exception, match=rf"link orders-pg1: deleted from the fault proxy.*"
                                            rf"{link.listen}") as caught:
            SandboxManager(topo).restore_links(LinkHolds())
    assert "Fix: stop what holds a port" in str(caught.value)
