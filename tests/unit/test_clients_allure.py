"""Building the Allure HTML: errors and exit codes, atomic swap.

The success path runs the real npm ``allure`` CLI in
tests/integration/test_report_html.py; here a stand-in script plays a
generator that fails or succeeds, which the real one cannot be made to do
on demand.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.clients import allure as allure_html
from chaosgate.clients.allure import build_allure_html, declare_data_first, find_allure_cli
from chaosgate.exceptions import ChaosgateError, Inconclusive, UsageError

# Writes index.html into --output and records its arguments, or fails.
FAKE = """#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done
echo "$@" > "$(dirname "$0")/args.txt"
cp allurerc.json "$(dirname "$0")/allurerc.json"
if [ -n "$FAIL" ]; then echo "boom: cannot read results" >&2; exit 1; fi
mkdir -p "$out" && echo "<html><head></head>new</html>" > "$out/index.html"
"""


@pytest.fixture
def fake_cli(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "allure"
    path.parent.mkdir()
    path.write_text(FAKE)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def results(tmp_path: Path) -> Path:
    d = tmp_path / "allure-results"
    d.mkdir()
    (d / "0-result.json").write_text("{}")
    return d


def test_builds_and_replaces(tmp_path: Path, fake_cli: Path, results: Path) -> None:
    out = tmp_path / "reports" / "allure-report"
    out.mkdir(parents=True)
    (out / "old.txt").write_text("old")
    index = build_allure_html(results, out, single_file=True, allure_cli=fake_cli)
    assert index == out / "index.html" and index.read_text() == (
        "<html><head>" + declare_data_first("</head>").removesuffix("</head>") + "</head>new"
        "</html>\n")
    assert not (out / "old.txt").exists()
    args = (fake_cli.parent / "args.txt").read_text().split()
    assert args[:2] == ["awesome", str(results)] and "--single-file" in args
    config = json.loads((fake_cli.parent / "allurerc.json").read_text())
    assert [c["name"] for c in config["categories"]][:3] == [
        "SLO violated", "Fault not effective", "Infrastructure"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["allure-report"]  # no scratch left


def test_results_categories_are_used(tmp_path: Path, fake_cli: Path, results: Path) -> None:
    own = [{"name": "Ours", "matchedStatuses": ["failed"]}]
    (results / "categories.json").write_text(json.dumps(own))
    build_allure_html(results, tmp_path / "out", allure_cli=fake_cli)
    assert json.loads((fake_cli.parent / "allurerc.json").read_text())["categories"] == own


def test_failed_build_keeps_the_previous_report(tmp_path: Path, fake_cli: Path, results: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "allure-report"
    out.mkdir()
    (out / "index.html").write_text("good")
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(ChaosgateError, match="boom: cannot read results") as info:
        build_allure_html(results, out, allure_cli=fake_cli)
    assert info.value.exit_code == 3
    assert (out / "index.html").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allure-report", "allure-results",
                                                          "bin"]


def test_missing_results_directory_is_a_usage_error(tmp_path: Path, fake_cli: Path) -> None:
    with pytest.raises(UsageError, match="no such allure-results directory"):
        build_allure_html(tmp_path / "nope", tmp_path / "out", allure_cli=fake_cli)


def test_empty_results_are_inconclusive(tmp_path: Path, fake_cli: Path) -> None:
    (tmp_path / "r").mkdir()
    with pytest.raises(Inconclusive, match="no data is never a pass"):
        build_allure_html(tmp_path / "r", tmp_path / "out", allure_cli=fake_cli)


def test_missing_generator_says_run_bootstrap(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(allure_html.ALLURE_ENV, raising=False)
    monkeypatch.setattr(allure_html, "_PACKAGE_ROOT", tmp_path)
    with pytest.raises(UsageError, match="run scripts/bootstrap") as info:
        find_allure_cli(tmp_path)
    assert info.value.exit_code == 2


def test_generator_found_in_a_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(allure_html.ALLURE_ENV, raising=False)
    exe = tmp_path / "node_modules" / ".bin" / "allure"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_allure_cli(tmp_path / "a" / "b") == exe
    monkeypatch.setenv(allure_html.ALLURE_ENV, str(tmp_path / "missing"))
    with pytest.raises(UsageError, match=allure_html.ALLURE_ENV):
        find_allure_cli(tmp_path)


@pytest.mark.parametrize(("setup", "code", "text"), [
    ("none", 2, "no such allure-results directory"),
    ("empty", 3, "no test results"),
    ("fail", 3, "allure failed"),
    ("ok", 0, "Allure report"),
])
def test_report_command_exit_codes(tmp_path: Path, fake_cli: Path,
                                   monkeypatch: pytest.MonkeyPatch, setup: str, code: int,
                                   text: str) -> None:
    monkeypatch.setenv(allure_html.ALLURE_ENV, str(fake_cli))
    monkeypatch.chdir(tmp_path)
    if setup != "none":
        (tmp_path / "reports" / "allure-results").mkdir(parents=True)
    if setup in ("fail", "ok"):
        (tmp_path / "reports" / "allure-results" / "x-result.json").write_text("{}")
    if setup == "fail":
        monkeypatch.setenv("FAIL", "1")
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == code, result.output
    assert text in result.output.replace("\n", " ")


def test_report_command_rebuilds_the_summary(tmp_path: Path, fake_cli: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosgate.report.model import GameDayResult, save_gameday_results

    monkeypatch.setenv(allure_html.ALLURE_ENV, str(fake_cli))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports" / "allure-results").mkdir(parents=True)
    (tmp_path / "reports" / "allure-results" / "x-result.json").write_text("{}")
    save_gameday_results("reports/gameday.json",
                         [GameDayResult("pod kill", "pass", allure_uuid="u1")])
    result = CliRunner().invoke(app, ["report", "--single-file"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "reports" / "summary.html").read_text()
    assert 'href="allure-report/index.html#' in page and "pod kill" in page
    (tmp_path / "reports" / "gameday.json").write_text("{}")
    assert CliRunner().invoke(app, ["report"]).exit_code == 2
    assert os.path.exists(tmp_path / "reports" / "allure-report" / "index.html")


def test_a_single_file_report_declares_its_data_before_its_app() -> None:
    page = ('<html><head><title>r</title></head><body><script src="data:text/javascript;'
            'base64,AA=="></script><script>window.allureReportData = {};</script></body>'
            '</html>')
    fixed = declare_data_first(page)
    declared = fixed.index("window.allureReportData = window.allureReportData || {};")
    assert declared < fixed.index("</head>") < fixed.index("data:text/javascript")
    assert declare_data_first(fixed) == fixed  # once
    with pytest.raises(ChaosgateError, match="</head>"):
        declare_data_first("<html><body></body></html>")
