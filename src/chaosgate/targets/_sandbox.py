"""The check that a sandbox target (one with a ``sandbox:`` block) fits its sandbox.

Every sandbox address derives from ``sandbox.base_port`` through
:func:`chaosgate.sandbox.topology.build_topology`; nothing here invents a
port. The target itself is written by
:func:`chaosgate.sandbox.target.render_sandbox_target`. Pure: no I/O.
"""

from __future__ import annotations

from ..exceptions import TargetError
from ._model import Target

__all__ = ["check_sandbox_target"]


def check_sandbox_target(target: Target) -> None:
    """Refuse a sandbox target whose addresses or programs are not its sandbox's.

    The sandbox's ports all follow from ``sandbox.base_port``; a target that
    names another port (say, after ``base_port`` was edited alone) would send
    faults and queries to the wrong place, or to another sandbox. Services,
    links and members are checked like any processes target's.
    """
    if target.platform.type != "processes":
        raise TargetError(target.source, "sandbox", "a sandbox runs its pods under supervisord",
                          "remove the sandbox block, or use `platform: {type: processes}` "
                          "(re-run `chaosgate sandbox up` for a fresh target)")
    topo = target.sandbox_topology()
    base = topo.ports.base

    def mismatch(field: str, actual: object, expected: object) -> TargetError:
        return TargetError(
            target.source, field,
            f"{actual!r} is not the sandbox's (sandbox.base_port {base} gives {expected!r})",
            f"set it to {expected!r}; every sandbox address derives from sandbox.base_port "
            "(`chaosgate sandbox up --base-port N` writes a matching <state_dir>/target.yaml)",
        )

    supervisor = target.platform.supervisor
    for field, actual, expected in (
        ("prometheus.url", target.prometheus.url, topo.prometheus_url),
        ("ingress.url", target.ingress_url, topo.ingress_url),
        ("faultproxy.url", target.faultproxy_url, topo.faultproxy_url),
        ("platform.supervisor.url", supervisor.url if supervisor else None, topo.supervisor_url),
    ):
        if actual is not None and actual != expected:
            raise mismatch(field, actual, expected)
    pods = {pod.name for pod in topo.pods}
    for program in target.platform.programs:
        if program.name not in pods:
            raise TargetError(
                target.source, f"platform.programs.{program.name}",
                f"the sandbox runs no pod {program.name!r}",
                f"use one of: {', '.join(sorted(pods))}")
