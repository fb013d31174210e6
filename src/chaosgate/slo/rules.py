"""Prometheus rules from the SLO catalogue: SLI recordings, burn-rate and threshold alerts. Pure.

``chaosgate slo rules`` writes what this module builds; the sandbox loads it
into its Prometheus. The rules follow Sloth's conventions (names, labels and
the multi-window multi-burn-rate alerts of the Google SRE workbook, "Alerting
on SLOs", table 5-8), so dashboards and alert routes written for Sloth work:

- SLI recordings ``slo:sli_error:ratio_rate<W>`` per ratio SLO and window,
  labelled ``sloth_id`` / ``sloth_service`` / ``sloth_slo`` / ``sloth_window``;
- metadata recordings ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
  ``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``
  and ``sloth_slo_info``;
- per SLO, a ``page`` alert (2 % of the period's budget in 1 h: 14.4x over
  1 h and 5 m; 5 % in 6 h: 6x over 6 h and 30 m) and a ``ticket`` alert
  (10 % in 1 d: 3x over 1 d and 2 h; 10 % in 3 d: 1x over 3 d and 6 h), both
  named by the SLO's ``alert`` and told apart by ``sloth_severity``;
- per SLO that declares one, a threshold alert: the error ratio over a short
  window above a bound for a while (for a latency SLO the default bound is
  ``1 - percentile``: "p95 above the threshold");
- per measured SLO (``mean_latency``, ``throughput``, ``gauge_bound``) that
  declares a ``threshold_alert``, one alert on its own bound: ``sum/count``
  over the window above the threshold, ``events`` over the window per second
  under the objective, the gauge above its threshold; its name, window and
  ``for`` from that block (a gauge: its instant value). Opt-in, like a ratio
  SLO's threshold alert: a throughput alert, say, fires whenever no traffic
  is offered, which only the catalogue's author can call a page. Burn-rate
  alerts are for ratios only: a measured SLO has no error budget (no
  "fraction of bad events" to spend), so none is written for it.

A burn rate is how many times faster than "exactly on budget" the budget
burns; an alert of ``budget_share`` of the period's budget spent within
``long_window`` fires at :func:`burn_rate_factor` ``= budget_share * period /
long_window`` times the budget (the error ratio allowed by the objective).

``time_scale`` multiplies every window and the period (the factors stay),
and a threshold alert's window and ``for``, so that a game day of minutes
meets alerts built for hours: at ``1/60`` the page alert looks at 5 s and
1 min. The recording names carry the windows
actually used (``ratio_rate5s``), never the nominal ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import yaml

from .model import PLACEHOLDER, SLO, Catalog, ThresholdAlert

__all__ = [
    "ALERT_WINDOWS",
    "MIN_SCALED_WINDOW_S",
    "AlertWindow",
    "RuleOptions",
    "alert_name",
    "build_rules",
    "burn_rate_factor",
    "dump_rules",
    "duration_text",
    "measure_expr",
    "parse_time_scale",
    "sli_error_expr",
]

Severity = Literal["page", "ticket"]

#: A window shorter than this after scaling cannot hold two scrapes of any sane Prometheus.
MIN_SCALED_WINDOW_S = 1.0
#: Sloth's default SLO period (and the SRE workbook's).
DEFAULT_PERIOD_S = 30 * 86400.0


@dataclass(frozen=True)
class AlertWindow:
    """One burn-rate condition: ``budget_share`` of the period's budget within ``long_s``.

    It fires when the error ratio over both ``long_s`` and ``short_s`` (the
    short window makes it reset quickly once the burn stops) is above
    :func:`burn_rate_factor` times the budget.
    """

    severity: Severity
    speed: Literal["quick", "slow"]
    budget_share: float
    short_s: float
    long_s: float


#: The SRE workbook's recommendation for a 30-day period, as Sloth ships it.
ALERT_WINDOWS: tuple[AlertWindow, ...] = (
    AlertWindow("page", "quick", 0.02, 5 * 60.0, 3600.0),
    AlertWindow("page", "slow", 0.05, 30 * 60.0, 6 * 3600.0),
    AlertWindow("ticket", "quick", 0.10, 2 * 3600.0, 86400.0),
    AlertWindow("ticket", "slow", 0.10, 6 * 3600.0, 3 * 86400.0),
)


@dataclass(frozen=True)
class RuleOptions:
    """How to build the rules: the ``sloth_service`` label, the SLO period, the time scale."""

    service: str
    period_s: float = DEFAULT_PERIOD_S
    time_scale: float = 1.0


def burn_rate_factor(budget_share: float, period_s: float, long_window_s: float) -> float:
    """Burn rate at which ``budget_share`` of the period's budget is spent within the window.

    >>> round(burn_rate_factor(0.02, 30 * 86400, 3600), 6)
    14.4
    """
    return budget_share * period_s / long_window_s


def parse_time_scale(text: str) -> float:
    """``"1/60"``, ``"0.01"`` or ``"1"`` as a factor in (0, 1]; ValueError naming the problem."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a number or a fraction like 1/60") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{text!r} is not in (0, 1]: windows can only shrink")
    return value


def alert_name(slo: SLO) -> str:
    """The burn-rate alert's name (of a measured SLO: its threshold alert's): the
    catalogue's ``alert``, else the SLO name in CamelCase and ``BurnRate`` (measured:
    ``Breach``)."""
    if slo.alert:
        return slo.alert
    return "".join(part.capitalize() for part in re.split(r"[-_.]", slo.name) if part) + \
        ("BurnRate" if slo.is_ratio else "Breach")


def measure_expr(slo: SLO, window_s: float) -> str:
    """A measured SLO's breach as one PromQL condition over ``window_s`` (a gauge: now)."""
    window = duration_text(window_s)
    queries = {key: PLACEHOLDER.sub(window, text) for key, text in slo.query.items()}
    if slo.type == "mean_latency":
        return (f"(\n  {queries['sum']}\n)\n/\n(\n  {queries['count']}\n)\n"
                f"> {slo.objective:g}")
    if slo.type == "throughput":
        return f"(\n  {queries['events']}\n) / {window_s:g}\n< {slo.objective:g}"
    if slo.type == "gauge_bound":
        return f"(\n  {queries['value']}\n)\n> {slo.objective:g}"
    raise ValueError(f"SLO {slo.name!r} ({slo.type}) is not a measured SLO")


def _measure_alert(slo: SLO, options: RuleOptions) -> dict[str, Any]:
    """The threshold alert of a measured SLO (see the module doc)."""
    spec = slo.threshold_alert
    assert spec is not None, "a measured SLO's alert is written only when declared"
    window = spec.window_s * options.time_scale
    hold = spec.for_s * options.time_scale
    _check_windows([window])
    what = {"mean_latency": f"mean latency over {duration_text(window)} above "
                            f"{slo.objective * 1000:g} ms",
            "throughput": f"throughput over {duration_text(window)} under "
                          f"{slo.objective:g}/s",
            "gauge_bound": f"gauge above {slo.objective:g}"}[slo.type]
    return {
        "alert": spec.name,
        "expr": measure_expr(slo, window),
        "for": duration_text(hold),
        "labels": {**_ids(slo, options.service), "chaosgate_kind": "threshold"},
        "annotations": {"summary": f"{slo.name}: {what} for {duration_text(hold)}."},
    }


def sli_error_expr(slo: SLO, window_s: float) -> str:
    """The SLO's error ratio over ``window_s`` as one PromQL expression."""
    window = duration_text(window_s)  # the catalogue allows only $window in its templates
    queries = {key: PLACEHOLDER.sub(window, text) for key, text in slo.query.items()}
    if "bad" in queries:
        return f"(\n  {queries['bad']}\n)\n/\n(\n  {queries['total']}\n)"
    return f"1 - (\n  (\n    {queries['good']}\n  )\n  /\n  (\n    {queries['total']}\n  )\n)"


_UNITS = (("y", 365 * 86_400_000, True), ("w", 7 * 86_400_000, True), ("d", 86_400_000, False),
          ("h", 3_600_000, False), ("m", 60_000, False), ("s", 1000, False), ("ms", 1, False))


def duration_text(seconds: float) -> str:
    """``seconds`` as Prometheus prints a duration (Go's ``model.Duration.String``), as Sloth
    names its recordings: ``1h`` not ``60m``, ``30d``, ``1w``, ``1h12m``; years and weeks only
    when exact.

    >>> duration_text(3600), duration_text(30 * 86400), duration_text(4320)
    ('1h', '30d', '1h12m')
    """
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    text = ""
    for unit, mult, exact in _UNITS:
        if exact and ms % mult:
            continue
        if ms >= mult:
            text += f"{ms // mult}{unit}"
            ms %= mult
    return text


def _ids(slo: SLO, service: str) -> dict[str, str]:
    return {"sloth_id": f"{service}-{slo.name}", "sloth_service": service,
            "sloth_slo": slo.name}


def _filter(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _metric(window_s: float) -> str:
    return f"slo:sli_error:ratio_rate{duration_text(window_s)}"


def _windows(slo_threshold: ThresholdAlert | None, scale: float, period_s: float) -> list[float]:
    nominal = {w for aw in ALERT_WINDOWS for w in (aw.short_s, aw.long_s)}
    if slo_threshold is not None:
        nominal.add(slo_threshold.window_s)
    return sorted({w * scale for w in nominal} | {period_s})


def _check_windows(windows: Iterable[float]) -> None:
    short = min(windows)
    if short < MIN_SCALED_WINDOW_S:
        raise ValueError(f"the shortest window would be {duration_text(short)}, under "
                         f"{duration_text(MIN_SCALED_WINDOW_S)}: choose a larger time scale")


def _mwmb_expr(ids: Mapping[str, str], budget: float, quick: AlertWindow, slow: AlertWindow,
               options: RuleOptions) -> str:
    scale, period = options.time_scale, options.period_s * options.time_scale

    def pair(aw: AlertWindow) -> str:
        factor = burn_rate_factor(aw.budget_share, period, aw.long_s * scale)
        return "\n    and\n".join(
            f"    max({_metric(w * scale)}{_filter(ids)} > ({factor:g} * {budget:g})) "
            f"without (sloth_window)" for w in (aw.short_s, aw.long_s))

    return f"(\n{pair(quick)}\n)\nor\n(\n{pair(slow)}\n)"


def _slo_rules(slo: SLO, threshold: ThresholdAlert | None,
               options: RuleOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                              list[dict[str, Any]]]:
    ids = _ids(slo, options.service)
    scale, period = options.time_scale, options.period_s * options.time_scale
    windows = _windows(threshold, options.time_scale, period)
    _check_windows(windows)
    sli = [{"record": _metric(w), "expr": sli_error_expr(slo, w),
            "labels": {**ids, "sloth_window": duration_text(w)}} for w in windows]
    budget = round(1.0 - slo.objective, 12)
    flt = _filter(ids)
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    short = ALERT_WINDOWS[0].short_s * options.time_scale
    meta: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective:g})", "labels": ids},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{slo.objective:g})",
         "labels": ids},
        {"record": "slo:time_period:days", "expr": f"vector({period / 86400:g})", "labels": ids},
        {"record": "slo:current_burn_rate:ratio",
         "expr": f"{_metric(short)}{flt}\n/ {on}\nslo:error_budget:ratio{flt}", "labels": ids},
        {"record": "slo:period_burn_rate:ratio",
         "expr": f"{_metric(period)}{flt}\n/ {on}\nslo:error_budget:ratio{flt}", "labels": ids},
        {"record": "slo:period_error_budget_remaining:ratio",
         "expr": f"1 - slo:period_burn_rate:ratio{flt}", "labels": ids},
        {"record": "sloth_slo_info", "expr": "vector(1)",
         "labels": {**ids, "sloth_mode": "chaosgate", "sloth_spec": "chaosgate/v1",
                    "sloth_objective": f"{slo.objective * 100:g}"}},
    ]
    name = alert_name(slo)
    alerts: list[dict[str, Any]] = []
    for severity in ("page", "ticket"):
        quick, slow = (aw for aw in ALERT_WINDOWS if aw.severity == severity)
        alerts.append({
            "alert": name,
            "expr": _mwmb_expr(ids, budget, quick, slow, options),
            "labels": {"sloth_severity": severity, "chaosgate_kind": "burn-rate"},
            "annotations": {
                "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
                         "SLO error budget burn rate is too fast.",
                "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget "
                           "burn rate is over expected.",
            },
        })
    if threshold is not None:
        window, hold = threshold.window_s * options.time_scale, threshold.for_s * scale
        alerts.append({
            "alert": threshold.name,
            "expr": f"max({_metric(window)}{flt} > {threshold.above:g}) without (sloth_window)",
            "for": duration_text(hold),
            "labels": {**ids, "chaosgate_kind": "threshold"},
            "annotations": {
                "summary": f"{slo.name}: error ratio over {duration_text(window)} "
                           f"above {threshold.above:g} for {duration_text(hold)}.",
            },
        })
    return sli, meta, alerts


def build_rules(catalog: Catalog, options: RuleOptions) -> dict[str, Any]:
    """The rule file (``{"groups": [...]}``) for every ratio and measured SLO of ``catalog``.

    Raises ValueError when the time scale makes a window shorter than
    :data:`MIN_SCALED_WINDOW_S`. ``recovery`` SLOs have no SLI of their own;
    a measured SLO gets its threshold alert when it declares one.
    """
    groups: list[dict[str, Any]] = []
    for slo in catalog:
        if slo.is_window and not slo.is_ratio:
            if slo.threshold_alert is None:
                continue
            groups.append({"name": f"chaosgate-slo-threshold-{options.service}-{slo.name}",
                           "rules": [_measure_alert(slo, options)]})
            continue
        if not slo.is_ratio:
            continue
        sli, meta, alerts = _slo_rules(slo, slo.threshold_alert, options)
        sid = f"{options.service}-{slo.name}"
        groups += [{"name": f"sloth-slo-sli-recordings-{sid}", "rules": sli},
                   {"name": f"sloth-slo-meta-recordings-{sid}", "rules": meta},
                   {"name": f"sloth-slo-alerts-{sid}", "rules": alerts}]
    return {"groups": groups}



class _RuleDumper(yaml.SafeDumper):
    """Multi-line PromQL as ``|`` blocks, as Sloth and promtool users read them."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_RuleDumper.add_representer(str, _str)


def dump_rules(doc: Mapping[str, Any], header: str) -> str:
    """The rule file as YAML, after a ``#`` comment ``header`` (one line per line)."""
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + yaml.dump(dict(doc), Dumper=_RuleDumper, sort_keys=False, width=100)
