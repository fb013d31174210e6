"""Children die with their owner (a real death signal, real processes); the registry
and the lifeline, with plain data where they are pure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chaosgate.clients.children import (
    ChildRecord,
    ChildRegistry,
    classify,
    end_orphans,
    parent_env,
    parent_gone,
    parse_identity,
    parse_record_name,
    record_name,
)
from chaosgate.clients.processes import Identity, boot_id, identify, read_stat

OWNER, CHILD = Identity(4242, 1000), Identity(4300, 1200)


def test_identities_and_record_names_round_trip():
    assert parse_identity("4242:1000") == OWNER
    assert parse_record_name(record_name(OWNER, CHILD)) == (OWNER, CHILD)


@pytest.mark.parametrize("text", ["", "4242", "a:1", "4242:", ":1", "0:5", "-1:5", "1:2:3"])
def test_garbage_is_not_an_identity(text):
    with pytest.raises(ValueError):
        parse_identity(text)


@pytest.mark.parametrize("name", ["x.json", "4242-1000.json", "4242-1000.4300-1200.tmp",
                                  "4242-1000.4300-1200.json.tmp", "a-b.c-d.json"])
def test_other_files_are_not_records(name):
    assert parse_record_name(name) is None


def _rec(owner: Identity, child: Identity, boot: str = "b1") -> ChildRecord:
    return ChildRecord(owner, child, "Locust master", boot, Path(record_name(owner, child)))


def test_classify_ends_live_children_of_dead_owners_only():
    live_owner, dead_owner = Identity(1, 10), Identity(2, 20)
    live_child, dead_child, other_child = Identity(3, 30), Identity(4, 40), Identity(5, 50)
    alive = {live_owner, live_child, other_child}.__contains__
    orphan = _rec(dead_owner, live_child)
    kept = _rec(live_owner, other_child)
    gone = _rec(dead_owner, dead_child)
    reaped = _rec(live_owner, dead_child)
    old_boot = _rec(dead_owner, live_child, boot="b0")
    to_end, stale = classify([orphan, kept, gone, reaped, old_boot], "b1", alive)
    assert to_end == [orphan]
    assert stale == [gone, reaped, old_boot]  # kept: its owner reaps it


def test_the_registry_reads_back_what_it_wrote_and_skips_junk(tmp_path):
    registry = ChildRegistry(tmp_path / "children")
    path = registry.add(OWNER, CHILD, "pytest")
    (tmp_path / "children" / "notes.txt").write_text("x")
    (tmp_path / "children" / record_name(CHILD, OWNER)).write_text("not json")
    [rec] = registry.records()
    assert (rec.owner, rec.child, rec.role, rec.path) == (OWNER, CHILD, "pytest", path)
    assert rec.boot == boot_id()
    assert ChildRegistry(tmp_path / "absent").records() == []


def test_parent_gone_reads_the_lifeline(monkeypatch):
    monkeypatch.delenv("CHAOSGATE_PARENT", raising=False)
    assert parent_gone() is None
    monkeypatch.setenv("CHAOSGATE_PARENT", "garbage")
    assert parent_gone() is None
    monkeypatch.setenv("CHAOSGATE_PARENT", parent_env()["CHAOSGATE_PARENT"])
    assert parent_gone() is None
    me = identify(os.getpid())
    assert me is not None
    monkeypatch.setenv("CHAOSGATE_PARENT", f"{me.pid}:{me.start_ticks + 1}")  # pid reused
    assert parent_gone() is not None and str(me.pid) in str(parent_gone())


# -- real processes -----------------------------------------------------------------
# A parent that starts one child with spawn() (from the main thread, or from a thread
# that ends at once), prints the child's pid, then waits to be killed.
PARENT = """
import os, sys, threading, time
from pathlib import Path
from chaosgate.clients.children import ChildRegistry, spawn
registry = ChildRegistry(Path(sys.argv[1]))
death = None if sys.argv[3] == "none" else int(sys.argv[3])
cmd = [sys.executable, "-c", "import time; time.sleep(120)"]
box = []
def start():
    box.append(spawn(cmd, role="sleeper", death_signal=death, registry=registry))
if sys.argv[2] == "thread":
    t = threading.Thread(target=start); t.start(); t.join()  # the thread is gone now
else:
    start()
print(box[0].pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def _eventually(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def _parent(tmp_path: Path, where: str, death: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A parent running PARENT and its child's pid; both are gone when the block ends."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "children"),
                               where, death], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"the parent printed {line!r}"
        child = int(line)
        yield parent, child
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("where", ["main", "thread"])
def test_a_child_dies_with_its_sigkilled_parent(tmp_path, where):
    with _parent(tmp_path, where, str(int(signal.SIGKILL))) as (parent, child):
        time.sleep(0.5)  # a thread that forked and ended must not take the child along
        assert _alive(child), "the child died with the thread that started it"
        [rec] = ChildRegistry(tmp_path / "children").records()
        assert rec.child.pid == child and rec.owner.pid == parent.pid and rec.role == "sleeper"
        parent.kill()
        parent.wait(timeout=10)
        _eventually(lambda: not _alive(child), "the child to die with its parent")


def test_cleanup_ends_a_recorded_child_of_a_dead_owner(tmp_path):
    with _parent(tmp_path, "main", "none") as (parent, child):  # no death signal: it stays
        parent.kill()
        parent.wait(timeout=10)
        time.sleep(0.3)
        assert _alive(child), "without a death signal the child outlives its parent"
        lines: list[str] = []
        [orphan] = end_orphans([ChildRegistry(tmp_path / "children")], grace=5.0,
                               log=lines.append)
        assert orphan.record.child.pid == child and orphan.outcome.startswith("ended")
        assert not _alive(child)
        assert f"sleeper pid {child} of dead owner pid {parent.pid}" in lines[0]
        assert ChildRegistry(tmp_path / "children").records() == []
        assert end_orphans([ChildRegistry(tmp_path / "children")]) == []


def test_cleanup_leaves_a_live_owners_children_alone(tmp_path):
    with _parent(tmp_path, "main", str(int(signal.SIGKILL))) as (_parent_proc, child):
        assert end_orphans([ChildRegistry(tmp_path / "children")]) == []
        assert _alive(child)
        assert len(ChildRegistry(tmp_path / "children").records()) == 1


def test_records_are_json_with_the_boot(tmp_path):
    path = ChildRegistry(tmp_path).add(OWNER, CHILD, "stress hog")
    doc = json.loads(path.read_text())
    assert doc["role"] == "stress hog" and doc["boot_id"] == boot_id()


def test_chaosgate_cleanup_ends_and_reports_an_orphan(tmp_path):
    from click.testing import CliRunner

    from chaosgate.cli import app
    from chaosgate.sandbox.topology import build_topology
    from chaosgate.targets import dump_target, render_sandbox_target

    target = tmp_path / "target.yaml"
    dump_target(render_sandbox_target(build_topology(tmp_path / "sb", 28790)), target)
    with _parent(tmp_path, "main", "none") as (parent, child):  # beside the ledger below
        parent.kill()
        parent.wait(timeout=10)
        result = CliRunner().invoke(app, ["cleanup", "--target", str(target), "--ledger",
                                          str(tmp_path / "ledger.jsonl")])
        assert result.exit_code == 0, result.output
        assert f"ended (SIGTERM): sleeper pid {child} of dead owner pid {parent.pid}" \
            in result.output
        assert "nothing to clean up" not in result.output
        assert not _alive(child)
