"""Chaos Toolkit actions: kill pods, partition or slow links, fail a database over, stress pods.

Use them as ``provider: {type: python, module: chaosgate.ctk.actions, func: ...}``.
The target comes from the configuration (``chaosgate_target``, else
``$CHAOSGATE_TARGET``, else ``targets/sandbox.yaml``; see
:mod:`chaosgate.ctk.config`). Every action writes its fault to the ledger
before applying it, keeps the target's safety block, verifies the fault
took hold with an active probe and raises when it did not (the action is
then marked failed and the run is inconclusive, never a silent pass).

A fault given a ``duration`` is held and reverted by the action itself;
without one it stays until its rollback (``heal_network``,
``remove_latency``, ``recover_database``, ``end_stress``, ``revert_faults``)
or, whatever happens, until the ``ledger`` control reverts it at the end of
the run. Each action returns the fault's id, ``t_inject`` and the ground
truth seen so far. Each docstring says how long its action blocks; the
conventional experiment shape (fault in the method, revert in the rollbacks)
and every argument are in docs/experiments.md.
"""

from typing import Any

from chaoslib.types import Configuration, Secrets

from ..faults import FaultKind
from .applying import apply_fault, interruptible
from .applying import revert_faults as _revert
from .config import Result

__all__ = [
    "add_latency",
    "end_stress",
    "failover_database",
    "freeze",
    "heal_network",
    "kill_pods",
    "partition_network",
    "recover_database",
    "remove_latency",
    "revert_faults",
    "stress",
]


def _scope(selector: str | None, peer_selector: str | None, dependency: str | None,
           links: list[str] | None, namespace: str | None) -> dict[str, Any]:
    given = {"selector": selector, "peer_selector": peer_selector, "dependency": dependency,
             "links": list(links) if links else None, "namespace": namespace}
    return {k: v for k, v in given.items() if v is not None}


def _pods(selector: str, qty: int | None, percent: float | None,
          namespace: str | None) -> dict[str, Any]:
    given = {"selector": selector, "qty": qty, "percent": percent, "namespace": namespace}
    return {k: v for k, v in given.items() if v is not None}


@interruptible
def kill_pods(selector: str, qty: int | None = None, percent: float | None = None,
              namespace: str | None = None, heal_timeout: float = 60.0,
              configuration: Configuration = None, secrets: Secrets = None) -> Result:
    """Kill pods at once (grace period 0) and wait until as many are ready again.

    ``selector`` is a label selector (``app=api``); ``qty`` pods (default
    1) or ``percent`` % of them are picked at random (seeded by
    ``chaosgate_seed``) among the ready ones, within the target's safety
    block. Returns the fault id, t_inject, when each victim died, restarted
    and answered ready again.

    Blocks until the killed pods are ready again (up to ``heal_timeout``,
    default 60 s): nothing is left for a rollback to revert. Arguments:
    ``selector``, ``qty`` or ``percent``, ``namespace``, ``heal_timeout``.
    """
    return apply_fault({"kind": FaultKind.KILL_PODS, **_pods(selector, qty, percent, namespace)},
                       configuration=configuration, duration=0.0, heal_timeout=heal_timeout)


@interruptible
def partition_network(selector: str | None = None, peer_selector: str | None = None,
                      dependency: str | None = None, links: list[str] | None = None,
                      direction: str = "both", namespace: str | None = None,
                      duration: float | None = None, verify_timeout: float = 30.0,
                      heal_timeout: float = 120.0, configuration: Configuration = None,
                      secrets: Secrets = None) -> Result:
    """Cut the network between two sides; open connections are cut too.

    One side is ``selector``; the other ``peer_selector``, a ``dependency``
    of the target (``postgres``), or name ``links`` directly (e.g.
    ``[api-pg0, api-pg1]``). ``direction`` (to, from, both) is seen
    from ``selector``. Verified by a connection through the cut that must
    fail. With ``duration`` the partition is healed after that many seconds;
    otherwise it lasts until ``heal_network`` (or the end of the run).

    Blocks: without ``duration``, until the cut is verified (up to
    ``verify_timeout``, 30 s), then returns with the partition applied (revert
    it in the rollbacks); with ``duration=N``, about N s more, then heals and
    waits until traffic flows (up to ``heal_timeout``, 120 s).
    """
    spec = {"kind": FaultKind.PARTITION, "direction": direction,
            **_scope(selector, peer_selector, dependency, links, namespace)}
    return apply_fault(spec, configuration=configuration, duration=duration,
                       verify_timeout=verify_timeout, heal_timeout=heal_timeout)


@interruptible
def heal_network(heal_timeout: float = 120.0, configuration: Configuration = None,
                 secrets: Secrets = None) -> Result:
    """Heal every partition this run applied and wait until traffic flows again.

    Idempotent (a rollback): nothing to heal is fine. Fails when the links
    did not come back within ``heal_timeout`` seconds. Blocks until healed
    (up to ``heal_timeout``, 120 s).
    """
    return _revert((FaultKind.PARTITION,), heal_timeout)


@interruptible
def add_latency(latency_ms: int, selector: str | None = None, peer_selector: str | None = None,
                dependency: str | None = None, links: list[str] | None = None,
                jitter_ms: int = 0, direction: str = "to", namespace: str | None = None,
                duration: float | None = None, verify_timeout: float = 30.0,
                heal_timeout: float = 120.0, configuration: Configuration = None,
                secrets: Secrets = None) -> Result:
    """Delay traffic between two sides by ``latency_ms`` (± ``jitter_ms``).

    Sides as for ``partition_network`` (``links: [api-db]`` names
    one link). Verified by a round trip through the link that must be slower.
    With ``duration`` the latency is removed after that many seconds;
    otherwise it lasts until ``remove_latency`` (or the end of the run).
    ``direction``: to (default), from, both, seen from ``selector``.

    Blocks: without ``duration``, until the latency is verified (up to
    ``verify_timeout``, 30 s), then returns with it applied (revert it in the
    rollbacks); with ``duration=15``, about 15 s more (an action after it does
    not overlap it), then removes it and waits (up to ``heal_timeout``, 120 s).
    """
    spec = {"kind": FaultKind.LATENCY, "latency_ms": latency_ms, "jitter_ms": jitter_ms,
            "direction": direction,
            **_scope(selector, peer_selector, dependency, links, namespace)}
    return apply_fault(spec, configuration=configuration, duration=duration,
                       verify_timeout=verify_timeout, heal_timeout=heal_timeout)


@interruptible
def remove_latency(heal_timeout: float = 120.0, configuration: Configuration = None,
                   secrets: Secrets = None) -> Result:
    """Remove every latency this run added and wait until the links answer at speed again.

    Idempotent (a rollback): nothing to remove is fine. Blocks until the links
    answer at speed (up to ``heal_timeout``, 120 s).
    """
    return _revert((FaultKind.LATENCY,), heal_timeout)


@interruptible
def failover_database(method: str = "node-crash", candidate: str | None = None,
                      duration: float | None = None, verify_timeout: float = 60.0,
                      heal_timeout: float = 120.0, configuration: Configuration = None,
                      secrets: Secrets = None) -> Result:
    """Move the database's primary role: Patroni ``switchover``, ``failover`` or ``node-crash``.

    ``node-crash`` SIGKILLs the primary (Patroni and its postmaster) and keeps
    the node down; Patroni promotes the replica. Verified when another member
    is the healthy primary (``verify_timeout``). With ``duration`` the crashed
    node is brought back after that many seconds; otherwise it stays down
    until ``recover_database`` (or the end of the run). Never fails back.

    Blocks until another member is the healthy primary (up to
    ``verify_timeout``, 60 s); with ``duration``, that many seconds more and
    until the crashed node rejoins (up to ``heal_timeout``, 120 s).
    """
    spec: dict[str, Any] = {"kind": FaultKind.FAILOVER_DB, "method": method}
    if candidate is not None:
        spec["candidate"] = candidate
    return apply_fault(spec, configuration=configuration, duration=duration,
                       verify_timeout=verify_timeout, heal_timeout=heal_timeout)


@interruptible
def recover_database(heal_timeout: float = 120.0, configuration: Configuration = None,
                     secrets: Secrets = None) -> Result:
    """Bring back a node ``failover_database`` crashed; wait until it streams as a replica.

    Idempotent (a rollback). The new primary keeps its role. Blocks until the
    node streams (up to ``heal_timeout``, 120 s).
    """
    return _revert((FaultKind.FAILOVER_DB,), heal_timeout)


@interruptible
def stress(selector: str, mode: str = "cpu", qty: int | None = None,
           percent: float | None = None, namespace: str | None = None, cpu_workers: int = 1,
           memory_mb: int = 256, duration: float | None = None, verify_timeout: float = 30.0,
           heal_timeout: float = 120.0, configuration: Configuration = None,
           secrets: Secrets = None) -> Result:
    """Exhaust pods' resources: ``mode`` cpu (``cpu_workers`` busy loops), memory, or freeze.

    Victims are picked like ``kill_pods``'. Verified when the hog burns CPU,
    holds the memory, or the frozen pod answers nothing. The platform ends a
    stress by itself two minutes after its planned end (``duration``, else
    five minutes) even if nothing reverts it. Without ``duration`` it lasts
    until ``end_stress`` (or the end of the run).

    Blocks until the hog is verified (up to ``verify_timeout``, 30 s); with
    ``duration``, that many seconds more and until the pods are ready again
    (up to ``heal_timeout``, 120 s). ``mode`` memory holds ``memory_mb`` MB.
    """
    spec = {"kind": FaultKind.STRESS, "mode": mode, "cpu_workers": cpu_workers,
            "memory_mb": memory_mb, "duration": 300.0 if duration is None else duration,
            **_pods(selector, qty, percent, namespace)}
    return apply_fault(spec, configuration=configuration, duration=duration,
                       verify_timeout=verify_timeout, heal_timeout=heal_timeout)


@interruptible
def freeze(selector: str, qty: int | None = None, percent: float | None = None,
           namespace: str | None = None, duration: float | None = None,
           verify_timeout: float = 30.0, heal_timeout: float = 120.0,
           configuration: Configuration = None, secrets: Secrets = None) -> Result:
    """Freeze pods (SIGSTOP on the processes platform): alive but answering nothing, until
    thawed.

    The same as ``stress`` with ``mode: freeze`` (refused on Kubernetes), and
    blocks as it does: until verified, plus ``duration`` and the thaw when given.
    """
    return stress(selector, "freeze", qty, percent, namespace, duration=duration,
                  verify_timeout=verify_timeout, heal_timeout=heal_timeout,
                  configuration=configuration, secrets=secrets)


@interruptible
def end_stress(heal_timeout: float = 120.0, configuration: Configuration = None,
               secrets: Secrets = None) -> Result:
    """End every stress and freeze this run started; wait until the pods are ready again.

    Idempotent (a rollback). Blocks until the pods are ready (up to
    ``heal_timeout``, 120 s).
    """
    return _revert((FaultKind.STRESS,), heal_timeout)


@interruptible
def revert_faults(heal_timeout: float = 120.0, configuration: Configuration = None,
                  secrets: Secrets = None) -> Result:
    """Revert every fault this run still has applied, newest first, and wait until healed.

    Idempotent: a safe rollback for any experiment. The ``ledger`` control
    does the same at the end of every run, even when Chaos Toolkit skips
    rollbacks (a failed or interrupted run). Blocks until every fault is
    reverted and healed (up to ``heal_timeout`` each, 120 s).
    """
    return _revert((), heal_timeout)
