"""``chaosgate fault ...`` and ``chaosgate cleanup`` as a user runs them (the acceptance)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from _faults import (
    chaosgate,
    checkout_status,
    ensure_healthy,
    eventually,
    links_clean,
    write_target,
)

from chaosgate.faults import Ledger
from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture
def files(sandbox: SandboxManager, tmp_path):
    yield write_target(sandbox, tmp_path), tmp_path / "ledger.jsonl"
    ensure_healthy(sandbox)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = chaosgate(*args)
    print(result.stdout, result.stderr)
    return result


def test_kill_pods_prints_the_restart_and_time_until_ready(files):
    target, ledger = files
    result = run("fault", "kill-pods", "--target", str(target), "--selector", "app=orders",
                 "--qty", "1", "--ledger", str(ledger))
    assert result.returncode == 0
    out = result.stdout
    # the restart and the new incarnation (supervisord's RUNNING lags readiness by
    # `startsecs`, so the new pid comes from the readiness probe)
    assert "killed" in out and "restarted" in out and "ready again (uid" in out
    assert "time until ready again:" in out
    assert "t_inject" in out and "t_revert" in out and "events.jsonl" in out
    assert Ledger(ledger).open_entries() == []


def test_partition_fails_checkouts_during_and_not_after(sandbox, files):
    target, ledger = files
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosgate.cli", "fault", "partition", "--target", str(target),
         "--selector", "app=orders", "--dependency", "postgres", "--duration", "8",
         "--ledger", str(ledger)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    statuses = []
    try:
        eventually(lambda: any(e.state == "applied" for e in Ledger(ledger).open_entries()),
                   "the partition applied", 60)
        time.sleep(1)
        statuses.append(checkout_status(sandbox))
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert statuses[0] >= 500, statuses
    eventually(lambda: checkout_status(sandbox) == 201, "a checkout after the partition")
    assert links_clean(sandbox)
    assert "link down" in out and "link up" in out
    assert Ledger(ledger).open_entries() == []


def test_node_crash_promotes_the_replica_and_the_old_primary_rejoins(sandbox, files):
    target, ledger = files
    old = sandbox.patroni.leader()
    assert old is not None
    result = run("fault", "failover-db", "--target", str(target), "--method", "node-crash",
                 "--duration", "5", "--ledger", str(ledger))
    assert result.returncode == 0
    new = sandbox.patroni.leader()
    assert new is not None and new.name != old.name
    rejoined = {m.name: m for m in sandbox.patroni.cluster()}[old.name]
    assert not rejoined.is_leader and rejoined.timeline == new.timeline
    eventually(lambda: checkout_status(sandbox) == 201, "checkouts to resume")
    assert f"SIGKILL {old.name}" in result.stdout and "timeline" in result.stdout
    assert Ledger(ledger).open_entries() == []


def test_latency_on_a_named_link(files):
    target, ledger = files
    result = run("fault", "latency", "--target", str(target), "--link", "gateway-orders",
                 "--latency", "200", "--jitter", "20", "--duration", "2", "--ledger", str(ledger))
    assert result.returncode == 0
    assert "latency 200±20 ms upstream on" in result.stdout


@pytest.mark.parametrize("args", [
    ("kill-pods", "--selector", "app=orders"),
    ("partition", "--selector", "app=gateway", "--peer-selector", "app=catalog"),
    ("latency", "--link", "gateway-catalog", "--latency", "100"),
    ("failover-db", "--method", "switchover"),
    ("stress", "--selector", "app=catalog", "--mode", "freeze"),
])
def test_dry_run_touches_nothing(sandbox, files, args):
    target, ledger = files
    leader = sandbox.patroni.leader()
    pids = {p.name: p.pid for p in sandbox.supervisor.processes()}
    result = run("fault", *args, "--target", str(target), "--ledger", str(ledger), "--dry-run")
    assert result.returncode == 0
    assert "[dry-run]" in result.stdout and "nothing was touched" in result.stdout
    assert not ledger.exists()
    assert links_clean(sandbox)
    assert {p.name: p.pid for p in sandbox.supervisor.processes()} == pids
    assert sandbox.patroni.leader() == leader


def test_a_failover_with_etcd_stopped_names_etcd_and_the_fix(sandbox, files):
    """Deliverable 6: the dependency that is down (etcd) is named, with its URL and the fix."""
    target, ledger = files
    sandbox.supervisor.stop("etcd")
    try:
        result = run("fault", "failover-db", "--method", "switchover", "--target", str(target),
                     "--ledger", str(ledger), "--dry-run")
    finally:
        sandbox.supervisor.start("etcd")
    assert result.returncode == 3
    assert f"etcd, Patroni's DCS, at {sandbox.topo.etcd_url} is not answering" in result.stderr
    assert "Fix: start etcd" in result.stderr and "Traceback" not in result.stderr
    assert not ledger.exists()


@pytest.mark.parametrize("args,expected", [
    (("kill-pods", "--selector", "app=orders", "--qty", "2"), "max_pods_per_fault"),
    (("kill-pods", "--selector", "app=orders", "--namespace", "kube-system"), "protected"),
    (("latency", "--link", "gateway-ordres", "--latency", "100"), "Fix:"),
    (("partition", "--selector", "app=orders"), "--dependency"),
    (("failover-db", "--method", "promote"), "Fix:"),
])
def test_bad_input_and_safety_refusals_exit_2(files, args, expected):
    target, ledger = files
    result = run("fault", *args, "--target", str(target), "--ledger", str(ledger))
    assert result.returncode == 2
    assert expected in result.stderr
    assert not ledger.exists()


def test_missing_target_file_exits_2(tmp_path):
    result = run("fault", "kill-pods", "--target", str(tmp_path / "nope.yaml"),
                 "--selector", "app=orders")
    assert result.returncode == 2


def test_cleanup_restores_links_toxiproxy_python_destroyed(sandbox, files):
    import toxiproxy
    from toxiproxy.api import APIConsumer

    from chaosgate.sandbox.links import LinkHolds

    target, ledger = files
    try:
        client = toxiproxy.Toxiproxy()
        client.update_api_consumer("127.0.0.1", sandbox.topo.ports.faultproxy_api)
        APIConsumer.host, APIConsumer.port = "127.0.0.1", sandbox.topo.ports.faultproxy_api
        client.destroy_all()  # the usual teardown of a toxiproxy-python test
        assert not any(x.name in client.proxies() for x in sandbox.topo.links)
        result = run("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert result.returncode == 0
        for link in sandbox.topo.links:
            assert f"restored sandbox link {link.name}: deleted from the fault proxy" \
                in result.stdout
        assert "nothing to clean up" not in result.stdout
        assert sandbox.link_issues() == []
        eventually(lambda: checkout_status(sandbox) == 201, "a checkout after cleanup", 60)
        again = run("cleanup", "--target", str(target), "--ledger", str(ledger))
        assert again.returncode == 0 and "nothing to clean up" in again.stdout
    finally:
        sandbox.restore_links(LinkHolds())


def test_cleanup_with_nothing_open_exits_0(files):
    target, ledger = files
    result = run("cleanup", "--target", str(target), "--ledger", str(ledger))
    assert result.returncode == 0 and "nothing to clean up" in result.stdout


#: True while the gateway→catalog link is cut (disabled, or carrying a toxic): a stop
#: condition that the partition below makes true itself, scraped by the sandbox's Prometheus.
LINK_CUT = ('chaosgate_faultproxy_proxy_enabled{proxy="gateway-catalog"} == 0 or '
            'chaosgate_faultproxy_toxics_active{proxy="gateway-catalog"} > 0')


def test_a_stop_condition_reverts_the_fault_at_once_and_ends_aborted(sandbox, files):
    target, ledger = files
    result = run("fault", "partition", "--target", str(target), "--link", "gateway-catalog",
                 "--duration", "60", "--stop-when", LINK_CUT, "--ledger", str(ledger))
    assert result.returncode == 4, result.stderr
    assert "stop condition tripped: PromQL" in result.stderr
    assert "reverted at once and the run is aborted" in result.stderr
    assert "Traceback" not in result.stderr
    assert Ledger(ledger).open_entries() == []
    entry = next(iter(Ledger(ledger).entries().values()))
    # the hold was cut short: reverted long before the 60 s it asked for
    assert entry.t_reverted is not None and entry.t_applied is not None
    assert entry.t_reverted - entry.t_applied < 30
    assert links_clean(sandbox)


def test_a_stop_condition_already_true_refuses_to_start(files):
    target, ledger = files
    result = run("fault", "partition", "--target", str(target), "--link", "gateway-catalog",
                 "--duration", "5", "--stop-when", 'up{job="prometheus"} == 1',
                 "--ledger", str(ledger))
    assert result.returncode == 4, result.stderr
    assert "before the fault was applied: nothing was touched" in result.stderr
    assert not ledger.exists() or Ledger(ledger).entries() == {}


@pytest.mark.parametrize(("stop_when", "expected"), [
    ("alert:not a name", "--stop-when: 'not a name' is not a Prometheus alert name"),
    ("sum(", "--stop-when"),  # Prometheus refuses the PromQL: bad input, nothing touched
])
def test_a_bad_stop_condition_exits_2_before_anything_is_touched(files, stop_when, expected):
    target, ledger = files
    result = run("fault", "partition", "--target", str(target), "--link", "gateway-catalog",
                 "--duration", "5", "--stop-when", stop_when, "--ledger", str(ledger))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not ledger.exists() or Ledger(ledger).entries() == {}
