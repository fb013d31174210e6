"""Import OpenSLO (``apiVersion: openslo/v1``) ratio- and threshold-metric SLOs into the catalogue.

What is read, per the OpenSLO v1 specification:

- ``kind: SLO`` with an inline ``spec.indicator`` or an ``indicatorRef`` to a
  ``kind: SLI`` in the same file; ``budgetingMethod: Occurrences``;
  ``timeWindow[0].duration`` (``m``, ``h``, ``d``, ``w``; default 10m) becomes
  the window; each of ``objectives`` (``target`` or ``targetPercent``)
  becomes one SLO of type ``ratio``.
- ``ratioMetric`` with ``good`` or ``bad`` and ``total``, each a
  ``metricSource`` of type Prometheus whose ``spec.query`` (or ``promql``) is
  either a template that uses ``$window`` or, with ``counter: true``, a plain
  counter selector, read as ``sum(increase(SELECTOR[$window]))``.

- ``thresholdMetric`` with objectives ``op``/``value`` (one Prometheus
  query), by the shape of the query:

  - ``sum(increase(A[$window])) / sum(increase(B[$window]))`` with ``op:
    lte`` -> ``mean_latency`` (``sum`` A, ``count`` B, threshold ``value``
    seconds);
  - ``sum(rate(C[$window]))`` or ``sum(increase(C[$window]))`` with ``op:
    gte`` -> ``throughput`` (``events`` ``sum(increase(C[$window]))``,
    ``value`` per second; an ``increase`` is read as a count over the window);
  - an instant query without ``$window`` with ``op: lte`` -> ``gauge_bound``.

  OpenSLO's ``target`` for a threshold metric is the share of the metric's
  data points that must meet ``op value``; chaosgate judges the window as
  one measurement (the mean, the rate) or every sample (a gauge), the
  strictest reading of any target: the target is read but not used.

Refused with a clear error: ``lt``/``gt`` (chaosgate's bounds include the
value: write ``lte``/``gte``), a threshold query of another shape or
direction (a latency percentile, a lower bound on a gauge), ``raw`` ratios,
``Timeslices`` budgeting, calendar units (``M``, ``Q``, ``Y``) and queries
of other metric sources. Other kinds (DataSource, Service, AlertPolicy, ...)
are skipped. Pure: text in, SLOs out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..exceptions import TargetError
from ..targets._reader import Fields, did_you_mean, line_of, read_yaml
from ..targets._safe_yaml import Budget
from .catalog import SLO, CatalogError, check_template, derive_series
from .model import PLACEHOLDER
from .stats import exact

__all__ = ["import_openslo"]

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$")
_SELECTOR = re.compile(r"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*\s*)?(?:\{[^{}]*\})?\s*$")
_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_SKIPPED = ("DataSource", "Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
_SLUG = re.compile(r"[^a-z0-9]+")
_WINDOW = r"\[\s*\$(?:\{window\}|window)\s*\]"
_AGG = r"sum\s*(?:(?:by|without)\s*\([^)]*\)\s*)?"
#: ``sum(increase(A[$window])) / sum(increase(B[$window]))``: a mean.
_MEAN = re.compile(rf"^\s*(?P<sum>{_AGG}\(\s*increase\s*\(\s*[^\[\]]+?\s*{_WINDOW}\s*\)\s*\))"
                   rf"\s*/\s*(?P<count>{_AGG}\(\s*increase\s*\(\s*[^\[\]]+?\s*{_WINDOW}\s*\)\s*\))"
                   r"\s*$")
#: ``sum(rate(C[$window]))`` or ``sum(increase(C[$window]))``: a rate or a count.
_RATE = re.compile(rf"^\s*(?P<agg>{_AGG})\(\s*(?P<fn>rate|increase)\s*\(\s*(?P<sel>[^\[\]]+?)"
                   rf"\s*{_WINDOW}\s*\)\s*\)\s*$")
_THRESHOLD_FIX = ("write the mean as sum(increase(X_sum[$window])) / "
                  "sum(increase(X_count[$window])) with op: lte, a throughput as "
                  "sum(rate(X_total[$window])) with op: gte, or a gauge bound as an instant "
                  "query (no $window) with op: lte")


def _documents(text: str, source: str) -> list[tuple[object, dict[str, int]]]:
    """Each YAML document of ``text`` with its field lines (1-based, in the whole file)."""
    chunks: list[tuple[int, list[str]]] = [(0, [])]
    for number, line in enumerate(text.splitlines()):
        if _SEPARATOR.match(line):
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    docs = []
    budget = Budget()  # the file's limits on aliases and nodes, not each document's
    for offset, body in chunks:
        try:
            data, lines = read_yaml("\n".join(body), source, budget)
        except CatalogError:
            raise
        except TargetError as exc:
            raise CatalogError(exc.path, exc.field, exc.problem, exc.fix) from None
        if data is not None:
            docs.append((data, {path: line + offset for path, line in lines.items()}))
    return docs


def _duration(fields: Fields, key: str) -> float:
    text = fields.string(key, "28d")
    match = _SHORTHAND.match(text)
    if match is None or int(match.group(1)) == 0:
        raise fields.error(key, f"{text!r} is not an OpenSLO duration",
                           "write a positive whole number and a unit: m, h, d or w (e.g. 28d)")
    if match.group(2) not in _UNITS:
        raise fields.error(key, f"calendar unit {match.group(2)!r} is not supported",
                           "use days or weeks, e.g. 30d instead of 1M")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _query(metric: Fields, key: str, counter: bool) -> str:
    part = metric.section(key, "{metricSource: {type: Prometheus, spec: {query: ...}}}")
    spec, qkey, text = _metric_query(part)
    if "$window" not in text and "${window}" not in text:
        if not counter or not _SELECTOR.match(text):
            raise spec.error(qkey, "the query neither uses $window nor is a plain counter "
                             "selector (with counter: true)",
                             "write sum(increase(<counter>[$window])) or give the counter "
                             "selector alone and set ratioMetric.counter: true")
        text = f"sum(increase({text.strip()}[$window]))"
    return check_template(Fields(spec.source, spec.path, {qkey: text}), qkey)


def _metric_query(part: Fields) -> tuple[Fields, str, str]:
    """(spec fields, key, query text) of a Prometheus ``metricSource``."""
    source = part.section("metricSource", "{type: Prometheus, spec: {query: ...}}")
    if "type" in source and source.string("type", "Prometheus").lower() != "prometheus":
        raise source.error("type", f"{source.data['type']!r} metrics cannot be read here",
                           "chaosgate reads Prometheus; use a Prometheus metric source")
    spec = source.section("spec", "{query: <PromQL>}")
    qkey = "promql" if "promql" in spec and "query" not in spec else "query"
    return spec, qkey, spec.string(qkey, "http_requests_total{code=~\"5..\"}")


@dataclass(frozen=True)
class _Threshold:
    """A thresholdMetric's query, already sorted by shape: its chaosgate type and queries."""

    type: str  # mean_latency | throughput | gauge_bound
    query: dict[str, str]


def _threshold(spec: Fields) -> _Threshold:
    """The thresholdMetric's query and the SLO type its shape stands for."""
    metric = spec.section("thresholdMetric", "{metricSource: {type: Prometheus, spec: ...}}")
    metric.only(("metricSource",))
    qspec, qkey, text = _metric_query(metric)
    names = {m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text)}
    if names - {"window"}:
        raise qspec.error(qkey, f"unknown placeholder ${sorted(names - {'window'})[0]}",
                          "the only placeholder is $window (the evaluation window)")
    if not names:
        return _Threshold("gauge_bound", {"value": text.strip()})
    if (mean := _MEAN.match(text)) is not None:
        return _Threshold("mean_latency", {"sum": mean.group("sum"),
                                           "count": mean.group("count")})
    if (rate := _RATE.match(text)) is not None:
        return _Threshold("throughput", {
            "events": f"{rate.group('agg')}(increase({rate.group('sel')}[$window]))"})
    raise qspec.error(qkey, "this threshold query is neither a mean, a rate nor an instant "
                      "gauge, the thresholds chaosgate can judge", _THRESHOLD_FIX)


def _ratio(indicator: Fields) -> dict[str, str] | _Threshold:
    spec = indicator.section("spec", "{ratioMetric: {...}}")
    if "thresholdMetric" in spec and "ratioMetric" in spec:
        raise spec.error("thresholdMetric", "both thresholdMetric and ratioMetric",
                         "give one of them: a ratioMetric (good or bad events over total) or "
                         "a thresholdMetric")
    if "thresholdMetric" in spec:
        return _threshold(spec)
    metric = spec.section("ratioMetric", "{counter: true, bad: ..., total: ...}")
    if "raw" in metric:
        raise metric.error("raw", "precomputed (raw) ratios cannot be imported",
                           "give the event counts: good or bad, and total")
    metric.only(("counter", "good", "bad", "total", "rawType"))
    if ("good" in metric) == ("bad" in metric) or "total" not in metric:
        raise metric.error(None, "needs `total` and exactly one of `good` or `bad`",
                           "give the numerator (good or bad events) and the total")
    counter = metric.boolean("counter", True)
    return {key: _query(metric, key, counter) for key in ("good", "bad", "total")
            if key in metric}


_SLIs = Mapping[str, tuple[Fields, Mapping[str, int]]]


def _indicator_query(spec: Fields, slis: _SLIs) -> dict[str, str] | _Threshold:
    """The queries of the SLO's inline SLI, or of the SLI it refers to (located there)."""
    if "indicator" in spec:
        return _ratio(spec.section("indicator", "{metadata: {name: ...}, spec: {...}}"))
    ref = spec.string("indicatorRef", "my-sli")
    if ref not in slis:
        raise spec.error("indicatorRef", f"no SLI named {ref!r} in this file",
                         f"{did_you_mean(ref, list(slis))}put the `kind: SLI` document in the "
                         "same file, or inline it as spec.indicator")
    sli, lines = slis[ref]
    try:
        return _ratio(sli)
    except TargetError as exc:
        raise _located(exc, lines, sli.source) from None


def _objectives(spec: Fields) -> list[tuple[str, float]]:
    """(suffix, target) of each objective; the suffix is empty when there is only one."""
    items = list(spec.items("objectives", "[{target: 0.999}]"))
    if not items:
        raise spec.error("objectives", "no objective", "add `objectives: [{target: 0.999}]`")
    result = []
    for i, (path, value) in enumerate(items):
        obj = Fields.of(spec.source, path, value, "{target: 0.999}")
        if ("target" in obj) == ("targetPercent" in obj):
            raise obj.error(None, "needs exactly one of `target` or `targetPercent`",
                            "write `target: 0.999` or `targetPercent: 99.9`")
        target = obj.number("target", "0.999") if "target" in obj \
            else float(exact(obj.number("targetPercent", "99.9")) / 100)
        if not 0.0 < target < 1.0:
            raise obj.error(None, f"target {target:g} is not between 0 and 1 (exclusive)",
                            "write `target: 0.999` or `targetPercent: 99.9`")
        label = obj.string("displayName", "fast") if "displayName" in obj else str(i + 1)
        suffix = _SLUG.sub("-", label.lower()).strip("-") if len(items) > 1 else ""
        result.append((suffix, target))
    return result


_OPS = {"mean_latency": "lte", "throughput": "gte", "gauge_bound": "lte"}


def _threshold_objectives(spec: Fields, kind: str) -> list[tuple[str, float]]:
    """(suffix, value) of each objective of a threshold SLO of type ``kind``."""
    items = list(spec.items("objectives", "[{op: lte, value: 0.2, target: 0.99}]"))
    if not items:
        raise spec.error("objectives", "no objective",
                         "add `objectives: [{op: lte, value: 0.2, target: 0.99}]`")
    want = _OPS[kind]
    result = []
    for i, (path, value) in enumerate(items):
        obj = Fields.of(spec.source, path, value, "{op: lte, value: 0.2, target: 0.99}")
        obj.only(("displayName", "op", "value", "target", "targetPercent"),
                 "in a threshold objective")
        op = obj.string("op", want)
        if op in ("lt", "gt"):
            raise obj.error("op", f"{op!r}: chaosgate's bounds include the value",
                            f"write `op: {op}e` (the bound itself is allowed)")
        if op != want:
            what = {"mean_latency": "a mean is bounded from above",
                    "throughput": "a throughput is bounded from below",
                    "gauge_bound": "a gauge (an instant query) is bounded from above"}[kind]
            raise obj.error("op", f"{op!r} does not fit this query: {what}",
                            f"write `op: {want}`, or {_THRESHOLD_FIX}")
        bound = obj.number("value", "0.2")
        if not 0.0 < bound < float("inf"):
            raise obj.error("value", f"{bound:g} is not a positive bound",
                            "give a positive number, e.g. `value: 0.2`")
        label = obj.string("displayName", "fast") if "displayName" in obj else str(i + 1)
        suffix = _SLUG.sub("-", label.lower()).strip("-") if len(items) > 1 else ""
        result.append((suffix, bound))
    return result


def _threshold_slos(doc: Fields, spec: Fields, name: str, window: float, found: _Threshold,
                    description: str, line: int | None) -> list[SLO]:
    """The measured SLOs of a threshold-metric OpenSLO SLO, one per objective."""
    return [
        SLO(name=f"{name}-{suffix}" if suffix else name, type=found.type, objective=bound,
            description=description, window=window, query=found.query,
            series=derive_series(found.query) if found.type != "gauge_bound" else {},
            threshold=None if found.type == "throughput" else bound,
            source=f"{doc.source}:{line}" if line else doc.source)
        for suffix, bound in _threshold_objectives(spec, found.type)
    ]


def _slo(doc: Fields, slis: _SLIs, line: int | None) -> list[SLO]:
    name = doc.section("metadata", "{name: my-slo}").string("name", "my-slo")
    spec = doc.section("spec", "{indicator: ..., objectives: [...]}")
    if "budgetingMethod" in spec and spec.string("budgetingMethod", "Occurrences") \
            != "Occurrences":
        raise spec.error("budgetingMethod", f"{spec.data['budgetingMethod']!r} is not supported",
                         "use budgetingMethod: Occurrences (good events over all events)")
    window = 600.0
    if "timeWindow" in spec:
        windows = list(spec.items("timeWindow", "[{duration: 28d, isRolling: true}]"))
        if len(windows) != 1:
            raise spec.error("timeWindow", "needs exactly one time window",
                             "write `timeWindow: [{duration: 28d, isRolling: true}]`")
        window = _duration(Fields.of(spec.source, *windows[0], "{duration: 28d}"), "duration")
    query = _indicator_query(spec, slis)
    description = spec.string("description", "...") if "description" in spec else ""
    if isinstance(query, _Threshold):
        return _threshold_slos(doc, spec, name, window, query, description, line)
    return [
        SLO(name=f"{name}-{suffix}" if suffix else name, type="ratio", objective=target,
            description=description, window=window, query=query,
            series=derive_series(query), source=f"{doc.source}:{line}" if line else doc.source)
        for suffix, target in _objectives(spec)
    ]


def import_openslo(text: str, source: str = "<memory>") -> list[SLO]:
    """The SLOs of an OpenSLO v1 file (one or more YAML documents): ratio and measured.

    Raises :class:`~chaosgate.slo.catalog.CatalogError` naming the file,
    line, field and fix for anything that cannot be imported.
    """
    docs = _documents(text, source)
    parsed: list[tuple[Fields, dict[str, int]]] = []
    slis: dict[str, tuple[Fields, Mapping[str, int]]] = {}
    for data, lines in docs:
        try:
            doc = Fields.of(source, "", data, "an OpenSLO object (apiVersion, kind, ...)")
            version = doc.string("apiVersion", "openslo/v1")
            if version != "openslo/v1":
                raise doc.error("apiVersion", f"{version!r} is not supported",
                                "convert the file to apiVersion: openslo/v1")
            kind = doc.string("kind", "SLO")
            if kind == "SLI":
                name = doc.section("metadata", "{name: my-sli}").string("name", "my-sli")
                slis[name] = (doc, lines)
            elif kind == "SLO":
                parsed.append((doc, lines))
            elif kind not in _SKIPPED:
                raise doc.error("kind", f"{kind!r} is not an OpenSLO kind",
                                f"{did_you_mean(kind, ('SLO', 'SLI', *_SKIPPED))}use SLO or SLI")
        except TargetError as exc:
            raise _located(exc, lines, source) from None
    slos: list[SLO] = []
    for doc, lines in parsed:
        try:
            slos += _slo(doc, slis, lines.get(""))
        except CatalogError:
            raise
        except TargetError as exc:
            raise _located(exc, lines, source) from None
    if not slos:
        raise CatalogError(source, "", "no `kind: SLO` document",
                           "add an OpenSLO SLO with a ratioMetric or thresholdMetric indicator")
    return slos


def _located(exc: TargetError, lines: Mapping[str, int], source: str) -> CatalogError:
    line = line_of(lines, exc.field)
    located = CatalogError(f"{source}:{line}" if line else source, exc.field, exc.problem,
                           exc.fix)
    located.path = source
    return located
