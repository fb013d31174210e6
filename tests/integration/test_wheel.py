"""chaosgate installed from its wheel (not editable), run from an empty folder.

The wheel is built from a copy of this checkout (``pip wheel --no-deps``;
the build backend comes from PyPI, or pip's cache) and installed
into a fresh virtualenv in a temporary folder. The virtualenv borrows the
dependencies of the interpreter running the tests through a ``.pth`` file
(a path entry, so that folder's own ``.pth`` files, among them the editable
install of chaosgate, are not read), so nothing is downloaded but the build
backend. Every command runs in an empty folder, without ``PYTHONPATH``,
against the session sandbox: ``chaosgate init``, ``chaosgate validate``,
``chaosgate slo check`` (the shipped catalogue), ``chaos run`` of a shipped
experiment and ``chaosgate gameday`` of a shipped scenario (pytest with the
plugin, by its entry point), and checks each used the installed copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from _faults import ensure_healthy, links_clean, write_target

from chaosgate.sandbox.manager import SandboxManager

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 300
SKIP = (".git", ".venv", "node_modules", "build", "dist", "reports", ".chaosgate", "*.egg-info",
        "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")


class Installed:
    """The fresh virtualenv with the wheel installed, and an empty folder to run in."""

    def __init__(self, venv: Path, empty: Path) -> None:
        self.venv, self.empty = venv, empty
        self.bin = venv / "bin"
        self.env = {k: v for k, v in os.environ.items()
                    if k != "PYTHONPATH" and not k.startswith("CHAOSGATE_")}

    def run(self, *cmd: str, timeout: float = 120, ledger: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run a command of the virtualenv's bin/ in the empty folder (with its own ledger)."""
        env = dict(self.env, CHAOSGATE_LEDGER=str(ledger)) if ledger else self.env
        return subprocess.run([str(self.bin / cmd[0]), *cmd[1:]], cwd=self.empty, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def python(self, code: str) -> str:
        """The output of a snippet run by the virtualenv's python."""
        proc = self.run("python", "-c", code)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


def _ok(proc: subprocess.CompletedProcess[str], *codes: int) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode in (codes or (0,)), f"exit {proc.returncode}:\n{out[-4000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, empty = base / "dist", base / "venv", base / "empty"
    empty.mkdir()
    # built from a copy: setuptools builds in the tree, and a stale build/ would be packed
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    _ok(subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                        str(dist), str(source)], capture_output=True, text=True, timeout=240))
    wheel = next(dist.glob("chaosgate-*.whl"))
    _ok(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                       capture_output=True, text=True, timeout=60))
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the borrowed folder holds the checkout's editable install
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _ok(subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                        "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=120, env=clean))
    # `chaos` comes with the dependencies; its script must run this interpreter
    chaos = venv / "bin" / "chaos"
    chaos.write_text(f"#!{python}\nimport sys\nfrom chaostoolkit.__main__ import cli\n"
                     "sys.exit(cli())\n")
    chaos.chmod(0o755)
    yield Installed(venv, empty)


def test_the_installed_copy_is_the_one_imported(installed: Installed) -> None:
    where = Path(installed.python("import chaosgate; print(chaosgate.__file__)"))
    assert where.is_relative_to(installed.venv), where
    shipped = installed.run("python", "-m", "chaosgate.paths")
    folders = [Path(line) for line in _ok(shipped).split()]
    assert [f.name for f in folders] == ["probes", "loadprofiles", "scenarios", "experiments"]
    assert all(f.is_relative_to(installed.venv) and any(f.iterdir()) for f in folders)


def test_init_then_validate_from_an_empty_folder(installed: Installed) -> None:
    _ok(installed.run("chaosgate", "init"))
    assert "valid target 'my-system'" in _ok(installed.run("chaosgate", "validate",
                                                           "target.yaml"))
    refused = _ok(installed.run("chaosgate", "init"), 2)
    assert "--force" in refused
    for child in sorted(installed.empty.rglob("*"), reverse=True):  # empty again
        child.unlink() if child.is_file() else child.rmdir()


def test_slo_check_uses_the_shipped_catalogue(installed: Installed, sandbox: SandboxManager,
                                              tmp_path: Path) -> None:
    target = write_target(sandbox, tmp_path)
    proc = installed.run("chaosgate", "slo", "check", "--target", str(target), "--window", "1m",
                         "--json")
    _ok(proc, 0, 1, 3)  # not 2: the catalogue was found
    names = {v["slo"] for v in json.loads(proc.stdout)["verdicts"]}
    assert {"availability", "checkout-latency-p95"} <= names, proc.stdout


def test_chaos_run_of_a_shipped_experiment(installed: Installed, sandbox: SandboxManager,
                                           tmp_path: Path) -> None:
    ensure_healthy(sandbox)
    target = write_target(sandbox, tmp_path)
    experiments = Path(_ok(installed.run("python", "-m", "chaosgate.paths", "experiments"))
                       .strip())
    journal = tmp_path / "journal.json"
    proc = installed.run("chaos", "--log-file", str(tmp_path / "chaos.log"), "run",
                         "--journal-path", str(journal), "--var",
                         f"chaosgate_target={target}", str(experiments / "pod-kill.yaml"),
                         timeout=RUN_TIMEOUT, ledger=tmp_path / "ledger.jsonl")
    _ok(proc)
    section = json.loads(journal.read_text())["chaosgate"]
    assert section["verdict"] == "pass", section
    assert (tmp_path / "reports" / "locust").is_dir(), "reports go beside the target file"
    assert links_clean(sandbox)


def test_gameday_of_a_shipped_scenario(installed: Installed, sandbox: SandboxManager,
                                       tmp_path: Path) -> None:
    ensure_healthy(sandbox)
    target = write_target(sandbox, tmp_path)
    proc = installed.run("chaosgate", "gameday", "--target", str(target), "-k", "baseline",
                         timeout=RUN_TIMEOUT, ledger=tmp_path / "ledger.jsonl")
    out = _ok(proc)
    results = json.loads((tmp_path / "reports" / "gameday.json").read_text())
    assert [g["verdict"] for g in results["gamedays"]] == ["pass"], out[-3000:]
    assert "chaosgate/data/scenarios/test_baseline.py" in out, "the shipped suite ran"
    assert not (installed.empty / "reports").exists(), "reports go beside the target file"
