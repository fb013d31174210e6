"""Root conftest: thin. Data folders are not test modules.

It also makes the suite safe to run on several pytest-xdist workers (``make
test`` runs two; the integration tests mostly wait on faults and
windows, so two sandboxes side by side halve the wall-clock time on two cores):

- every worker gets its own block of ports: ``CHAOSGATE_TEST_BASE_PORT``
  (default 28100) moves up by 1000 per worker, before any test module reads
  it, so each worker's session sandbox, game-day sandbox (+100) and
  down-test sandbox (+300) never meet another worker's;
- every test process (each worker, or the one process without xdist) gets its
  own ``XDG_STATE_HOME``, so the ledgers and child registries of the targets the
  tests write (everything but the sandbox's) never land in the user's
  ``~/.local/state`` nor in another worker's;
- the scheduler (:func:`pytest_xdist_make_scheduler`) keeps an integration
  file on one worker (its module-scoped fixtures are built once) unless it is
  listed in :data:`SPLIT_FILES`, and all of tests/k8s on one worker (they were
  written for one control plane, one test at a time); every other test is
  scheduled on its own. The control plane itself is started once, by the
  controller (``kubeplane``: workers reuse it through ``CHAOSGATE_KUBE_STATE``).

Property tests (hypothesis) are derandomized when ``CI`` is set: a CI run
explores the same examples every time, so it cannot turn red on an example
no commit introduced; a developer's run keeps exploring new ones, and a
counterexample found there is fixed and pinned with ``@example``.

It loads tests/k8s/kubeplane.py, the plugin that starts the session's real
Kubernetes control plane and names it in the report header (a plugin, not
tests/k8s/conftest.py, because only root-level hooks run before the header).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.append(str(Path(__file__).resolve().parent / "tests" / "k8s"))

pytest_plugins = ["kubeplane"]

collect_ignore = ["experiments", "probes", "loadprofiles", "targets", "reports", "deploy",
                  "node_modules", ".chaosgate", "bench"]

#: Ports between two workers' blocks; a sandbox and its +100/+300 siblings fit well inside.
WORKER_PORT_STRIDE = 1000


def _isolate_this_process() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... (unset: no xdist)
    if worker.startswith("gw") and worker[2:].isdigit():
        base = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))
        os.environ["CHAOSGATE_TEST_BASE_PORT"] = str(base + WORKER_PORT_STRIDE * int(worker[2:]))
    state = tempfile.mkdtemp(prefix=f"chaosgate-test-state-{worker or 'main'}-")
    os.environ["XDG_STATE_HOME"] = state  # inherited by every chaosgate the tests start
    atexit.register(shutil.rmtree, state, ignore_errors=True)


_isolate_this_process()


#: Integration test files whose tests are independent and share no module-scoped
#: fixture: the scheduler hands out their tests one by one (the long ones balance out).
#: Every other integration file goes to one worker whole.
SPLIT_FILES = frozenset({
    "tests/integration/test_experiments.py",
    "tests/integration/test_fault_cli.py",
    "tests/integration/test_faults_sandbox.py",
    "tests/integration/test_torture.py",
})
#: The test that brings a worker's session sandbox down: a unit of its own, scheduled last.
TEARDOWN_TESTS = frozenset({"tests/integration/test_sandbox.py::test_down_leaves_no_process"})


def scope_of(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to, for pytest-xdist's scheduler.

    tests/k8s share the session's one control plane (cluster-wide CRDs, one
    test at a time): one unit. An integration file is one unit (its
    module-scoped fixtures built once), unless it is in :data:`SPLIT_FILES`.
    Everything else, and the sandbox teardown test, is a unit of its own.
    """
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/k8s/"):
        return "tests/k8s"
    if path.startswith("tests/integration/") and path not in SPLIT_FILES \
            and nodeid not in TEARDOWN_TESTS:
        return path
    return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule by :func:`scope_of` (xdist's ``loadgroup`` marks do not reach the node ids
    under pytest 9, so the units are named here). Units go out in collection order,
    the largest first; the sandbox teardown test, last in collection order, comes last."""
    from xdist.scheduler import LoadScopeScheduling

    class ChaosgateScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return ChaosgateScheduling(config, log)
