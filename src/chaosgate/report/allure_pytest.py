"""Allure helpers for pytest game-day scenarios (allure-pytest running).

Thin wrappers over ``allure.attach``, ``allure.step`` and ``allure.dynamic``
so that every scenario labels, names and attaches the same way, and every
text is redacted before it reaches the results directory::

    from chaosgate.report.allure_pytest import (
        attach_slo_table, attach_timeline, label_gameday, phase)

    def test_pod_kill(...):
        label_gameday(feature="pod kill", story="api survives losing a pod")
        with phase("steady state"):
            ...
        with phase("inject fault"):
            ...
        attach_timeline(records, marks, title="pod kill: api")
        attach_slo_table(rows)

Without allure-pytest (no ``--alluredir``) every call is a cheap no-op, as
allure's own API is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import allure as _allure_module

from ..load.requestlog import RequestRecord
from .model import SLORow, TimelineMarks
from .redact import redact_obj, redact_text
from .tables import slo_table_html

__all__ = [
    "attach_journal",
    "attach_locust_summary",
    "attach_png",
    "attach_slo_table",
    "attach_text",
    "attach_timeline",
    "label_gameday",
    "phase",
]

_allure: Any = _allure_module  # allure's API is untyped


def label_gameday(*, feature: str, story: str, epic: str = "Resilience",
                  severity: str = "critical", suite: str | None = None,
                  tags: Sequence[str] = ()) -> None:
    """Set the epic, feature, story, severity (and suite, tags) of the running test."""
    _allure.dynamic.epic(redact_text(epic))
    _allure.dynamic.feature(redact_text(feature))
    _allure.dynamic.story(redact_text(story))
    _allure.dynamic.severity(_allure.severity_level(severity))
    if suite:
        _allure.dynamic.suite(redact_text(suite))
    if tags:
        _allure.dynamic.tag(*(redact_text(t) for t in tags))


def phase(name: str) -> AbstractContextManager[Any]:
    """A step for one phase of the game day (``with phase("inject fault"): ...``).

    An AssertionError (SLOViolated) inside marks the step failed, any other
    exception broken, as allure-pytest does.
    """
    step: AbstractContextManager[Any] = _allure.step(redact_text(name))
    return step


def attach_png(png: bytes, name: str) -> None:
    """Attach PNG bytes to the current step or test."""
    _allure.attach(png, name=redact_text(name), attachment_type=_allure.attachment_type.PNG)


def attach_timeline(records: Iterable[RequestRecord], marks: TimelineMarks, *,
                    title: str = "", name: str = "timeline") -> bytes:
    """Draw the timeline plot, attach it, and return the PNG (for the summary page)."""
    from .plots import timeline_png  # matplotlib is imported only when a plot is drawn

    png = timeline_png(records, marks, title=title)
    attach_png(png, name)
    return png


def attach_slo_table(rows: Sequence[SLORow], *, name: str = "SLO table") -> None:
    """Attach the SLO table (SLO, value, objective, verdict, PromQL, detail) as HTML."""
    _allure.attach(slo_table_html(rows), name=redact_text(name),
                   attachment_type=_allure.attachment_type.HTML)


def attach_text(text: str, *, name: str) -> None:
    """Attach plain text, redacted."""
    _allure.attach(redact_text(text), name=redact_text(name),
                   attachment_type=_allure.attachment_type.TEXT)


def attach_locust_summary(summary: str | Mapping[str, Any], *,
                          name: str = "Locust summary", csv: bool = False) -> None:
    """Attach the load summary: a mapping as JSON, text as CSV or plain text (redacted)."""
    if isinstance(summary, Mapping):
        attach_journal(summary, name=name)
    elif csv:
        _allure.attach(redact_text(summary), name=redact_text(name),
                       attachment_type=_allure.attachment_type.CSV)
    else:
        attach_text(summary, name=name)


def attach_journal(journal: Any, *, name: str = "journal") -> None:
    """Attach a JSON document (a Chaos Toolkit journal, say), secrets masked."""
    body = json.dumps(redact_obj(journal), indent=2, ensure_ascii=False, default=str)
    _allure.attach(body, name=redact_text(name), attachment_type=_allure.attachment_type.JSON)
