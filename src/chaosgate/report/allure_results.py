"""Write Allure results without pytest (Chaos Toolkit runs, ``chaosgate gameday``).

The files are those allure-python writes (the Allure 2 results format that
the Allure 3 CLI reads): ``<uuid>-result.json`` per test,
``<uuid>-container.json`` for set-up/tear-down fixtures,
``<uuid>-attachment.<ext>`` per attachment, ``environment.properties`` and
``categories.json``. Each file is written to a temporary name and renamed,
so a reader never sees half a file.

Allure links an attachment file to exactly one reference (a second
reference to the same file shows as "missed"): :meth:`AllureResultsWriter.attach`
writes a new file for every call. Text attachments and environment values
are redacted (:mod:`chaosgate.report.redact`); binary ones (PNG) are not.
"""

from __future__ import annotations

import hashlib
import json
import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._files import atomic_write
from .redact import redact_mapping, redact_obj, redact_text

__all__ = [
    "DEFAULT_CATEGORIES",
    "AllureResultsWriter",
    "AllureStatus",
    "Attachment",
    "Step",
    "TestResult",
    "allure3_history_id",
    "allure3_history_ids",
    "history_id",
    "properties_text",
]

#: An Allure test or step status (not a verdict: see :func:`.allure_gameday.allure_status`).
AllureStatus = Literal["passed", "failed", "broken", "skipped"]

# Category rules are matched in order; the regexes match a whole message
# (Allure 2 uses Java's matches()) and also work as a search (Allure 3, JS).
DEFAULT_CATEGORIES: tuple[dict[str, Any], ...] = (
    {"name": "SLO violated", "matchedStatuses": ["failed"],
     "messageRegex": r"[\s\S]*(SLOViolated|AssertionError|SLO|assert)[\s\S]*"},
    {"name": "Fault not effective", "matchedStatuses": ["broken"],
     "messageRegex": r"[\s\S]*(FaultNotEffective|[Ff]ault not effective|did not take hold)[\s\S]*"},
    {"name": "Infrastructure", "matchedStatuses": ["broken"], "messageRegex": r"[\s\S]*"},
)

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/yaml",
               "application/x-yaml", "image/svg+xml")
_EXTENSIONS = {"text/plain": "txt", "text/markdown": "md", "text/html": "html",
               "text/csv": "csv", "application/json": "json", "image/png": "png",
               "image/svg+xml": "svg", "application/xml": "xml", "application/yaml": "yaml",
               "text/tab-separated-values": "tsv", "text/uri-list": "uri"}


def history_id(full_name: str, parameters: Sequence[tuple[str, str]] = ()) -> str:
    """Allure's history key: stable across runs for the same test and parameters."""
    key = full_name + "".join(f"|{k}={v}" for k, v in sorted(parameters))
    return hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def allure3_history_id(result: Mapping[str, Any]) -> str | None:
    """The history id the Allure 3 generator computes for a ``*-result.json`` document.

    Allure 3 ignores the file's own ``historyId``: it takes the md5 of the
    ``ALLURE_ID`` label, else of ``testCaseId``, else of ``fullName``, and
    appends the md5 of the non-excluded parameters sorted as ``name:value``
    joined by commas (``@allurereport/core``, ``store/convert.js``). None
    when the result has none of them.
    """
    labels = result.get("labels") or []
    allure_id = next((str(lb.get("value")) for lb in labels if isinstance(lb, dict)
                      and lb.get("name") in ("ALLURE_ID", "AS_ID") and lb.get("value")
                      and lb.get("value") != "-1"), None)
    if allure_id:
        case = _md5(f"ALLURE_ID={allure_id}")
    elif result.get("testCaseId"):
        case = _md5(str(result["testCaseId"]))
    elif result.get("fullName"):
        case = _md5(str(result["fullName"]))
    else:
        return None
    params = sorted((str(p.get("name", "")), str(p.get("value", "")))
                    for p in result.get("parameters") or []
                    if isinstance(p, dict) and not p.get("excluded"))
    return f"{case}.{_md5(','.join(f'{k}:{v}' for k, v in params))}"


def allure3_history_ids(results_dir: Path | str) -> dict[str, str]:
    """Result uuid -> Allure 3 history id, for every ``*-result.json`` in ``results_dir``.

    Files that cannot be read or parsed are skipped (the report builder
    reports those).
    """
    out: dict[str, str] = {}
    for path in sorted(Path(results_dir).glob("*-result.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("uuid"):
            found = allure3_history_id(doc)
            if found:
                out[str(doc["uuid"])] = found
    return out


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to an attachment file written by :meth:`AllureResultsWriter.attach`."""

    name: str
    source: str  # file name inside the results directory
    type: str  # MIME type

    def to_json(self) -> dict[str, str]:
        """The attachment as it appears in a result file."""
        return {"name": self.name, "source": self.source, "type": self.type}


def _status_details(message: str | None, trace: str | None) -> dict[str, str]:
    details = {}
    if message:
        details["message"] = redact_text(message)
    if trace:
        details["trace"] = redact_text(trace)
    return details


@dataclass(slots=True)
class Step:
    """A step (a phase of a game day); steps nest. Times in epoch milliseconds."""

    name: str
    status: AllureStatus = "passed"
    start: int | None = None
    stop: int | None = None
    steps: list[Step] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    parameters: list[tuple[str, str]] = field(default_factory=list)
    message: str | None = None
    trace: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The step as it appears in a result file."""
        out: dict[str, Any] = {
            "name": redact_text(self.name), "status": self.status, "stage": "finished",
            "statusDetails": _status_details(self.message, self.trace),
            "steps": [s.to_json() for s in self.steps],
            "attachments": [a.to_json() for a in self.attachments],
            "parameters": [{"name": k, "value": v}
                           for k, v in redact_mapping(dict(self.parameters)).items()],
        }
        if self.start is not None:
            out["start"] = self.start
        if self.stop is not None:
            out["stop"] = self.stop
        return out


@dataclass(slots=True)
class TestResult(Step):
    """One test (one game day): a step with identity, labels and links."""

    __test__ = False  # not a pytest test class, whatever its name

    full_name: str = ""
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    labels: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, url)
    description: str = ""
    history: str | None = None  # historyId; derived from full_name and parameters

    def to_json(self) -> dict[str, Any]:
        """The test as it appears in a ``*-result.json`` file."""
        out = Step.to_json(self)  # not super(): slots=True dataclasses break it
        full_name = self.full_name or self.name
        out.update({
            "uuid": self.uuid,
            "historyId": self.history or history_id(full_name, self.parameters),
            "testCaseId": history_id(full_name),
            "fullName": redact_text(full_name),
            "labels": [{"name": k, "value": redact_text(v)} for k, v in self.labels],
            "links": [{"type": t, "name": redact_text(n), "url": redact_text(u)}
                      for t, n, u in self.links],
        })
        if self.description:
            out["description"] = redact_text(self.description)
        return out


def _escape_property(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif (key and ch in " =:#!") or (not key and i == 0 and ch in " #!"):
            out.append("\\" + ch)
        elif not 0x20 <= ord(ch) < 0x7F:
            out.append("".join(f"\\u{u:04x}" for u in _utf16_units(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def properties_text(values: Mapping[str, Any]) -> str:
    """``values`` as a Java properties file (ASCII, escaped), secrets masked."""
    return "".join(f"{_escape_property(k, key=True)}={_escape_property(v, key=False)}\n"
                   for k, v in sorted(redact_mapping(values).items()))


class AllureResultsWriter:
    """Writes results, containers and attachments into an allure-results directory."""

    def __init__(self, results_dir: Path | str) -> None:
        self.results_dir = Path(results_dir)
        self.results_dir.mkdir(parents=True, exist_ok=True)

    def _write(self, name: str, data: bytes) -> Path:
        return atomic_write(self.results_dir / name, data)

    def _write_json(self, name: str, doc: Any) -> Path:
        return self._write(name, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))

    def attach(self, body: bytes | str, *, name: str, mime: str,
               extension: str | None = None) -> Attachment:
        """Write one attachment file and return its (single-use) reference.

        Text (``text/*``, JSON, XML, YAML, SVG) is redacted before it is written.
        """
        if mime.startswith(_TEXT_TYPES):
            text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
            body = redact_text(text)
        data = body.encode("utf-8") if isinstance(body, str) else body
        ext = extension or _EXTENSIONS.get(mime, "bin")
        source = f"{uuidlib.uuid4()}-attachment.{ext}"
        self._write(source, data)
        return Attachment(name=redact_text(name), source=source, type=mime)

    def attach_json(self, obj: Any, *, name: str) -> Attachment:
        """Attach a JSON document (a journal, say), secrets masked structurally."""
        text = json.dumps(redact_obj(obj), indent=2, ensure_ascii=False, default=str)
        return self.attach(text, name=name, mime="application/json")

    def write_result(self, result: TestResult) -> Path:
        """Write ``<uuid>-result.json``."""
        return self._write_json(f"{result.uuid}-result.json", result.to_json())

    def write_container(self, name: str, children: Sequence[str], *,
                        befores: Sequence[Step] = (), afters: Sequence[Step] = (),
                        start: int | None = None, stop: int | None = None) -> Path:
        """Write a ``<uuid>-container.json``: fixtures (set-up/tear-down) of the children."""
        uid = str(uuidlib.uuid4())
        doc: dict[str, Any] = {"uuid": uid, "name": redact_text(name), "children": list(children),
                               "befores": [b.to_json() for b in befores],
                               "afters": [a.to_json() for a in afters]}
        if start is not None:
            doc["start"] = start
        if stop is not None:
            doc["stop"] = stop
        return self._write_json(f"{uid}-container.json", doc)

    def write_environment(self, values: Mapping[str, Any]) -> Path:
        """Write ``environment.properties`` (secret keys masked, values redacted)."""
        return self._write("environment.properties", properties_text(values).encode("ascii"))

    def write_categories(self, categories: Sequence[Mapping[str, Any]] = DEFAULT_CATEGORIES
                         ) -> Path:
        """Write ``categories.json`` (SLO violated, Fault not effective, Infrastructure)."""
        return self._write_json("categories.json", [dict(c) for c in categories])
