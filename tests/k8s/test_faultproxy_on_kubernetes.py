"""A Kubernetes target's declared fault proxy carries the links it fronts, on the real
control plane (as the chaosgate ServiceAccount).

The fault proxy is chaosgate's own (``python -m chaosgate.sandbox.faultproxy``, a
server of the Toxiproxy HTTP API), started by the test on 127.0.0.1 in front of
a small HTTP server that plays the link's far end: nothing listens on a pod IP
here (docs/kubernetes.md). One link declares its proxy (``proxy:``), the other
is fronted by a proxy of its own name. Partitions and latency on them go through
the proxy and are reverted, by the session and, from the ledger alone, by
``cleanup``; no NetworkPolicy or Chaos Mesh object is ever created for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Factory, target_doc
from realkube import wait

from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.exceptions import Inconclusive, UsageError
from chaosgate.faults.base import FaultContext
from chaosgate.faults.cleanup import cleanup
from chaosgate.faults.ledger import Ledger
from chaosgate.faults.network import Latency, NetworkPartition, build_scope
from chaosgate.faults.session import FaultSession
from chaosgate.platforms import platform_for
from chaosgate.targets import parse_target

#: Ports of this module, in the test run's range (the control plane uses base + 200..205).
BASE = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100")) + 250


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections the faults cut


@dataclass
class FaultProxy:
    """The running fault proxy: its API URL and its client."""

    url: str
    client: ToxiproxyClient


@pytest.fixture
def fault_proxy(tmp_path: Path) -> Iterator[FaultProxy]:
    """An HTTP server (base + 0) behind chaosgate's fault proxy (API base + 1) with two
    proxies: ``gw_orders`` (base + 2) and ``orders-catalog`` (base + 3)."""
    server = _Server(("127.0.0.1", BASE), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "faultproxy.json"
    config.write_text(json.dumps([
        {"name": name, "listen": f"127.0.0.1:{BASE + i}", "upstream": f"127.0.0.1:{BASE}",
         "enabled": True} for i, name in ((2, "gw_orders"), (3, "orders-catalog"))]))
    url = f"http://127.0.0.1:{BASE + 1}"
    proc = subprocess.Popen([sys.executable, "-m", "chaosgate.sandbox.faultproxy", "--host",
                             "127.0.0.1", "--port", str(BASE + 1), "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = ToxiproxyClient(url, timeout=2)

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return bool(client.version())
        except Inconclusive:
            return False

    try:
        wait("the fault proxy's API", up, timeout=30)
        yield FaultProxy(url, client)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.shutdown()
        server.server_close()


def fronted_doc(kubeconfig: Path, namespace: str, url: str) -> dict[str, Any]:
    """The tests' Kubernetes target with a fault proxy fronting two links."""
    doc = target_doc(kubeconfig, namespace)
    doc["faultproxy"] = {"url": url}
    doc["links"] += [{"name": "gateway-orders-tp", "from": "gateway", "to": "orders",
                      "proxy": "gw_orders"},
                     {"name": "orders-catalog", "from": "orders", "to": "catalog"}]
    return doc


def clean(proxy: FaultProxy) -> None:
    """Every proxy enabled and without toxics."""
    for state in proxy.client.proxies().values():
        assert state.enabled and state.toxics == (), state


def test_partition_and_latency_go_through_the_fault_proxy(
        make_kube: Factory, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    shop, plain = make_kube(cnpg=False)
    target = parse_target(fronted_doc(Path(str(plain.platform.kubeconfig)), shop.namespace,
                                      fault_proxy.url), "fronted.yaml")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger)
    session = FaultSession(target, ctx.platform, ledger)

    scope = build_scope(target, None, None, None, None, ("gateway-orders-tp",))
    run = session.run(NetworkPartition(ctx, scope, "both"), 0.5)
    assert run.verified.ok and "new connection refused" in run.verified.detail, run.verified
    assert run.healed is not None and run.healed.ok, run.healed
    change = run.applied.change
    # subjects and moments name the link; its proxy (gw_orders) is in the change's data
    assert change.platform == "kubernetes" and change.subjects == ("gateway-orders-tp",)
    seen = [(m.what.split(" (")[0], m.subject) for m in run.timeline.moments]
    assert ("link down", "gateway-orders-tp") in seen and \
        ("link up", "gateway-orders-tp") in seen, seen

    scope = build_scope(target, None, None, None, None, ("orders-catalog",))
    run = session.run(Latency(ctx, scope, 300, 0), 0.5)
    assert run.verified.ok, run.verified.detail
    assert run.healed is not None and run.healed.ok, run.healed
    assert run.applied.change.subjects == ("orders-catalog",)

    assert ledger.open_entries() == []
    clean(fault_proxy)
    assert shop.policies() == []  # nothing went to Kubernetes for the fronted links


def test_cleanup_reverts_a_fronted_partition_from_the_ledger(
        make_kube: Factory, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    """A process that applied a blackhole and died: ``cleanup`` rebuilds the change from
    the ledger and removes the toxic through the fault proxy."""
    shop, plain = make_kube(cnpg=False)
    target = parse_target(fronted_doc(Path(str(plain.platform.kubeconfig)), shop.namespace,
                                      fault_proxy.url), "fronted.yaml")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger)
    scope = build_scope(target, None, None, None, None, ("gateway-orders-tp",))
    applied = NetworkPartition(ctx, scope, "to").inject()  # ... and the process dies here
    assert fault_proxy.client.proxy("gw_orders").toxic_names == (
        f"{applied.fault_id}-blackhole-upstream",)
    report = cleanup(target, Ledger(tmp_path / "ledger.jsonl"), platform_for(target),
                     force=True)
    assert report.clean and [e.id for e, _ in report.reverted] == [applied.fault_id]
    assert all(healed.ok for _, healed in report.reverted)
    assert ledger.open_entries() == []
    clean(fault_proxy)
    assert shop.policies() == []


def test_what_the_fault_proxy_cannot_carry_is_refused_before_anything_is_touched(
        make_kube: Factory, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    shop, plain = make_kube(cnpg=False)
    doc = fronted_doc(Path(str(plain.platform.kubeconfig)), shop.namespace, fault_proxy.url)
    doc["links"][2]["proxy"] = "gw_ordres"  # not on the server
    target = parse_target(doc, "fronted.yaml")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ctx = FaultContext(target, platform_for(target), ledger)
    scope = build_scope(target, None, None, None, None, ("gateway-orders-tp",))
    with pytest.raises(UsageError, match=r"links\[2\]: the fault proxy at .* has no proxy "
                                         r"'gw_ordres'.*Fix: create it there"):
        NetworkPartition(ctx, scope, "both").inject()
    mixed = build_scope(target, None, None, None, None, ("gateway-orders", "orders-catalog"))
    with pytest.raises(UsageError, match=r"orders-catalog go through the fault proxy at .*, "
                                         r"gateway-orders do not"):
        Latency(ctx, mixed, 100, 0).inject()
    assert ledger.entries() == {}
    clean(fault_proxy)
    assert shop.policies() == []
