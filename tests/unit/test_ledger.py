"""The write-ahead ledger: records, folding, open entries, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from chaosgate.exceptions import UsageError
from chaosgate.faults.ledger import Ledger, fold, target_key
from chaosgate.frontends import option
from chaosgate.platforms.base import Change, FaultKind
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import parse_target, render_sandbox_target


def target(tmp_path: Path, base: int = 47000):
    return parse_target(render_sandbox_target(build_topology(tmp_path / "sb", base)))


def change(fid: str = "cg-0000000001") -> Change:
    return Change("partition", "sandbox", fid, "partition x",
                  {"links": [{"name": "orders-pg0", "disable": True, "toxics": []}]},
                  subjects=("orders-pg0",))


def test_open_then_applied_then_reverted(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    t = target(tmp_path)
    ledger.open(change(), "partition", t)
    [entry] = ledger.open_entries()
    assert entry.state == "open" and entry.change == change()
    assert entry.target["key"] == target_key(t)
    ledger.mark(entry.id, "applied")
    assert ledger.open_entries()[0].state == "applied"
    ledger.mark(entry.id, "revert_failed", error="proxy unreachable")
    assert ledger.open_entries()[0].error == "proxy unreachable"
    ledger.mark(entry.id, "reverted")
    assert ledger.open_entries() == []
    assert ledger.entries()[entry.id].state == "reverted"
    lines = (tmp_path / "ledger.jsonl").read_text().splitlines()
    assert [json.loads(x)["op"] for x in lines] == ["open", "applied", "revert_failed",
                                                    "reverted"]


def test_change_round_trips_through_json():
    c = change()
    assert Change.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_fold_ignores_unknown_ids_and_keeps_reverted_final():
    records = [
        {"op": "applied", "id": "ghost"},
        {"op": "open", "id": "a", "fault": "partition", "change": change("a").to_json(),
         "t": 1.0, "pid": 1},
        {"op": "reverted", "id": "a", "t": 2.0},
        {"op": "revert_failed", "id": "a", "t": 3.0, "error": "late"},
    ]
    entries = fold(records)
    assert set(entries) == {"a"}
    assert entries["a"].state == "reverted" and not entries["a"].is_open


def test_open_entries_by_target_key(tmp_path):
    ledger = Ledger(tmp_path / "l.jsonl")
    ledger.open(change("cg-a"), "partition", target(tmp_path, 47000))
    ledger.open(change("cg-b"), "partition", target(tmp_path, 48000))
    assert [e.id for e in ledger.open_entries(target_key(target(tmp_path, 47000)))] == ["cg-a"]
    assert len(ledger.open_entries()) == 2


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    ledger.open(change(), "partition", target(tmp_path))
    with open(path, "a") as f:
        f.write('{"op": "reverted", "id": "cg-00')
    assert len(ledger.open_entries()) == 1


def test_unwritable_ledger_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="CHAOSGATE_LEDGER=FILE"):
        Ledger(blocker / "ledger.jsonl").mark("x", "applied")
    with pytest.raises(UsageError, match="--var chaosgate_ledger=FILE"):
        Ledger(blocker / "ledger.jsonl", option=option("ledger", "chaos run")).mark("x",
                                                                                   "applied")


def _writer(path: str, worker: int, n: int) -> None:
    ledger = Ledger(path)
    for i in range(n):
        ledger.mark(f"cg-{worker}-{i}", "applied", note="x" * 5000)


def test_concurrent_writers_never_interleave(tmp_path):
    path = str(tmp_path / "l.jsonl")
    procs = [multiprocessing.get_context("fork").Process(target=_writer, args=(path, w, 50))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    records = Ledger(path).records()
    lines = Path(path).read_text().splitlines()
    assert len(records) == len(lines) == 200


def test_the_owner_is_recognised_by_pid_and_start_time_not_by_name(tmp_path: Path) -> None:
    import dataclasses
    import subprocess

    from chaosgate.faults.cleanup import _owner_alive
    from chaosgate.faults.ledger import process_start

    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.open(change("cg-own"), "partition", target(tmp_path))
    [entry] = ledger.open_entries()
    assert entry.pid_start == process_start(os.getpid())
    # another live process (any command line, e.g. `chaos run`) owns it
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            owned = dataclasses.replace(entry, pid=other.pid, pid_start=process_start(other.pid))
            assert _owner_alive(owned)
            # the same pid with another start time is a reused pid: not the owner
            assert not _owner_alive(dataclasses.replace(owned, pid_start=owned.pid_start + 1))
        finally:
            other.kill()
    assert process_start(other.pid) is None
    assert not _owner_alive(owned)


def test_entries_written_with_the_old_kind_names_read_as_fault_kinds():
    old = {"kind": "db_failover", "platform": "sandbox", "fault_id": "b",
           "description": "switchover", "data": {}}
    records = [{"op": "open", "id": "b", "fault": "db_failover", "change": old, "t": 1.0,
                "pid": 1},
               {"op": "open", "id": "c", "fault": "pod_kill",
                "change": {**old, "kind": "pod_kill", "fault_id": "c"}, "t": 1.0, "pid": 1}]
    entries = fold(records)
    assert entries["b"].fault is FaultKind.FAILOVER_DB
    assert entries["b"].change.kind is FaultKind.FAILOVER_DB
    assert entries["c"].fault is FaultKind.KILL_PODS
    with pytest.raises(ValueError):
        FaultKind.parse("kill_everything")
