"""One real sandbox per test session, on its own ports and state directory.

The sandbox runs on base port 28100 (not the default 27000), so the tests
never touch a sandbox a user has running. Its state directory is created
world-searchable, because PostgreSQL runs as the ``postgres`` user when the
tests run as root. Teardown brings it down and fails the session if any
process is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.sandbox.manager import SandboxManager, temporary_sandbox
from chaosgate.sandbox.topology import Topology

TEST_BASE_PORT = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))
KEEP_LOGS = Path(__file__).resolve().parents[2] / "reports" / "test-sandbox-logs"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests marked ``sandbox_teardown`` after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("sandbox_teardown") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_teardown: brings the session sandbox down; runs last"
    )


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxManager]:
    """A healthy sandbox; brought down, with no process left, at the end (its component
    logs kept in reports/test-sandbox-logs for a post-mortem; reports/ is git-ignored)."""
    with temporary_sandbox(TEST_BASE_PORT, log=print, keep_logs=KEEP_LOGS) as manager:
        yield manager


@pytest.fixture(scope="session")
def sandbox_topology(sandbox: SandboxManager) -> Topology:
    """The session sandbox's topology (ports, URLs, state folder)."""
    return sandbox.topo
