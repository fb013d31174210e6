"""One ledger per target, wherever the command runs: where it is, who overrides it, and
``chaosgate cleanup --target`` finding a dead owner's children from another folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.clients import children
from chaosgate.clients.processes import read_stat
from chaosgate.faults.ledger import (
    default_ledger_path,
    ledger_for,
    ledger_path,
    state_home,
    target_key,
    target_slug,
)
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import Target, dump_target, load_target, render_sandbox_target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_ledger_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CHAOSGATE_LEDGER", raising=False)
    yield
    children.use_registry(None)  # this process's registry is process-wide


def _sandbox_target(tmp_path: Path) -> Path:
    return dump_target(render_sandbox_target(build_topology(tmp_path / "sb", 28790)),
                       tmp_path / "target.yaml")


def _kube_target(tmp_path: Path, context: str = "prod") -> Target:
    text = (ROOT / "targets" / "kubernetes.example.yaml").read_text()
    path = tmp_path / f"kube-{context}.yaml"
    path.write_text(text.replace("context: prod-eu", f"context: {context}")
                    .replace("# kubeconfig: ~/.kube/prod.yaml", "kubeconfig: /etc/kube/config"))
    return load_target(path)


def test_a_sandbox_ledger_lives_in_its_state_folder(tmp_path: Path) -> None:
    target = load_target(_sandbox_target(tmp_path))
    assert default_ledger_path(target, {}) == (tmp_path / "sb").resolve() / "ledger.jsonl"


def test_another_targets_ledger_lives_in_the_xdg_state_folder(tmp_path: Path) -> None:
    prod, staging = _kube_target(tmp_path), _kube_target(tmp_path, "staging")
    path = default_ledger_path(prod, {"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert path == tmp_path / "xdg" / "chaosgate" / target_slug(target_key(prod)) / "ledger.jsonl"
    assert path.parent.name.startswith("kubernetes_etc_kube_config_prod-")
    assert default_ledger_path(staging, {"XDG_STATE_HOME": str(tmp_path / "xdg")}) != path
    # a relative XDG_STATE_HOME is ignored, as the XDG spec says
    assert state_home({"XDG_STATE_HOME": "rel", "HOME": "/home/u"}) == Path("/home/u/.local/state")


@pytest.mark.parametrize("key", ["kubernetes:in-cluster:(current)", "sandbox:/a b/../c:1",
                                 "", "x" * 300, "kubernetes:~/.kube/config:ctx/with/slashes"])
def test_a_target_slug_is_a_safe_stable_folder_name(key: str) -> None:
    slug = target_slug(key)
    assert slug == target_slug(key) and len(slug) <= 80
    assert "/" not in slug and slug not in (".", "..") and not slug.startswith(".")
    assert target_slug(key + "!") != slug


def test_the_option_then_the_environment_then_the_target_choose(tmp_path: Path) -> None:
    target = load_target(_sandbox_target(tmp_path))
    env = {"CHAOSGATE_LEDGER": str(tmp_path / "env.jsonl")}
    assert ledger_path(target, tmp_path / "opt.jsonl", env) == tmp_path / "opt.jsonl"
    assert ledger_path(target, None, env) == tmp_path / "env.jsonl"
    assert ledger_path(target, None, {}) == default_ledger_path(target, {})


def test_opening_a_targets_ledger_records_children_beside_it(tmp_path: Path) -> None:
    target = load_target(_sandbox_target(tmp_path))
    ledger = ledger_for(target)
    assert ledger.path == (tmp_path / "sb").resolve() / "ledger.jsonl"
    assert children.default_registry().directory == (tmp_path / "sb").resolve() / "children"


# A chaosgate-like owner started in one folder: it opens the target's ledger (no
# --ledger, no CHAOSGATE_LEDGER), starts a child with no death signal, prints its pid.
OWNER = """
import sys, time
from chaosgate.clients.children import spawn
from chaosgate.faults.ledger import ledger_for
from chaosgate.targets import load_target
ledger_for(load_target(sys.argv[1]))
child = spawn([sys.executable, "-c", "import time; time.sleep(120)"], role="sleeper",
              death_signal=None)
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def test_cleanup_from_another_folder_finds_the_targets_ledger_and_its_orphans(
        tmp_path: Path) -> None:
    target = _sandbox_target(tmp_path)
    here, there = tmp_path / "started-here", tmp_path / "cleaned-from-there"
    here.mkdir()
    there.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CHAOSGATE_LEDGER"}
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(target)], cwd=here, env=env,
                             stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        owner.kill()
        owner.wait(timeout=10)
        assert not (here / ".chaosgate").exists(), "nothing may depend on the folder"
        (there / ".chaosgate").mkdir()
        (there / ".chaosgate" / "ledger.jsonl").write_text("")  # an old default ledger
        result = subprocess.run([sys.executable, "-m", "chaosgate.cli", "cleanup", "--target",
                                 str(target)], cwd=there, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        out = " ".join(result.stdout.split())
        assert f"sleeper pid {child} of dead owner pid {owner.pid}" in out
        assert str((there / ".chaosgate" / "ledger.jsonl").resolve()) in out  # read too
        deadline = time.monotonic() + 20
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        owner.kill()
        owner.wait(timeout=10)
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)
