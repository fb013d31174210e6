"""pytest plugin: ``--chaos-*`` options, markers and the target fixture.

Kept thin (as pytest-xdist's plugin is): heavy modules are imported inside
the fixtures that need them, so loading the plugin costs nothing for test
suites that do not use chaosgate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .targets import Target

__all__ = ["chaos_target"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--chaos-*`` command line options."""
    group = parser.getgroup("chaosgate", "chaosgate resilience testing")
    group.addoption(
        "--chaos-target",
        metavar="FILE",
        default=None,
        help="target file (e.g. targets/sandbox.yaml); game days skip without one",
    )
    group.addoption(
        "--chaos-kubeconfig",
        metavar="FILE",
        default=None,
        help="kubeconfig of a real cluster: enables the live Kubernetes suite",
    )
    group.addoption(
        "--chaos-dry-run",
        action="store_true",
        default=False,
        help="print what each fault would do and touch nothing",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare chaosgate's markers; export ``--chaos-kubeconfig`` to the live suite."""
    kubeconfig = config.getoption("--chaos-kubeconfig", default=None)
    if kubeconfig:
        import os

        os.environ["CHAOSGATE_KUBECONFIG"] = str(kubeconfig)
    config.addinivalue_line("markers", "gameday: a game-day scenario (needs --chaos-target)")
    config.addinivalue_line("markers", "fault(name): the fault a scenario injects")


def pytest_report_header(config: pytest.Config) -> str | None:
    """Name the chaos target in pytest's header."""
    target = config.getoption("--chaos-target")
    if target:
        dry = " (dry run)" if config.getoption("--chaos-dry-run") else ""
        return f"chaosgate target: {target}{dry}"
    return None


@pytest.fixture(scope="session")
def chaos_target(pytestconfig: pytest.Config) -> Target:
    """The loaded ``--chaos-target``; skips the test when none was given."""
    path = pytestconfig.getoption("--chaos-target")
    if not path:
        pytest.skip("no --chaos-target given")
    from .exceptions import TargetError
    from .targets import load_target

    try:
        return load_target(path)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from exc
