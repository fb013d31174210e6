"""Resource exhaustion on the sandbox: CPU hog, memory hog, freeze.

A sandbox pod is one process, so:

- ``cpu``: the pod is pinned to one CPU and a hog (:mod:`.hog`) of
  ``cpu_workers`` busy loops is pinned to the same CPU, as a noisy neighbour
  inside a container's CPU share would be; revert kills the hog and restores
  the pod's CPU affinity;
- ``memory``: a hog allocates and touches ``memory_mb`` MiB (host memory
  pressure; sandbox pods have no memory limit of their own);
- ``freeze``: SIGSTOP of the pod's pid; revert sends SIGCONT. A watchdog hog
  thaws it by itself after ``duration_s`` should chaosgate die.

The change records the pids, the original affinity and the hog marker, so
a fresh process can revert it. Hogs carry the sandbox state directory in
their command line, so ``sandbox down`` sweeps any that are left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from ..clients import http
from ..exceptions import FaultNotEffective
from ..sandbox.topology import HOST, Topology
from .base import Change, FaultKind, PodRef, ProbeResult, StressSpec
from .hog import find_hogs, hog_command

__all__ = ["StressActuator", "plan_stress"]

DEFAULT_MAX_SECONDS = 3600.0


def plan_stress(topo: Topology, spec: StressSpec, pods: list[PodRef], fault_id: str) -> Change:
    """The change that stresses ``pods`` (reads their CPU affinity; changes nothing)."""
    ports = {p.name: p.port for p in topo.pods}
    entries: list[dict[str, Any]] = []
    affinities: list[list[int]] = []
    for pod in pods:
        pid = int(pod.uid)
        try:
            affinity = sorted(os.sched_getaffinity(pid))
        except OSError:
            affinity = []
        affinities.append(affinity)
        entries.append({"name": pod.name, "pid": pid, "port": ports[pod.name],
                        "affinity": affinity})
    cores = affinities[0] if affinities and affinities[0] else [0]
    what = {"cpu": f"{spec.cpu_workers} busy loop(s) on the pod's CPU",
            "memory": f"a {spec.memory_mb} MiB memory hog", "freeze": "SIGSTOP"}[spec.mode]
    names = ", ".join(e["name"] for e in entries)
    return Change(FaultKind.STRESS, "sandbox", fault_id, f"stress {names}: {what}", {
        "mode": spec.mode, "pods": entries, "cpu_workers": spec.cpu_workers,
        "memory_mb": spec.memory_mb, "core": cores[-1], "marker": f"chaosgate-hog-{fault_id}",
        "max_seconds": spec.duration_s or DEFAULT_MAX_SECONDS,
        "tag": str(topo.state_dir.resolve()),
    })


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _healthz(port: int, timeout: float = 1.0) -> bool:
    return http.healthy(HOST, port, timeout=timeout)


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class StressActuator:
    """Applies, verifies and reverts stress changes on sandbox pods."""

    def __init__(self, current_pid: Any) -> None:
        # current_pid(name) -> the pod's pid now (supervisord's view)
        self._current_pid = current_pid
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def apply(self, change: Change) -> None:
        """Start the hog (or freeze the pods and start the watchdog)."""
        data = change.data
        pods = list(data["pods"])
        for pod in pods:
            if self._current_pid(pod["name"]) != pod["pid"]:
                raise FaultNotEffective(f"{pod['name']} restarted since it was selected "
                                        f"(pid {pod['pid']} is gone); nothing was stressed")
        kwargs: dict[str, Any] = {}
        if data["mode"] == "cpu":
            for pod in pods:
                os.sched_setaffinity(pod["pid"], {data["core"]})
            kwargs = {"cpu": data["cpu_workers"], "core": data["core"]}
        elif data["mode"] == "memory":
            kwargs = {"memory_mb": data["memory_mb"]}
        else:
            for pod in pods:
                os.kill(pod["pid"], signal.SIGSTOP)
            kwargs = {"cont_pids": tuple(p["pid"] for p in pods)}
        cmd = hog_command(data["marker"], data["tag"], data["max_seconds"], **kwargs)
        self._children[change.fault_id] = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def verify(self, change: Change) -> ProbeResult:
        """cpu: the hog burns CPU; memory: it holds the memory; freeze: the pod answers nothing."""
        data = change.data
        hogs = find_hogs(data["marker"])
        if data["mode"] == "freeze":
            stopped = [p["name"] for p in data["pods"] if _state(p["pid"]) == "T"]
            silent = [p["name"] for p in data["pods"] if not _healthz(p["port"])]
            ok = len(stopped) == len(silent) == len(data["pods"])
            return ProbeResult(ok, f"stopped: {stopped or 'none'}; /healthz unanswered: "
                                   f"{silent or 'none'}")
        if not hogs:
            return ProbeResult(False, "the hog is not running")
        if data["mode"] == "cpu":
            before = _cpu_seconds(hogs)
            time.sleep(1.0)
            used = _cpu_seconds(find_hogs(data["marker"])) - before
            return ProbeResult(used >= 0.3, f"hog used {used:.2f} CPU-s in 1 s on CPU "
                                            f"{data['core']}")
        rss = max(_rss_mb(pid) for pid in hogs)
        return ProbeResult(rss >= 0.9 * data["memory_mb"],
                           f"hog holds {rss:.0f} MiB of {data['memory_mb']} MiB")

    def revert(self, change: Change) -> None:
        """Kill the hog, thaw frozen pods, restore CPU affinity. Idempotent."""
        data = change.data
        for pid in find_hogs(data["marker"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child = self._children.pop(change.fault_id, None)
        if child is not None:
            child.wait(timeout=10)
        for pod in data["pods"]:
            try:
                if data["mode"] == "freeze":
                    os.kill(pod["pid"], signal.SIGCONT)
                elif data["mode"] == "cpu" and pod["affinity"]:
                    os.sched_setaffinity(pod["pid"], set(pod["affinity"]))
            except ProcessLookupError:
                pass

    def verify_reverted(self, change: Change) -> ProbeResult:
        """No hog left, no pod stopped, every pod answers /healthz."""
        data: Mapping[str, Any] = change.data
        problems = []
        if find_hogs(data["marker"]):
            problems.append("the hog is still running")
        for pod in data["pods"]:
            if _state(pod["pid"]) == "T":
                problems.append(f"{pod['name']} is still stopped")
            if not _healthz(pod["port"]):
                problems.append(f"{pod['name']} does not answer /healthz")
        return ProbeResult(not problems, "; ".join(problems) or "no hog; every pod answers")
