"""The sandbox's topology and generated configuration, as plain data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chaosgate.sandbox.config import (
    PATRONI_TIMING,
    Binaries,
    faultproxy_config,
    haproxy_cfg,
    patroni_config,
    prometheus_config,
    render_all,
    supervisord_conf,
)
from chaosgate.sandbox.topology import build_topology

ROOT = Path(__file__).resolve().parents[2]
BINS = Binaries(
    python="/venv/bin/python", supervisord="/venv/bin/supervisord", etcd="/usr/bin/etcd",
    patroni="/usr/bin/patroni", haproxy="/usr/sbin/haproxy", prometheus="/usr/bin/prometheus",
    alertmanager="/usr/bin/prometheus-alertmanager",
    pg_bin_dir="/usr/lib/postgresql/15/bin", run_as_postgres=True,
)


@pytest.fixture
def topo():
    return build_topology(Path("/srv/sandbox"), 50000)


def all_ports(topo):
    p = topo.ports
    ports = [p.ingress, p.haproxy_stats, p.prometheus, p.supervisor, p.faultproxy_api,
             p.etcd_client, p.etcd_peer, p.loadgen_metrics, p.alertmanager, p.alert_webhook]
    ports += [pod.port for pod in topo.pods]
    ports += [p.service(a) for a in ("catalog", "orders")]
    ports += [m.pg_port for m in topo.db_members] + [m.rest_port for m in topo.db_members]
    ports += [link.listen for link in topo.links]
    return ports


@pytest.mark.parametrize("base", [1024, 20000, 47000, 65475])
def test_every_port_is_distinct_and_within_the_block(base):
    topo = build_topology(Path("/s"), base)
    ports = all_ports(topo)
    assert len(ports) == len(set(ports))
    assert all(base <= port <= topo.ports.highest for port in ports)


@pytest.mark.parametrize("base", [80, 1023, 65476, 70000])
def test_base_port_out_of_range_is_refused(base):
    with pytest.raises(ValueError, match="base port"):
        build_topology(Path("/s"), base)


def test_six_shop_pods_with_app_labels(topo):
    assert sorted(p.name for p in topo.pods) == [
        "catalog-0", "catalog-1", "gateway-0", "gateway-1", "orders-0", "orders-1"]
    assert {p.labels["app"] for p in topo.pods_of("orders")} == {"orders"}


def test_links_cover_design_section_3(topo):
    names = {link.name for link in topo.links}
    assert names == {"gateway-catalog", "gateway-orders", "orders-pg0", "orders-pg1",
                     "pg0-etcd", "pg1-etcd"}
    assert topo.link("orders-pg1").upstream == topo.db_members[1].pg_port
    assert topo.link("gateway-orders").upstream == topo.ports.service("orders")


def test_orders_dsn_goes_through_the_fault_proxy_links(topo):
    dsn = topo.database_dsn()
    assert "target_session_attrs=read-write" in dsn
    assert f"port={topo.link('orders-pg0').listen},{topo.link('orders-pg1').listen}" in dsn


def test_faultproxy_config_is_toxiproxy_populate_format(topo):
    proxies = faultproxy_config(topo)
    assert {p["name"] for p in proxies} == {link.name for link in topo.links}
    assert all(set(p) == {"name", "listen", "upstream", "enabled"} for p in proxies)


def test_haproxy_checks_every_replica_and_exports_metrics(topo):
    cfg = haproxy_cfg(topo)
    for pod in topo.pods:
        assert f"server {pod.name} 127.0.0.1:{pod.port} check" in cfg
    assert "option httpchk GET /healthz" in cfg
    assert "prometheus-exporter" in cfg
    assert f"bind 127.0.0.1:{topo.ports.ingress}" in cfg
    assert "0.0.0.0" not in cfg


def test_prometheus_scrapes_every_target_each_second(topo):
    cfg = prometheus_config(topo)
    assert cfg["global"]["scrape_interval"] == "1s"
    assert cfg["global"]["evaluation_interval"] == "1s"
    addresses = {
        t for job in cfg["scrape_configs"] for g in job.get("static_configs", [])
        for t in g["targets"]
    }
    assert addresses == {t.address for t in topo.scrape_targets()}
    pod_labels = [g["labels"] for job in cfg["scrape_configs"] if job["job_name"] == "orders"
                  for g in job["static_configs"]]
    assert {"pod": "orders-0", "app": "orders", "tier": "backend"} in pod_labels


def test_patroni_reaches_etcd_only_through_its_link(topo):
    member = topo.db_members[0]
    cfg = patroni_config(topo, member, BINS.pg_bin_dir)
    assert cfg["etcd"]["host"] == topo.link("pg0-etcd").listen_address
    assert cfg["etcd"]["use_proxies"] is True
    dcs = cfg["bootstrap"]["dcs"]
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert dcs["ttl"] == PATRONI_TIMING["ttl"] <= 10  # a ~10 s unplanned failover
    assert "password" not in json.dumps(cfg)


def test_supervisord_runs_postgres_as_postgres_when_root(topo):
    conf = supervisord_conf(topo, BINS)
    pg0 = conf.split("[program:pg0]")[1].split("[program:")[0]
    assert "user=postgres" in pg0
    assert "user=postgres" not in conf.split("[program:haproxy]")[1].split("[program:")[0]
    as_user = supervisord_conf(topo, Binaries(**{**BINS.__dict__, "run_as_postgres": False}))
    assert "user=postgres" not in as_user


def test_supervisord_has_every_program_and_the_event_listener(topo):
    conf = supervisord_conf(topo, BINS)
    for name in ["etcd", "faultproxy", "pg0", "pg1", "haproxy", "prometheus",
                 *(p.name for p in topo.pods)]:
        assert f"[program:{name}]" in conf
    assert "[eventlistener:events]" in conf
    assert f"port=127.0.0.1:{topo.ports.supervisor}" in conf


def test_render_all_writes_only_under_conf_dir_and_parses(topo):
    files = render_all(topo, BINS, ROOT / "probes")
    assert all(path.parent == topo.conf_dir for path in files)
    prometheus = yaml.safe_load(files[topo.conf_dir / "prometheus.yml"])
    assert prometheus["rule_files"] == [str(topo.rules_file)]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{topo.ports.alertmanager}"]
    rules = yaml.safe_load(files[topo.rules_file])
    assert "slo:sli_error:ratio_rate10s" in {r.get("record") for g in rules["groups"]
                                             for r in g["rules"]}  # 5 min at 1/30
    alertmanager = yaml.safe_load(files[topo.conf_dir / "alertmanager.yml"])
    assert alertmanager["receivers"][0]["webhook_configs"][0]["url"] == topo.alert_webhook_url
    yaml.safe_load(files[topo.conf_dir / "pg1.yml"])
    json.loads(files[topo.conf_dir / "faultproxy.json"])


def test_shop_jobs_keep_their_own_app_label(topo):
    jobs = {j["job_name"]: j for j in prometheus_config(topo)["scrape_configs"]}
    assert all(jobs[app].get("honor_labels") for app in ("gateway", "catalog", "orders"))
    assert not jobs["haproxy"].get("honor_labels")


def test_a_relative_state_dir_becomes_absolute_before_anything_runs(tmp_path, monkeypatch):
    from chaosgate.sandbox.manager import SandboxManager
    from chaosgate.targets import parse_target, render_sandbox_target

    monkeypatch.chdir(tmp_path)
    relative = build_topology(Path(".chaosgate/sandbox"), 50000)
    assert SandboxManager(relative).topo.state_dir == tmp_path / ".chaosgate/sandbox"
    doc = render_sandbox_target(relative)
    doc["sandbox"]["state_dir"] = ".chaosgate/sandbox"
    topo = parse_target(doc, "t.yaml").sandbox_topology()
    assert topo.state_dir == tmp_path / ".chaosgate/sandbox"
    assert all(m.data_dir.is_absolute() for m in topo.db_members)
    assert "=.chaosgate" not in supervisord_conf(topo, BINS)
