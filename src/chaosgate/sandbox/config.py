"""Render the sandbox's configuration files from its :class:`Topology`.

Pure: every function takes the topology (and the resolved binaries) and
returns text or data; :mod:`.manager` writes the files. Keeping this pure
lets the unit tests read the generated HAProxy, Prometheus, Patroni and
supervisord configuration without starting anything.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .topology import HOST, DbMember, Pod, Topology

__all__ = [
    "PATRONI_TIMING",
    "Binaries",
    "faultproxy_config",
    "haproxy_cfg",
    "patroni_config",
    "prometheus_config",
    "render_all",
    "supervisord_conf",
]

# Patroni timing for a ~10 s unplanned failover: the leader key expires `ttl`
# seconds after the last heartbeat, the replica notices within `loop_wait` and
# promotes. Patroni wants loop_wait + 2 * retry_timeout <= ttl.
PATRONI_TIMING = {"ttl": 8, "loop_wait": 1, "retry_timeout": 3}


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the programs the sandbox runs."""

    python: str
    supervisord: str
    haproxy: str
    prometheus: str
    alertmanager: str
    etcd: str = ""  # the shop's (Patroni's DCS)
    patroni: str = ""
    pg_bin_dir: str = ""
    run_as_postgres: bool = False  # True when we are root: PostgreSQL refuses to run as root
    redis_server: str = ""  # the events system's broker


def faultproxy_config(topo: Topology) -> list[dict[str, Any]]:
    """The fault proxy's links, in Toxiproxy's ``populate`` format."""
    return [
        {
            "name": link.name,
            "listen": link.listen_address,
            "upstream": link.upstream_address,
            "enabled": True,
        }
        for link in topo.links
    ]


def haproxy_cfg(topo: Topology) -> str:
    """HAProxy: the public ingress (to the system's entry app), one "Service" per app
    another app reaches through a link, a backend per HTTP app, stats + exporter.

    Health checks every 500 ms (fall 2, rise 1) take a dead replica out of
    rotation within about a second; ``retries`` with ``redispatch`` send a
    request whose connection was refused to the other replica, as a
    Kubernetes Service with a readiness probe would.
    """
    p = topo.ports
    lines = [
        "global",
        "    maxconn 4096",
        # Server and backend state changes (notice and above; no request lines)
        # with microsecond ISO timestamps: ground truth for pod kills.
        "    log stdout format iso local0 notice",
        f"    stats socket {topo.run_dir / 'haproxy.sock'} mode 600 level admin",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 10s",
        "    timeout http-keep-alive 10s",
        "    retries 2",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response response-timeout",
        "    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 1",
        "",
        "frontend stats",
        f"    bind {HOST}:{p.haproxy_stats}",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 2s",
        "",
        "frontend ingress",
        f"    bind {HOST}:{p.ingress}",
        f"    default_backend {topo.entry_app}",
        "",
    ]
    http_apps = [a for a in topo.apps if any(p.scraped for p in topo.pods_of(a))]
    services = [a for a in http_apps
                if a != topo.entry_app and any(x.destination == a for x in topo.links)]
    for app in services:
        lines += [
            f"frontend svc_{app}",
            f"    bind {HOST}:{p.service(app)}",
            f"    default_backend {app}",
            "",
        ]
    for app in http_apps:
        lines += [
            f"backend {app}",
            "    balance roundrobin",
            "    option httpchk GET /healthz",
            "    http-check expect status 200",
        ]
        lines += [f"    server {pod.name} {HOST}:{pod.port} check" for pod in topo.pods_of(app)]
        lines.append("")
    return "\n".join(lines)


def prometheus_config(topo: Topology) -> dict[str, Any]:
    """Prometheus: 1 s scrape and evaluation, every component as a static target."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    paths: dict[str, str] = {}
    for target in topo.scrape_targets():
        jobs.setdefault(target.job, []).append(
            {"targets": [target.address], "labels": dict(target.labels)}
        )
        paths[target.job] = target.metrics_path
    # The shop's metrics carry their own `app` label, equal to the target's;
    # honor_labels keeps it as `app` instead of renaming it `exported_app`.
    scrape_configs: list[dict[str, Any]] = [
        {"job_name": job, "metrics_path": paths[job], "static_configs": groups}
        | ({"honor_labels": True} if job in topo.apps else {})
        for job, groups in jobs.items()
    ]
    scrape_configs.append(
        {
            "job_name": "loadgen",
            "file_sd_configs": [{"files": [str(topo.loadgen_sd_file)], "refresh_interval": "1s"}],
        }
    )
    return {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "900ms",
            "evaluation_interval": "1s",
            "external_labels": {"sandbox": "chaosgate"},
        },
        "rule_files": [str(topo.rules_file)],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"{HOST}:{topo.ports.alertmanager}"]}]}]},
        "scrape_configs": scrape_configs,
    }


#: The sandbox's alerts run at this time scale (``chaosgate slo rules --time-scale``): the
#: page alert looks at 10 s and 2 min, so it fires within a game day's fault; 1/60 would
#: give the threshold alerts 1 s windows, too short for two 1 s scrapes.
RULES_TIME_SCALE = "1/30"


def slo_rules(catalog_dir: Path, service: str = "shop") -> str:
    """The rule file Prometheus loads: the sandbox catalogue's SLOs at :data:`RULES_TIME_SCALE`
    (``service``: the system's name, Sloth's ``sloth_service`` label)."""
    from ..slo.catalog import load_catalog
    from ..slo.rules import RuleOptions, build_rules, dump_rules, parse_time_scale

    options = RuleOptions(service=service, time_scale=parse_time_scale(RULES_TIME_SCALE))
    return dump_rules(build_rules(load_catalog(catalog_dir), options),
                      f"chaosgate slo rules --catalog {catalog_dir} --time-scale "
                      f"{RULES_TIME_SCALE} (the sandbox's alerts)")


def alertmanager_config(topo: Topology) -> dict[str, Any]:
    """Alertmanager: every alert to chaosgate's receiver at once, resolutions too.

    Waits are short (1 s) so that a notification's time is close to the
    firing; grouping by alert, SLO and severity keeps page and ticket apart.
    """
    return {
        "route": {"receiver": "chaosgate", "group_by": ["alertname", "sloth_slo",
                                                         "sloth_severity"],
                  "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "chaosgate", "webhook_configs": [
            {"url": topo.alert_webhook_url, "send_resolved": True, "max_alerts": 0}]}],
    }


def patroni_config(topo: Topology, member: DbMember, pg_bin_dir: str) -> dict[str, Any]:
    """Patroni for one PostgreSQL member, reaching etcd through its fault-proxy link.

    ``use_proxies`` stops the etcd client from discovering etcd's real
    address, so a partition of the ``pgN-etcd`` link really cuts Patroni off.
    Authentication is ``trust`` on 127.0.0.1: the sandbox holds no secrets.
    """
    etcd_link = topo.link(f"{member.name}-etcd")
    return {
        "scope": topo.scope,
        "name": member.name,
        "log": {"level": "WARNING", "format": "%(asctime)s %(levelname)s: %(message)s"},
        "restapi": {
            "listen": f"{HOST}:{member.rest_port}",
            "connect_address": f"{HOST}:{member.rest_port}",
        },
        "etcd": {"host": etcd_link.listen_address, "protocol": "http", "use_proxies": True},
        "bootstrap": {
            "dcs": {
                **PATRONI_TIMING,
                "maximum_lag_on_failover": 16 * 1024 * 1024,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 5,
                        "max_replication_slots": 5,
                        "max_connections": 60,
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
            "pg_hba": [
                "local all all trust",
                f"host replication replicator {HOST}/32 trust",
                f"host all all {HOST}/32 trust",
            ],
        },
        "postgresql": {
            "listen": f"{HOST}:{member.pg_port}",
            "connect_address": f"{HOST}:{member.pg_port}",
            "data_dir": str(member.data_dir),
            "bin_dir": pg_bin_dir,
            "pgpass": str(topo.run_dir / f"pgpass-{member.name}"),
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "replicator"},
                "rewind": {"username": "postgres"},
            },
            "parameters": {
                "unix_socket_directories": str(topo.run_dir),
                "shared_buffers": "32MB",
                "max_connections": 60,
            },
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }


def _program(name: str, command: list[str], topo: Topology, **extra: str | int) -> list[str]:
    settings: dict[str, str | int] = {
        "command": shlex.join(command),
        "autostart": "true",
        "autorestart": "true",
        "startsecs": 1,
        "startretries": 1000,
        "stopasgroup": "true",
        "killasgroup": "true",
        "stopwaitsecs": 10,
        "redirect_stderr": "true",
        "stdout_logfile": str(topo.log_dir / f"{name}.log"),
        "stdout_logfile_maxbytes": "20MB",
        "stdout_logfile_backups": 1,
        "environment": 'PYTHONUNBUFFERED="1"',
    }
    settings.update(extra)
    return [f"[program:{name}]", *(f"{k}={v}" for k, v in settings.items()), ""]


def _etcd_program(topo: Topology, bins: Binaries) -> list[str]:
    s = topo.state_dir
    etcd_peer = f"http://{HOST}:{topo.ports.etcd_peer}"
    return _program(
        "etcd",
        [
            bins.etcd,
            "--name=sandbox",
            f"--data-dir={s / 'data' / 'etcd'}",
            f"--listen-client-urls={topo.etcd_url}",
            f"--advertise-client-urls={topo.etcd_url}",
            f"--listen-peer-urls={etcd_peer}",
            f"--initial-advertise-peer-urls={etcd_peer}",
            f"--initial-cluster=sandbox={etcd_peer}",
            "--enable-v2=true",
            "--log-level=warn",
        ],
        topo,
        priority=10,
    )


def _pod_command(topo: Topology, bins: Binaries, pod: Pod) -> list[str]:
    """The command line of one pod of the topology's system."""
    if topo.broker is not None and pod == topo.broker.pod:
        return [
            bins.redis_server, "--bind", HOST, "--port", str(pod.port),
            "--dir", str(topo.broker.data_dir), "--appendonly", "yes",
            "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
            "--protected-mode", "no", "--loglevel", "warning",
        ]
    if topo.system == "events":
        return [bins.python, "-m", "chaosgate.sandbox.pipeline", pod.app,
                "--port", str(pod.port), "--pod", pod.name,
                "--redis", topo.upstream_for(pod.app, "redis")]
    cmd = [
        bins.python, "-m", "chaosgate.sandbox.shop", pod.app,
        "--port", str(pod.port), "--pod", pod.name,
    ]
    if pod.app == "gateway":
        cmd += [
            "--catalog-url", f"http://{topo.upstream_for('gateway', 'catalog')}",
            "--orders-url", f"http://{topo.upstream_for('gateway', 'orders')}",
        ]
    if pod.app == "orders":
        cmd += ["--dsn", topo.database_dsn()]
    return cmd


def supervisord_conf(topo: Topology, bins: Binaries) -> str:
    """supervisord: one program per component and pod, plus the event listener.

    Priorities order the start: etcd (the shop's) and the fault proxy first,
    then the database members, HAProxy, the system's pods (the events
    system's broker among them) and Prometheus last.
    """
    s = topo.state_dir
    c = topo.conf_dir
    lines = [
        "[supervisord]",
        f"logfile={topo.log_dir / 'supervisord.log'}",
        f"pidfile={topo.run_dir / 'supervisord.pid'}",
        f"childlogdir={topo.log_dir}",
        f"directory={s}",
        "logfile_maxbytes=10MB",
        "minfds=4096",
        "",
        "[inet_http_server]",
        f"port={HOST}:{topo.ports.supervisor}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=http://{HOST}:{topo.ports.supervisor}",
        "",
    ]
    if bins.run_as_postgres:
        lines[1:1] = ["user=root"]
    if topo.db_members:
        lines += _etcd_program(topo, bins)
    lines += _program(
        "faultproxy",
        [
            bins.python, "-m", "chaosgate.sandbox.faultproxy",
            "--host", HOST, "--port", str(topo.ports.faultproxy_api),
            "--config", str(c / "faultproxy.json"),
        ],
        topo,
        priority=20,
    )
    for m in topo.db_members:
        extra: dict[str, str | int] = {"priority": 30, "stopwaitsecs": 30}
        if bins.run_as_postgres:
            extra["user"] = "postgres"
            extra["environment"] = 'PYTHONUNBUFFERED="1",HOME="/var/lib/postgresql"'
        lines += _program(m.name, [bins.patroni, str(c / f"{m.name}.yml")], topo, **extra)
    lines += _program(
        "haproxy", [bins.haproxy, "-db", "-f", str(c / "haproxy.cfg")], topo, priority=40
    )
    for pod in topo.pods:
        lines += _program(pod.name, _pod_command(topo, bins, pod), topo, priority=50)
    lines += _program(
        "prometheus",
        [
            bins.prometheus,
            f"--config.file={c / 'prometheus.yml'}",
            f"--storage.tsdb.path={s / 'data' / 'prometheus'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address={HOST}:{topo.ports.prometheus}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ],
        topo,
        priority=60,
    )
    lines += _program(
        "alertmanager",
        [
            bins.alertmanager,
            f"--config.file={c / 'alertmanager.yml'}",
            f"--storage.path={s / 'data' / 'alertmanager'}",
            f"--web.listen-address={HOST}:{topo.ports.alertmanager}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        topo,
        priority=55,
    )
    lines += [
        "[eventlistener:events]",
        "command=" + shlex.join(
            [bins.python, "-m", "chaosgate.sandbox.events", str(topo.events_file)]
        ),
        "events=PROCESS_STATE",
        "autorestart=true",
        "priority=1",
        f"stderr_logfile={topo.log_dir / 'events.log'}",
        "",
    ]
    return "\n".join(lines)


def render_all(topo: Topology, bins: Binaries, catalog_dir: Path) -> dict[Path, str]:
    """Every config file of the sandbox: path -> content (``catalog_dir``: its SLOs)."""
    c = topo.conf_dir
    files = {
        c / "supervisord.conf": supervisord_conf(topo, bins),
        c / "haproxy.cfg": haproxy_cfg(topo),
        c / "prometheus.yml": yaml.safe_dump(prometheus_config(topo), sort_keys=False),
        topo.rules_file: slo_rules(catalog_dir, topo.system),
        c / "alertmanager.yml": yaml.safe_dump(alertmanager_config(topo), sort_keys=False),
        c / "faultproxy.json": json.dumps(faultproxy_config(topo), indent=2) + "\n",
    }
    for m in topo.db_members:
        files[c / f"{m.name}.yml"] = yaml.safe_dump(
            patroni_config(topo, m, bins.pg_bin_dir), sort_keys=False
        )
    return files
