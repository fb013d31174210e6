"""Start, inspect and stop the embedded sandbox.

``up`` renders the configuration, starts supervisord (which starts
everything else), creates the shop's database (the events system: checks
its broker and its pipeline end to end instead), and returns only when every
component is healthy and Prometheus scrapes every target (``up == 1``). It
is idempotent: on a running sandbox it checks health, and first puts the
fault proxy's links back as the topology declares them (:meth:`restore_links`:
a link deleted through the Toxiproxy API is created again). ``status`` lists
the links too (:mod:`.links`). ``down`` shuts
supervisord down and then stops what the sandbox started that outlived it
(see :mod:`.teardown`: found by pid files, parentage and recorded identities,
never by command line); other processes naming the state directory are
reported and left running.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..clients import http, postgres
from ..clients.patroni import PatroniClient
from ..clients.prometheus import PrometheusClient
from ..clients.redis import RedisClient
from ..clients.supervisor import SupervisorClient, start_supervisord
from ..clients.toxiproxy import ToxiproxyClient
from ..exceptions import ChaosgateError, SandboxError
from ..paths import shipped
from .config import Binaries, render_all
from .events import count_restarts, read_events
from .links import LinkHolds, LinkIssue, check_links, link_state
from .shop.orders import SCHEMA_SQL
from .teardown import DownResult, LeftRunning, find_own_processes, record_processes, stop_sandbox
from .topology import HOST, Topology, build_topology

__all__ = [
    "ComponentStatus",
    "DownResult",
    "LeftRunning",
    "SandboxManager",
    "find_binaries",
    "leftover_processes",
    "temporary_sandbox",
]

PG_BIN_DIR = "/usr/lib/postgresql/15/bin"
SHOP_GRANTS = """
GRANT ALL ON TABLE orders TO shop;
GRANT USAGE, SELECT ON SEQUENCE orders_id_seq TO shop;
"""


def find_binaries(system: str = "shop") -> Binaries:
    """Locate every program the sandbox of ``system`` runs, or say which are missing."""
    wanted = {"haproxy": "haproxy", "prometheus": "prometheus",
              "prometheus-alertmanager": "prometheus-alertmanager"}
    wanted |= ({"redis-server": "redis-server"} if system == "events"
               else {"etcd": "etcd-server", "patroni": "patroni"})
    found: dict[str, str] = {}
    missing = []
    for binary, package in wanted.items():
        path = shutil.which(binary)
        if path:
            found[binary.replace("prometheus-", "").replace("-", "_")] = path
        else:
            missing.append(f"{binary} (Debian package {package})")
    if system == "shop" and not Path(PG_BIN_DIR, "postgres").exists():
        missing.append(f"{PG_BIN_DIR}/postgres (Debian package postgresql-15)")
    venv_bin = Path(sys.executable).parent
    supervisord = venv_bin / "supervisord"
    if not supervisord.exists():
        missing.append(f"{supervisord} (pip package supervisor)")
    if missing:
        raise SandboxError(
            "missing programs: " + ", ".join(missing) + ". Run scripts/bootstrap to install them."
        )
    shop = system == "shop"
    return Binaries(
        python=sys.executable,
        supervisord=str(supervisord),
        haproxy=found["haproxy"],
        prometheus=found["prometheus"],
        alertmanager=found["alertmanager"],
        etcd=found.get("etcd", ""),
        patroni=found.get("patroni", ""),
        redis_server=found.get("redis_server", ""),
        pg_bin_dir=PG_BIN_DIR if shop else "",
        run_as_postgres=shop and os.geteuid() == 0,
    )


@dataclass(frozen=True)
class ComponentStatus:
    """One line of ``chaosgate sandbox status``."""

    name: str
    kind: str  # pod | database | component | link
    state: str  # supervisord's; for a link UP, FAULT, MISSING, MOVED, DISABLED, TOXIC, UNKNOWN
    pid: int
    restarts: int
    detail: str  # role for database members, URL for components, labels for pods,
    # addresses or issues for links

    @property
    def link_wrong(self) -> bool:
        """True for a link that differs from the topology with no open fault to account for it."""
        return self.kind == "link" and self.state not in ("UP", "FAULT")


class SandboxManager:
    """Lifecycle of one sandbox, identified by its state directory."""

    def __init__(self, topo: Topology, log: Callable[[str], None] = lambda _m: None) -> None:
        if not topo.state_dir.is_absolute():  # supervisord daemonizes: paths must be absolute
            topo = build_topology(topo.state_dir.absolute(), topo.ports.base, topo.system)
        self.topo = topo
        self.log = log
        self.supervisor = SupervisorClient(topo.supervisor_url)
        self.patroni = PatroniClient(
            [f"http://{HOST}:{m.rest_port}" for m in topo.db_members]
            or [f"http://{HOST}:{topo.ports.patroni(0)}"], timeout=2  # unused without members
        )
        self.broker = (RedisClient(HOST, topo.broker.pod.port, timeout=2)
                       if topo.broker is not None else None)
        self.prometheus = PrometheusClient(topo.prometheus_url, timeout=3)
        self.faultproxy = ToxiproxyClient(topo.faultproxy_url, timeout=3)

    # -- up -------------------------------------------------------------------
    def up(self, timeout: float = 120.0, holds: LinkHolds | None = None) -> list[ComponentStatus]:
        """Start the sandbox (or check a running one); return its status when healthy.

        On the way the fault proxy's links are restored (:meth:`restore_links`
        with ``holds``, what open faults hold on them).
        """
        deadline = time.monotonic() + timeout
        if self.supervisor.alive():
            self.log("sandbox already running; checking health")
            self.supervisor.start_all()
        else:
            self._check_ports_free()
            self._prepare()
            self._start_supervisord()
        self._wait("every program RUNNING", self._all_running, deadline)
        self._wait("the fault proxy's links as the topology declares them",
                   lambda: self._links_restored(holds), deadline)
        if self.topo.db_members:
            self._wait("a Patroni leader and a streaming replica", self.patroni.healthy,
                       deadline)
            self._wait("the shop database", self._ensure_database, deadline)
        if self.broker is not None:
            self._wait("the broker (Redis) answering PING", self.broker.ping, deadline)
        self._wait(f"every {self.topo.system} pod healthy", self._pods_healthy, deadline)
        self._wait("HAProxy sees every backend UP", self._haproxy_all_up, deadline)
        if self.topo.system == "events":
            self._wait("an event accepted through the ingress and the consumer group "
                       "processing", self._event_flows, deadline)
        else:
            self._wait("a checkout through the ingress", self._checkout_works, deadline)
        self._wait("Prometheus scraping every target (up == 1)", self._prometheus_all_up, deadline)
        self._wait("Prometheus evaluating the SLO rules, Alertmanager ready",
                   self._alerting_ready, deadline)
        # so that `down` finds them even if supervisord dies before it
        record_processes(self.topo, self.supervisor)
        return self.status(holds)

    def _check_ports_free(self) -> None:
        p = self.topo.ports
        busy = []
        for port in range(p.base, p.highest + 1):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((HOST, port))
                except OSError:
                    busy.append(port)
        if busy:
            raise SandboxError(
                f"ports {busy} on {HOST} are in use and the sandbox at {self.topo.state_dir} "
                "is not running. If a killed sandbox left them behind, `chaosgate sandbox "
                "down` stops what it started; otherwise stop what holds them or choose "
                "another --base-port."
            )

    def _prepare(self) -> None:
        t = self.topo
        for d in (t.conf_dir, t.log_dir, t.run_dir, t.state_dir / "data"):
            d.mkdir(parents=True, exist_ok=True)
        bins = find_binaries(t.system)
        if t.broker is not None:
            t.broker.data_dir.mkdir(parents=True, exist_ok=True)
        for path, text in render_all(t, bins, shipped("probes", t.system)).items():
            path.write_text(text)
        t.loadgen_sd_file.write_text("[]\n")
        if bins.run_as_postgres:
            pg = pwd.getpwnam("postgres")
            # PostgreSQL runs as "postgres": it owns its data, sockets and pgpass,
            # and must be able to reach them through every parent directory.
            for m in t.db_members:
                m.data_dir.parent.mkdir(parents=True, exist_ok=True)
            for d in (t.run_dir, t.state_dir / "data"):
                os.chown(d, pg.pw_uid, pg.pw_gid)
            for m in t.db_members:
                if m.data_dir.exists():
                    os.chown(m.data_dir, pg.pw_uid, pg.pw_gid)
            for parent in [t.state_dir, *t.state_dir.parents]:
                if parent.stat().st_mode & 0o001 == 0:
                    raise SandboxError(
                        f"{parent} is not searchable by the postgres user; "
                        "choose a --state-dir under a world-searchable directory"
                    )

    def _start_supervisord(self) -> None:
        conf = self.topo.conf_dir / "supervisord.conf"
        supervisord = str(Path(sys.executable).parent / "supervisord")
        self.log(f"starting supervisord ({conf})")
        # supervisord daemonizes: the sandbox outlives this command.
        start_supervisord(supervisord, conf)
        self._wait("supervisord", self.supervisor.alive, time.monotonic() + 15)

    def _links_restored(self, holds: LinkHolds | None) -> bool:
        for issue in self.restore_links(holds):
            self.log(f"restored {issue.describe()}")
        return True

    def _wait(self, what: str, check: Callable[[], bool], deadline: float) -> None:
        self.log(f"waiting for {what}")
        last_error = ""
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception as exc:  # a component still starting may fail in any way
                last_error = f" (last error: {exc})"
            time.sleep(0.25)
        raise SandboxError(
            f"timed out waiting for {what}{last_error}; logs are in {self.topo.log_dir}"
        )

    def _all_running(self) -> bool:
        infos = self.supervisor.processes()
        fatal = [i.name for i in infos if i.state in ("FATAL", "EXITED", "STOPPED")]
        if fatal:
            self.supervisor.start_all()
        return all(i.running for i in infos)

    def _ensure_database(self) -> bool:
        leader = self.patroni.leader()
        if leader is None:
            return False
        port = next(m.pg_port for m in self.topo.db_members if m.name == leader.name)
        conninfo = f"host={HOST} port={port} dbname=postgres user=postgres connect_timeout=2"
        postgres.ensure_role_and_database(conninfo, "shop", "shop")
        postgres.execute(conninfo.replace("dbname=postgres", "dbname=shop"),
                         [SCHEMA_SQL, SHOP_GRANTS])
        return True

    def _pods_healthy(self) -> bool:
        return all(http.healthy(HOST, pod.port, timeout=2.0)
                   for pod in self.topo.pods if pod.health_path is not None)

    def haproxy_servers(self) -> dict[str, str]:
        """``backend/server`` -> status (UP, DOWN, ...) from HAProxy's stats CSV."""
        return http.haproxy_server_status(f"http://{HOST}:{self.topo.ports.haproxy_stats}/stats")

    def _haproxy_all_up(self) -> bool:
        servers = self.haproxy_servers()
        http_pods = [p for p in self.topo.pods if p.health_path is not None]
        return len(servers) == len(http_pods) and all(
            s == "UP" for s in servers.values()
        )

    def _checkout_works(self) -> bool:
        return http.post_status(f"{self.topo.ingress_url}/api/checkout",
                                {"items": [{"product_id": 1, "qty": 1}], "client_seq": 0},
                                timeout=5.0) == 201

    def _event_flows(self) -> bool:
        """The consumers have created their group, then an event is accepted (202) and
        processed (the group's backlog back to 0)."""
        broker = self.topo.broker
        assert self.broker is not None and broker is not None
        if self.broker.group_lag(broker.stream, broker.group) is None:
            return False  # no consumer has created the group yet
        if http.post_status(f"{self.topo.ingress_url}/events", {"kind": "sandbox-up"},
                            timeout=5.0) != 202:
            return False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.broker.group_lag(broker.stream, broker.group) == 0:
                return True
            time.sleep(0.1)
        return False

    def _alerting_ready(self) -> bool:
        """Prometheus has loaded the rule file and sends to an Alertmanager that is ready."""
        return (bool(self.prometheus.rule_groups()) and bool(self.prometheus.alertmanagers())
                and http.healthy(HOST, self.topo.ports.alertmanager, path="/-/ready"))

    def _prometheus_all_up(self) -> bool:
        expected = {t.address for t in self.topo.scrape_targets()}
        samples = self.prometheus.query("up")
        seen = {s.labels.get("instance", "") for s in samples if s.value == 1}
        return expected <= seen

    # -- links ----------------------------------------------------------------
    def link_issues(self, holds: LinkHolds | None = None) -> list[LinkIssue]:
        """How the fault proxy's links differ from the topology (:func:`.links.check_links`)."""
        return check_links(self.topo.links, self.faultproxy.proxies(), holds or LinkHolds())

    def restore_links(self, holds: LinkHolds | None = None) -> list[LinkIssue]:
        """Put the links back as the topology declares them; return the issues put right.

        A deleted link is created again (the topology's listen and upstream,
        enabled), a link listening or forwarding elsewhere gets the topology's
        addresses back. With ``holds`` (what the open ledger faults hold), a
        disabled link is enabled and a toxic removed too, unless an open fault
        holds it: that one is its owner's, or ``chaosgate cleanup``'s, to
        revert. Without ``holds`` (nothing is known of open faults) disabled
        links and toxics are left alone. Raises :class:`SandboxError` naming
        every link still wrong, and why.
        """
        issues = [i for i in self.link_issues(holds) if i.wrong]
        if holds is None:
            issues = [i for i in issues if i.kind in ("missing", "moved")]
        fixed: list[LinkIssue] = []
        errors: list[str] = []
        moved: set[str] = set()
        for issue in issues:
            link = self.topo.link(issue.link)
            try:
                if issue.kind == "missing":
                    self.faultproxy.create_proxy(link.name, link.listen_address,
                                                 link.upstream_address)
                elif issue.kind == "moved" and link.name not in moved:
                    moved.add(link.name)
                    self.faultproxy.move_proxy(link.name, link.listen_address,
                                               link.upstream_address)
                elif issue.kind == "disabled":
                    self.faultproxy.set_enabled(link.name, True)
                elif issue.kind == "toxic":
                    self.faultproxy.remove_toxic(link.name, issue.toxic)
            except ChaosgateError as exc:
                errors.append(f"{issue.describe()}: {exc}")
                continue
            fixed.append(issue)
        left = [i for i in self.link_issues(holds)
                if i.wrong and (holds is not None or i.kind in ("missing", "moved"))]
        if left:
            raise SandboxError(
                "the fault proxy's links differ from the topology: "
                + "; ".join(errors or [i.describe() for i in left])
                + ". Fix: stop what holds a port named above, then run `chaosgate sandbox up` "
                f"again (the fault proxy's log: {self.topo.log_dir / 'faultproxy.log'})"
            )
        return fixed

    # -- status ---------------------------------------------------------------
    def running(self) -> bool:
        """True when this sandbox's supervisord answers."""
        return self.supervisor.alive()

    def status(self, holds: LinkHolds | None = None) -> list[ComponentStatus]:
        """Every pod, database member and component with state, pid and restarts, and
        every link of the fault proxy with its issues (``holds``: what open faults hold)."""
        if not self.supervisor.alive():
            raise SandboxError(f"the sandbox at {self.topo.state_dir} is not running")
        restarts = count_restarts(read_events(self.topo.events_file))
        try:
            roles = {m.name: f"{m.role} ({m.state}, timeline {m.timeline})"
                     for m in self.patroni.cluster()}
        except SandboxError:
            roles = {}
        pods = {p.name: p for p in self.topo.pods}
        members = {m.name for m in self.topo.db_members}
        urls = {
            "haproxy": f"{self.topo.ingress_url} (stats :{self.topo.ports.haproxy_stats}/stats)",
            "prometheus": self.topo.prometheus_url,
            "faultproxy": self.topo.faultproxy_url,
            "etcd": self.topo.etcd_url,
            "alertmanager": f"{self.topo.alertmanager_url} (to {self.topo.alert_webhook_url})",
        }
        rows = []
        for info in self.supervisor.processes():
            if info.name in pods:
                pod = pods[info.name]
                kind = "pod"
                detail = ",".join(f"{k}={v}" for k, v in pod.labels.items())
                detail += f"  {'http' if pod.health_path else 'tcp'}://{HOST}:{pod.port}"
            elif info.name in members:
                kind, detail = "database", roles.get(info.name, "unknown")
            elif info.name == "events":
                continue
            else:
                kind, detail = "component", urls.get(info.name, "")
            rows.append(ComponentStatus(info.name, kind, info.state, info.pid,
                                        restarts.get(info.name, 0), detail))
        order = {"component": 0, "database": 1, "pod": 2}
        return sorted(rows, key=lambda r: (order[r.kind], r.name)) + self._link_rows(holds)

    def _link_rows(self, holds: LinkHolds | None) -> list[ComponentStatus]:
        try:
            issues = self.link_issues(holds)
        except ChaosgateError as exc:  # the fault proxy down: the links cannot be known
            return [ComponentStatus(link.name, "link", "UNKNOWN", 0, 0, str(exc))
                    for link in self.topo.links]
        rows = []
        for link in self.topo.links:
            state, detail = link_state(link, issues)
            rows.append(ComponentStatus(link.name, "link", state, 0, 0, detail))
        return rows

    # -- down -----------------------------------------------------------------
    def down(self, timeout: float = 60.0) -> DownResult:
        """Stop what this sandbox started, and only that.

        supervisord is shut down (it stops its programs); whatever the
        sandbox started and outlived it (a postmaster whose Patroni died, a
        stuck program) gets SIGTERM (SIGINT for a postmaster), then SIGKILL.
        Processes that only name the state directory are reported in
        ``not_ours`` and logged, never signalled.
        """
        return stop_sandbox(self.topo, self.supervisor, self.log, timeout)


def leftover_processes(topo: Topology) -> list[int]:
    """Pids of this sandbox's own processes still alive (should be none after ``down``).

    Only processes proven to be the sandbox's (supervisord and its
    descendants, its nodes' postmasters, recorded identities) count, not
    every process that names the state directory.
    """
    if not topo.state_dir.is_absolute():
        topo = build_topology(topo.state_dir.absolute(), topo.ports.base, topo.system)
    owned, _ = find_own_processes(topo, SupervisorClient(topo.supervisor_url, timeout=5))
    return sorted(i.pid for i in owned)


@contextmanager
def temporary_sandbox(base_port: int, *, prefix: str = "chaosgate-sandbox-",
                      log: Callable[[str], None] = print, timeout: float = 300,
                      keep_logs: Path | None = None,
                      system: str = "shop") -> Iterator[SandboxManager]:
    """A sandbox of its own, healthy, in a fresh temporary state folder (for tests and
    benchmarks); at the end brought down, its component logs copied to ``keep_logs``,
    the folder removed. SandboxError names any of its processes still alive after
    ``down`` (the folder is kept then, for a post-mortem)."""
    state = Path(tempfile.mkdtemp(prefix=prefix))
    state.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
    manager = SandboxManager(build_topology(state, base_port, system), log=log)
    try:
        manager.up(timeout=timeout)
        yield manager
    finally:
        manager.down()
        left = leftover_processes(manager.topo)
        if keep_logs is not None:
            shutil.rmtree(keep_logs, ignore_errors=True)
            if manager.topo.log_dir.exists():
                shutil.copytree(manager.topo.log_dir, keep_logs)
        if left:
            raise SandboxError(f"sandbox processes left behind: {left} (state folder kept: "
                               f"{state})")
        shutil.rmtree(state, ignore_errors=True)
