"""One real sandbox per test session, on its own ports and state directory.

The sandbox runs on base port 28100 (not the default 27000), so the tests
never touch a sandbox a user has running. Its state directory is created
world-searchable, because PostgreSQL runs as the ``postgres`` user when the
tests run as root. Teardown brings it down and fails the session if any
process is left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.sandbox.manager import SandboxManager, leftover_processes
from chaosgate.sandbox.topology import Topology, build_topology

TEST_BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests marked ``sandbox_teardown`` after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("sandbox_teardown") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_teardown: brings the session sandbox down; runs last"
    )


@pytest.fixture(scope="session")
def sandbox_topology() -> Iterator[Topology]:
    state = Path(tempfile.mkdtemp(prefix="chaosgate-sandbox-"))
    state.chmod(0o755)
    topo = build_topology(state, TEST_BASE_PORT)
    yield topo
    # Keep the component logs for a post-mortem (reports/ is git-ignored).
    keep = Path(__file__).resolve().parents[2] / "reports" / "test-sandbox-logs"
    shutil.rmtree(keep, ignore_errors=True)
    if topo.log_dir.exists():
        shutil.copytree(topo.log_dir, keep)
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox(sandbox_topology: Topology) -> Iterator[SandboxManager]:
    """A healthy sandbox; brought down, with no process left, at the end."""
    manager = SandboxManager(sandbox_topology, log=print)
    try:
        manager.up(timeout=300)
        yield manager
    finally:
        manager.down()
        left = leftover_processes(sandbox_topology)
        assert not left, f"sandbox processes left behind: {left}"
