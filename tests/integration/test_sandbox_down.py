"""``down`` stops what the sandbox started and nothing else, on a sandbox of its own.

The sandbox lives on base port ``CHAOSGATE_TEST_DOWN_BASE_PORT`` (default
``CHAOSGATE_TEST_BASE_PORT + 300``, away from the session sandbox and the
game-day one), each test in a fresh temporary state directory: a test that
kills supervisord leaves a crashed cluster behind, and bringing the next
test's sandbox up on that data made the tests depend on each other (a
Patroni election that never settled, once, under load). The components'
logs are kept in ``reports/test-sandbox-logs/<test>/`` for a post-mortem.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.clients.processes import Identity, read_stat
from chaosgate.sandbox.manager import SandboxManager, leftover_processes, temporary_sandbox
from chaosgate.sandbox.teardown import RECORD_FILE, find_own_processes

pytestmark = [pytest.mark.integration]

SESSION_BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))  # as conftest.py
BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_DOWN_BASE_PORT", str(SESSION_BASE_PORT + 300)))


KEEP_LOGS = Path(__file__).resolve().parents[2] / "reports" / "test-sandbox-logs"


@pytest.fixture
def own_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxManager]:
    """A healthy sandbox of this test's own; down again, with nothing left, at the end."""
    with temporary_sandbox(BASE_PORT, prefix="chaosgate-down-", log=print, timeout=300,
                           keep_logs=KEEP_LOGS / f"down-{request.node.name}") as manager:
        yield manager


def _sleeper(path: str) -> subprocess.Popen[bytes]:
    """A process of the test's own whose last argument is ``path``."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", path])


def _own_identities(manager: SandboxManager) -> dict[Identity, str]:
    owned, _ = find_own_processes(manager.topo, manager.supervisor)
    return owned


def _alive(identities: dict[Identity, str]) -> list[str]:
    return [f"{role} {i.pid}" for i, role in identities.items() if i.matches(read_stat(i.pid))]


@pytest.mark.timeout(600)
def test_down_leaves_processes_it_did_not_start_and_reports_those_naming_its_dir(
    own_sandbox: SandboxManager,
) -> None:
    state = own_sandbox.topo.state_dir
    before = _own_identities(own_sandbox)
    roles = sorted(set(before.values()))
    assert roles == ["postgres", "postmaster", "supervised", "supervisord"], roles
    assert sum(r == "postmaster" for r in before.values()) == len(own_sandbox.topo.db_members)
    inside = _sleeper(str(state / "started-by-the-test"))
    lookalike = _sleeper(f"{state}-other/x")
    try:
        assert {inside.pid, lookalike.pid}.isdisjoint(leftover_processes(own_sandbox.topo))
        result = own_sandbox.down()
        assert inside.poll() is None, "down signalled a process it did not start"
        assert lookalike.poll() is None, "down signalled a process it did not start"
        reported = {p.pid: p.command for p in result.not_ours}
        assert inside.pid in reported and "started-by-the-test" in reported[inside.pid]
        assert lookalike.pid not in reported  # <state>-other is another directory
        assert not own_sandbox.running()
        assert leftover_processes(own_sandbox.topo) == []
        assert _alive(before) == []
        assert result.left == []
    finally:
        for proc in (inside, lookalike):
            proc.kill()
            proc.wait()


@pytest.mark.timeout(600)
def test_down_after_supervisord_was_killed_stops_its_orphans(
    own_sandbox: SandboxManager,
) -> None:
    before = _own_identities(own_sandbox)
    supervisord = next(i for i, role in before.items() if role == "supervisord")
    os.kill(supervisord.pid, signal.SIGKILL)  # its programs and postmasters run on, orphaned
    deadline = time.monotonic() + 10
    while supervisord.matches(read_stat(supervisord.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not own_sandbox.running()
    orphans = {i: r for i, r in before.items() if r != "supervisord"}
    assert len(_alive(orphans)) >= 10, _alive(orphans)  # programs, postmasters, backends
    result = own_sandbox.down()
    assert result.stopped, "the orphans should have been signalled by down itself"
    assert _alive(before) == []
    assert leftover_processes(own_sandbox.topo) == []


@pytest.mark.timeout(600)
def test_down_of_a_frozen_supervisord_without_a_record_trusts_its_pid_file(
    own_sandbox: SandboxManager,
) -> None:
    before = _own_identities(own_sandbox)
    supervisord = next(i for i, role in before.items() if role == "supervisord")
    (own_sandbox.topo.run_dir / RECORD_FILE).unlink()  # as if started by an older chaosgate
    os.kill(supervisord.pid, signal.SIGSTOP)  # it cannot answer over XML-RPC any more
    try:
        result = own_sandbox.down(timeout=60)
        assert not supervisord.matches(read_stat(supervisord.pid))
        assert _alive(before) == []
        assert result.left == [] and leftover_processes(own_sandbox.topo) == []
    finally:
        if supervisord.matches(read_stat(supervisord.pid)):
            os.kill(supervisord.pid, signal.SIGCONT)
