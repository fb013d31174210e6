"""When the session starts the real Kubernetes control plane, and on which ports
(tests/k8s/kubeplane.py, loaded by the root conftest)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubeplane
import pytest

ROOT = Path(__file__).resolve().parents[2]


def config(*args: str, cwd: Path = ROOT) -> Any:
    return SimpleNamespace(args=list(args), invocation_params=SimpleNamespace(dir=cwd))


def test_started_only_when_the_run_includes_tests_k8s() -> None:
    assert kubeplane.selects_k8s(config("tests"))
    assert kubeplane.selects_k8s(config("."))
    assert kubeplane.selects_k8s(config("tests/k8s"))
    assert kubeplane.selects_k8s(config("tests/k8s/test_rbac.py::test_x"))
    assert kubeplane.selects_k8s(config("k8s/test_live.py", cwd=ROOT / "tests"))
    assert not kubeplane.selects_k8s(config("tests/unit", "tests/integration/test_x.py"))
    assert not kubeplane.selects_k8s(config())


def test_port_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSGATE_KUBE_PORT_BASE", raising=False)
    monkeypatch.setenv("CHAOSGATE_TEST_BASE_PORT", "30700")
    assert kubeplane.port_base() == 30900
    monkeypatch.delenv("CHAOSGATE_TEST_BASE_PORT")
    assert kubeplane.port_base() == 28300
    monkeypatch.setenv("CHAOSGATE_KUBE_PORT_BASE", "31000")
    assert kubeplane.port_base() == 31000
