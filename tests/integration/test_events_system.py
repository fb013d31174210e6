"""The sandbox's second system, events, for real: ``chaosgate gameday --system events``
killing a consumer under load, then the pipeline end to end and its Chaos Toolkit
experiment on a sandbox of their own.

Ports: both sandboxes on ``CHAOSGATE_TEST_BASE_PORT + 380`` (to ``+ 439``), one
after the other: the game day's first (the command starts and stops it), then
the pipeline's; away from the session sandbox (``+ 0``), ``test_gameday_cli``'s
(``+ 100``), the Kubernetes control plane (``+ 200``) and ``test_sandbox_down``'s
(``+ 300``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from chaosgate.clients.prometheus import PrometheusClient
from chaosgate.clients.redis import RedisClient
from chaosgate.exceptions import UsageError
from chaosgate.report.model import load_gameday_results
from chaosgate.sandbox.manager import SandboxManager, leftover_processes
from chaosgate.sandbox.state import saved_topology, write_state

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SESSION_BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))  # as conftest.py
PIPELINE_PORT = GAMEDAY_PORT = SESSION_BASE_PORT + 380


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "chaosgate.cli", *args], cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=300, check=False)
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


@pytest.fixture(scope="module")
def events() -> Iterator[SandboxManager]:
    """The events sandbox as a user starts it: `chaosgate sandbox up --system events`; at the
    end `chaosgate sandbox down` (with only the state folder: the system is remembered)."""
    work = Path(tempfile.mkdtemp(prefix="chaosgate-events-"))
    work.chmod(0o755)
    state = work / "state"
    up = _cli("sandbox", "up", "--system", "events", "--state-dir", str(state),
              "--base-port", str(PIPELINE_PORT), cwd=work)
    topo = saved_topology(str(state), None, None)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        assert f"POST {topo.ingress_url}/events" in up.stdout and "consumer-redis" in up.stdout
        assert (topo.system, topo.ports.base) == ("events", PIPELINE_PORT)
        yield SandboxManager(topo)
    finally:
        down = _cli("sandbox", "down", "--state-dir", str(state), cwd=work)
        assert down.returncode == 0 and "no sandbox process left" in down.stdout
        assert leftover_processes(topo) == []
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.timeout(600)
def test_gameday_system_events_kills_a_consumer_under_load_and_passes() -> None:
    work = Path(tempfile.mkdtemp(prefix="chaosgate-events-gameday-"))
    work.chmod(0o755)
    state, reports = work / "state", work / "reports"
    env = {**os.environ, "CHAOSGATE_STATE_DIR": str(state),
           "CHAOSGATE_BASE_PORT": str(GAMEDAY_PORT), "COLUMNS": "200"}
    topo = saved_topology(str(state), GAMEDAY_PORT, "events")
    assert not SandboxManager(topo).running()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "chaosgate.cli", "gameday", "--system", "events",
             "-k", "consumer_kill", "--reports-dir", str(reports)],
            cwd=work, env=env, capture_output=True, text=True, timeout=540, check=False)
        out = proc.stdout
        print(out[-6000:], proc.stderr[-3000:])
        results = {r.name: r for r in load_gameday_results(reports / "gameday.json")}
        kill = results["consumer kill"]
        assert kill.verdict == "pass", [(row.slo, row.value, row.detail) for row in kill.slos
                                        if row.verdict != "pass"]
        assert proc.returncode == 0, out[-4000:]
        assert "starting the sandbox" in out and "stopping the sandbox this run started" in out
        table = out[out.index("game-day verdicts"):]
        for cell in ("consumer kill", "events-accepted: error budget", "time-to-recover"):
            assert cell in table
        assert kill.fault is not None and "app=consumer" in kill.fault
        assert (state / "scenarios").resolve() == (ROOT / "systems/events/scenarios").resolve()
        assert leftover_processes(topo) == []
    finally:
        SandboxManager(topo).down()  # only does something if the command failed to
        shutil.rmtree(work, ignore_errors=True)


def _eventually(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.25)


def _value(prometheus: PrometheusClient, expr: str) -> float | None:
    samples = prometheus.query(expr)
    return samples[0].value if samples else None


def test_events_flow_from_the_ingress_to_the_consumers_and_into_prometheus(
        events: SandboxManager) -> None:
    topo = events.topo
    assert topo.broker is not None
    prometheus = PrometheusClient(topo.prometheus_url, timeout=3)
    broker = RedisClient("127.0.0.1", topo.broker.pod.port)
    before = broker.stream_length(topo.broker.stream)
    ids = []
    with requests.Session() as http:
        for n in range(50):
            resp = http.post(f"{topo.ingress_url}/events", json={"seq": n}, timeout=5)
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["id"])
        assert http.post(f"{topo.ingress_url}/events", data=b"[1]", timeout=5).status_code == 400
    assert len(set(ids)) == 50
    assert broker.stream_length(topo.broker.stream) == before + 50  # appended to the stream
    _eventually("the consumer group has acknowledged every event",
                lambda: broker.group_lag(topo.broker.stream, topo.broker.group) == 0)
    # scraped: both replicas' counters, the end-to-end histogram, the lag gauge
    _eventually("Prometheus counting 50 events ingested and processed", lambda: (
        (_value(prometheus, "sum(events_ingested_total)") or 0) >= 50
        and (_value(prometheus, "sum(events_processed_total)") or 0) >= 50
        and (_value(prometheus, "sum(events_end_to_end_seconds_count)") or 0) >= 50))
    _eventually("the lag gauge at 0 from both ingest replicas", lambda: [
        s.value for s in prometheus.query("events_consumer_lag")] == [0.0, 0.0])
    fast = _value(prometheus, 'sum(events_end_to_end_seconds_bucket{le="0.1"})')
    assert fast is not None and fast > 0
    processed_by = {s.labels["pod"] for s in prometheus.query("events_processed_total > 0")}
    assert processed_by <= {"consumer-0", "consumer-1"} and processed_by
    assert not prometheus.query('{__name__=~"shop_.*"}')
    write_state(topo)  # sandbox.json, as `sandbox up` leaves it
    with pytest.raises(UsageError, match="runs the events sandbox"):
        saved_topology(str(topo.state_dir), None, "shop")  # its folder, for another system


def test_a_broker_crash_keeps_the_stream_and_the_pipeline_resumes(
        events: SandboxManager) -> None:
    topo = events.topo
    assert topo.broker is not None
    broker = RedisClient("127.0.0.1", topo.broker.pod.port)
    with requests.Session() as http:
        for n in range(20):
            assert http.post(f"{topo.ingress_url}/events", json={"n": n},
                             timeout=5).status_code == 202
    _eventually("every event acknowledged",
                lambda: broker.group_lag(topo.broker.stream, topo.broker.group) == 0)
    length = broker.stream_length(topo.broker.stream)
    pid = next(p.pid for p in events.supervisor.processes() if p.name == "redis")
    events.supervisor.signal("redis", "KILL")  # no shutdown: only the append-only file is left
    _eventually("supervisord restarted Redis", lambda: any(
        p.name == "redis" and p.running and p.pid != pid for p in events.supervisor.processes())
        and broker.ping())
    assert broker.stream_length(topo.broker.stream) == length  # reloaded from the AOF
    assert broker.group_lag(topo.broker.stream, topo.broker.group) == 0  # the group too

    def accepted() -> bool:
        return requests.post(f"{topo.ingress_url}/events", json={"after": 1},
                             timeout=5).status_code == 202
    _eventually("ingest reconnected", accepted)
    _eventually("the consumers reconnected and processed it", lambda: broker.group_lag(
        topo.broker.stream, topo.broker.group) == 0)
    assert broker.stream_length(topo.broker.stream) >= length + 1


@pytest.mark.timeout(600)
def test_the_events_experiment_kills_a_consumer_and_passes(events: SandboxManager,
                                                           tmp_path: Path) -> None:
    target = write_state(events.topo)  # its experiments/ beside it, as `sandbox up` leaves it
    journal = tmp_path / "journal.json"
    env = {**os.environ, "CHAOSGATE_TARGET": str(target),
           "CHAOSGATE_LEDGER": str(tmp_path / "ledger.jsonl"),
           "CHAOSGATE_REPORTS": str(tmp_path / "reports")}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "chaos"), "--log-file", str(tmp_path / "ctk.log"),
         "run", "--journal-path", str(journal),
         str(target.parent / "experiments" / "consumer-kill.yaml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=420, check=False)
    assert journal.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    section = json.loads(journal.read_text())["chaosgate"]
    assert proc.returncode == 0, (section.get("verdict"), proc.stderr[-3000:])
    assert section["verdict"] == "pass" and section["ledger"]["clean"] is True
