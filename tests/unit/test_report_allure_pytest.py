"""The Allure helpers inside a real pytest run with allure-pytest (via pytester)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest_plugins = ["pytester"]

SCENARIO = '''
from chaosgate.exceptions import SLOViolated
from chaosgate.load.requestlog import RequestRecord
from chaosgate.report.allure_pytest import (
    attach_journal, attach_locust_summary, attach_slo_table, attach_text, attach_timeline,
    label_gameday, phase)
from chaosgate.report.model import SLORow, TimelineMarks

T0 = 1_763_700_000.0
ROWS = [SLORow("p95 latency", "870 ms", "<= 250 ms", "fail", "histogram_quantile(0.95, x)")]


def test_pod_kill():
    label_gameday(feature="pod kill", story="orders survives losing a pod", tags=["orders"])
    with phase("steady state"):
        attach_text("probe ok; password=hunter2", name="probe log")
    with phase("inject fault"):
        pass
    records = [RequestRecord(t=T0 + i / 10, ms=20.0, name="/", method="GET", ok=True)
               for i in range(50)]
    png = attach_timeline(records, TimelineMarks(t_inject=T0, t_revert=T0 + 2), title="pod kill")
    assert png.startswith(b"\\x89PNG")
    attach_slo_table(ROWS)
    attach_locust_summary({"requests": 50, "token": "abc"})
    attach_locust_summary("Type,Name,Request Count\\nGET,/,50\\n", csv=True, name="stats.csv")
    attach_journal({"secrets": {"t": "x"}})
    with phase("evaluate SLOs"):
        raise SLOViolated("p95 870 ms > 250 ms")
'''


def _attachments(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(node.get("attachments", []))
    for step in node.get("steps", []):
        found += _attachments(step)
    return found


def test_helpers_write_labels_steps_and_attachments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_gameday=SCENARIO)
    results = pytester.path / "allure-results"
    run = pytester.runpytest_subprocess(f"--alluredir={results}", "-p", "no:cacheprovider")
    run.assert_outcomes(failed=1)
    (path,) = results.glob("*-result.json")
    doc = json.loads(path.read_text())
    assert doc["status"] == "failed"  # an SLO breach is failed, not broken
    labels = {(lab["name"], lab["value"]) for lab in doc["labels"]}
    assert {("epic", "Resilience"), ("feature", "pod kill"), ("severity", "critical"),
            ("story", "orders survives losing a pod"), ("tag", "orders")} <= labels
    steps = {s["name"]: s for s in doc["steps"]}
    assert list(steps) == ["steady state", "inject fault", "evaluate SLOs"]
    assert steps["evaluate SLOs"]["status"] == "failed"
    by_name = {a["name"]: a for a in _attachments(doc)}
    assert by_name["timeline"]["type"] == "image/png"
    assert (results / by_name["timeline"]["source"]).read_bytes().startswith(b"\x89PNG")
    assert by_name["SLO table"]["type"] == "text/html"
    assert "histogram_quantile(0.95, x)" in (results / by_name["SLO table"]["source"]).read_text()
    assert by_name["stats.csv"]["type"] == "text/csv"
    assert by_name["probe log"]["type"] == "text/plain"
    every_text = "".join((results / a["source"]).read_text() for a in by_name.values()
                         if a["type"] != "image/png")
    assert "hunter2" not in every_text and "abc" not in every_text
    assert json.loads((results / by_name["journal"]["source"]).read_text()) == {"secrets": "***"}
