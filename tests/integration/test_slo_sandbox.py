"""SLO measurement on the real sandbox: a healthy run, a 10 s partition, slo check's exit codes.

Load comes from a small thread pool sending requests at a constant arrival
rate (open model, 25 requests/s, bounded), recorded as RequestRecords in
memory: the client-side observer. The partition is the fault proxy's
Toxiproxy API (``enabled: false`` then ``true`` on the gateway->catalog
link); its ``GET /events`` gives the exact times, the ground truth the
two observers' TTRs are compared with. No assertion is timed: "close to the
ground truth" means within the measurement's own stated uncertainty plus a
fixed 0.5 s for the system's reaction.

The last test runs a real Prometheus (not the sandbox's) with basic auth and
TLS, to check the client against both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from chaosgate.clients.prometheus import PrometheusClient
from chaosgate.exceptions import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, TargetError
from chaosgate.gameday import GameDayConfig, run_gameday
from chaosgate.load.requestlog import RequestRecord
from chaosgate.sandbox.topology import Topology
from chaosgate.slo import check as check_module
from chaosgate.slo.catalog import Catalog, load_catalog
from chaosgate.slo.check import check_slos, fetch_bins, gauge_samples
from chaosgate.slo.evaluate import records_verdicts
from chaosgate.slo.measure import measure, timeline_slos
from chaosgate.targets import dump_target, load_target, parse_target, render_sandbox_target

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
CHAOSGATE = str(ROOT / ".venv" / "bin" / "chaosgate")
RATE = 25.0
SLACK = 0.5  # the system's own reaction (reconnects), on top of the stated uncertainty
ROUTES = (("/api/products", "GET", "/api/products"),
          ("/api/products/{id}", "GET", "/api/products/3"),
          ("/api/checkout", "POST", "/api/checkout"))


def send_load(base_url: str, seconds: float, rate: float = RATE,
              during: Callable[[float], None] | None = None) -> list[RequestRecord]:
    """Requests at a constant arrival rate for ``seconds``; ``during(t0)`` runs alongside."""
    local = threading.local()
    records: list[RequestRecord] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        name, method, path = ROUTES[i % len(ROUTES)]
        body = {"items": [{"product_id": 1, "qty": 1}], "client_seq": i} \
            if method == "POST" else None
        start, clock = time.time(), time.perf_counter()
        status, error = None, None
        try:
            status = session.request(method, base_url + path, json=body, timeout=2.0).status_code
            error = f"http_{status // 100}xx" if status >= 400 else None
        except requests.Timeout:
            error = "timeout"
        except requests.ConnectionError:
            error = "connection"
        ms = (time.perf_counter() - clock) * 1000.0
        with lock:
            records.append(RequestRecord(start, ms, name, method, error is None, status, error))

    t0 = time.time() + 0.1
    side = threading.Thread(target=during, args=(t0,), daemon=True) if during else None
    with ThreadPoolExecutor(max_workers=16) as pool:
        if side:
            side.start()
        for i in range(int(seconds * rate)):
            delay = t0 + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    if side:
        side.join(timeout=60)
    return sorted(records, key=lambda r: r.t)


def wait_scraped(prom: PrometheusClient, until: float, timeout: float = 30.0) -> None:
    """Wait until Prometheus holds an ingress sample taken after ``until``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        series = prom.raw_samples('haproxy_frontend_http_requests_total{proxy="ingress"}',
                                  until - 5, time.time())
        if any(s.samples and s.samples[-1][0] > until for s in series):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no sample after {until} within {timeout} s")


def slo_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHAOSGATE, "slo", "check", "--catalog", str(ROOT / "probes"), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "250"})


def window_since(t: float) -> str:
    return f"{int(time.time() - t) + 2}s"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "probes")


@pytest.fixture(scope="module")
def prom(sandbox: object, sandbox_topology: Topology) -> PrometheusClient:
    return PrometheusClient(sandbox_topology.prometheus_url)


@pytest.fixture(scope="module")
def target_file(sandbox: object, sandbox_topology: Topology,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dump_target(render_sandbox_target(sandbox_topology),
                       tmp_path_factory.mktemp("slo") / "target.yaml")


@pytest.mark.sandbox
def test_a_healthy_run_passes_what_it_can_judge(
        sandbox_topology: Topology, prom: PrometheusClient, catalog: Catalog,
        target_file: Path) -> None:
    start = time.time()
    records = send_load(sandbox_topology.ingress_url, seconds=24)
    end = max(r.end for r in records)
    assert len(records) == 600 and all(r.ok for r in records)
    wait_scraped(prom, end + 1)

    for observer, verdicts in (
            ("client", records_verdicts(catalog, records)),
            ("server", check_slos(prom, catalog, window=time.time() - start + 1))):
        by = {v.slo: v for v in verdicts}
        for name in ("checkout-latency-p95", "browse-latency-p95", "product-latency-p95"):
            assert by[name].status == "pass", (observer, by[name])
        for name in ("availability", "checkout-error-ratio"):  # too few requests to prove
            assert by[name].status == "inconclusive", (observer, by[name])
            assert "not yet provable" in by[name].reason
        assert "29956 events without a failure" in by["availability"].reason
        print(f"\n{observer}: " + "; ".join(f"{v.slo} {v.status} ({v.good}/{v.total})"
                                            for v in verdicts))

    m = measure(catalog.get("time-to-recover"), catalog, t_inject=start + 8, records=records)
    assert m.client is not None and m.client.t_impact is None
    assert [v.status for v in m.verdicts] == ["pass"]  # no impact: nothing to recover

    latency = [a for n in ("checkout-latency-p95", "browse-latency-p95", "product-latency-p95")
               for a in ("--slo", n)]
    ok = slo_check("--target", str(target_file), "--window", window_since(start), *latency)
    assert ok.returncode == EXIT_PASS, ok.stdout + ok.stderr
    full = slo_check("--target", str(target_file), "--window", window_since(start))
    assert full.returncode == EXIT_INCONCLUSIVE, full.stdout + full.stderr
    assert "not yet provable" in full.stdout and "time-to-recover" in full.stdout


MEASURED = """\
apiVersion: chaosgate/v1
kind: SLOCatalog
slos:
- name: products-latency-mean
  type: mean_latency
  route: GET /api/products
  threshold: {threshold}
  window: 10m
  query:
    sum: sum(increase(shop_http_request_duration_seconds_sum{sel}[$window]))
    count: sum(increase(shop_http_request_duration_seconds_count{sel}[$window]))
- name: products-throughput
  type: throughput
  route: /api/products
  objective: {objective}
  window: 10m
  query:
    events: sum(increase(shop_http_requests_total{ok}[$window]))
- name: open-fds
  type: gauge_bound
  threshold: {fds}
  window: 10m
  query:
    value: max(process_open_fds)
"""
PRODUCTS = {"sel": '{app="gateway",route="/api/products"}',
            "ok": '{app="gateway",route="/api/products",code="200"}'}


@pytest.mark.sandbox
def test_slo_check_judges_a_mean_latency_and_a_throughput_slo(
        sandbox_topology: Topology, prom: PrometheusClient, target_file: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """~8 GET /api/products a second for 16 s: a mean under 500 ms and at least 4/s are
    proven by both observers, and the gauge of open files stays under 100000 (the server,
    a sample every scrape); 1000/s, a 0.1 ms mean and 1 open file are violations (exit 1)."""
    start = time.time()
    records = send_load(sandbox_topology.ingress_url, seconds=16)
    assert all(r.ok for r in records)
    wait_scraped(prom, max(r.end for r in records) + 1)
    window = window_since(start)
    met, missed = tmp_path / "met.yaml", tmp_path / "missed.yaml"
    met.write_text(MEASURED.format(threshold=0.5, objective=4, fds=100000, **PRODUCTS))
    missed.write_text(MEASURED.format(threshold=0.0001, objective=1000, fds=1, **PRODUCTS))

    client = {v.slo: v for v in records_verdicts(load_catalog(met), records)}
    assert {n: v.status for n, v in client.items()} == {
        "products-latency-mean": "pass", "products-throughput": "pass"}, client
    passed = subprocess.run([CHAOSGATE, "slo", "check", "--catalog", str(met), "--target",
                             str(target_file), "--window", window, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert passed.returncode == EXIT_PASS, passed.stdout + passed.stderr
    server = {v["slo"]: v for v in yaml.safe_load(passed.stdout)["verdicts"]}
    mean, rate = server["products-latency-mean"], server["products-throughput"]
    assert 0 < mean["value"] < 0.5 and mean["total"] >= 30
    assert mean["value"] == pytest.approx(client["products-latency-mean"].value, abs=0.05)
    assert rate["bounds"][0] >= 4 and rate["total"] >= 100, rate
    assert server["open-fds"]["status"] == "pass" and server["open-fds"]["value"] > 1

    fds = load_catalog(met).get("open-fds")  # range queries in chunks: the same samples
    whole = gauge_samples(prom, fds, start, start + 20, 1.0)
    monkeypatch.setattr(check_module, "MAX_RANGE_POINTS", 7)
    assert gauge_samples(prom, fds, start, start + 20, 1.0) == whole and len(whole) >= 20

    failed = subprocess.run([CHAOSGATE, "slo", "check", "--catalog", str(missed), "--target",
                             str(target_file), "--window", window],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "250"})
    assert failed.returncode == EXIT_FAIL, failed.stdout + failed.stderr
    assert "misses mean ≤ 0.1 ms" in failed.stdout and "misses ≥ 1000 /s" in failed.stdout
    assert "samples over 1;" in failed.stdout


@pytest.mark.sandbox
def test_a_baseline_game_day_gates_on_measured_slos(target_file: Path, tmp_path: Path) -> None:
    """A short baseline under Locust with gate_slos: the mean latency and throughput of
    GET /api/products gate by both observers, the open-files gauge by the server."""
    folder = tmp_path / "probes"
    folder.mkdir()
    shutil.copy(ROOT / "probes" / "shop.yaml", folder)
    (folder / "measured.yaml").write_text(MEASURED.format(threshold=0.5, objective=1,
                                                          fds=100000, **PRODUCTS))
    gating = ("products-latency-mean", "products-throughput", "open-fds")
    config = GameDayConfig(name="baseline", warmup=5, observe=8, rate=20, catalog=folder,
                           gate_slos=gating, ledger=tmp_path / "ledger.jsonl",
                           out_dir=tmp_path / "out")
    run = run_gameday(load_target(target_file), config, log=print)
    gates = {g.name: g for g in run.gates}
    for name in ("products-latency-mean (client observer)",
                 "products-latency-mean (server observer)",
                 "products-throughput (client observer)", "products-throughput (server observer)",
                 "open-fds (server observer)"):
        assert gates[name].status == "pass", (name, gates[name])
    assert "open-fds (client observer)" not in gates  # a gauge is the server's only
    assert not {v.slo for v in run.reported} & set(gating)  # gating, not reported


def partition(faultproxy_url: str, link: str, after: float,
              length: float) -> Callable[[float], None]:
    def act(t0: float) -> None:
        time.sleep(max(0.0, t0 + after - time.time()))
        requests.post(f"{faultproxy_url}/proxies/{link}", json={"enabled": False}, timeout=5)
        time.sleep(length)
        requests.post(f"{faultproxy_url}/proxies/{link}", json={"enabled": True}, timeout=5)
    return act


@pytest.mark.sandbox
def test_a_10s_partition_fails_availability_and_both_ttrs_match_the_truth(
        sandbox_topology: Topology, prom: PrometheusClient, catalog: Catalog,
        target_file: Path) -> None:
    fp = sandbox_topology.faultproxy_url
    since = max((e["seq"] for e in requests.get(f"{fp}/events", timeout=5).json()), default=0)
    start = time.time()
    records = send_load(sandbox_topology.ingress_url, seconds=40,
                        during=partition(fp, "gateway-catalog", after=10, length=10))
    events = requests.get(f"{fp}/events", params={"since": since}, timeout=5).json()
    t_off = next(e["time"] for e in events if e["event"] == "proxy_disabled")
    t_on = next(e["time"] for e in events if e["event"] == "proxy_enabled")
    truth = t_on - t_off
    end = max(r.end for r in records)
    wait_scraped(prom, end + 1)

    client = {v.slo: v for v in records_verdicts(catalog, records)}
    server = {v.slo: v for v in check_slos(prom, catalog, window=time.time() - start + 1)}
    assert client["availability"].status == "fail", client["availability"]
    assert server["availability"].status == "fail", server["availability"]
    assert "the error budget spent" in server["availability"].reason

    ttr_slo = catalog.get("time-to-recover")
    bins = {s.name: fetch_bins(prom, s, start - 5, end + 1, scrape_interval=1.0)
            for s in timeline_slos(ttr_slo, catalog)}
    m = measure(ttr_slo, catalog, t_inject=t_off, records=records, bins=bins,
                scrape_interval=1.0, t_end=end)
    assert m.client is not None and m.server is not None
    for tl in (m.client, m.server):
        ttr = tl.ttr
        assert ttr is not None, tl
        print(f"\n{tl.observer}: TTR {ttr.t:.3f} s (± {ttr.err:.3f}), truth {truth:.3f} s, "
              f"error {ttr.t - truth:+.3f} s; impact {tl.t_impact.t - t_off:+.3f} s, "  # type: ignore[union-attr]
              f"recovery {tl.t_recover.t - t_on:+.3f} s after the truth")  # type: ignore[union-attr]
        assert abs(ttr.t - truth) <= ttr.err + SLACK, (tl.observer, ttr, truth)
        assert tl.t_detect is not None and tl.t_detect.t >= t_off - 0.05
    assert m.disagreements == (), [d.describe() for d in m.disagreements]
    assert [v.status for v in m.verdicts] == ["pass", "pass"]  # 10 s <= 30 s, both observers

    violated = slo_check("--target", str(target_file), "--window", window_since(start),
                         "--slo", "availability")
    assert violated.returncode == EXIT_FAIL, violated.stdout + violated.stderr
    assert "fail" in violated.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_prometheus_down_exits_3(tmp_path: Path) -> None:
    target = tmp_path / "dead.yaml"
    target.write_text(yaml.safe_dump({
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "dead",
        "platform": {"type": "kubernetes"},
        "prometheus": {"url": f"http://127.0.0.1:{free_port()}", "scrape_interval": "1s"},
        "ingress": {"url": "http://127.0.0.1:9"}, "services": {"shop": {"selector": "app=x"}}}))
    down = slo_check("--target", str(target), "--window", "1m")
    assert down.returncode == EXIT_INCONCLUSIVE, down.stdout + down.stderr
    assert "not reachable" in down.stdout


@pytest.fixture
def secured_prometheus(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real Prometheus behind TLS (self-signed for 127.0.0.1) and basic auth."""
    binary = shutil.which("prometheus")
    if binary is None or shutil.which("openssl") is None:
        pytest.skip("needs the prometheus and openssl binaries")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")  # bcrypt for the web config, without a package
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    web = {"tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
           "basic_auth_users": {"chaosgate": crypt.crypt("s3cret", crypt.mksalt(
               crypt.METHOD_BLOWFISH))}}
    (tmp_path / "web.yml").write_text(yaml.safe_dump(web))
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1s}\n")
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--web.config.file={tmp_path / 'web.yml'}", f"--storage.tsdb.path={tmp_path / 'db'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/-/ready", verify=str(cert), timeout=2,
                                auth=("chaosgate", "s3cret")).ok:
                    break
            time.sleep(0.3)
        else:
            raise AssertionError("the secured Prometheus did not become ready")
        yield url, cert
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_basic_auth_and_tls_against_a_real_prometheus(
        secured_prometheus: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert = secured_prometheus

    def client(tls: dict[str, object]) -> PrometheusClient:
        target = parse_target({
            "apiVersion": "chaosgate/v1", "kind": "Target", "name": "secured",
            "platform": {"type": "kubernetes"}, "ingress": {"url": "http://127.0.0.1:9"},
            "services": {"shop": {"selector": "app=x"}},
            "prometheus": {"url": url, "scrape_interval": "1s", "tls": tls, "auth": {
                "basic": {"username": "chaosgate", "password_env": "CG_TEST_PROM_PW"}}}},
            "secured.yaml")
        return PrometheusClient.from_config(target.prometheus)

    monkeypatch.setenv("CG_TEST_PROM_PW", "s3cret")
    assert client({"ca_file": str(cert)}).value("vector(42)") == 42.0
    with pytest.raises(TargetError) as info:
        client({"insecure_skip_verify": False}).value("vector(1)")  # system CAs only
    assert info.value.field == "prometheus.tls"
    monkeypatch.setenv("CG_TEST_PROM_PW", "wrong-password")
    with pytest.raises(TargetError) as info:
        client({"ca_file": str(cert)}).value("vector(1)")
    assert info.value.field == "prometheus.auth" and "wrong-password" not in str(info.value)
