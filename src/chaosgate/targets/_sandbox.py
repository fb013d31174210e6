"""The sandbox as a target document, and the check that a sandbox target fits.

Every sandbox address derives from ``platform.base_port`` through
:func:`chaosgate.sandbox.topology.build_topology`; nothing here invents a
port. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import TargetError
from ..sandbox.topology import HOST, Topology
from ._model import API_VERSION, DEFAULT_LIMITS, KIND, LIMIT_UNITS, Target

__all__ = ["SANDBOX_NAMESPACE", "check_sandbox_target", "render_sandbox_target"]

#: The namespace the shop's pods nominally live in (another system's: its name).
SANDBOX_NAMESPACE = "shop"
SANDBOX_SCRAPE_INTERVAL = "1s"  # what sandbox/config.py gives Prometheus
#: The gateway's upstream timeout (shop/gateway.py TOTAL_TIMEOUT): a request held
#: by a stalled catalog or orders fails at most that long after the stall began.
SANDBOX_FAIL_WITHIN = "3s"


def render_sandbox_target(topology: Topology) -> dict[str, Any]:
    """The target document (schema chaosgate/v1) that describes ``topology``.

    Plain data, ready for :func:`chaosgate.targets.dump_target` or
    :func:`chaosgate.targets.parse_target`; ``targets/sandbox.yaml`` is this
    document for the default base port.
    """
    members = {m.name for m in topology.db_members}
    namespace = topology.system
    dependencies: dict[str, dict[str, list[str]]] = {}
    for link in topology.links:  # links to what is not a service: members together as postgres
        if link.destination not in topology.apps:
            name = "postgres" if link.destination in members else link.destination
            dependencies.setdefault(name, {"links": []})["links"].append(link.name)
    platform: dict[str, Any] = {
        "type": "sandbox",
        "state_dir": str(topology.state_dir),
        "base_port": topology.ports.base,
    }
    if topology.system != "shop":
        platform["system"] = topology.system
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": "sandbox" if topology.system == "shop" else f"sandbox-{topology.system}",
        "platform": platform,
        "prometheus": {"url": topology.prometheus_url,
                       "scrape_interval": SANDBOX_SCRAPE_INTERVAL,
                       "fail_within": SANDBOX_FAIL_WITHIN},
        "ingress": {"url": topology.ingress_url},
        "namespace": namespace,
        "services": {
            app: {"selector": f"app={app}", "replicas": len(topology.pods_of(app))}
            for app in topology.apps
        },
        "faultproxy": {"url": topology.faultproxy_url},
        "links": [
            {"name": link.name, "from": link.source, "to": link.destination}
            for link in topology.links
        ],
        "dependencies": dependencies,
        "database": {
            "type": "patroni",
            "scope": topology.scope,
            "members": [
                {"name": m.name, "patroni_url": f"http://{HOST}:{m.rest_port}"}
                for m in topology.db_members
            ],
        },
        "safety": {
            "namespaces": [namespace],
            "max_pods_per_fault": 1,
            "max_percent_per_fault": topology.max_percent_per_fault,
            "min_ready_replicas": topology.min_ready_replicas,
            "dry_run": False,
            **_default_limits(),
        },
    }
    if not topology.db_members:
        del document["database"]
    if not dependencies:
        del document["dependencies"]
    return document


def _default_limits() -> dict[str, str | int | float]:
    """The parameter limits' defaults, as a target file writes them (``1h``, ``60000``)."""
    limits: dict[str, str | int | float] = {}
    for key, unit in LIMIT_UNITS.items():
        value = getattr(DEFAULT_LIMITS, key)
        limits[key] = DEFAULT_LIMITS.display(key) if unit == "s" else \
            int(value) if float(value).is_integer() else value
    return limits


def check_sandbox_target(target: Target) -> None:
    """Refuse a sandbox target whose addresses, links or members are not the sandbox's.

    The sandbox's ports all follow from ``platform.base_port``; a target that
    names another port (say, after ``base_port`` was edited alone) would send
    faults and queries to the wrong place, or to another sandbox.
    """
    topo = target.sandbox_topology()
    base = topo.ports.base

    def mismatch(field: str, actual: object, expected: object) -> TargetError:
        return TargetError(
            target.source, field,
            f"{actual!r} is not the sandbox's (base_port {base} gives {expected!r})",
            f"set it to {expected!r}; every sandbox address derives from platform.base_port "
            "(`chaosgate sandbox up --base-port N` writes a matching <state_dir>/target.yaml)",
        )

    for field, actual, expected in (
        ("prometheus.url", target.prometheus.url, topo.prometheus_url),
        ("ingress.url", target.ingress_url, topo.ingress_url),
        ("faultproxy.url", target.faultproxy_url, topo.faultproxy_url),
    ):
        if actual is not None and actual != expected:
            raise mismatch(field, actual, expected)
    for service in target.services:
        if not any(service.selector.matches(pod.labels) for pod in topo.pods):
            raise TargetError(
                target.source, f"services.{service.name}.selector",
                f"{str(service.selector)!r} selects no sandbox pod",
                f"select one of the sandbox's apps: app={', app='.join(topo.apps)}",
            )
    sandbox_links = {link.name: link for link in topo.links}
    for i, link in enumerate(target.links):
        real = sandbox_links.get(link.name)
        if real is None:
            raise TargetError(
                target.source, f"links[{i}].name", f"the sandbox has no link {link.name!r}",
                f"use one of: {', '.join(sandbox_links)}",
            )
        for key, actual, expected in (("from", link.source, real.source),
                                      ("to", link.destination, real.destination)):
            if actual != expected:
                raise TargetError(
                    target.source, f"links[{i}].{key}",
                    f"the sandbox's link {link.name!r} goes {key} {expected!r}, not {actual!r}",
                    f"write `{key}: {expected}`",
                )
    if target.database is None:
        return
    if target.database.type != "patroni":
        raise TargetError(target.source, "database.type", "the sandbox's database is Patroni",
                          "write `type: patroni`")
    real_members = {m.name: f"http://{HOST}:{m.rest_port}" for m in topo.db_members}
    for i, member in enumerate(target.database.members):
        if member.name not in real_members:
            raise TargetError(
                target.source, f"database.members[{i}].name",
                f"the sandbox has no member {member.name!r}",
                f"use one of: {', '.join(real_members)}",
            )
        if member.patroni_url != real_members[member.name]:
            raise mismatch(f"database.members[{i}].patroni_url", member.patroni_url,
                           real_members[member.name])
