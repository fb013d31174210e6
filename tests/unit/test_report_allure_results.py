"""Allure results written without pytest: the files have the shape Allure reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from chaosgate.exceptions import FaultNotEffective, Inconclusive, SLOViolated
from chaosgate.report.allure_gameday import PhaseRecorder, gameday_test_result, status_of
from chaosgate.report.allure_results import (
    DEFAULT_CATEGORIES,
    AllureResultsWriter,
    Step,
    TestResult,
    properties_text,
)
from chaosgate.report.model import GameDayResult, SLORow

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
RESULT_KEYS = {"uuid", "historyId", "testCaseId", "name", "fullName", "status", "stage",
               "statusDetails", "start", "stop", "labels", "links", "steps", "attachments",
               "parameters"}
STEP_KEYS = {"name", "status", "stage", "statusDetails", "steps", "attachments", "parameters"}
STATUSES = {"passed", "failed", "broken", "skipped"}


def _results(d: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(d.glob("*-result.json"))]


def _check_step(step: dict[str, Any], results_dir: Path) -> None:
    assert step.keys() >= STEP_KEYS
    assert step["status"] in STATUSES
    assert step["stage"] == "finished"
    for a in step["attachments"]:
        assert set(a) == {"name", "source", "type"}
        assert (results_dir / a["source"]).is_file()
        assert re.fullmatch(r"[0-9a-f-]{36}-attachment\.\w+", a["source"])
    for p in step["parameters"]:
        assert set(p) == {"name", "value"} and isinstance(p["value"], str)
    for child in step["steps"]:
        _check_step(child, results_dir)


def _gameday(verdict: str = "fail", **kw: Any) -> GameDayResult:
    rows = (SLORow("availability", "99.995 %", ">= 99.99 %", "pass",
                   'sum(rate(x{code!~"5.."}[1m]))'),
            SLORow("p95 latency", "870 ms", "<= 250 ms", "fail" if verdict == "fail" else "pass"))
    return GameDayResult(name="pod kill", verdict=verdict, slos=rows,  # type: ignore[arg-type]
                         ttr_s=12.5, fault="kill 1 pod of app=orders", started=1000.0,
                         stopped=1060.0, plot_png=PNG, **kw)


def test_result_file_has_every_key_allure_reads(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    inner = Step("probe", start=1, stop=2, attachments=[w.attach("x", name="n", mime="text/plain")])
    test = TestResult(name="t", full_name="suite.t", status="failed", start=1, stop=5,
                      message="SLOViolated: p95", trace="tb", steps=[Step("phase", steps=[inner])],
                      labels=[("epic", "Resilience")], parameters=[("target", "sandbox")])
    path = w.write_result(test)
    assert path.name == f"{test.uuid}-result.json"
    (doc,) = _results(tmp_path)
    assert doc.keys() >= RESULT_KEYS
    assert doc["statusDetails"] == {"message": "SLOViolated: p95", "trace": "tb"}
    assert doc["labels"] == [{"name": "epic", "value": "Resilience"}]
    assert doc["steps"][0]["steps"][0]["name"] == "probe"
    _check_step(doc, tmp_path)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_history_id_is_stable_and_depends_on_parameters() -> None:
    a = TestResult(name="t", full_name="s.t", parameters=[("target", "a")]).to_json()
    b = TestResult(name="t", full_name="s.t", parameters=[("target", "a")]).to_json()
    c = TestResult(name="t", full_name="s.t", parameters=[("target", "b")]).to_json()
    assert a["historyId"] == b["historyId"] != c["historyId"]
    assert a["testCaseId"] == c["testCaseId"]
    assert a["uuid"] != b["uuid"]


def test_every_attachment_is_its_own_file(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    a = w.attach(PNG, name="plot", mime="image/png")
    b = w.attach(PNG, name="plot", mime="image/png")
    assert a.source != b.source
    assert (tmp_path / a.source).read_bytes() == PNG  # binary is not touched
    assert a.source.endswith(".png")


def test_text_attachments_are_redacted(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    for mime in ("text/plain", "text/markdown", "text/html", "application/json"):
        att = w.attach(b"password=hunter2 Authorization: Bearer abc", name="log", mime=mime)
        assert "hunter2" not in (tmp_path / att.source).read_text()
    journal = w.attach_json({"secrets": {"t": "x"}, "token": "abc", "out": "ok"}, name="journal")
    assert json.loads((tmp_path / journal.source).read_text()) == {
        "secrets": "***", "token": "***", "out": "ok"}


def test_result_texts_are_redacted(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    w.write_result(TestResult(name="t", status="broken",
                              message="cannot reach https://u:pw@prom/ with token=abc",
                              parameters=[("PROM_TOKEN", "abc")],
                              steps=[Step("login --password hunter2")]))
    text = next(tmp_path.glob("*-result.json")).read_text()
    assert "pw@" not in text and "abc" not in text and "hunter2" not in text


def test_environment_properties(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    w.write_environment({"target": "sandbox", "PROM_TOKEN": "abc", "a key": "line1\nline2",
                         "prometheus": "http://u:p@h:9090", "city": "Zürich"})
    text = (tmp_path / "environment.properties").read_text(encoding="ascii")
    assert "abc" not in text and "u:p" not in text
    assert "PROM_TOKEN=***\n" in text
    assert "a\\ key=line1\\nline2\n" in text
    assert "city=Z\\u00fcrich\n" in text
    assert properties_text({}) == ""


def test_categories(tmp_path: Path) -> None:
    AllureResultsWriter(tmp_path).write_categories()
    cats = json.loads((tmp_path / "categories.json").read_text())
    assert [c["name"] for c in cats] == ["SLO violated", "Fault not effective", "Infrastructure"]
    by_name = {c["name"]: c for c in cats}
    assert by_name["SLO violated"]["matchedStatuses"] == ["failed"]
    assert by_name["Infrastructure"]["matchedStatuses"] == ["broken"]
    assert cats == list(DEFAULT_CATEGORIES)


@pytest.mark.parametrize(("message", "category"), [
    ("SLOViolated: p95 870 ms > 250 ms", "SLO violated"),
    ("AssertionError: assert 3 == 0", "SLO violated"),
    ("FaultNotEffective: link still passes traffic\nmore", "Fault not effective"),
    ("Inconclusive: Prometheus unreachable", "Infrastructure"),
])
def test_category_regexes_match_whole_messages(message: str, category: str) -> None:
    status = "failed" if category == "SLO violated" else "broken"
    # Allure 2 matches the whole message (Java matches()), Allure 3 searches (JS test()).
    first = next(c["name"] for c in DEFAULT_CATEGORIES
                 if status in c["matchedStatuses"] and re.fullmatch(c["messageRegex"], message))
    assert first == category


def test_container(tmp_path: Path) -> None:
    w = AllureResultsWriter(tmp_path)
    path = w.write_container("sandbox", ["child-uuid"],
                             befores=[Step("sandbox up", start=1, stop=2)],
                             afters=[Step("sandbox down")], start=1, stop=9)
    doc = json.loads(path.read_text())
    assert path.name == f"{doc['uuid']}-container.json"
    assert doc["children"] == ["child-uuid"]
    assert doc["befores"][0]["name"] == "sandbox up" and doc["afters"][0]["status"] == "passed"


@pytest.mark.parametrize(("exc", "status"), [
    (SLOViolated("p95"), "failed"), (AssertionError("x"), "failed"),
    (FaultNotEffective("link up"), "broken"), (Inconclusive("no data"), "broken"),
    (RuntimeError("boom"), "broken"),
])
def test_status_of(exc: BaseException, status: str) -> None:
    got, message, _trace = status_of(exc)
    assert got == status
    assert message.startswith(type(exc).__name__ + ": ")


def test_phase_recorder_nests_times_and_fails_steps() -> None:
    rec = PhaseRecorder()
    with rec.step("steady state"), rec.step("probe", slo="availability"):
        pass
    with pytest.raises(SLOViolated), rec.step("evaluate"), rec.step("p95"):
        raise SLOViolated("p95 870 ms > 250 ms")
    first, second = rec.steps
    assert [s.name for s in first.steps] == ["probe"]
    assert first.steps[0].parameters == [("slo", "availability")]
    assert first.status == "passed" and second.status == "failed"
    assert second.steps[0].status == "failed"
    assert second.message == "SLOViolated: p95 870 ms > 250 ms"
    for s in (first, second, *first.steps, *second.steps):
        assert s.start is not None and s.stop is not None and s.start <= s.stop


@pytest.mark.parametrize(("verdict", "status", "prefix"), [
    ("pass", "passed", None), ("fail", "failed", "SLOViolated: "),
    ("inconclusive", "broken", "Inconclusive: "),
])
def test_gameday_test_result(tmp_path: Path, verdict: str, status: str,
                             prefix: str | None) -> None:
    w = AllureResultsWriter(tmp_path)
    rec = PhaseRecorder()
    with rec.step("inject fault"):
        pass
    result = _gameday(verdict, allure_uuid="0f8b3c1e-0000-4000-8000-000000000001",
                      message="" if verdict == "pass" else "why")
    test = gameday_test_result(w, result, steps=rec.steps, journal={"token": "abc"})
    w.write_result(test)
    (doc,) = _results(tmp_path)
    assert doc["uuid"] == "0f8b3c1e-0000-4000-8000-000000000001"
    assert doc["status"] == status
    assert doc["name"] == "pod kill" and doc["fullName"] == "gamedays.pod kill"
    assert (doc["start"], doc["stop"]) == (1_000_000, 1_060_000)
    labels = {lab["name"]: lab["value"] for lab in doc["labels"]}
    assert labels["epic"] == "Resilience" and labels["story"] == "pod kill"
    assert labels["feature"] == "kill 1 pod of app=orders" and labels["severity"] == "critical"
    assert labels["suite"] == "gamedays"
    assert [a["name"] for a in doc["attachments"]] == ["timeline", "SLO table", "journal"]
    assert [a["type"] for a in doc["attachments"]] == ["image/png", "text/html",
                                                       "application/json"]
    assert "12.5 s" in doc["description"]
    if prefix is None:
        assert doc["statusDetails"] == {}
    else:
        assert doc["statusDetails"]["message"] == prefix + "why"
    _check_step(doc, tmp_path)


def test_failed_gameday_without_message_names_the_failed_slo(tmp_path: Path) -> None:
    test = gameday_test_result(AllureResultsWriter(tmp_path), _gameday("fail"))
    assert test.message == "SLOViolated: SLO not kept: p95 latency"


def test_fault_not_effective_message_is_kept(tmp_path: Path) -> None:
    result = _gameday("inconclusive", message="FaultNotEffective: the link still passes traffic")
    test = gameday_test_result(AllureResultsWriter(tmp_path), result)
    assert test.message == "FaultNotEffective: the link still passes traffic"
