"""The sandbox's second system, events: topology, configuration, target, data, and the
Redis protocol both sides speak (plain data; one real redis-server for the client)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chaosgate.clients.redis import (
    RedisClient,
    RedisError,
    ReplyBuffer,
    encode_command,
    group_backlog,
    parse_reply,
)
from chaosgate.paths import default_folder, shipped
from chaosgate.sandbox.config import Binaries, haproxy_cfg, prometheus_config, supervisord_conf
from chaosgate.sandbox.pipeline.consumer import entries
from chaosgate.sandbox.pipeline.metrics import LATENCY_BUCKETS
from chaosgate.sandbox.state import saved_topology, write_state
from chaosgate.sandbox.target import render_sandbox_target
from chaosgate.sandbox.topology import build_topology
from chaosgate.slo.catalog import load_catalog
from chaosgate.targets import load_target, parse_target

ROOT = Path(__file__).resolve().parents[2]
BINS = Binaries(python="/venv/bin/python", supervisord="/venv/bin/supervisord",
                haproxy="/usr/sbin/haproxy", prometheus="/usr/bin/prometheus",
                alertmanager="/usr/bin/prometheus-alertmanager",
                redis_server="/usr/bin/redis-server")


@pytest.fixture
def topo():
    return build_topology(Path("/srv/events"), 50000, "events")


# -- topology -------------------------------------------------------------------------
def test_events_topology_has_its_own_pods_links_and_broker(topo) -> None:
    assert topo.system == "events" and topo.db_members == ()
    assert [p.name for p in topo.pods] == ["ingest-0", "ingest-1", "consumer-0", "consumer-1",
                                           "redis"]
    assert topo.apps == ("ingest", "consumer", "redis")
    assert [(x.name, x.source, x.destination) for x in topo.links] == [
        ("ingest-redis", "ingest", "redis"), ("consumer-redis", "consumer", "redis")]
    assert topo.broker is not None and topo.broker.pod.port == topo.ports.broker
    assert all(x.upstream == topo.ports.broker for x in topo.links)
    assert topo.broker.pod.health_url is None and not topo.broker.pod.scraped
    ports = [p.port for p in topo.pods] + [x.listen for x in topo.links]
    ports += [topo.ports.ingress, topo.ports.prometheus, topo.ports.supervisor,
              topo.ports.faultproxy_api, topo.ports.alertmanager, topo.ports.loadgen_metrics]
    assert len(ports) == len(set(ports))
    assert all(topo.ports.base <= p <= topo.ports.highest for p in ports)


def test_the_shop_stays_the_default_system() -> None:
    shop = build_topology(Path("/srv/shop"), 50000)
    assert shop.system == "shop" and shop.broker is None
    assert shop.apps == ("gateway", "catalog", "orders")
    assert all(p.health_url == f"http://127.0.0.1:{p.port}/healthz" for p in shop.pods)


def test_an_unknown_system_is_refused() -> None:
    with pytest.raises(ValueError, match="shop, events"):
        build_topology(Path("/srv/x"), 50000, "payments")


# -- configuration ----------------------------------------------------------------------
def test_supervisord_runs_redis_with_aof_and_the_pipeline_through_its_links(topo) -> None:
    conf = supervisord_conf(topo, BINS)
    assert "[program:etcd]" not in conf and "patroni" not in conf
    redis = conf.split("[program:redis]", 1)[1].split("[program:", 1)[0]
    assert "/usr/bin/redis-server" in redis and "--appendonly yes" in redis
    assert str(topo.broker.data_dir) in redis
    ingest = conf.split("[program:ingest-0]", 1)[1].split("[program:", 1)[0]
    assert "chaosgate.sandbox.pipeline ingest" in ingest
    assert f"--redis 127.0.0.1:{topo.link('ingest-redis').listen}" in ingest
    consumer = conf.split("[program:consumer-1]", 1)[1].split("[program:", 1)[0]
    assert f"--redis 127.0.0.1:{topo.link('consumer-redis').listen}" in consumer


def test_haproxy_sends_the_ingress_to_ingest_and_checks_only_http_pods(topo) -> None:
    cfg = haproxy_cfg(topo)
    assert "default_backend ingest" in cfg
    assert "backend consumer" in cfg and "backend redis" not in cfg
    assert "frontend svc_" not in cfg  # nothing reaches an app through a Service


def test_prometheus_scrapes_the_pipeline_not_the_broker_nor_etcd(topo) -> None:
    jobs = {c["job_name"] for c in prometheus_config(topo)["scrape_configs"]}
    assert {"ingest", "consumer", "haproxy", "faultproxy", "prometheus"} <= jobs
    assert not jobs & {"redis", "etcd", "patroni", "gateway"}


# -- the target ---------------------------------------------------------------------------
def test_the_events_target_carries_the_system_and_no_database(topo) -> None:
    doc = render_sandbox_target(topo)
    assert doc["sandbox"]["system"] == "events" and "database" not in doc
    assert doc["platform"]["type"] == "processes" and doc["name"] == "sandbox-events"
    assert "health" not in doc["platform"]["programs"]["redis"]  # ready when running
    assert doc["namespace"] == "events"
    assert doc["services"] == {"ingest": {"selector": "app=ingest", "replicas": 2},
                               "consumer": {"selector": "app=consumer", "replicas": 2},
                               "redis": {"selector": "app=redis", "replicas": 1}}
    assert "dependencies" not in doc  # the broker is a service (app=redis), reached by links
    assert doc["safety"]["min_ready_replicas"] == 0  # a broker crash takes the only broker
    target = parse_target(doc, "memory")
    assert target.sandbox_topology() == topo
    assert render_sandbox_target(build_topology(Path("/s"), 50000))["sandbox"]["system"] == "shop"


def test_state_files_put_the_systems_data_beside_its_target(tmp_path: Path) -> None:
    topo = saved_topology(str(tmp_path / "state"), 50100, "events")
    target_file = write_state(topo)
    write_state(topo)  # again: idempotent
    assert load_target(target_file).sandbox_topology() == topo
    for name in ("probes", "scenarios", "loadprofiles", "experiments"):
        assert default_folder(name, target_file).resolve() == shipped(name, "events")
    again = saved_topology(str(tmp_path / "state"), None, None)  # from sandbox.json
    assert (again.system, again.ports.base) == ("events", 50100)
    shop = write_state(saved_topology(str(tmp_path / "state"), 50100, "shop"))  # not running
    assert default_folder("probes", shop) == shipped("probes")  # the events links are gone
    own = tmp_path / "mine"
    (own / "probes").mkdir(parents=True)
    write_state(saved_topology(str(own), 50200, "events"))
    assert not (own / "probes").is_symlink()  # a folder of the user's is left alone


# -- shipped data -------------------------------------------------------------------------
def test_the_events_catalogue_loads_and_counts_at_bucket_edges() -> None:
    catalog = load_catalog(shipped("probes", "events"))
    names = {s.name for s in catalog.slos}
    assert {"events-accepted", "events-processed-in-100ms", "ingest-latency-p95",
            "time-to-recover", "throughput", "ingest-latency-mean", "consumer-lag",
            "lag-recovery"} <= names
    text = (shipped("probes", "events") / "events.yaml").read_text()
    for edge in ('le="0.1"', 'le="0.25"'):
        assert edge in text and float(edge[4:-1]) in LATENCY_BUCKETS
    assert "shop_" not in text
    flow = yaml.safe_load((shipped("probes", "events") / "flow.yaml")
                          .read_text())
    by_name = {s["name"]: s for s in flow["slos"]}
    assert by_name["throughput"]["objective"] >= 10_000_000 / 86_400
    assert by_name["lag-recovery"]["of"] == ["consumer-lag"]


# -- the Redis protocol ---------------------------------------------------------------------
def test_commands_and_replies_round_trip_in_any_chunking() -> None:
    assert encode_command("XADD", "s", "*", "body", "é") == \
        b"*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$4\r\nbody\r\n$2\r\n\xc3\xa9\r\n"
    wire = (b"+OK\r\n:42\r\n$-1\r\n*2\r\n$4\r\na\r\nb\r\n*0\r\n-ERR no\r\n"
            b"*1\r\n*2\r\n$6\r\nevents\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$2\r\nts\r\n$1\r\n5\r\n")
    expected = ["OK", 42, None, ["a\r\nb", []]]
    for size in (1, 3, 7, len(wire)):
        buffer = ReplyBuffer()
        replies = []
        for i in range(0, len(wire), size):
            replies += buffer.feed(wire[i:i + size])
        assert replies[:4] == expected
        assert isinstance(replies[4], RedisError) and str(replies[4]) == "ERR no"
        assert entries(replies[5]) == [("1-0", {"ts": "5"})]
    assert parse_reply(b"$5\r\nab") is None
    with pytest.raises(RedisError, match="not a RESP2 reply"):
        parse_reply(b"?\r\n")


def test_group_backlog_is_lag_plus_pending() -> None:
    groups = [["name", "other", "pending", 1, "lag", 1],
              ["name", "processors", "consumers", 2, "pending", 3, "lag", 4]]
    assert group_backlog(groups, "processors") == 7
    assert group_backlog(groups, "missing") is None
    assert group_backlog([["name", "processors", "pending", 0, "lag", None]],
                         "processors") is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisClient]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/bootstrap installs it)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL)
    client = RedisClient("127.0.0.1", port, timeout=2)
    try:
        deadline = time.monotonic() + 10
        while not client.ping():
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_harness_client_reads_a_real_redis(redis: RedisClient) -> None:
    assert redis.stream_length("events") == 0
    assert redis.command("XGROUP", "CREATE", "events", "processors", "0", "MKSTREAM") == "OK"
    for i in range(3):
        redis.command("XADD", "events", "*", "n", i)
    assert redis.stream_length("events") == 3
    assert redis.group_lag("events", "processors") == 3
    read = redis.command("XREADGROUP", "GROUP", "processors", "c", "COUNT", 2,
                         "STREAMS", "events", ">")
    assert [f["n"] for _id, f in entries(read)] == ["0", "1"]
    assert redis.group_lag("events", "processors") == 3  # 1 undelivered + 2 pending
    with pytest.raises(RedisError, match="BUSYGROUP"):
        redis.command("XGROUP", "CREATE", "events", "processors", "0")


# -- the command line ----------------------------------------------------------------------
def test_gameday_refuses_a_system_and_a_target_together(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from chaosgate.cli import app

    result = CliRunner().invoke(app, ["gameday", "--system", "events", "--target",
                                      str(tmp_path / "t.yaml")],
                                env={"CHAOSGATE_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 2, result.output
    assert "--system events and --target" in result.output and "give only one" in result.output
    assert not (tmp_path / "state").exists()  # refused before anything is written


def test_sandbox_commands_take_a_system_and_refuse_an_unknown_one() -> None:
    from click.testing import CliRunner

    from chaosgate.cli import app

    result = CliRunner().invoke(app, ["sandbox", "status", "--system", "payments"])
    assert result.exit_code == 2 and "shop" in result.output and "events" in result.output
