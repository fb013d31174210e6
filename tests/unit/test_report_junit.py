"""JUnit XML for CI: well-formed, counts right, failures and errors where they belong."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chaosgate.report.junit import junit_xml, write_junit
from chaosgate.report.model import GameDayResult, SLORow


def _results() -> list[GameDayResult]:
    return [
        GameDayResult("baseline", "pass", slos=(SLORow("availability", "100 %", ">= 99.99 %",
                                                       "pass", "sum(rate(x[1m]))"),),
                      suite="baseline", started=1000.0, stopped=1030.0),
        GameDayResult("pod kill", "fail", slos=(
            SLORow("availability", "99.995 %", ">= 99.99 %", "pass"),
            SLORow("p95 latency", "870 ms", "<= 250 ms", "fail", detail="p95 870 ms > 250 ms")),
            ttr_s=12.5, started=1030.0, stopped=1090.0),
        GameDayResult("partition", "inconclusive", slos=(
            SLORow("availability", "100 %", ">= 99.99 %", "pass"),),
            message="FaultNotEffective: the link still passes traffic", started=1090.0,
            stopped=1100.0),
        GameDayResult("failover", "inconclusive", message="Prometheus unreachable\x00\x1b"),
    ]


def _root() -> ET.Element:
    return ET.fromstring(junit_xml(_results()).encode("utf-8"))


def test_well_formed_with_declaration() -> None:
    text = junit_xml(_results())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    assert _root().tag == "testsuites"


def test_counts() -> None:
    root = _root()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "2")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"baseline", "gamedays"}
    gd = suites["gamedays"]
    assert (gd.get("tests"), gd.get("failures"), gd.get("errors"), gd.get("skipped")) == (
        "5", "1", "2", "0")
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors", "")) == sum(c.find("error") is not None for c in cases)
    assert suites["baseline"].get("timestamp") == "1970-01-01T00:16:40"


def test_failure_and_error_elements() -> None:
    cases = {(c.get("classname"), c.get("name")): c for c in _root().iter("testcase")}
    failed = cases[("gamedays.pod kill", "p95 latency")]
    failure = failed.find("failure")
    assert failure is not None and failure.get("type") == "SLOViolated"
    assert failure.get("message") == "p95 870 ms > 250 ms"
    assert "TTR 12.5 s" in (failed.findtext("system-out") or "")
    assert cases[("gamedays.pod kill", "availability")].find("failure") is None
    # The SLO passed but the fault did not take hold: the game day itself is an error.
    assert cases[("gamedays.partition", "availability")].find("error") is None
    error = cases[("gamedays.partition", "game day")].find("error")
    assert error is not None and error.get("type") == "Inconclusive"
    assert error.get("message", "").startswith("FaultNotEffective")
    # No SLO rows at all: one test case carries the verdict; illegal XML characters dropped.
    assert cases[("gamedays.failover", "game day")].find("error") is not None


def test_times_add_up() -> None:
    root = _root()
    assert float(root.get("time", "")) == 30.0 + 60.0 + 10.0
    times = [float(c.get("time", "")) for c in root.iter("testcase")
             if c.get("classname") == "gamedays.pod kill"]
    assert times == [60.0, 0.0]


def test_secrets_redacted(tmp_path: Path) -> None:
    results = [GameDayResult("x", "inconclusive",
                             message="GET https://u:pw@prom/api failed, token=abc")]
    text = write_junit(tmp_path / "junit.xml", results).read_text(encoding="utf-8")
    assert "pw@" not in text and "abc" not in text


def test_empty_run() -> None:
    root = ET.fromstring(junit_xml([]))
    assert root.get("tests") == "0" and list(root) == []
