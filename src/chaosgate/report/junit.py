"""JUnit XML for CI gates (GitHub Actions test reporters, GitLab, Jenkins).

The common schema (``<testsuites>``/``<testsuite>``/``<testcase>`` with
``<failure>``, ``<error>``, ``<system-out>``) that these consumers read:

- one ``<testsuite>`` per suite of game days;
- one ``<testcase>`` per game day and SLO (``classname`` = ``suite.gameday``,
  ``name`` = the SLO): ``<failure type="SLOViolated">`` for a violated SLO,
  ``<error type="Inconclusive">`` for an inconclusive one;
- when a game day's verdict is not carried by any of its SLO rows (no SLO
  rows at all, or a fault that did not take hold while the SLOs passed), one
  more ``<testcase name="game day">`` carries it, so that no failure or
  inconclusive run ever shows as green;
- the game day's wall time is on its first test case (so sums add up);
  value, objective, TTR and PromQL go to ``<system-out>``.

Texts are redacted; characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ._files import atomic_write
from .model import GameDayResult, Outcome
from .redact import redact_text
from .tables import format_seconds

__all__ = ["junit_xml", "write_junit"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", redact_text(text))


@dataclass(frozen=True, slots=True)
class _Case:
    classname: str
    name: str
    verdict: Outcome
    message: str
    out: str
    time: float


def _cases(r: GameDayResult) -> list[_Case]:
    classname = f"{r.suite}.{r.name}"
    ttr = f"TTR {format_seconds(r.ttr_s)}"
    cases = [
        _Case(classname, s.slo, s.verdict,
              s.detail or f"{s.slo}: {s.value} (objective {s.objective})",
              "\n".join(x for x in (f"value {s.value}", f"objective {s.objective}", ttr,
                                    f"PromQL {s.promql}" if s.promql else "", s.detail) if x),
              0.0)
        for s in r.slos
    ]
    if r.verdict != "pass" and all(c.verdict != r.verdict for c in cases):
        cases.append(_Case(classname, "game day", r.verdict, r.message or r.verdict,
                           "\n".join(x for x in (ttr, r.fault, r.message) if x), 0.0))
    elif not cases:
        cases.append(_Case(classname, "game day", r.verdict, "", ttr, 0.0))
    first = cases[0]
    cases[0] = _Case(first.classname, first.name, first.verdict, first.message, first.out,
                     r.duration_s)
    return cases


def _testcase(parent: ET.Element, case: _Case) -> None:
    el = ET.SubElement(parent, "testcase", classname=_clean(case.classname),
                       name=_clean(case.name), time=f"{case.time:.3f}")
    if case.verdict == "fail":
        ET.SubElement(el, "failure", message=_clean(case.message),
                      type="SLOViolated").text = _clean(case.out)
    elif case.verdict == "inconclusive":
        ET.SubElement(el, "error", message=_clean(case.message),
                      type="Inconclusive").text = _clean(case.out)
    if case.out:
        ET.SubElement(el, "system-out").text = _clean(case.out)


def _counts(el: ET.Element, cases: Sequence[_Case], timestamp: str | None) -> None:
    el.set("tests", str(len(cases)))
    el.set("failures", str(sum(c.verdict == "fail" for c in cases)))
    el.set("errors", str(sum(c.verdict == "inconclusive" for c in cases)))
    el.set("skipped", "0")
    el.set("time", f"{sum(c.time for c in cases):.3f}")
    if timestamp:
        el.set("timestamp", timestamp)


def junit_xml(results: Sequence[GameDayResult], *, name: str = "chaosgate",
              timestamp: float | None = None) -> str:
    """The JUnit XML document (UTF-8 declaration included) for ``results``.

    ``timestamp`` (epoch seconds) defaults to the first game day's start.
    """
    start = timestamp if timestamp is not None else next(
        (r.started for r in results if r.started is not None), None)
    stamp = (datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")
             if start is not None else None)
    root = ET.Element("testsuites", name=_clean(name))
    suites: dict[str, list[GameDayResult]] = {}
    for r in results:
        suites.setdefault(r.suite, []).append(r)
    every: list[_Case] = []
    for index, (suite, members) in enumerate(suites.items()):
        el = ET.SubElement(root, "testsuite", name=_clean(suite), id=str(index))
        cases = [c for r in members for c in _cases(r)]
        _counts(el, cases, stamp)
        for case in cases:
            _testcase(el, case)
        every += cases
    _counts(root, every, None)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path | str, results: Sequence[GameDayResult], *,
                name: str = "chaosgate", timestamp: float | None = None) -> Path:
    """Write :func:`junit_xml` atomically to ``path``; returns the path."""
    return atomic_write(path, junit_xml(results, name=name, timestamp=timestamp))
