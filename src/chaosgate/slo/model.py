"""The SLO catalogue's model: :class:`SLO`, :class:`Catalog`, and ``$window`` templates. Pure.

Built by :mod:`chaosgate.slo.catalog` (validation of ``probes/*.yaml``) and
:mod:`chaosgate.slo.openslo` (OpenSLO import); read by the evaluation,
timeline and check modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..exceptions import TargetError
from ..targets._reader import did_you_mean

__all__ = [
    "MAX_WINDOW_S",
    "MEASURE_QUERIES",
    "MEASURE_TYPES",
    "PLACEHOLDER",
    "RATIO_TYPES",
    "SLO",
    "SLO_TYPES",
    "WINDOW_FIX",
    "Catalog",
    "CatalogError",
    "ThresholdAlert",
    "prom_duration",
    "render",
    "window_problem",
]

#: Longest SLO evaluation window, in seconds: 400 days. No Prometheus keeps
#: that much (15 days by default), and a range much longer overflows PromQL's
#: int64 milliseconds, which Prometheus reports as a PromQL error.
MAX_WINDOW_S = 400 * 86400.0
#: Shortest window: 1 ms, the resolution of :func:`prom_duration`.
MIN_WINDOW_S = 0.001
#: What to do about a window :func:`window_problem` refuses.
WINDOW_FIX = "give a window from 1ms to 400d, e.g. 10m"


def window_problem(seconds: object) -> str | None:
    """Why ``seconds`` cannot be an SLO evaluation window; None when it can. Pure.

    A window must be a finite number of seconds from 1 ms to 400 days
    (:data:`MAX_WINDOW_S`), so that a window from the command line, the
    catalogue or an experiment fails as bad input (exit 2) before any query,
    never as a PromQL error from Prometheus.
    """
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return f"{seconds!r} is not a number of seconds"
    try:
        finite = math.isfinite(seconds)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        return f"{seconds!r} is not a finite window"
    if seconds < MIN_WINDOW_S:
        return f"{seconds:g} s is not a positive window"
    if seconds > MAX_WINDOW_S:
        return f"{seconds:g} s is longer than 400 days"
    return None

RATIO_TYPES = ("availability", "error_ratio", "latency", "ratio")
#: SLOs judged on a measured value over the window, not on a good/total ratio:
#: ``mean_latency`` (sum/count <= threshold), ``throughput`` (events/s >= objective),
#: ``gauge_bound`` (every sample of a gauge <= threshold).
MEASURE_TYPES = ("mean_latency", "throughput", "gauge_bound")
SLO_TYPES = (*RATIO_TYPES, *MEASURE_TYPES, "recovery")
#: What each measured type's ``query`` holds (PromQL templates).
MEASURE_QUERIES = {"mean_latency": ("sum", "count"), "throughput": ("events",),
                   "gauge_bound": ("value",)}
#: ``$name`` or ``${name}`` in a PromQL template (group 1 or 2 is the name).
PLACEHOLDER = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class CatalogError(TargetError):
    """An SLO catalogue file is missing, unreadable or invalid (exit code 2)."""


@dataclass(frozen=True)
class ThresholdAlert:
    """A plain threshold alert a ratio SLO declares (``threshold_alert:`` in the catalogue).

    Fires when the SLO's error ratio over ``window_s`` stays above ``above``
    for ``for_s`` (:mod:`chaosgate.slo.rules` writes it).
    """

    name: str
    above: float
    for_s: float
    window_s: float


@dataclass(frozen=True)
class SLO:
    """One validated SLO of the catalogue.

    ``objective``: the minimum good ratio for ratio SLOs; the maximum time
    to recover, in seconds, for ``recovery``; the threshold (seconds, or the
    gauge's unit) for ``mean_latency`` and ``gauge_bound`` (also in
    ``threshold``); the minimum rate, events per second, for ``throughput``.
    ``window`` and ``hold_down`` are seconds. ``query`` maps ``good`` or
    ``bad``, and ``total``, to PromQL templates (measured types:
    :data:`MEASURE_QUERIES`); ``series`` maps the same keys to the raw
    counter selectors that the server-side timeline reads (derived from
    ``sum(increase(SEL[$window]))`` queries, or given), empty when unknown.
    """

    name: str
    type: str
    objective: float
    description: str = ""
    window: float = 600.0
    query: Mapping[str, str] = field(default_factory=dict)
    series: Mapping[str, str] = field(default_factory=dict)
    route: str | None = None
    threshold: float | None = None
    percentile: float | None = None
    hold_down: float = 10.0
    of: tuple[str, ...] = ()
    alert: str | None = None
    threshold_alert: ThresholdAlert | None = None
    source: str = field(default="<memory>", compare=False)

    @property
    def is_ratio(self) -> bool:
        """True for SLOs judged on a good/total ratio (not ``recovery``)."""
        return self.type in RATIO_TYPES

    @property
    def is_window(self) -> bool:
        """True for SLOs judged over a window (every type but ``recovery``)."""
        return self.type != "recovery"

    @property
    def client_readable(self) -> bool:
        """True when the request log can judge it: availability, error_ratio and latency;
        mean_latency and throughput on a ``route``. ``ratio`` and ``gauge_bound``: server only."""
        if self.type in ("availability", "error_ratio", "latency"):
            return True
        return self.type in ("mean_latency", "throughput") and self.route is not None

    @property
    def numerator(self) -> str:
        """``"good"`` or ``"bad"``: which events the numerator query counts."""
        return "good" if "good" in self.query else "bad"

    def promql(self, window: float | None = None) -> dict[str, str]:
        """The queries with ``$window`` replaced (default: the SLO's own window)."""
        seconds = self.window if window is None else window
        return {key: render(text, seconds) for key, text in self.query.items()}


@dataclass(frozen=True)
class Catalog:
    """The SLOs of one or more catalogue files, names unique, in file order."""

    slos: tuple[SLO, ...]

    def __iter__(self) -> Iterator[SLO]:
        return iter(self.slos)

    def names(self) -> list[str]:
        """Every SLO name, in order."""
        return [slo.name for slo in self.slos]

    def get(self, name: str) -> SLO:
        """The SLO called ``name``; :class:`CatalogError` with a suggestion if none is."""
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise CatalogError("SLO catalogue", "", f"no SLO named {name!r}",
                           f"{did_you_mean(name, self.names())}use one of: "
                           f"{', '.join(self.names())}")

    def select(self, names: Iterable[str] = ()) -> list[SLO]:
        """The SLOs called ``names`` (all of them when empty)."""
        wanted = list(names)
        return [self.get(n) for n in wanted] if wanted else list(self.slos)


def prom_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds``: ``10m``, ``90s`` or ``1500ms``."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError("a window must be positive")
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def render(template: str, window: float) -> str:
    """``template`` with ``$window`` / ``${window}`` replaced by a Prometheus duration."""
    text = prom_duration(window)
    return PLACEHOLDER.sub(lambda m: text if (m.group(1) or m.group(2)) == "window"
                            else m.group(0), template)
