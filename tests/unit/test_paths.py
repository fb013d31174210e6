"""Default folders come from the target file, then the package; never the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.ctk.config import settings_from
from chaosgate.load.profiles import find_profile, read_profile
from chaosgate.load.runner import spec_for_target
from chaosgate.paths import (
    SHIPPED,
    _main,
    default_folder,
    default_reports,
    project_folder,
    shipped,
)
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import dump_target, load_target, render_sandbox_target


def _project(root: Path, *folders: str, target: str = "target.yaml") -> Path:
    for folder in folders:
        (root / folder).mkdir(parents=True)
    file = root / target
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("kind: Target\n")
    return file


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that holds every folder, to prove it is never searched."""
    cwd = tmp_path / "cwd"
    for folder in (*SHIPPED, "reports"):
        (cwd / folder).mkdir(parents=True)
    (cwd / "loadprofiles" / "open.conf").write_text("users = 1\n")
    monkeypatch.chdir(cwd)
    return cwd


def test_every_shipped_folder_is_in_the_package() -> None:
    assert (shipped("probes") / "shop.yaml").is_file()
    assert (shipped("loadprofiles") / "open.conf").is_file()
    assert (shipped("loadprofiles") / "shop.py").is_file()
    assert sorted(shipped("scenarios").glob("test_*.py"))
    assert sorted(shipped("experiments").glob("*.yaml"))
    with pytest.raises(ValueError, match="not shipped"):
        shipped("reports")


def test_a_folder_beside_the_target_wins(tmp_path: Path, elsewhere: Path) -> None:
    target = _project(tmp_path / "p", "probes")
    assert default_folder("probes", target) == tmp_path / "p" / "probes"
    assert default_folder("scenarios", target) == shipped("scenarios")


def test_a_target_in_a_targets_folder_finds_the_project_above(tmp_path: Path,
                                                               elsewhere: Path) -> None:
    target = _project(tmp_path / "p", "probes", "scenarios", target="targets/t.yaml")
    assert default_folder("probes", target) == tmp_path / "p" / "probes"
    assert default_folder("scenarios", target) == tmp_path / "p" / "scenarios"
    assert project_folder(target) == tmp_path / "p"
    assert default_reports(target) == tmp_path / "p" / "reports"


def test_without_folders_beside_it_the_package_and_the_targets_folder(
        tmp_path: Path, elsewhere: Path) -> None:
    target = _project(tmp_path / "lonely")
    assert default_folder("probes", target) == shipped("probes")
    assert default_reports(target) == tmp_path / "lonely" / "reports"
    assert default_folder("probes", "<memory>") == shipped("probes")


def test_a_relative_target_is_anchored_where_it_is(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path / "p", "probes")
    monkeypatch.chdir(tmp_path)
    assert default_folder("probes", "p/target.yaml") == tmp_path / "p" / "probes"


def test_profiles_by_name_come_from_beside_the_target_then_the_package(
        tmp_path: Path, elsewhere: Path) -> None:
    target = _project(tmp_path / "p", "loadprofiles")
    (tmp_path / "p" / "loadprofiles" / "mine.conf").write_text("users = 2\n")
    assert find_profile("mine", elsewhere, target) == tmp_path / "p" / "loadprofiles" / "mine.conf"
    lonely = _project(tmp_path / "q")
    assert find_profile("open", elsewhere, lonely) == shipped("loadprofiles") / "open.conf"
    with pytest.raises(ValueError, match=r"unknown profile 'mine'.*known: .*open"):
        find_profile("mine", elsewhere, lonely)
    # a path is read as written, from the working directory
    assert find_profile("loadprofiles/open.conf", elsewhere) == elsewhere / "loadprofiles/open.conf"


def test_chaos_toolkit_settings_resolve_from_the_target(tmp_path: Path, elsewhere: Path) -> None:
    target = _project(tmp_path / "p", "probes", target="targets/t.yaml")
    s = settings_from({"chaosgate_target": str(target)}, {})
    assert (s.catalog, s.reports) == (tmp_path / "p" / "probes", tmp_path / "p" / "reports")
    given = settings_from({"chaosgate_target": str(target)},
                          {"CHAOSGATE_CATALOG": "c.yaml", "CHAOSGATE_REPORTS": "out"})
    assert (given.catalog, given.reports) == (Path("c.yaml"), Path("out"))


def test_python_m_chaosgate_paths_prints_the_shipped_folders(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["experiments"]) == 0
    assert capsys.readouterr().out.strip() == str(shipped("experiments"))
    assert _main(["reports"]) == 2
    assert "reports: not shipped" in capsys.readouterr().err


def test_load_logs_go_to_the_targets_reports_folder(tmp_path: Path, elsewhere: Path) -> None:
    target_file = dump_target(render_sandbox_target(build_topology(tmp_path / "sb", 48310)),
                              tmp_path / "p" / "targets" / "t.yaml")
    (tmp_path / "p" / "probes").mkdir()
    profile = read_profile(find_profile("open", elsewhere, target_file))
    spec = spec_for_target(load_target(target_file), profile, 10, run_id="x")
    assert spec.out_dir == tmp_path / "p" / "reports" / "locust" / "x"


def test_the_repository_commands_find_the_repository_folders(elsewhere: Path) -> None:
    """`make gameday` and the README run with targets/sandbox.yaml: the root's folders."""
    root = Path(__file__).resolve().parents[2]
    sandbox = root / "targets" / "sandbox.yaml"
    for name in SHIPPED:
        assert default_folder(name, sandbox) == root / name
        assert shipped(name) == root / name  # the package's links name them
    assert default_reports(sandbox) == root / "reports"
