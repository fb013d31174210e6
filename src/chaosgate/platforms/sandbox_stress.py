"""Resource exhaustion on the processes platform (the sandbox's too): CPU hog, memory
hog, freeze.

A pod is one supervised process, so:

- ``cpu``: the pod is pinned to one CPU and a hog (:mod:`.hog`) of
  ``cpu_workers`` busy loops is pinned to the same CPU, as a noisy neighbour
  inside a container's CPU share would be; revert kills the hog and restores
  the pod's CPU affinity;
- ``memory``: a hog allocates and touches ``memory_mb`` MiB (host memory
  pressure; supervised programs have no memory limit of their own);
- ``freeze``: SIGSTOP of the pod's pid; revert sends SIGCONT. A watchdog hog
  thaws it by itself after ``duration_s`` (always finite: the fault's
  duration, or the target's ``safety.max_fault_duration``, plus a margin),
  or at once should chaosgate die (every hog dies with the process that
  started it, even on a SIGKILL).

The change (:class:`StressChangeData`, private to this module; its
``subjects`` are the pod names) records each pod's identity (pid and start
time), its original affinity and the hog's pid file (under the sandbox's
``run/hogs/``), so a fresh process can revert it: the hog and its workers are found by the
identity the hog wrote there, never by command line, and signals go only
to processes that are still the recorded ones (:mod:`chaosgate.clients.processes`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NotRequired, TypedDict, cast

from ..clients import http
from ..clients.children import release, spawn
from ..clients.processes import (
    Identity,
    cpu_seconds,
    identify,
    read_stat,
    rss_mib,
    signal_identity,
)
from ..exceptions import FaultNotEffective
from ..targets import LIMIT_CEILINGS
from .base import Change, FaultKind, PodRef, ProbeResult, StressMode, StressSpec
from .hog import find_hogs, hog_command

__all__ = ["StressActuator", "StressChangeData", "StressedPod", "plan_stress"]

DEFAULT_MAX_SECONDS = 3600.0
#: No hog or freeze watchdog outlives this, whatever the spec says: a fault is held at
#: most the ceiling of ``safety.max_fault_duration`` (12 h), and a stress's safety net
#: adds its margin (two minutes; an hour is left for it). A frozen pod always thaws.
HARD_MAX_SECONDS = LIMIT_CEILINGS.max_fault_duration + 3600.0


def watchdog_seconds(duration_s: float | None) -> float:
    """When the hog (or the freeze watchdog) ends by itself: ``duration_s`` clamped to
    (0, HARD_MAX_SECONDS]; DEFAULT_MAX_SECONDS when unset, not positive or not finite.

    The fault layer already bounds ``duration_s`` by the target's
    ``safety.max_fault_duration`` plus its margin; this is the last line.
    """
    if duration_s is None or not math.isfinite(duration_s) or duration_s <= 0:
        return DEFAULT_MAX_SECONDS
    return min(duration_s, HARD_MAX_SECONDS)


class StressedPod(TypedDict):
    """One pod a stress acts on, as it was when the stress was planned."""

    name: str
    pid: int  # the pod's pid when planned: signals go only to this incarnation
    health: NotRequired[str | None]  # its readiness URL (None: the process state only)
    port: NotRequired[int]  # older ledgers: the pod's HTTP port (its /healthz on 127.0.0.1)
    affinity: list[int]  # the pod's CPU affinity before the stress, restored by revert
    start_ticks: NotRequired[int | None]  # with pid, the process identity (None: unreadable)


class StressChangeData(TypedDict):
    """The data of a stress :class:`Change`.

    Written by :func:`plan_stress`, read only by :class:`StressActuator`.
    """

    mode: StressMode
    pods: list[StressedPod]
    cpu_workers: int  # busy loops of a cpu hog
    memory_mb: int  # MiB a memory hog allocates and touches
    core: int  # the CPU a cpu stress pins the pods and the hog to
    pidfile: str  # absolute path of the hog's pid file (run/hogs/<fault_id>.json)
    max_seconds: float  # the hog (or freeze watchdog) exits by itself after this


def _data(change: Change) -> StressChangeData:
    """``change.data`` as :func:`plan_stress` wrote it."""
    return cast(StressChangeData, change.data)


def plan_stress(health: Mapping[str, str | None], run_dir: Path, spec: StressSpec,
                pods: list[PodRef], fault_id: str) -> Change:
    """The change that stresses ``pods`` (reads their CPU affinity; changes nothing).

    ``health``: each pod's readiness URL (None: none); the hog's pid file goes
    under ``run_dir/hogs``.
    """
    entries: list[StressedPod] = []
    affinities: list[list[int]] = []
    for pod in pods:
        pid = int(pod.uid)
        try:
            affinity = sorted(os.sched_getaffinity(pid))
        except OSError:
            affinity = []
        affinities.append(affinity)
        stat = read_stat(pid)
        entries.append(StressedPod(name=pod.name, pid=pid, health=health.get(pod.name),
                                   affinity=affinity,
                                   start_ticks=None if stat is None else stat.start_ticks))
    cores = affinities[0] if affinities and affinities[0] else [0]
    what = {"cpu": f"{spec.cpu_workers} busy loop(s) on the pod's CPU",
            "memory": f"a {spec.memory_mb} MiB memory hog", "freeze": "SIGSTOP"}[spec.mode]
    names = tuple(e["name"] for e in entries)
    data = StressChangeData(
        mode=spec.mode, pods=entries, cpu_workers=spec.cpu_workers,
        memory_mb=spec.memory_mb, core=cores[-1],
        pidfile=str((run_dir / "hogs" / f"{fault_id}.json").resolve()),
        max_seconds=watchdog_seconds(spec.duration_s),
    )
    return Change(FaultKind.STRESS, "processes", fault_id, f"stress {', '.join(names)}: {what}",
                  data, subjects=names)


def _state(pid: int) -> str | None:
    stat = read_stat(pid)
    return None if stat is None else stat.state


def _frozen_identity(pod: StressedPod) -> Identity | None:
    """The pod's identity now, when it is still the process the plan selected."""
    now = identify(pod["pid"])
    planned = pod.get("start_ticks")
    if now is None or (planned is not None and now.start_ticks != planned):
        return None
    return now


def _health_url(pod: StressedPod) -> str | None:
    """The pod's readiness URL (an older ledger's: /healthz on its port)."""
    if "health" in pod:
        return pod["health"]
    port = pod.get("port")
    return f"http://127.0.0.1:{port}/healthz" if port else None


def _answers(pod: StressedPod, timeout: float = 1.0) -> bool | None:
    """Whether the pod's readiness URL answers 200 (None: it has none)."""
    url = _health_url(pod)
    return None if url is None else http.ok(url, timeout=timeout)


class StressActuator:
    """Applies, verifies and reverts stress changes on supervised pods."""

    def __init__(self, current_pid: Callable[[str], int]) -> None:
        # current_pid(name) -> the pod's pid now (supervisord's view)
        self._current_pid = current_pid
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def apply(self, change: Change) -> None:
        """Start the hog (or freeze the pods and start the watchdog)."""
        data = _data(change)
        pods = data["pods"]
        for pod in pods:
            if self._current_pid(pod["name"]) != pod["pid"]:
                raise FaultNotEffective(f"{pod['name']} restarted since it was selected "
                                        f"(pid {pod['pid']} is gone); nothing was stressed")
        pidfile, max_seconds = Path(data["pidfile"]), data["max_seconds"]
        if data["mode"] == "cpu":
            for pod in pods:
                os.sched_setaffinity(pod["pid"], {data["core"]})
            cmd = hog_command(pidfile, max_seconds, cpu=data["cpu_workers"], core=data["core"],
                              parent=os.getpid())
        elif data["mode"] == "memory":
            cmd = hog_command(pidfile, max_seconds, memory_mb=data["memory_mb"],
                              parent=os.getpid())
        else:
            frozen = []
            for pod in pods:
                identity = _frozen_identity(pod)
                if identity is None or not signal_identity(identity, signal.SIGSTOP):
                    raise FaultNotEffective(f"{pod['name']} (pid {pod['pid']}) is not the "
                                            "process that was selected; nothing was frozen")
                frozen.append(identity)
            cmd = hog_command(pidfile, max_seconds, cont=tuple(frozen), parent=os.getpid())
        # the hog arms its own death signal once its handler is in place (a freeze
        # watchdog thaws its pods on it): dies with this process, even on a SIGKILL
        self._children[change.fault_id] = spawn(
            cmd, role="stress hog", death_signal=None, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def verify(self, change: Change) -> ProbeResult:
        """cpu: the hog burns CPU; memory: it holds the memory; freeze: the pod answers nothing."""
        data = _data(change)
        hogs = [i.pid for i in find_hogs(Path(data["pidfile"]))]
        if data["mode"] == "freeze":
            stopped = [p["name"] for p in data["pods"] if _state(p["pid"]) == "T"]
            silent = [p["name"] for p in data["pods"] if _answers(p) in (False, None)]
            ok = len(stopped) == len(silent) == len(data["pods"])
            return ProbeResult(ok, f"stopped: {stopped or 'none'}; readiness unanswered (or "
                                   f"none to ask): {silent or 'none'}")
        if not hogs:
            return ProbeResult(False, "the hog is not running")
        if data["mode"] == "cpu":
            before = cpu_seconds(hogs)
            time.sleep(1.0)
            used = cpu_seconds(i.pid for i in find_hogs(Path(data["pidfile"]))) - before
            return ProbeResult(used >= 0.3, f"hog used {used:.2f} CPU-s in 1 s on CPU "
                                            f"{data['core']}")
        rss = max(rss_mib(pid) for pid in hogs)
        return ProbeResult(rss >= 0.9 * data["memory_mb"],
                           f"hog holds {rss:.0f} MiB of {data['memory_mb']} MiB")

    def revert(self, change: Change) -> None:
        """Kill the hog, thaw frozen pods, restore CPU affinity. Idempotent."""
        data = _data(change)
        pidfile = Path(data["pidfile"])
        for hog in find_hogs(pidfile):
            signal_identity(hog, signal.SIGKILL)
        child = self._children.pop(change.fault_id, None)
        if child is not None:  # ours: started by apply (maybe before it wrote its pid file)
            child.kill()
            child.wait(timeout=10)
            release(child.pid)
        pidfile.unlink(missing_ok=True)
        for pod in data["pods"]:
            identity = _frozen_identity(pod)
            if identity is None:
                continue  # restarted or gone: not frozen, nothing to restore
            if data["mode"] == "freeze":
                signal_identity(identity, signal.SIGCONT)
            elif data["mode"] == "cpu" and pod["affinity"]:
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setaffinity(identity.pid, set(pod["affinity"]))

    def verify_reverted(self, change: Change) -> ProbeResult:
        """No hog left, no pod stopped, every pod answers /healthz."""
        data = _data(change)
        problems = []
        if find_hogs(Path(data["pidfile"])):
            problems.append("the hog is still running")
        for pod in data["pods"]:
            if _state(pod["pid"]) == "T":
                problems.append(f"{pod['name']} is still stopped")
            if _answers(pod) is False:
                problems.append(f"{pod['name']} does not answer {_health_url(pod)}")
        return ProbeResult(not problems, "; ".join(problems) or "no hog; every pod answers")
