"""Root conftest: thin. Data folders are not test modules.

It also makes the suite safe to run on several pytest-xdist workers (``make
test`` runs two; the integration tests mostly wait on faults and windows, so
two sandboxes side by side halve the wall-clock time on two cores):

- every worker gets its own block of ports: ``CHAOSGATE_TEST_BASE_PORT``
  (default 28100) moves up by 1000 per worker, before any test module reads
  it, so each worker's session sandbox, game-day sandbox (+100) and
  down-test sandbox (+300) never meet another worker's;
- every test process (each worker, or the one process without xdist) gets its
  own ``XDG_STATE_HOME``, so the ledgers and child registries of the targets the
  tests write (everything but the sandbox's) never land in the user's
  ``~/.local/state`` nor in another worker's;
- the tests of a module that has module- or class-scoped fixtures stay on one
  worker (one ``xdist_group`` per module: the fixture is built once), and so
  do all of tests/k8s (they were written for one control plane, one test at
  a time), while every other test is scheduled on its own (``--dist
  loadgroup``). The control plane itself is started once, by the controller
  (``kubeplane``: workers reuse it through ``CHAOSGATE_KUBE_STATE``).

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

import pytest

sys.path.append(str(Path(__file__).resolve().parent / "tests" / "k8s"))

pytest_plugins = ["kubeplane"]

collect_ignore = ["experiments", "probes", "loadprofiles", "targets", "reports", "deploy",
                  "node_modules", ".chaosgate", "bench"]

#: Ports between two workers' blocks; a sandbox and its +100/+300 siblings fit well inside.
WORKER_PORT_STRIDE = 1000
K8S_TESTS = Path(__file__).resolve().parent / "tests" / "k8s"


def _isolate_this_process() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... (unset: no xdist)
    if worker.startswith("gw") and worker[2:].isdigit():
        base = int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100"))
        os.environ["CHAOSGATE_TEST_BASE_PORT"] = str(base + WORKER_PORT_STRIDE * int(worker[2:]))
    state = tempfile.mkdtemp(prefix=f"chaosgate-test-state-{worker or 'main'}-")
    os.environ["XDG_STATE_HOME"] = state  # inherited by every chaosgate the tests start
    atexit.register(shutil.rmtree, state, ignore_errors=True)


_isolate_this_process()


def _has_module_scoped_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the item's fixtures
    if info is None:
        return False
    return any(defs and defs[-1].scope in ("module", "class", "package")
               for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist turns the groups into node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One ``xdist_group`` per module whose tests share a module/class-scoped fixture, and
    one for tests/k8s (they share the session's one control plane, one test at a time)."""
    grouped = {item.module.__name__ for item in items
               if isinstance(item, pytest.Function) and _has_module_scoped_fixture(item)}
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if K8S_TESTS in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.xdist_group("k8s"))
        elif item.module.__name__ in grouped:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
