"""The sandbox as a target document of the generic ``processes`` platform.

:func:`render_sandbox_target` is driven only by :class:`~.topology.Topology`
fields (its pods with their labels and ports, links, database members,
addresses, state directory, base port and system), so it describes any
system the sandbox runs. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from ..targets import DEFAULT_LIMITS, LIMIT_UNITS
from ..targets._model import API_VERSION, KIND
from .topology import HOST, Pod, Topology

__all__ = ["SANDBOX_FAIL_WITHIN", "SANDBOX_SCRAPE_INTERVAL", "render_sandbox_target"]

SANDBOX_SCRAPE_INTERVAL = "1s"  # what sandbox/config.py gives Prometheus
#: The shop's front door's upstream timeout (shop/gateway.py TOTAL_TIMEOUT): a request
#: held by a stalled upstream fails at most that long after the stall began.
SANDBOX_FAIL_WITHIN = "3s"

#: How each system's acknowledged writes are read back after a failover (the recovery
#: point check): the query on the primary, straight to PostgreSQL (not through links).
_RECOVERY_QUERIES = {
    "shop": "SELECT client_seq, id FROM orders WHERE client_seq = ANY(%(seqs)s) "
            "AND created_at >= to_timestamp(%(since)s) ORDER BY id",
}
_DATABASES = {"shop": "shop"}


def _program(pod: Pod) -> dict[str, Any]:
    """A pod as a program: its labels, and its readiness URL when it has an HTTP probe
    (a broker has none: ready when supervisord runs it)."""
    program: dict[str, Any] = {"labels": dict(pod.labels)}
    if pod.health_url is not None:
        program["health"] = pod.health_url
    return program


def _services(topology: Topology) -> dict[str, dict[str, Any]]:
    """One service per ``app`` label of the pods, in the pods' order."""
    apps: dict[str, int] = {}
    for pod in topology.pods:
        app = pod.labels.get("app", pod.app)
        apps[app] = apps.get(app, 0) + 1
    return {app: {"selector": f"app={app}", "replicas": n} for app, n in apps.items()}


def _dependencies(topology: Topology, services: set[str],
                  members: set[str]) -> dict[str, list[str]]:
    """Link destinations that are not services: the database members together as
    ``postgres``, any other (``etcd``, a broker) under its own name."""
    found: dict[str, list[str]] = {}
    for link in topology.links:
        if link.destination in services:
            continue
        name = "postgres" if link.destination in members else link.destination
        found.setdefault(name, []).append(link.name)
    return found


def _database(topology: Topology) -> dict[str, Any]:
    """The ``database:`` block: Patroni members by REST URL, crashed through their programs."""
    block: dict[str, Any] = {
        "type": "patroni",
        "scope": topology.scope,
        "etcd_url": topology.etcd_url,
        "members": [
            {"name": m.name, "patroni_url": f"http://{HOST}:{m.rest_port}",
             "programs": [m.name], "data_dir": str(m.data_dir)}
            for m in topology.db_members
        ],
    }
    query = _RECOVERY_QUERIES.get(topology.system)
    if query is not None:
        members = topology.db_members
        dsn = (f"host={','.join(HOST for _ in members)} "
               f"port={','.join(str(m.pg_port) for m in members)} "
               f"dbname={_DATABASES[topology.system]} user=postgres "
               "target_session_attrs=read-write connect_timeout=3")
        block["recovery_point"] = {"dsn": dsn, "query": query}
    return block


def render_sandbox_target(topology: Topology) -> dict[str, Any]:
    """The target document (schema chaosgate/v1, platform ``processes``) of ``topology``.

    Plain data, ready for :func:`chaosgate.targets.dump_target` or
    :func:`chaosgate.targets.parse_target`; ``targets/sandbox.yaml`` is this
    document for the default base port.
    """
    members = {m.name for m in topology.db_members}
    namespace = topology.system
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        # the shop's runs and the events system's are kept apart in the run history
        "name": "sandbox" if topology.system == "shop" else f"sandbox-{topology.system}",
        "platform": {
            "type": "processes",
            "supervisor": {"url": topology.supervisor_url},
            "programs": {pod.name: _program(pod) for pod in topology.pods},
        },
        "sandbox": {
            "state_dir": str(topology.state_dir),
            "base_port": topology.ports.base,
            "system": topology.system,
        },
        "prometheus": {"url": topology.prometheus_url,
                       "scrape_interval": SANDBOX_SCRAPE_INTERVAL,
                       "fail_within": SANDBOX_FAIL_WITHIN},
        "ingress": {"url": topology.ingress_url},
        "namespace": namespace,
        "services": _services(topology),
        "faultproxy": {"url": topology.faultproxy_url},
        "links": [
            {"name": link.name, "from": link.source, "to": link.destination}
            for link in topology.links
        ],
    }
    dependencies = _dependencies(topology, set(doc["services"]), members)
    if dependencies:
        doc["dependencies"] = {name: {"links": links} for name, links in dependencies.items()}
    if topology.db_members:
        doc["database"] = _database(topology)
    doc["safety"] = {
        "namespaces": [namespace],
        "max_pods_per_fault": 1,
        "max_percent_per_fault": topology.max_percent_per_fault,
        "min_ready_replicas": topology.min_ready_replicas,
        "dry_run": False,
        **_default_limits(),
    }
    return doc


def _default_limits() -> dict[str, str | int | float]:
    """The parameter limits' defaults, as a target file writes them (``1h``, ``60000``)."""
    limits: dict[str, str | int | float] = {}
    for key, unit in LIMIT_UNITS.items():
        value = getattr(DEFAULT_LIMITS, key)
        limits[key] = DEFAULT_LIMITS.display(key) if unit == "s" else \
            int(value) if float(value).is_integer() else value
    return limits
