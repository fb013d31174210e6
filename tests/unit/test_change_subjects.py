"""Every planner names its change's subjects; they survive the ledger's JSON and let the
fault summary find the ground truth of those pods, links and members (no sandbox)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chaosgate.clients.patroni import ClusterMember
from chaosgate.faults.base import FaultContext
from chaosgate.faults.ledger import Ledger
from chaosgate.faults.network import build_scope
from chaosgate.faults.pods import PodKill
from chaosgate.faults.summary import summarize
from chaosgate.faults.timeline import FaultTimeline
from chaosgate.platforms import sandbox_db
from chaosgate.platforms.base import (
    Change,
    LatencySpec,
    NetworkScope,
    PartitionSpec,
    PodRef,
    StressSpec,
)
from chaosgate.platforms.processes import ProcessesPlatform
from chaosgate.platforms.sandbox_db import ProcessesPatroni
from chaosgate.platforms.sandbox_net import plan_latency, plan_partition
from chaosgate.platforms.sandbox_stress import plan_stress
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import Selector, parse_target, render_sandbox_target

T0 = 1_700_000_000.0
TOPO = build_topology(Path("/tmp/sb"), 47000)
TARGET = parse_target(render_sandbox_target(TOPO))
LISTEN = {x.name: x.listen_address for x in TOPO.links}
TO_DB = build_scope(TARGET, "app=orders", None, None, "postgres", ())


def reloaded(change: Change) -> Change:
    """``change`` as a fresh process reads it back from the ledger."""
    return Change.from_json(json.loads(json.dumps(change.to_json())))


def test_network_changes_name_their_links_and_round_trip():
    cut = plan_partition(TARGET, PartitionSpec(TO_DB), "cg-1", LISTEN)
    assert cut.subjects == ("orders-pg0", "orders-pg1")
    slow = plan_latency(TARGET, LatencySpec(NetworkScope("shop", links=("gateway-orders",)), 200),
                        "cg-2", LISTEN)
    assert slow.subjects == ("gateway-orders",)
    for change in (cut, slow):
        again = reloaded(change)
        assert again == change and again.subjects == change.subjects
        assert change.to_json()["subjects"] == list(change.subjects)


def test_stress_names_its_pods_and_round_trips():
    pod = PodRef("catalog-0", "shop", {"app": "catalog"}, True, str(os.getpid()))
    change = plan_stress({"catalog-0": "http://127.0.0.1:47012/healthz"}, TOPO.run_dir,
                         StressSpec("cpu"), [pod], "cg-3")
    assert change.subjects == ("catalog-0",)
    assert reloaded(change) == change


class Listing:
    """A platform that only lists pods (what a pod kill's plan needs)."""

    kind = "sandbox"

    def __init__(self, pods: list[PodRef]) -> None:
        self.pods = pods

    def list_pods(self, selector: Selector, namespace: str) -> list[PodRef]:
        return [p for p in self.pods if selector.matches(p.labels)]


def test_pod_kill_names_its_victims_and_round_trips(tmp_path):
    pods = [PodRef(f"orders-{i}", "shop", {"app": "orders"}, True, str(100 + i))
            for i in range(2)]
    ctx = FaultContext(TARGET, Listing(pods), Ledger(tmp_path / "l.jsonl"), seed=7)  # type: ignore[arg-type]
    change, _ = PodKill(ctx, "app=orders", qty=1).prepare()
    assert len(change.subjects) == 1 and change.subjects[0] in ("orders-0", "orders-1")
    assert [p["name"] for p in change.data["pods"]] == list(change.subjects)
    assert reloaded(change) == change


def test_changes_without_subjects_still_read_back():
    old = {"kind": "partition", "platform": "sandbox", "fault_id": "cg-4", "description": "x",
           "data": {"links": []}}  # a ledger entry from before subjects existed
    assert Change.from_json(old).subjects == ()


# -- the summary finds the planned subjects' ground truth ------------------------------------

class Proxy:
    """The fault proxy's API as the sandbox platform reads it: links up, a fixed journal."""

    url = "http://127.0.0.1:27004"

    def __init__(self, events: list[tuple[float, str, str, dict[str, Any]]]) -> None:
        self._events = [SimpleNamespace(seq=i, time=t, event=e, proxy=p, details=d)
                        for i, (t, e, p, d) in enumerate(events)]

    def proxy(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(enabled=True, toxic_names=())

    def proxies(self) -> dict[str, SimpleNamespace]:
        return {x.name: SimpleNamespace(listen=f"127.0.0.1:{x.listen}")
                for x in TOPO.links}

    def events(self) -> list[SimpleNamespace]:
        return self._events


def summary_of(change: Change, platform: Any) -> list[str]:
    tl = FaultTimeline(change.fault_id, change.kind, change.description,
                       subjects=change.subjects, t_inject=T0, t_revert=T0 + 5)
    tl.add(platform.moments(reloaded(change), T0 - 1))
    return summarize(tl)


def test_summary_finds_the_links_of_a_planned_partition():
    platform = ProcessesPlatform(TARGET)
    platform.links.client = Proxy([  # type: ignore[assignment]
        (T0 - 0.01, "proxy_disabled", "orders-pg0", {"connections_cut": 2}),
        (T0 - 0.01, "proxy_disabled", "orders-pg1", {"connections_cut": 1}),
        (T0 + 1.0, "proxy_disabled", "gateway-orders", {}),  # another fault's link
        (T0 + 5.0, "proxy_enabled", "orders-pg0", {}),
        (T0 + 5.1, "proxy_enabled", "orders-pg1", {}),
    ])
    change = platform.plan_partition(PartitionSpec(TO_DB), "cg-0000000005")
    lines = summary_of(change, platform)
    assert lines[0] == ("orders-pg0: link down (2 connection(s) cut) -0.01 s -> "
                        "link up +5.00 s (5.01 s)")
    assert lines[1].startswith("orders-pg1: link down (1 connection(s) cut) -0.01 s -> link up")
    assert not any("gateway-orders" in line for line in lines)


def test_summary_finds_the_toxics_of_a_planned_latency():
    platform = ProcessesPlatform(TARGET)
    toxic = {"name": "cg-0000000006-latency-upstream", "type": "latency", "stream": "upstream",
             "attributes": {"latency": 200, "jitter": 20}}
    other = {**toxic, "name": "cg-00000000ff-latency-upstream"}
    platform.links.client = Proxy([  # type: ignore[assignment]
        (T0 - 0.2, "toxic_added", "gateway-orders", {"toxic": other}),  # not this fault's
        (T0 - 0.01, "toxic_added", "gateway-orders", {"toxic": toxic}),
        (T0 + 5.0, "toxic_removed", "gateway-orders", {"toxic": toxic}),
    ])
    change = platform.plan_latency(LatencySpec(NetworkScope("shop", links=("gateway-orders",)),
                                               200, 20), "cg-0000000006")
    [line, _] = summary_of(change, platform)
    assert line == ("gateway-orders: latency 200±20 ms upstream on -0.01 s -> "
                    "latency 200±20 ms upstream off +5.00 s (5.01 s)")


class Supervisor:
    """supervisord as a node crash uses it (nothing is signalled: see identify below)."""

    def process(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(pid=4242, state="STOPPED")

    def stop(self, name: str, wait: bool = True) -> None:
        pass


def test_summary_finds_the_old_leader_of_a_planned_node_crash(tmp_path, monkeypatch):
    topo = build_topology(tmp_path / "sb", 47000)
    db = ProcessesPatroni(parse_target(render_sandbox_target(topo)))
    now = time.time()

    def stamp(t: float) -> str:
        return datetime.fromtimestamp(t, tz=UTC).isoformat()

    members = [ClusterMember("pg0", "leader", "running", 2, None, ""),
               ClusterMember("pg1", "replica", "streaming", 2, 0, "")]
    history = [[1, 100, "no recovery target specified", stamp(now - 100), "pg0"],
               [2, 200, "no recovery target specified", stamp(now + 1.0), "pg1"]]
    monkeypatch.setattr(db, "_cluster", lambda: members)
    monkeypatch.setattr(db, "healthy", lambda: True)
    monkeypatch.setattr(db, "primary", lambda: "pg1")
    monkeypatch.setattr(db, "_history", lambda member: history)
    monkeypatch.setattr(db, "supervisor", Supervisor())
    monkeypatch.setattr(sandbox_db, "identify", lambda pid: None)  # never signal a real pid

    change = db.plan_failover("node-crash", "cg-0000000007")
    assert change.subjects == ("pg0",)
    assert reloaded(change) == change
    db.apply(change)  # records when pg0 was SIGKILLed (nothing is signalled here)
    events = [{"process": "pg0", "to": "STARTING", "ts": now + 3.0, "pid": 4343},
              {"process": "pg1", "to": "STARTING", "ts": now + 2.0, "pid": 4344},
              {"process": "pg0", "to": "RUNNING", "ts": now + 4.0, "pid": 4343}]
    topo.events_file.parent.mkdir(parents=True, exist_ok=True)
    topo.events_file.write_text("".join(json.dumps(e) + "\n" for e in events))

    tl = FaultTimeline(change.fault_id, change.kind, change.description,
                       subjects=change.subjects, t_inject=now, t_verified=now + 1.5,
                       t_revert=now + 2.5, t_healed=now + 5, verify_detail="leader now pg1",
                       healed_detail="pg0 is replica")
    tl.add(db.moments(reloaded(change), now - 1))
    lines = summarize(tl)
    assert lines[0].startswith("pg0: SIGKILL pg0 (pid 4242)")
    assert lines[1] == "leader pg0 -> new leader verified +1.50 s (leader now pg1)"
    assert lines[2] == "timeline 3 begins, leader pg1 +1.00 s"
    assert lines[3] == "pg0: started again +3.00 s, rejoined +5.00 s (pg0 is replica)"
