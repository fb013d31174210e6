"""``chaosgate init`` scaffolds a project that chaosgate accepts, and never overwrites one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from chaoslib.experiment import ensure_experiment_is_valid
from chaoslib.loader import load_experiment
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.cli.init import SCAFFOLD
from chaosgate.exceptions import EXIT_USAGE
from chaosgate.load.profiles import find_profile, read_profile
from chaosgate.paths import default_folder
from chaosgate.slo.catalog import load_catalog
from chaosgate.targets import load_target


def _init(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["init", str(folder), *args])
    return result.exit_code, result.output


def test_init_writes_a_project_chaosgate_accepts(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _init(Path("."))
    assert code == 0, out
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) \
        == sorted(SCAFFOLD)
    assert CliRunner().invoke(app, ["validate", "target.yaml"]).exit_code == 0
    target = load_target("target.yaml")
    assert target.platform.type == "kubernetes" and target.safety.dry_run
    # the default folders are the scaffolded ones, not the shipped ones
    assert default_folder("probes", target.source) == tmp_path / "probes"
    assert load_catalog(default_folder("probes", target.source)).get("time-to-recover")
    profile = read_profile(find_profile("open", Path("/"), target.source))
    assert profile.locustfile(Path("/")) == tmp_path / "locustfile.py"
    ensure_experiment_is_valid(load_experiment("experiments/kill-a-pod.yaml"))
    for name in ("locustfile.py", "scenarios/test_kill_a_pod.py"):
        ast.parse((tmp_path / name).read_text(), name)


def test_init_refuses_to_overwrite_and_names_the_files(tmp_path: Path) -> None:
    (tmp_path / "probes").mkdir()
    (tmp_path / "probes" / "slos.yaml").write_text("mine\n")
    code, out = _init(tmp_path)
    assert code == EXIT_USAGE
    assert "probes/slos.yaml" in out and "--force" in out
    assert not (tmp_path / "target.yaml").exists(), "nothing is written when one file exists"
    assert (tmp_path / "probes" / "slos.yaml").read_text() == "mine\n"
    code, out = _init(tmp_path, "--force")
    assert code == 0, out
    assert "kind: SLOCatalog" in (tmp_path / "probes" / "slos.yaml").read_text()



def test_init_where_it_cannot_write_exits_2_and_keeps_no_new_file(tmp_path: Path) -> None:
    (tmp_path / "scenarios").write_text("a file where the scenarios folder must go\n")
    code, out = _init(tmp_path)
    assert code == EXIT_USAGE
    assert "scenarios/test_kill_a_pod.py: cannot be written" in out and "Fix:" in out
    assert "Traceback" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenarios"], "nothing new kept"
