"""The SLO catalogue (``probes/*.yaml``): loading and validation.

A catalogue file (``apiVersion: chaosgate/v1``, ``kind: SLOCatalog``) lists
SLOs; ``probes/shop.yaml`` is the annotated example. OpenSLO ratio-metric
files (``apiVersion: openslo/v1``) in the same folder are imported by
:mod:`chaosgate.slo.openslo`.

- Ratio SLOs (``availability``, ``error_ratio``, ``latency``, ``ratio``) hold
  PromQL templates for good or bad events and for all events; ``$window``
  (or ``${window}``) is replaced by the evaluation window. Their
  :attr:`SLO.objective` is always the minimum *good* ratio (an
  ``error_ratio`` file objective of 0.001 becomes 0.999).
- Measured SLOs hold one PromQL template per quantity (``MEASURE_QUERIES``):
  ``mean_latency`` (``sum`` and ``count`` over ``$window``; ``threshold``
  in seconds), ``throughput`` (``events``: a count over ``$window``;
  ``objective`` in events per second) and ``gauge_bound`` (``value``: an
  instant gauge query without ``$window``; ``threshold``). ``route``
  (mean_latency, throughput) lets the client observer read them from the
  request log.
- ``recovery`` SLOs bound the time to recover after a fault, judged on the
  timelines of the ratio and ``gauge_bound`` SLOs they name in ``of``.
- Errors are :class:`CatalogError` (a usage error, exit code 2) naming the
  file, line, dotted field and fix, one at a time.

The model (:class:`SLO`, :class:`Catalog`, templates) is in
:mod:`chaosgate.slo.model` and re-exported here. Everything is pure except
:func:`load_catalog`, which reads the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .. import frontends
from ..exceptions import TargetError
from ..targets._reader import Fields, did_you_mean, line_of, read_yaml
from ..targets._safe_yaml import read_document
from .model import (
    MEASURE_QUERIES,
    MEASURE_TYPES,
    PLACEHOLDER,
    RATIO_TYPES,
    SLO,
    SLO_TYPES,
    WINDOW_FIX,
    Catalog,
    CatalogError,
    ThresholdAlert,
    prom_duration,
    render,
    window_problem,
)
from .stats import exact

__all__ = [
    "API_VERSION",
    "KIND",
    "RATIO_TYPES",
    "SLO",
    "SLO_TYPES",
    "Catalog",
    "CatalogError",
    "build_catalog",
    "check_template",
    "derive_series",
    "load_catalog",
    "parse_catalog",
    "prom_duration",
    "render",
]

API_VERSION = "chaosgate/v1"
KIND = "SLOCatalog"

_COMMON = ("name", "type", "description", "window", "alert")
_RATIO = (*_COMMON, "objective", "query", "series", "threshold_alert")
_KEYS: dict[str, tuple[str, ...]] = {
    "availability": (*_RATIO, "route"),
    "error_ratio": (*_RATIO, "route"),
    "ratio": _RATIO,
    "latency": (*_RATIO, "route", "threshold", "percentile"),
    "mean_latency": (*_COMMON, "threshold", "query", "route", "threshold_alert"),
    "throughput": (*_COMMON, "objective", "query", "route", "threshold_alert"),
    "gauge_bound": (*_COMMON, "threshold", "query", "threshold_alert"),
    "recovery": ("name", "type", "description", "objective", "hold_down", "of"),
}
#: An example query of each measured type, for fixes.
_MEASURE_EXAMPLES = {
    "sum": "sum(increase(http_request_duration_seconds_sum[$window]))",
    "count": "sum(increase(http_request_duration_seconds_count[$window]))",
    "events": "sum(increase(events_processed_total[$window]))",
    "value": "max(consumer_lag)",
}
_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9_.]*[a-z0-9])?$")
_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLES = ("window",)
_SERIES = re.compile(
    r"^\s*sum\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*increase\s*\(\s*(?P<sel>[^\[\]]+?)\s*"
    r"\[\s*\$(?:\{window\}|window)\s*\]\s*\)\s*\)\s*$"
)
_QUERY_EXAMPLE = "sum(increase(http_requests_total{code=~\"5..\"}[$window]))"


def check_template(fields: Fields, key: str) -> str:
    """The PromQL template at ``key``: non-empty, uses ``$window``, no unknown ``$name``."""
    text = fields.string(key, _QUERY_EXAMPLE)
    names = [m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text)]
    for name in names:
        if name not in _VARIABLES:
            raise fields.error(key, f"unknown placeholder ${name}",
                               f"{did_you_mean(name, _VARIABLES)}the only placeholder is "
                               "$window (the evaluation window)")
    if "window" not in names:
        raise fields.error(key, "the query does not use $window, so every window would give "
                           "the same answer",
                           f"count events over the window, e.g. {_QUERY_EXAMPLE}")
    return text


def derive_series(query: Mapping[str, str]) -> dict[str, str]:
    """Raw counter selectors of ``sum(increase(SEL[$window]))`` queries (others are skipped)."""
    found = {key: m.group("sel") for key, text in query.items() if (m := _SERIES.match(text))}
    return found if len(found) == len(query) else {}


def _go_float(value: float) -> str:
    """How Prometheus client libraries write a bucket edge in ``le`` (0.5, 1.0, 2.5)."""
    return repr(float(value))


def _query(fields: Fields, slo_type: str, threshold: float | None) -> dict[str, str]:
    section = fields.section("query", "{bad: <PromQL>, total: <PromQL>}")
    section.only(("good", "total") if slo_type == "latency" else ("good", "bad", "total"))
    if ("good" in section) == ("bad" in section) or "total" not in section:
        want = "`good`" if slo_type == "latency" else "exactly one of `good` or `bad`"
        raise section.error(None, f"needs `total` and {want}",
                            "give the numerator query (good or bad events) and the total")
    query = {key: check_template(section, key) for key in ("good", "bad", "total")
             if key in section}
    if threshold is not None and f'le="{_go_float(threshold)}"' not in query["good"]:
        raise section.error("good", f'the query does not select the bucket le="'
                            f'{_go_float(threshold)}" of the threshold',
                            "count the histogram bucket whose upper edge is the threshold "
                            "exactly (no interpolation), e.g. "
                            f'..._bucket{{le="{_go_float(threshold)}"}}')
    return query


def _measure_query(fields: Fields, slo_type: str) -> dict[str, str]:
    """The PromQL templates of a measured SLO (:data:`MEASURE_QUERIES`)."""
    keys = MEASURE_QUERIES[slo_type]
    example = "{" + ", ".join(f"{k}: {_MEASURE_EXAMPLES[k]}" for k in keys) + "}"
    section = fields.section("query", example)
    section.only(keys, f"for an SLO of type {slo_type}")
    for key in keys:
        if key not in section:
            raise section.error(key, "missing", f"add `{key}: {_MEASURE_EXAMPLES[key]}`")
    if slo_type != "gauge_bound":
        return {key: check_template(section, key) for key in keys}
    text = section.string("value", _MEASURE_EXAMPLES["value"])
    if PLACEHOLDER.search(text):
        raise section.error("value", "a gauge_bound query is an instant gauge: chaosgate "
                            "evaluates it over the window itself, at the scrape interval",
                            f"drop the $placeholder and any [range], e.g. "
                            f"`value: {_MEASURE_EXAMPLES['value']}`")
    return {"value": text}


def _positive(fields: Fields, key: str, example: str, unit: str) -> float:
    """A positive finite number at ``key``."""
    value = fields.number(key, example)
    if not 0.0 < value < float("inf"):
        raise fields.error(key, f"{value:g} is not a positive number",
                           f"give {unit}, e.g. `{key}: {example}`")
    return value


def _bound_key(fields: Fields, slo_type: str) -> None:
    """A measured SLO's bound under the other type's key: say which key it wants."""
    if slo_type == "throughput" and "threshold" in fields:
        raise fields.error("threshold", "a throughput SLO has an `objective`, its minimum rate",
                           "write `objective: 116` (events per second)")
    if slo_type in ("mean_latency", "gauge_bound") and "objective" in fields:
        raise fields.error("objective", f"a {slo_type} SLO has a `threshold`, its upper bound",
                           "write `threshold: 0.2` (seconds)" if slo_type == "mean_latency"
                           else "write `threshold: 1000` (in the gauge's unit)")


def _measured(fields: Fields, name: str, slo_type: str, description: str) -> SLO:
    """One ``mean_latency``, ``throughput`` or ``gauge_bound`` SLO."""
    if slo_type == "throughput":
        bound = _positive(fields, "objective", "116", "the minimum events per second")
    else:
        bound = _positive(fields, "threshold", "0.2" if slo_type == "mean_latency" else "1000",
                          "seconds" if slo_type == "mean_latency" else "the gauge's bound")
    query = _measure_query(fields, slo_type)
    alert = _threshold_alert(fields, slo_type, None, bound)
    return SLO(
        name=name, type=slo_type, objective=bound, description=description,
        window=_window(fields), query=query,
        series=derive_series(query) if slo_type != "gauge_bound" else {},
        route=fields.string("route", "POST /events") if "route" in fields else None,
        threshold=None if slo_type == "throughput" else bound,
        alert=fields.matching("alert", "EventsThroughputLow", _ALERT_NAME,
                              "a Prometheus alert name",
                              "use letters, digits and '_', starting with a letter")
        if "alert" in fields else None,
        threshold_alert=alert, source=fields.source)


def _series(fields: Fields, query: Mapping[str, str]) -> dict[str, str]:
    if "series" not in fields:
        return derive_series(query)
    section = fields.section("series", "{bad: <selector>, total: <selector>}")
    section.only(tuple(query))
    series = {key: section.string(key, "http_requests_total{code=~\"5..\"}") for key in query}
    for key, selector in series.items():
        if "[" in selector or "$" in selector:
            raise section.error(key, "expected a plain series selector",
                                "write the counter with its labels and no [range] or $window")
    return series


def _objective(fields: Fields, slo_type: str) -> float:
    if slo_type == "recovery":
        return fields.duration("objective", "30s")
    example = "0.001" if slo_type == "error_ratio" else "0.9999"
    value = fields.number("objective", example)
    if not 0.0 < value < 1.0:
        hint = f" (for {value} %, write {value / 100:g})" if 1.0 < value < 100.0 else ""
        raise fields.error("objective", f"{value:g} is not a ratio between 0 and 1{hint}",
                           f"write it like `objective: {example}`")
    return round(1.0 - value, 12) if slo_type == "error_ratio" else value


def _latency(fields: Fields) -> tuple[float, float, float]:
    """(threshold, percentile, objective) of a latency SLO."""
    threshold = fields.number("threshold", "0.5")
    if threshold <= 0:
        raise fields.error("threshold", "must be positive", "give seconds, e.g. 0.25")
    if "percentile" in fields and "objective" in fields:
        raise fields.error("objective", "give `percentile` or `objective`, not both",
                           "keep `percentile: 95` (it means objective 0.95)")
    if "percentile" not in fields:
        objective = _objective(fields, "latency")
        return threshold, objective * 100, objective
    pct = fields.number("percentile", "95")
    if not 0.0 < pct < 100.0:
        raise fields.error("percentile", f"{pct:g} is not between 0 and 100",
                           "write it like `percentile: 95`")
    return threshold, pct, float(exact(pct) / 100)


def _window(fields: Fields) -> float:
    """The SLO's evaluation window, within :func:`window_problem`'s bounds."""
    seconds = fields.duration("window", "10m")
    problem = window_problem(seconds)
    if problem is not None:
        raise fields.error("window", problem, WINDOW_FIX)
    return seconds


def _threshold_alert(fields: Fields, slo_type: str, percentile: float | None,
                     bound: float | None = None) -> ThresholdAlert | None:
    """The ``threshold_alert:`` block of a ratio SLO (None when absent); of a measured SLO,
    whose bound is the SLO's own (``bound``), without ``above``."""
    if "threshold_alert" not in fields:
        return None
    block = fields.section("threshold_alert", "{name: CheckoutSlow, for: 1m}")
    block.only(("name", "for", "window") if bound is not None
               else ("name", "above", "for", "window"),
               "(a measured SLO's alert fires at its own bound)" if bound is not None else "")
    name = block.matching("name", "CheckoutSlow", _ALERT_NAME, "a Prometheus alert name",
                          "use letters, digits and '_', starting with a letter")
    if bound is not None:
        above = bound
    elif "above" in block:
        above = block.number("above", "0.01")
    elif slo_type == "latency" and percentile is not None:
        above = round(1.0 - percentile / 100.0, 12)  # p95 above the threshold
    else:
        raise block.error("above", "missing: the error ratio that fires the alert",
                          "write e.g. `above: 0.01` (1 % of requests failing)")
    if bound is None and not 0.0 <= above < 1.0:
        raise block.error("above", f"{above:g} is not an error ratio in [0, 1)",
                          "write e.g. `above: 0.01`")
    for_s = block.duration("for", "1m") if "for" in block else 60.0
    window_s = block.duration("window", "1m") if "window" in block else for_s
    for key, seconds in (("for", for_s), ("window", window_s)):
        problem = window_problem(seconds)
        if problem is not None or seconds < 1.0:
            raise block.error(key, problem or f"{seconds:g} s is under 1 s",
                              "give a duration from 1s, e.g. 1m")
    return ThresholdAlert(name=name, above=above, for_s=for_s, window_s=window_s)


def parse_slo(fields: Fields) -> SLO:
    """One entry of ``slos:`` (``recovery`` SLOs keep ``of`` unresolved)."""
    fields.only(sorted({k for keys in _KEYS.values() for k in keys}))
    name = fields.matching("name", "checkout-latency-p95", _NAME, "a valid SLO name",
                           "use lower-case letters, digits and '-', e.g. availability")
    slo_type = fields.string("type", "availability")
    if slo_type not in SLO_TYPES:
        raise fields.error("type", f"{slo_type!r} is not an SLO type",
                           f"{did_you_mean(slo_type, SLO_TYPES)}use one of: {', '.join(SLO_TYPES)}")
    if slo_type in MEASURE_TYPES:
        _bound_key(fields, slo_type)
    fields.only(_KEYS[slo_type], f"for an SLO of type {slo_type}")
    description = fields.string("description", "what it promises") \
        if "description" in fields else ""
    if slo_type in MEASURE_TYPES:
        return _measured(fields, name, slo_type, description)
    if slo_type == "recovery":
        return SLO(name=name, type=slo_type, objective=_objective(fields, slo_type),
                   description=description,
                   hold_down=fields.duration("hold_down", "10s") if "hold_down" in fields
                   else 10.0,
                   of=tuple(fields.strings("of", "[availability]")) if "of" in fields else (),
                   source=fields.source)
    threshold = percentile = None
    route: str | None = None
    if slo_type == "latency":
        threshold, percentile, objective = _latency(fields)
        route = fields.string("route", "/api/checkout")
    else:
        objective = _objective(fields, slo_type)
        route = fields.string("route", "/api/checkout") if "route" in fields else None
    query = _query(fields, slo_type, threshold)
    return SLO(
        name=name, type=slo_type, objective=objective, description=description,
        window=_window(fields), query=query,
        series=_series(fields, query), route=route, threshold=threshold,
        percentile=percentile,
        alert=fields.matching("alert", "ShopAvailabilityBurn", _ALERT_NAME,
                              "a Prometheus alert name",
                              "use letters, digits and '_', starting with a letter")
        if "alert" in fields else None,
        threshold_alert=_threshold_alert(fields, slo_type, percentile), source=fields.source,
    )


def parse_catalog(doc: object, source: str = "<memory>",
                  lines: Mapping[str, int] | None = None) -> list[SLO]:
    """Validate one ``chaosgate/v1`` ``SLOCatalog`` document into its SLOs (pure).

    ``lines`` (dotted field path -> line, from the YAML reader) makes each
    SLO's ``source`` ``file:line``.
    """
    try:
        return _parse_catalog(doc, source, lines or {})
    except CatalogError:
        raise
    except TargetError as exc:
        line = line_of(lines or {}, exc.field)
        located = CatalogError(f"{source}:{line}" if line else source, exc.field, exc.problem,
                               exc.fix)
        located.path = source
        raise located from None


def _parse_catalog(doc: object, source: str, lines: Mapping[str, int]) -> list[SLO]:
    root = Fields.of(source, "", doc, "a mapping (apiVersion: chaosgate/v1, kind: SLOCatalog)")
    root.only(("apiVersion", "kind", "slos"), "at the top level")
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if root.string(key, wanted) != wanted:
            raise root.error(key, f"{root.data[key]!r} is not supported",
                             f"write `{key}: {wanted}`")
    entries = list(root.items("slos", "[{name: availability, type: availability, ...}]"))
    if not entries:
        raise root.error("slos", "no SLOs listed", "add at least one SLO under `slos:`")
    slos = []
    for path, value in entries:
        slo = parse_slo(Fields.of(source, path, value, "{name: ..., type: ...}"))
        line = lines.get(path)
        slos.append(replace(slo, source=f"{source}:{line}" if line else source))
    return slos


def build_catalog(slos: Iterable[SLO]) -> Catalog:
    """Check names are unique and resolve each ``recovery`` SLO's ``of`` (pure)."""
    items = list(slos)
    seen: dict[str, SLO] = {}
    for slo in items:
        if slo.name in seen:
            raise CatalogError(slo.source, "name", f"SLO {slo.name!r} is defined twice (also in "
                               f"{seen[slo.name].source})", "give each SLO its own name")
        seen[slo.name] = slo
    ratio = [s.name for s in items if s.is_ratio or s.type == "gauge_bound"]
    resolved = []
    for slo in items:
        if slo.type == "recovery":
            of = slo.of or tuple(s.name for s in items if s.type == "availability")
            if not of:
                raise CatalogError(slo.source, "of", "no availability SLO to judge recovery on",
                                   "name the ratio SLOs, e.g. `of: [checkout-error-ratio]`")
            for name in of:
                if name not in ratio:
                    what = (f"{name!r} is a {seen[name].type} SLO: a recovery is judged on "
                            "ratio and gauge_bound SLOs only" if name in seen
                            else f"{name!r} is not a ratio or gauge_bound SLO here")
                    raise CatalogError(slo.source, "of", what,
                                       f"{did_you_mean(name, ratio)}use one of: "
                                       f"{', '.join(ratio)}")
            slo = replace(slo, of=of)
        resolved.append(slo)
    return Catalog(tuple(resolved))


def _read(file: Path) -> str:
    try:
        return read_document(file, "check the path; probes/ holds the shop's catalogue")
    except TargetError as exc:
        raise CatalogError(exc.path, exc.field, exc.problem, exc.fix) from None


def _parse_file(file: Path) -> list[SLO]:
    text = _read(file)
    if re.search(r"^apiVersion:\s*['\"]?openslo/", text, re.MULTILINE):
        from .openslo import import_openslo

        return import_openslo(text, str(file))
    try:
        data, lines = read_yaml(text, str(file))
    except TargetError as exc:
        raise CatalogError(exc.path, exc.field, exc.problem, exc.fix) from None
    return parse_catalog(data, str(file), lines)


def load_catalog(path: str | Path = "probes", *,
                 option: str = frontends.option("catalog", "chaosgate")) -> Catalog:
    """Read a catalogue file, or every ``*.yaml``/``*.yml`` file of a folder, and validate it.

    ``option`` is how the caller's front end names the catalogue
    (:func:`chaosgate.frontends.option`): the fix of a missing one names it."""
    root = Path(path)
    fix = f"point {option} at a catalogue folder (the shop's: probes/) or at one catalogue file"
    if root.is_dir():
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
        if not files:
            raise CatalogError(root, "", "no *.yaml file in this folder", fix)
    elif root.exists():
        files = [root]
    else:
        raise CatalogError(root, "", "no such file or folder", fix)
    return build_catalog(slo for file in files for slo in _parse_file(file))
