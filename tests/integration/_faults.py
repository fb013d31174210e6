"""Helpers for the fault tests on the session sandbox: a target file, probes, health."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.faults import Fault, FaultContext, FaultRun, FaultSession, Ledger
from chaosgate.faults.stop import budget_admission
from chaosgate.platforms import platform_for
from chaosgate.sandbox.manager import SandboxManager
from chaosgate.slo.catalog import load_catalog
from chaosgate.targets import Target, dump_target, load_target, render_sandbox_target

WAIT = 120.0
ROOT = Path(__file__).resolve().parents[2]


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``check`` (exceptions count as false) until true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"gave up after {timeout:g} s waiting for {what} (last error: {last})")


def wait_applied(proc: subprocess.Popen[str], ledger: Path, timeout: float = 60) -> None:
    """Wait until ``ledger`` shows a fault applied; fail if ``proc`` exits first."""

    def applied() -> bool:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the command exited early ({proc.returncode}): {out[-3000:]}")
        return any(e.state == "applied" for e in Ledger(ledger).open_entries())

    eventually(applied, "the ledger to show the fault applied", timeout)


def write_target(sandbox: SandboxManager, directory: Path) -> Path:
    """The sandbox's target file, written to ``directory``."""
    path = directory / "target.yaml"
    dump_target(render_sandbox_target(sandbox.topo), path)
    return path


def context(target_file: Path, ledger: Path, seed: int | None = 1) -> FaultContext:
    """A fault context on the sandbox with its own ledger."""
    target: Target = load_target(target_file)
    return FaultContext(target, platform_for(target), Ledger(ledger), seed)


def run_fault(fault: Fault, duration: float, **options: float) -> FaultRun:
    """Run ``fault`` end to end through a fault session on its own context."""
    ctx = fault.ctx
    session = FaultSession(ctx.target, ctx.platform, ctx.ledger, seed=ctx.seed, log=ctx.log)
    with session.guard():
        return session.run(fault, duration, **options)


def checkout_status(sandbox: SandboxManager) -> int:
    """HTTP status of one checkout through the ingress (599 when it did not answer)."""
    try:
        return requests.post(f"{sandbox.topo.ingress_url}/api/checkout",
                             json={"items": [{"product_id": 1, "qty": 1}], "client_seq": 7},
                             timeout=5).status_code
    except requests.RequestException:
        return 599


def links_clean(sandbox: SandboxManager) -> bool:
    """Every fault proxy link enabled, with no toxic."""
    proxies = ToxiproxyClient(sandbox.topo.faultproxy_url).proxies()
    return all(p.enabled and not p.toxics for p in proxies.values())


def ensure_healthy(sandbox: SandboxManager) -> None:
    """Leave the sandbox healthy for the next test (links, Patroni, pods, Prometheus)."""
    eventually(lambda: links_clean(sandbox), "every link up with no toxic", 30)
    sandbox.up(timeout=240)


def chaosgate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the chaosgate CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "chaosgate.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@contextlib.contextmanager
def outage(sandbox: SandboxManager, link: str = "gateway-catalog") -> Iterator[None]:
    """Product listings failing (5xx) under light load while the block runs: ``link``
    disabled in the fault proxy, requests every 50 ms; restored at the end."""
    topo = sandbox.topo
    proxy = ToxiproxyClient(topo.faultproxy_url)
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                with contextlib.suppress(requests.RequestException):
                    session.get(f"{topo.ingress_url}/api/products", timeout=2)
                time.sleep(0.05)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    proxy.set_enabled(link, False)
    try:
        yield
    finally:
        proxy.set_enabled(link, True)
        stop.set()
        loader.join(timeout=10)


def spend_error_budget(sandbox: SandboxManager, minimum: float = 0.99) -> list[str]:
    """Make the shop's 99.99 % availability spend more than ``1 - minimum`` of its 30-day
    error budget (a short outage, until Prometheus has counted it); the admission's lines."""
    catalog = load_catalog(ROOT / "probes")
    found: list[str] = []

    def short() -> bool:
        found[:] = budget_admission(sandbox.prometheus, catalog, minimum=minimum,
                                    period_s=30 * 86400.0)
        return any(line.startswith("availability: ") for line in found)

    with outage(sandbox):
        eventually(short, "Prometheus counting the outage's errors against the budget", 60)
    return found
