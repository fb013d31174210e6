"""pytest plugin (loaded by the root conftest): the session's real Kubernetes control plane.

When the run includes tests/k8s, :func:`pytest_sessionstart` builds (once per
machine, cached) and starts the control plane of ``scripts/kube`` on
127.0.0.1 at ``$CHAOSGATE_KUBE_PORT_BASE`` (default: the test base port
+ 200), points the live suite at it (``CHAOSGATE_KUBECONFIG``, unless
``--chaos-kubeconfig`` named another cluster), and prints in the report
header ``kubernetes: v1.20.2 (real control plane at https://127.0.0.1:PORT)``
or why there is none. :func:`pytest_sessionfinish` stops exactly what it
started. ``CHAOSGATE_KUBE_STATE=DIR`` reuses a control plane already
started with ``scripts/kube up --state-dir DIR`` (and leaves it running);
``CHAOSGATE_KUBE=off`` starts none (the tests that need it then fail,
saying why). Under pytest-xdist the controller starts it (this hook runs
before xdist spawns its workers) and the workers reuse it through
``CHAOSGATE_KUBE_STATE``; only the controller stops it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
import realkube

K8S_TESTS = Path(__file__).resolve().parent
STATE = pytest.StashKey[realkube.ControlPlane]()
PROBLEM = pytest.StashKey[str]()
OWNED = pytest.StashKey[Path]()


def port_base() -> int:
    explicit = os.environ.get("CHAOSGATE_KUBE_PORT_BASE")
    if explicit:
        return int(explicit)
    return int(os.environ.get("CHAOSGATE_TEST_BASE_PORT", "28100")) + 200


def selects_k8s(config: pytest.Config) -> bool:
    """Whether the run's paths include tests/k8s (or a folder above it)."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == K8S_TESTS or K8S_TESTS in path.parents or path in K8S_TESTS.parents:
            return True
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if not selects_k8s(config):
        config.stash[PROBLEM] = "not started (this run has no tests in tests/k8s)"
        return
    if os.environ.get("CHAOSGATE_KUBE") == "off":
        config.stash[PROBLEM] = "not started (CHAOSGATE_KUBE=off)"
        return
    reuse = os.environ.get("CHAOSGATE_KUBE_STATE")
    try:
        if reuse:
            plane = realkube.running(Path(reuse))
            if plane is None:
                raise RuntimeError(f"CHAOSGATE_KUBE_STATE={reuse}: no control plane runs "
                                   f"there; start one with scripts/kube up --state-dir {reuse}")
        else:
            state = Path(tempfile.mkdtemp(prefix="chaosgate-kube-"))
            config.stash[OWNED] = state
            print(f"\nstarting the Kubernetes control plane (scripts/kube up; the first "
                  f"run on a machine builds it, ~7 min) in {state}", file=sys.stderr,
                  flush=True)
            started = time.monotonic()
            plane = realkube.start(state, port_base())
            print(f"kubernetes control plane ready in {time.monotonic() - started:.1f} s",
                  file=sys.stderr, flush=True)
            # pytest-xdist workers start after this hook (xdist's is trylast) and inherit
            # the environment: they reuse this control plane instead of starting their own
            os.environ["CHAOSGATE_KUBE_STATE"] = str(state)
    except (RuntimeError, OSError, ValueError) as exc:
        config.stash[PROBLEM] = f"absent: {exc}"
        return
    config.stash[STATE] = plane
    os.environ.setdefault("CHAOSGATE_KUBECONFIG", str(plane.admin_kubeconfig))


def pytest_report_header(config: pytest.Config) -> str:
    plane = config.stash.get(STATE, None)
    if plane is not None:
        return f"kubernetes: {plane.version} (real control plane at {plane.server})"
    problem = config.stash.get(PROBLEM, "not started")
    first = problem.splitlines()[0] if problem else problem
    more = " (the Kubernetes tests show the rest)" if "\n" in problem else ""
    return f"kubernetes: {first}{more}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(OWNED, None)
    if state is not None:
        realkube.stop(state)
        keep = os.environ.get("CHAOSGATE_KEEP_LOGS")
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> realkube.ControlPlane:
    """The session's control plane; fails (saying why) when it could not start."""
    plane = request.config.stash.get(STATE, None)
    if plane is None:
        pytest.fail(f"no Kubernetes control plane: {request.config.stash.get(PROBLEM, '?')}",
                    pytrace=False)
    return plane


@pytest.fixture(scope="session")
def cluster(control_plane: realkube.ControlPlane) -> realkube.Cluster:
    """An admin client on the control plane (for setting scenes, not for chaosgate)."""
    return realkube.Cluster(control_plane)
