"""The sandbox platform: pods are supervised programs, links are fault proxy proxies.

- pods: listed from supervisord (:mod:`chaosgate.clients.supervisor`), ready
  when RUNNING and answering ``/healthz``; the incarnation ``uid`` is the pid;
  a kill is a SIGKILL, after which supervisord restarts the program;
- partitions and latency: :mod:`.sandbox_net`, through the fault proxy's
  Toxiproxy API (:mod:`.toxiproxy`);
- stress: :mod:`.sandbox_stress` (CPU and memory hogs, SIGSTOP/SIGCONT);
- ground truth: supervisord's ``events.jsonl`` and the fault proxy's
  ``/events`` (:mod:`.groundtruth`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..clients import http
from ..clients.supervisor import ProcessInfo, SupervisorClient
from ..clients.toxiproxy import ToxiproxyClient
from ..exceptions import FaultNotEffective, Inconclusive, SandboxError, UsageError
from ..sandbox.events import read_events
from ..sandbox.topology import HOST, Pod, Topology
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
from .sandbox_net import LinkActuator, plan_latency, plan_partition, toxic_names
from .sandbox_stress import StressActuator, plan_stress

__all__ = ["SandboxPlatform"]


class SandboxPlatform:
    """:class:`~chaosgate.platforms.base.Platform` on the embedded sandbox."""

    kind = "sandbox"

    def __init__(self, target: Target) -> None:
        self.target = target
        self.topo: Topology = target.sandbox_topology()
        self.supervisor = SupervisorClient(self.topo.supervisor_url, timeout=10)
        self.proxy = ToxiproxyClient(target.faultproxy_url or self.topo.faultproxy_url)
        self.links = LinkActuator(self.proxy)
        self.stress = StressActuator(self._pid_of)

    # -- pods -----------------------------------------------------------------
    def _processes(self) -> dict[str, ProcessInfo]:
        try:
            return {p.name: p for p in self.supervisor.processes()}
        except SandboxError as exc:
            raise Inconclusive(f"{exc}. Is the sandbox up? (`chaosgate sandbox up`)") from exc

    def _pid_of(self, name: str) -> int:
        return self._processes()[name].pid

    def list_pods(self, selector: Selector, namespace: str) -> list[PodRef]:
        """The sandbox pods ``selector`` selects; ready = alive and /healthz answers 200."""
        if namespace != self.target.namespace:
            return []
        pods = [p for p in self.topo.pods if selector.matches(p.labels)]
        infos = self._processes()

        def ready(pod: Pod) -> bool:  # a pod with no HTTP probe (a broker): ready = alive
            return pod.health_path is None or http.healthy(HOST, pod.port, timeout=1.0)

        with ThreadPoolExecutor(max_workers=max(1, len(pods))) as pool:
            healthy = list(pool.map(ready, pods))
        result = []
        for pod, ok in zip(pods, healthy, strict=True):
            info = infos.get(pod.name)
            # Alive = STARTING or RUNNING with a pid: supervisord only says RUNNING
            # `startsecs` after the spawn, while the pod serves as soon as /healthz
            # answers (what a readiness probe sees).
            alive = info is not None and info.pid > 0 and info.state in ("STARTING", "RUNNING")
            result.append(PodRef(pod.name, namespace, dict(pod.labels), alive and ok,
                                 str(info.pid if info and alive else 0)))
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
    def _listen(self) -> dict[str, str]:
        return {link.name: link.listen_address for link in self.topo.links}

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
        return plan_stress(self.topo, spec, pods, fault_id)

    def _actuator(self, change: Change) -> LinkActuator | StressActuator:
        if change.kind in ("partition", "latency"):
            return self.links
        if change.kind == FaultKind.STRESS:
            return self.stress
        raise UsageError(f"the sandbox platform does not apply {change.kind!r} changes")

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
    def _log(self, program: str) -> list[str]:
        try:
            return (self.topo.log_dir / f"{program}.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Process events of the change's pods, fault proxy events of its links.

        The pods (pod kill, stress) or links (partition, latency) are the
        change's ``subjects``; only a network change's toxic names come from
        its data, through :func:`.sandbox_net.toxic_names`.
        """
        moments: list[Moment] = []
        subjects = set(change.subjects)
        if not subjects:
            return moments
        if change.kind in (FaultKind.PARTITION, FaultKind.LATENCY):
            moments += groundtruth.proxy_moments(self.proxy.events(), subjects, since,
                                                 toxic_names(change))
        elif change.kind in (FaultKind.KILL_PODS, FaultKind.STRESS):
            moments += groundtruth.process_moments(read_events(self.topo.events_file),
                                                   subjects, since)
            moments += groundtruth.haproxy_moments(self._log("haproxy"), subjects, since)
            for pod in sorted(subjects):
                moments += groundtruth.serving_moments(self._log(pod), pod, since)
        return sorted(moments, key=lambda m: m.t)
