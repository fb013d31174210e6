"""The processes platform on a system that is not the shop, started by this test.

An "echo" system, as a user would have one: two replicas of a small HTTP
service (``_echo_service.py``, its own metric names ``echo_requests_total``
and ``echo_request_seconds``, labels ``role=echo``) that call a ``store``
(``role=store``) through a link of chaosgate's fault proxy (proxy
``echo_store``, link ``echo-store``), all under the test's own supervisord
(XML-RPC with a user name and a password the target names by environment
variable), scraped every second by the test's own Prometheus. A hand-written
target describes it; a background thread sends requests.

Checked through the CLI, as a user runs it: ``validate``, ``fault kill-pods``,
``fault stress --mode freeze``, ``fault partition``, ``fault latency``, ``slo
check`` (each SLO of :data:`SLOS`: adding a type is one entry) and ``chaos
run`` of a small experiment; after each, nothing is left open in the ledger,
the link is up without toxics, and no file written holds the password.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from _faults import eventually

from chaosgate.clients.supervisor import SupervisorClient, start_supervisord
from chaosgate.clients.toxiproxy import ToxiproxyClient
from chaosgate.exceptions import SandboxError
from chaosgate.faults import Ledger

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).resolve().parent
CHAOS = str(Path(sys.executable).with_name("chaos"))
BASE = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100")) + 300
PASSWORD = "echo-supervisor-8c2f"
HOST = "127.0.0.1"

#: The echo system's SLO catalogue: one entry per SLO type the test checks.
SLOS: list[dict[str, Any]] = [
    {"name": "echo-availability", "type": "availability", "objective": 0.5, "window": "30s",
     "query": {"bad": 'sum(increase(echo_requests_total{code="503"}[$window]))',
               "total": "sum(increase(echo_requests_total[$window]))"}},
    {"name": "echo-latency-mean", "type": "mean_latency", "threshold": 0.5, "window": "30s",
     "query": {"sum": "sum(increase(echo_request_seconds_sum[$window]))",
               "count": "sum(increase(echo_request_seconds_count[$window]))"}},
    # a bound the test's one request thread keeps even on a loaded machine (the point is
    # the type on the user's own metric names, not the rate)
    {"name": "echo-throughput", "type": "throughput", "objective": 0.5, "window": "30s",
     "query": {"events": "sum(increase(echo_requests_total[$window]))"}},
]


@dataclass(frozen=True)
class EchoSystem:
    """What the fixture started, and where."""

    folder: Path
    target: Path
    catalog: Path
    ledger: Path
    env: dict[str, str]
    supervisor: SupervisorClient
    proxy: ToxiproxyClient


def _ports() -> dict[str, int]:
    return {"supervisor": BASE, "faultproxy": BASE + 1, "prometheus": BASE + 2,
            "echo-a": BASE + 10, "echo-b": BASE + 11, "store": BASE + 12, "link": BASE + 20}


def _program(name: str, command: list[str], log_dir: Path) -> list[str]:
    return [f"[program:{name}]", f"command={subprocess.list2cmdline(command)}",
            "autostart=true", "autorestart=true", "startsecs=1", "startretries=100",
            "stopasgroup=true", "killasgroup=true", "redirect_stderr=true",
            f"stdout_logfile={log_dir / (name + '.log')}", ""]


def _supervisord_conf(folder: Path, ports: dict[str, int]) -> str:
    py, svc, logs = sys.executable, str(HERE / "_echo_service.py"), folder / "log"
    lines = ["[supervisord]", f"logfile={logs / 'supervisord.log'}",
             f"pidfile={folder / 'supervisord.pid'}", f"directory={folder}", "",
             "[inet_http_server]", f"port={HOST}:{ports['supervisor']}", "username=admin",
             f"password={PASSWORD}", "",
             "[unix_http_server]", f"file={folder / 'supervisor.sock'}", "chmod=0700", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
             ""]
    lines += _program("faultproxy", [py, "-m", "chaosgate.sandbox.faultproxy", "--host", HOST,
                                     "--port", str(ports["faultproxy"]), "--config",
                                     str(folder / "faultproxy.json")], logs)
    lines += _program("store", [py, svc, "--role", "store", "--port", str(ports["store"])], logs)
    for name in ("echo-a", "echo-b"):
        lines += _program(name, [py, svc, "--role", "echo", "--port", str(ports[name]),
                                 "--upstream", f"{HOST}:{ports['link']}"], logs)
    prometheus = shutil.which("prometheus")
    assert prometheus, "Debian's prometheus package is needed"
    lines += _program("prometheus", [prometheus, f"--config.file={folder / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={folder / 'prometheus-data'}",
                                     f"--web.listen-address={HOST}:{ports['prometheus']}",
                                     "--log.level=warn"], logs)
    return "\n".join(lines)


def _target(ports: dict[str, int]) -> dict[str, Any]:
    """The target a user would write for the echo system by hand."""
    return {
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "echo",
        "platform": {
            "type": "processes",
            "supervisor": {"url": f"http://{HOST}:{ports['supervisor']}/RPC2",
                           "username": "admin", "password_env": "ECHO_SUPERVISOR_PASSWORD"},
            "programs": {
                "echo-a": {"labels": {"role": "echo"},
                           "health": f"http://{HOST}:{ports['echo-a']}/up"},
                "echo-b": {"labels": {"role": "echo"},
                           "health": f"http://{HOST}:{ports['echo-b']}/up"},
                "store": {"labels": {"role": "store"},
                          "health": f"http://{HOST}:{ports['store']}/up"},
            },
        },
        "prometheus": {"url": f"http://{HOST}:{ports['prometheus']}", "scrape_interval": "1s"},
        "ingress": {"url": f"http://{HOST}:{ports['echo-a']}"},
        "namespace": "echo",
        "services": {"echo": {"selector": "role=echo", "replicas": 2},
                     "store": {"selector": "role=store", "replicas": 1}},
        "faultproxy": {"url": f"http://{HOST}:{ports['faultproxy']}"},
        "links": [{"name": "echo-store", "from": "echo", "to": "store", "proxy": "echo_store"}],
        "safety": {"namespaces": ["echo"], "max_pods_per_fault": 1,
                   "max_percent_per_fault": 50, "min_ready_replicas": 1},
    }


def _traffic(ports: dict[str, int], stop: threading.Event) -> None:
    """About 20 requests a second, alternating between the two replicas."""
    urls = [f"http://{HOST}:{ports['echo-a']}/", f"http://{HOST}:{ports['echo-b']}/"]
    i = 0
    while not stop.wait(0.05):
        try:
            with urllib.request.urlopen(urls[i % 2], timeout=2):
                pass
        except OSError:
            pass
        i += 1


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoSystem]:
    """The echo system running under its own supervisord; stopped at the end."""
    folder = tmp_path_factory.mktemp("echo")
    (folder / "log").mkdir()
    ports = _ports()
    (folder / "faultproxy.json").write_text(json.dumps([
        {"name": "echo_store", "listen": f"{HOST}:{ports['link']}",
         "upstream": f"{HOST}:{ports['store']}", "enabled": True}]))
    (folder / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
        "scrape_configs": [{"job_name": "echo", "static_configs": [
            {"targets": [f"{HOST}:{ports['echo-a']}", f"{HOST}:{ports['echo-b']}"]}]}]}))
    conf = folder / "supervisord.conf"
    conf.write_text(_supervisord_conf(folder, ports))
    target = folder / "echo-target.yaml"
    target.write_text(yaml.safe_dump(_target(ports), sort_keys=False))
    catalog = folder / "echo-slos.yaml"
    catalog.write_text(yaml.safe_dump({"apiVersion": "chaosgate/v1", "kind": "SLOCatalog",
                                       "slos": SLOS}, sort_keys=False))
    ledger = folder / "ledger.jsonl"
    env = dict(os.environ, ECHO_SUPERVISOR_PASSWORD=PASSWORD, CHAOSGATE_LEDGER=str(ledger),
               CHAOSGATE_REPORTS=str(folder / "reports"))
    start_supervisord(str(Path(sys.executable).with_name("supervisord")), conf)
    supervisor = SupervisorClient(f"http://{HOST}:{ports['supervisor']}/RPC2", timeout=5,
                                  username="admin", password=PASSWORD)
    stop = threading.Event()
    traffic = threading.Thread(target=_traffic, args=(ports, stop), daemon=True)
    try:
        eventually(lambda: _all_running(supervisor), "every echo program RUNNING", timeout=60)
        proxy = ToxiproxyClient(f"http://{HOST}:{ports['faultproxy']}")
        traffic.start()
        query = f"http://{HOST}:{ports['prometheus']}/api/v1/query?query=" \
                "sum(increase(echo_requests_total%5B10s%5D))"
        eventually(lambda: _positive(query), "Prometheus to see the echo requests", timeout=90)
        yield EchoSystem(folder, target, catalog, ledger, env, supervisor, proxy)
    finally:
        stop.set()
        if traffic.is_alive():
            traffic.join(timeout=5)
        pid = supervisor.pid()
        supervisor.shutdown()
        eventually(lambda: not Path(f"/proc/{pid}").exists(), "supervisord to exit",
                   timeout=60)


def _all_running(supervisor: SupervisorClient) -> bool:
    try:
        return all(p.state == "RUNNING" for p in supervisor.processes())
    except SandboxError:
        return False


def _positive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            result = json.loads(resp.read())["data"]["result"]
    except OSError:
        return False
    return bool(result) and float(result[0]["value"][1]) > 0


def cli(echo: EchoSystem, *args: str) -> subprocess.CompletedProcess[str]:
    """``chaosgate ARGS`` as a user runs it, with the echo system's environment."""
    return subprocess.run([sys.executable, "-m", "chaosgate.cli", *args], env=echo.env,
                          capture_output=True, text=True, timeout=180, check=False)


def nothing_left(echo: EchoSystem) -> None:
    """No fault open, the link up without toxics, every program running, no password on disk."""
    assert Ledger(echo.ledger).open_entries() == []
    link = echo.proxy.proxy("echo_store")
    assert link.enabled and link.toxic_names == ()
    eventually(lambda: _all_running(echo.supervisor), "every echo program RUNNING", timeout=30)
    for path in echo.folder.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".yaml", ".txt", ".html"):
            assert PASSWORD not in path.read_text(errors="replace"), path


def test_a_hand_written_target_validates(echo: EchoSystem) -> None:
    result = cli(echo, "validate", str(echo.target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "processes" in result.stdout


def test_kill_pods(echo: EchoSystem) -> None:
    before = {p.name: p.pid for p in echo.supervisor.processes()}
    result = cli(echo, "fault", "kill-pods", "--target", str(echo.target), "--selector",
                 "role=echo", "--seed", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    after = {p.name: p.pid for p in echo.supervisor.processes()}
    assert [n for n in ("echo-a", "echo-b") if after[n] != before[n]], (before, after)
    assert "started again" in result.stdout  # supervisord's record, the ground truth here
    nothing_left(echo)


def test_freeze(echo: EchoSystem) -> None:
    result = cli(echo, "fault", "stress", "--mode", "freeze", "--target", str(echo.target),
                 "--selector", "role=echo", "--duration", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    nothing_left(echo)


@pytest.mark.parametrize(("fault", "seen"), [
    (["partition", "--selector", "role=echo", "--peer-selector", "role=store"],
     "echo-store: link down"),
    (["latency", "--link", "echo-store", "--latency", "300"], "echo-store: latency 300"),
], ids=["partition", "latency"])
def test_link_faults(echo: EchoSystem, fault: list[str], seen: str) -> None:
    """The link is the proxy ``echo_store``; the fault proxy's /events is the ground truth."""
    result = cli(echo, "fault", fault[0], "--target", str(echo.target), *fault[1:],
                 "--duration", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert seen in result.stdout, result.stdout
    nothing_left(echo)


def test_slo_check(echo: EchoSystem) -> None:
    result = cli(echo, "slo", "check", "--target", str(echo.target), "--catalog",
                 str(echo.catalog), "--window", "20s", "--json")
    assert result.returncode in (0, 1, 3), result.stdout + result.stderr
    verdicts = {v["slo"]: v for v in json.loads(result.stdout)["verdicts"]}
    assert set(verdicts) == {s["name"] for s in SLOS}
    for name, verdict in verdicts.items():
        assert verdict["status"] == "pass", (name, verdict)


def test_chaos_run(echo: EchoSystem) -> None:
    experiment = {
        "version": "1.0.0", "title": "An echo replica killed",
        "description": "One echo replica is killed; both are ready again.",
        "configuration": {"chaosgate_target": str(echo.target)},
        "controls": [{"name": "chaosgate-ledger",
                      "provider": {"type": "python", "module": "chaosgate.ctk.controls.ledger"}}],
        "steady-state-hypothesis": {"title": "both echo replicas ready", "probes": [
            {"type": "probe", "name": "echo-ready", "tolerance": 2,
             "provider": {"type": "python", "module": "chaosgate.ctk.probes",
                          "func": "pods_ready", "arguments": {"selector": "role=echo"}}}]},
        "method": [{"type": "action", "name": "kill-an-echo-replica",
                    "provider": {"type": "python", "module": "chaosgate.ctk.actions",
                                 "func": "kill_pods", "arguments": {"selector": "role=echo"}}}],
    }
    path = echo.folder / "experiment.json"
    path.write_text(json.dumps(experiment))
    journal = echo.folder / "journal.json"
    result = subprocess.run([CHAOS, "--log-file", str(echo.folder / "chaostoolkit.log"), "run",
                             "--journal-path", str(journal), str(path)], env=echo.env,
                            cwd=echo.folder, capture_output=True, text=True, timeout=180,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(journal.read_text())["status"] == "completed"
    nothing_left(echo)


def test_a_wrong_supervisord_password_is_named_not_shown(echo: EchoSystem) -> None:
    wrong = "not-the-password-41"
    result = subprocess.run(
        [sys.executable, "-m", "chaosgate.cli", "fault", "kill-pods", "--target",
         str(echo.target), "--selector", "role=echo"],
        env={**echo.env, "ECHO_SUPERVISOR_PASSWORD": wrong}, capture_output=True, text=True,
        timeout=60, check=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "HTTP 401" in result.stderr and "password_env" in result.stderr, result.stderr
    assert wrong not in result.stdout + result.stderr
    nothing_left(echo)


def test_supervisord_over_its_unix_socket(echo: EchoSystem) -> None:
    """``unix:///path`` reaches the same supervisord (a dry run lists the pods, touches none)."""
    doc = yaml.safe_load(echo.target.read_text())
    doc["platform"]["supervisor"] = {"url": f"unix://{echo.folder / 'supervisor.sock'}"}
    target = echo.folder / "echo-unix.yaml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = {p.name: p.pid for p in echo.supervisor.processes()}
    result = cli(echo, "fault", "kill-pods", "--target", str(target), "--selector",
                 "role=echo", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echo-a" in result.stdout or "echo-b" in result.stdout, result.stdout
    assert {p.name: p.pid for p in echo.supervisor.processes()} == before
    doc["platform"]["supervisor"] = {"url": f"unix://{echo.folder / 'no.sock'}"}
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = cli(echo, "fault", "kill-pods", "--target", str(target), "--selector",
                 "role=echo", "--dry-run")
    assert result.returncode == 3 and "no.sock" in result.stderr, result.stdout + result.stderr
