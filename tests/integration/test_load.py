"""Locust through chaosgate against the real sandbox: short, bounded, tens of RPS.

Checks correctness only (no timing assertions; figures are in bench/load.py):
the request log agrees with Locust's own totals, every checkout got an
order id, the sandbox's Prometheus scraped the client metrics through the
file_sd entry (removed afterwards), distributed mode works, and this pytest
process never imported locust.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.load.export import read_sd_targets
from chaosgate.load.profiles import read_profile
from chaosgate.load.run import LoadRun
from chaosgate.load.runner import LoadSession, run_load, spec_for_target
from chaosgate.sandbox.manager import SandboxManager
from chaosgate.sandbox.topology import Topology
from chaosgate.targets import Target, dump_target, parse_target, render_sandbox_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

PROFILES = Path(__file__).resolve().parents[2] / "loadprofiles"


@pytest.fixture(scope="module")
def target(sandbox: SandboxManager, sandbox_topology: Topology) -> Target:
    return parse_target(render_sandbox_target(sandbox_topology))


def prom_query(topo: Topology, query: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{topo.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    resp.raise_for_status()
    result: list[dict[str, Any]] = resp.json()["data"]["result"]
    return result


def eventually(check: Any, timeout: float = 30.0) -> Any:
    """The first truthy result of ``check()`` within ``timeout`` seconds (generous, not timed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def assert_checkouts_have_order_ids(run: LoadRun) -> None:
    ok_checkouts = [r for r in run.records() if r.name == "/api/checkout" and r.ok]
    logged = run.checkouts()
    assert ok_checkouts, "the mix places orders"
    assert len(logged) == sum(1 for r in run.records() if r.name == "/api/checkout")
    with_id = [c for c in logged if c.ok]
    assert len(with_id) == len(ok_checkouts)
    assert all(isinstance(c.order_id, int) for c in with_id)
    assert len({c.order_id for c in with_id}) == len(with_id), "one order per checkout"
    assert len({c.client_seq for c in logged}) == len(logged), "client_seq unique in the run"


def test_open_model_run_matches_locust_and_is_scraped(
    target: Target, sandbox_topology: Topology, tmp_path: Path
) -> None:
    spec = spec_for_target(target, read_profile(PROFILES / "open.conf"), 8.0, out_root=tmp_path,
                           rate=20.0)
    run = run_load(spec, show_progress=False)
    assert run.ok, run.log_tail()
    assert run.exit_codes == (0,)
    # One process: the recorder and Locust's statistics see the same events.
    assert run.requests > 0
    assert run.requests == run.locust_requests
    assert run.mismatches == ()
    assert run.report_lag() == 0
    assert run.stats.total.failures == 0, run.stats.total.errors_by_kind
    assert set(run.stats.routes) >= {"GET /api/products", "GET /api/products/{id}",
                                     "POST /api/cart", "POST /api/checkout"}
    assert all(r.t >= run.started for r in run.records())
    assert_checkouts_have_order_ids(run)

    # Prometheus scraped the client metrics through the file_sd entry ...
    query = f'sum(max_over_time(chaosgate_loadgen_requests_total{{run_id="{run.run_id}"}}[5m]))'
    result = eventually(lambda: prom_query(sandbox_topology, query))
    assert result, "Prometheus never scraped the load generator"
    scraped = float(result[0]["value"][1])
    assert 0 < scraped <= run.requests
    buckets = prom_query(sandbox_topology, "count(max_over_time("
                         "chaosgate_loadgen_request_duration_seconds_bucket"
                         f'{{run_id="{run.run_id}",le="0.25"}}[5m]))')
    assert buckets, "the latency histogram has the shop's 0.25 s bucket edge"
    # ... and the entry is gone.
    assert not [g for g in read_sd_targets(sandbox_topology.loadgen_sd_file)
                if g.get("labels", {}).get("run_id") == run.run_id]


def test_distributed_master_and_two_workers(
    target: Target, sandbox_topology: Topology, tmp_path: Path
) -> None:
    spec = spec_for_target(target, read_profile(PROFILES / "steady.conf"), 8.0,
                           out_root=tmp_path, users=8, workers=2)
    run = run_load(spec, show_progress=False)
    assert run.ok, run.log_tail()
    assert len(run.exit_codes) == 3 and not any(run.exit_codes)
    assert run.requests > 0
    # Locust's master may miss a worker's final report (it waits 0.5 s):
    # the request log has every request, Locust's summary at most as many.
    assert 0 <= run.report_lag() <= run.requests
    for m in run.mismatches:
        assert m.missing_in_locust >= 0
    assert_checkouts_have_order_ids(run)
    workers = Counter(c.client_seq // 10**9 for c in run.checkouts())
    assert set(workers) <= {0, 1} and workers, workers

    # The targets are gone by now: look back over the run, not at this instant.
    query = ('count by (worker) (max_over_time(chaosgate_loadgen_users'
             f'{{run_id="{run.run_id}"}}[5m]))')
    result = eventually(lambda: len(prom_query(sandbox_topology, query)) == 2)
    assert result, prom_query(sandbox_topology, query)
    workers_scraped = {r["metric"]["worker"] for r in prom_query(sandbox_topology, query)}
    assert workers_scraped == {"0", "1"}
    assert not [g for g in read_sd_targets(sandbox_topology.loadgen_sd_file)
                if g.get("labels", {}).get("run_id") == run.run_id]


def test_a_live_consumer_sees_every_request(target: Target, tmp_path: Path) -> None:
    spec = spec_for_target(target, read_profile(PROFILES / "open.conf"), 5.0, out_root=tmp_path,
                           rate=10.0)
    seen = []
    polls_with_records = 0
    with LoadSession(spec, show_progress=False) as session:
        while session.poll():
            batch = session.new_records()
            polls_with_records += bool(batch)
            seen += batch
            time.sleep(0.5)
        seen += session.new_records()
    run = session.wait()
    assert run.ok, run.log_tail()
    assert polls_with_records > 1, "records arrive while the run goes on, not only at its end"
    assert sorted(seen, key=lambda r: (r.t, r.name)) == sorted(
        run.records(), key=lambda r: (r.t, r.name))


def test_cli_load_run(target: Target, sandbox_topology: Topology, tmp_path: Path) -> None:
    target_file = tmp_path / "target.yaml"
    dump_target(render_sandbox_target(sandbox_topology), target_file)
    result = CliRunner().invoke(app, [
        "load", "run", "--target", str(target_file), "--profile", "steady",
        "--duration", "4s", "--users", "4", "--out", str(tmp_path / "runs"),
        "--no-progress", "--json",
    ])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["requests"] == summary["locust_requests"] > 0
    assert Path(summary["files"]["request_log"]).exists()


def test_cli_refuses_an_unknown_profile(target: Target, sandbox_topology: Topology,
                                        tmp_path: Path) -> None:
    target_file = tmp_path / "target.yaml"
    dump_target(render_sandbox_target(sandbox_topology), target_file)
    result = CliRunner().invoke(app, ["load", "run", "--target", str(target_file),
                                      "--profile", "zigzag", "--duration", "2s"])
    assert result.exit_code == 2
    assert "unknown profile" in result.output


def test_this_process_never_imported_locust() -> None:
    assert "locust" not in sys.modules
    assert not [m for m in sys.modules if m.startswith("locust.")]
