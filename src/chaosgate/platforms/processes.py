"""The processes platform: pods are programs of a supervisord, links are Toxiproxy proxies.

Any supervisord reached over XML-RPC (``platform.supervisor``: URL, and
credentials by environment variable or file reference), any server that
speaks the Toxiproxy HTTP API (``faultproxy.url``: a real Toxiproxy or
chaosgate's fault proxy). The sandbox is one instance of it.

- pods: the target's ``platform.programs`` (name -> labels, readiness URL);
  alive when supervisord runs the program (RUNNING, or STARTING with a pid),
  ready when alive and its ``health`` URL answers 200 (no URL: alive is
  ready); the incarnation ``uid`` is the pid; a kill is a SIGKILL through
  supervisord, which restarts the program (``autorestart``);
- partitions and latency: :mod:`.sandbox_net`, through the Toxiproxy API;
  a link's listen address is the proxy's, from ``GET /proxies``;
- stress: :mod:`.sandbox_stress` (CPU and memory hogs, SIGSTOP/SIGCONT of the
  pid supervisord reports);
- ground truth: the fault proxy's ``/events`` (chaosgate's fault proxy; a
  real Toxiproxy has none, so link faults then have no ground-truth moment),
  and supervisord's own record of when each program last started. A
  sandbox target (one with a ``sandbox:`` block) adds what only its state
  directory holds: its event listener's ``events.jsonl``, HAProxy's and the
  pods' logs (:mod:`.groundtruth`).
"""

from __future__ import annotations

import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..clients import http
from ..clients.supervisor import ProcessInfo, SupervisorClient
from ..clients.toxiproxy import ToxiproxyClient
from ..exceptions import FaultNotEffective, Inconclusive, SandboxError, UsageError
from ..sandbox.events import read_events
from ..targets import Selector, Target
from . import groundtruth
from .base import (
    Change,
    FaultKind,
    LatencySpec,
    Moment,
    PartitionSpec,
    PodRef,
    ProbeResult,
    StressSpec,
)
from .sandbox_net import LinkActuator, listen_addresses, plan_latency, plan_partition
from .sandbox_stress import StressActuator, plan_stress

__all__ = ["SUPERVISOR_SOURCE", "ProcessesPlatform", "supervisor_client", "supervisor_moments"]

SUPERVISOR_SOURCE = "supervisord getAllProcessInfo"


def supervisor_client(target: Target, timeout: float = 10.0) -> SupervisorClient:
    """A client of the target's supervisord, its password read now (never stored)."""
    config = target.platform.supervisor
    if config is None:
        raise UsageError(f"{target.source}: platform.supervisor: the target names no "
                         "supervisord. Fix: add `supervisor: {url: http://host:9001/RPC2}`")
    return SupervisorClient(config.url, timeout=timeout, username=config.username,
                            password=config.password())


def supervisor_moments(infos: dict[str, ProcessInfo], names: set[str],
                       since: float) -> list[Moment]:
    """When supervisord last started each of ``names``, if in ``since``'s second or later.

    supervisord keeps a program's last start in whole seconds, so the moment is
    that second (the start lies within it), and a start in the second of
    ``since`` counts. Pure.
    """
    moments = []
    for name in sorted(names):
        info = infos.get(name)
        if info is not None and info.start >= math.floor(since) and info.pid > 0:
            moments.append(Moment(info.start, f"started again within this second (pid "
                                              f"{info.pid}, now {info.state})", name,
                                  SUPERVISOR_SOURCE))
    return moments


def _run_dir(target: Target) -> Path:
    """Where hogs' pid files go: the sandbox's ``run/``, else a per-user runtime folder."""
    if target.is_sandbox:
        return target.sandbox_topology().run_dir
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"chaosgate-{os.getuid()}"


class ProcessesPlatform:
    """:class:`~chaosgate.platforms.base.Platform` over a supervisord and a Toxiproxy API."""

    kind = "processes"

    def __init__(self, target: Target) -> None:
        self.target = target
        self.supervisor = supervisor_client(target)
        self.programs = {p.name: p for p in target.platform.programs}
        self._proxy = ToxiproxyClient(target.faultproxy_url) if target.faultproxy_url else None
        self._links: LinkActuator | None = None
        self.stress = StressActuator(self._pid_of)

    # -- pods -----------------------------------------------------------------
    def _processes(self) -> dict[str, ProcessInfo]:
        try:
            return {p.name: p for p in self.supervisor.processes()}
        except SandboxError as exc:
            raise Inconclusive(str(exc)) from exc

    def _pid_of(self, name: str) -> int:
        info = self._processes().get(name)
        if info is None:
            raise self._missing(name)
        return info.pid

    def _missing(self, name: str) -> UsageError:
        return UsageError(f"{self.target.source}: platform.programs.{name}: supervisord at "
                          f"{self.supervisor.url} has no program {name!r}. Fix: name the "
                          "programs as supervisord's configuration does ([program:NAME])")

    def list_pods(self, selector: Selector, namespace: str) -> list[PodRef]:
        """The programs ``selector`` selects; ready = alive and its health URL answers 200."""
        if namespace != self.target.namespace:
            return []
        programs = [p for p in self.programs.values() if selector.matches(p.labels)]
        infos = self._processes()
        for program in programs:
            if program.name not in infos:
                raise self._missing(program.name)

        def ready(url: str | None) -> bool:
            return True if url is None else http.ok(url, timeout=1.0)

        with ThreadPoolExecutor(max_workers=max(1, len(programs))) as pool:
            healthy = list(pool.map(ready, [p.health for p in programs]))
        result = []
        for program, ok in zip(programs, healthy, strict=True):
            info = infos[program.name]
            # Alive = STARTING or RUNNING with a pid: supervisord only says RUNNING
            # `startsecs` after the spawn, while the pod serves as soon as it answers
            # (what a readiness probe sees).
            alive = info.pid > 0 and info.state in ("STARTING", "RUNNING")
            result.append(PodRef(program.name, namespace, dict(program.labels), alive and ok,
                                 str(info.pid if alive else 0)))
        return sorted(result, key=lambda p: p.name)

    def kill_pod(self, pod: PodRef) -> None:
        """SIGKILL the pod's process; supervisord restarts it (``autorestart``)."""
        current = self._pid_of(pod.name)
        if str(current) != pod.uid:
            raise FaultNotEffective(f"{pod.name} is no longer pid {pod.uid} (now {current}); "
                                    "not killed")
        self.supervisor.signal(pod.name, "KILL")

    def pod_gone(self, pod: PodRef) -> bool:
        """True when supervisord no longer runs the pod as pid ``pod.uid``."""
        return str(self._pid_of(pod.name)) != pod.uid

    # -- planned changes ------------------------------------------------------
    @property
    def links(self) -> LinkActuator:
        """The link actuator over ``faultproxy.url``; UsageError when the target has none."""
        if self._links is None:
            if self._proxy is None:
                raise UsageError(f"{self.target.source}: faultproxy: the target names no "
                                 "Toxiproxy API, so its links cannot be cut or slowed. Fix: "
                                 "add `faultproxy: {url: http://host:8474}`")
            self._links = LinkActuator(self._proxy)
        return self._links

    def _listen(self) -> dict[str, str]:
        """Proxy name -> ``host:port`` its clients connect to (``GET /proxies``)."""
        return listen_addresses(self.links.client)

    def plan_partition(self, spec: PartitionSpec, fault_id: str) -> Change:
        """Links down (``both``) or one stream blackholed (``to``/``from``).

        Refused (before anything is written or touched) when a link is already
        down: its revert would otherwise heal another fault's partition.
        """
        change = plan_partition(self.target, spec, fault_id, self._listen())
        self.links.check_untouched(change)
        return change

    def plan_latency(self, spec: LatencySpec, fault_id: str) -> Change:
        """A latency toxic per link and stream."""
        return plan_latency(self.target, spec, fault_id, self._listen())

    def plan_stress(self, spec: StressSpec, pods: list[PodRef], fault_id: str) -> Change:
        """A hog next to the pods, or a freeze of them."""
        if not pods:
            raise UsageError("stress needs at least one pod")
        health = {name: p.health for name, p in self.programs.items()}
        return plan_stress(health, _run_dir(self.target), spec, pods, fault_id)

    def _actuator(self, change: Change) -> LinkActuator | StressActuator:
        if change.kind in ("partition", "latency"):
            return self.links
        if change.kind == FaultKind.STRESS:
            return self.stress
        raise UsageError(f"the processes platform does not apply {change.kind!r} changes")

    def apply(self, change: Change) -> None:
        """Make the change."""
        self._actuator(change).apply(change)

    def verify(self, change: Change) -> ProbeResult:
        """The change's active probe (see :mod:`.sandbox_net`, :mod:`.sandbox_stress`)."""
        return self._actuator(change).verify(change)

    def revert(self, change: Change) -> None:
        """Undo the change; idempotent, works from a fresh process."""
        if change.kind == FaultKind.KILL_PODS:
            return
        self._actuator(change).revert(change)

    def verify_reverted(self, change: Change) -> ProbeResult:
        """The probe that the change's effect is gone."""
        return self._actuator(change).verify_reverted(change)

    # -- ground truth ---------------------------------------------------------
    def _log(self, log_dir: Path, program: str) -> list[str]:
        try:
            return (log_dir / f"{program}.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Fault proxy events of the change's links; process starts of its pods.

        The pods (pod kill, stress) or links (partition, latency) are the
        change's ``subjects``; a network change's proxies and toxic names come
        from its data, through :mod:`.sandbox_net`.
        """
        moments: list[Moment] = []
        subjects = set(change.subjects)
        if not subjects:
            return moments
        if change.kind in (FaultKind.PARTITION, FaultKind.LATENCY):
            moments += self.links.moments(change, since)
        elif change.kind in (FaultKind.KILL_PODS, FaultKind.STRESS):
            if self.target.is_sandbox:
                topo = self.target.sandbox_topology()
                moments += groundtruth.process_moments(read_events(topo.events_file),
                                                       subjects, since)
                moments += groundtruth.haproxy_moments(self._log(topo.log_dir, "haproxy"),
                                                       subjects, since)
                for pod in sorted(subjects):
                    moments += groundtruth.serving_moments(self._log(topo.log_dir, pod), pod,
                                                           since)
            else:
                moments += supervisor_moments(self._processes(), subjects, since)
        return sorted(moments, key=lambda m: m.t)
