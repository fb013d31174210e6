"""Stop conditions: when a running fault must be reverted at once. Pure.

A target lists them in ``safety.stop_when`` (every fault on it honours
them); ``--stop-when`` adds more for one run. Three kinds, written as
strings:

- ``alert:ShopErrorsHigh``: the Prometheus alert is firing
  (``ALERTS{alertname="ShopErrorsHigh",alertstate="firing"}``);
- ``burn:availability>5%``: the run has burned more than 5 % of the SLO's
  error budget for its period (the burn the game days gate on, read live
  from Prometheus with the SLO's own queries);
- ``promql:<expr>``, or any other text: the PromQL expression returns a
  sample (write it as a comparison, e.g. ``sum(rate(x[10s])) > 5``).

:mod:`chaosgate.faults.stop` evaluates them while a fault is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..exceptions import TargetError

__all__ = ["MAX_PROMQL", "StopCondition", "parse_stop_condition"]

StopKind = Literal["alert", "promql", "burn"]

#: The longest PromQL expression a stop condition may hold.
MAX_PROMQL = 4096
_ALERT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BURN = re.compile(r"^(?P<slo>[a-z0-9](?:[-a-z0-9_.]*[a-z0-9])?)\s*>\s*"
                   r"(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<pct>%?)$")
_EXAMPLES = ("alert:ShopErrorsHigh, burn:availability>5% or promql:"
             "'sum(rate(haproxy_frontend_http_responses_total{code=\"5xx\"}[10s])) > 5'")


@dataclass(frozen=True)
class StopCondition:
    """One stop condition: ``kind``, its subject (alert name, PromQL, SLO name) and, for
    ``burn``, the share of the period's error budget (0-1) above which it trips."""

    kind: StopKind
    subject: str
    threshold: float | None = None
    source: str = field(default="", compare=False)  # where it was given

    def __str__(self) -> str:
        if self.kind == "alert":
            return f"alert {self.subject} firing"
        if self.kind == "burn":
            return (f"{self.subject} error budget burned above "
                    f"{(self.threshold or 0) * 100:g} %")
        return f"PromQL `{self.subject}` returns a sample"


def parse_stop_condition(text: object, source: str, field_name: str = "") -> StopCondition:
    """``text`` as a :class:`StopCondition`; :class:`TargetError` naming ``source`` (a file
    or an option) and ``field_name`` with the fix."""

    def bad(problem: str) -> TargetError:
        return TargetError(source, field_name, problem, f"write e.g. {_EXAMPLES}")

    if not isinstance(text, str) or not text.strip():
        raise bad(f"{text!r} is not a stop condition")
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if sep and kind == "alert":
        if not _ALERT.match(rest.strip()):
            raise bad(f"{rest.strip()!r} is not a Prometheus alert name")
        return StopCondition("alert", rest.strip(), source=source)
    if sep and kind == "burn":
        match = _BURN.match(rest.strip())
        if match is None:
            raise bad(f"{rest.strip()!r} is not `SLO>PERCENT%`")
        value = float(match["value"]) / (100 if match["pct"] else 1)
        if not 0 < value <= 1:
            raise bad(f"{rest.strip()!r}: the budget share must be above 0 and at most 100 %")
        return StopCondition("burn", match["slo"], value, source=source)
    expr = rest.strip() if sep and kind == "promql" else text
    if not expr:
        raise bad("the PromQL expression is empty")
    if len(expr) > MAX_PROMQL:
        raise bad(f"the PromQL expression is {len(expr)} characters long (at most {MAX_PROMQL})")
    return StopCondition("promql", expr, source=source)
