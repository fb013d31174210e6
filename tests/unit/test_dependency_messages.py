"""Messages about a dependency that is down name it (etcd, Patroni, Prometheus), its
address and the fix; exit 3 (inconclusive) at run time.

Against real ports nothing listens on (the sandbox is not running at these ports);
the message rules themselves on plain data.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from chaosgate.clients.etcd import etcd_problem
from chaosgate.clients.http import unreachable
from chaosgate.clients.patroni import PatroniClient
from chaosgate.clients.prometheus import PrometheusClient
from chaosgate.clients.supervisor import SupervisorClient
from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.exceptions import Inconclusive, SandboxError
from chaosgate.platforms.sandbox_db import ProcessesPatroni, outage_message
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import load_target, render_sandbox_target


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ETCD = "http://127.0.0.1:2379"
P1, P2 = "http://127.0.0.1:8008", "http://127.0.0.1:8009"


def test_etcd_down_is_named_first_with_its_url_and_fix() -> None:
    msg = outage_message("no Patroni REST API answered /cluster (...)", ETCD,
                         "connection refused", {P1: None, P2: None}, "t.yaml")
    assert msg.startswith(f"etcd, Patroni's DCS, at {ETCD} is not answering (connection refused)")
    assert "Fix: start etcd (" in msg and "Patroni REST API is down too" not in msg
    both = outage_message("x", ETCD, "connection refused",
                          {P1: "connection refused", P2: "connection refused"}, "t.yaml")
    assert "Patroni REST API is down too" in both and f"{P1} connection refused" in both
    assert "Fix: start etcd and Patroni" in both


def test_patroni_down_names_its_endpoints_and_cleanup() -> None:
    msg = outage_message("x", ETCD, None, {P1: "connection refused", P2: "connection refused"},
                         "t.yaml")
    assert msg.startswith("Patroni is down: no REST API accepts connections")
    assert f"{P1} connection refused; {P2} connection refused" in msg
    assert "chaosgate cleanup --target t.yaml" in msg


def test_patroni_up_but_failing_with_etcd_up_points_at_the_link() -> None:
    msg = outage_message("no Patroni REST API answered /cluster (...)", ETCD, None,
                         {P1: None, P2: "connection refused"}, "t.yaml")
    assert msg.startswith("no Patroni REST API answered /cluster")
    assert f"etcd at {ETCD} answers chaosgate" in msg and "partition" in msg


def test_the_clients_say_connection_refused_on_a_dead_port() -> None:
    dead = f"http://127.0.0.1:{dead_port()}"
    assert etcd_problem(dead) == "connection refused"
    client = PatroniClient([dead], timeout=2)
    with pytest.raises(SandboxError, match=r"answered /cluster \(.* connection refused\)"):
        client.cluster()
    assert client.listening() == {dead: "connection refused"}
    with pytest.raises(Inconclusive, match=r"not reachable \(connection refused\)\. Fix: "
                                           r"start Prometheus .* prometheus\.url in t\.yaml"):
        PrometheusClient(dead, timeout=2, source="t.yaml").query("up")


def test_supervisord_and_the_fault_proxy_down_say_so_with_the_fix() -> None:
    dead = f"http://127.0.0.1:{dead_port()}"
    with pytest.raises(SandboxError, match=r"supervisord at .* not reachable \(connection "
                                           r"refused\)\. Fix: start it, or correct "
                                           r"platform\.supervisor\.url"):
        SupervisorClient(dead + "/RPC2", timeout=2).processes()
    with pytest.raises(Inconclusive, match=r"fault proxy at .* not reachable \(connection "
                                           r"refused\)\. Fix: start it"):
        ToxiproxyClient(dead, timeout=2).proxies()


def test_a_failover_on_a_stopped_sandbox_names_etcd_and_patroni(tmp_path: Path) -> None:
    """A sandbox target whose every port is dead: etcd and Patroni are named, exit 3."""
    for base in range(31000, 32700, 70):  # a port range where no sandbox runs now
        topo = build_topology(tmp_path / "sb", base)
        urls = [topo.etcd_url, *(f"http://127.0.0.1:{m.rest_port}" for m in topo.db_members)]
        if all(unreachable(u, timeout=1) == "connection refused" for u in urls):
            break
    else:
        pytest.skip("every candidate port range has something listening")
    path = tmp_path / "sandbox.yaml"
    path.write_text(yaml.safe_dump(render_sandbox_target(topo)))
    with pytest.raises(Inconclusive) as err:
        ProcessesPatroni(load_target(str(path))).plan_failover("switchover", "f1")
    assert f"etcd, Patroni's DCS, at {topo.etcd_url}" in str(err.value)
    assert "Patroni REST API is down too" in str(err.value)
    assert err.value.exit_code == 3
