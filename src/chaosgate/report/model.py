"""What the reports are made from: plain, typed, frozen data.

The game-day runner (``chaosgate gameday``), the pytest scenarios and the
Chaos Toolkit controls fill these; the summary page and the Allure results
writer only read them. No I/O here apart from the JSON round trip helpers at
the bottom (``reports/gameday.json`` carries every game day and the
session's verdict, so ``chaosgate gameday`` reads the verdict the pytest
session decided and ``chaosgate report`` rebuilds the summary without
re-running anything).

Every verdict is a :data:`chaosgate.verdict.VerdictName` (docs/architecture.md
§6); several combine with :func:`chaosgate.verdict.combine`, and a verdict's
exit code is :func:`chaosgate.verdict.exit_code`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from ..slo.timeline import Timeline
from ..verdict import VerdictName, combine, is_verdict
from ._files import atomic_write

__all__ = [
    "GameDayResult",
    "GameDayResults",
    "SLORow",
    "TimelineMarks",
    "load_gameday_results",
    "load_results",
    "marks_from_timeline",
    "save_gameday_results",
]


@dataclass(frozen=True, slots=True)
class TimelineMarks:
    """The instants of one game day that the timeline plot marks (epoch seconds).

    ``ttr_s`` is the time to recover as the SLO evaluation computed it
    (``t_recover - t_impact``); the plot draws it as a span from ``t_impact``.
    ``latency_threshold_ms`` is the p95 SLO threshold drawn as a line.
    """

    t_inject: float
    t_revert: float
    t_impact: float | None = None
    t_detect: float | None = None
    t_recover: float | None = None
    ttr_s: float | None = None
    latency_threshold_ms: float | None = None


def marks_from_timeline(timeline: Timeline, *, t_revert: float,
                        latency_threshold_ms: float | None = None) -> TimelineMarks:
    """The plot's marks from an SLO timeline (best estimates; the TTR from the impact)."""
    def best(estimate: Any) -> float | None:
        return None if estimate is None else float(estimate.t)

    return TimelineMarks(t_inject=timeline.t_inject, t_revert=t_revert,
                         t_impact=best(timeline.t_impact), t_detect=best(timeline.t_detect),
                         t_recover=best(timeline.t_recover), ttr_s=best(timeline.ttr),
                         latency_threshold_ms=latency_threshold_ms)


@dataclass(frozen=True, slots=True)
class SLORow:
    """One SLO of one game day, already formatted for people.

    ``value`` and ``objective`` are display strings (``"99.93 %"``,
    ``">= 99.99 %"``) so that no report re-formats numbers differently.
    ``promql`` is the query used (shown in the Allure SLO table);
    ``detail`` says why, e.g. the confidence bound that decided.
    """

    slo: str
    value: str
    objective: str
    verdict: VerdictName
    promql: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class GameDayResult:
    """One game day (or one repetition of it) as every report sees it.

    ``message`` explains a ``fail`` or ``inconclusive`` verdict in one line.
    ``ttr_bounds`` is the uncertainty of ``ttr_s`` (the observer's bounds for
    one run, the bootstrap interval of the mean over repetitions);
    ``ttr_client_s``/``ttr_server_s`` are each observer's own TTR (request
    log, Prometheus); ``ttd_s`` the time from the impact to the first alert
    (None when no alert fired or none is configured); ``budget_burn`` the
    largest share of any SLO's error budget the game day used (1.0 = the
    whole period's); ``rpo_s`` the data loss window where a game day measures
    it (None otherwise).
    ``ttr_repetitions`` holds the TTR of each repetition when the game day
    was repeated (``None`` where it did not recover or could not be
    measured); ``mttr_plot_png`` is then the MTTR plot. ``allure_uuid`` is
    the uuid of the game day's Allure result, for deep links.
    """

    name: str
    verdict: VerdictName
    slos: tuple[SLORow, ...] = ()
    ttr_s: float | None = None
    ttr_from_inject_s: float | None = None
    suite: str = "gamedays"
    fault: str = ""
    description: str = ""
    message: str = ""
    started: float | None = None  # epoch seconds
    stopped: float | None = None
    plot_png: bytes | None = None
    ttr_repetitions: tuple[float | None, ...] = ()
    mttr_plot_png: bytes | None = None
    allure_uuid: str | None = None
    labels: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    ttr_bounds: tuple[float, float] | None = None
    ttr_client_s: float | None = None
    ttr_server_s: float | None = None
    ttd_s: float | None = None
    budget_burn: float | None = None
    rpo_s: float | None = None

    @property
    def duration_s(self) -> float:
        """Wall time of the game day, 0 when unknown."""
        if self.started is None or self.stopped is None:
            return 0.0
        return max(0.0, self.stopped - self.started)


@dataclass(frozen=True, slots=True)
class GameDayResults:
    """A session's game days and the session's verdict, decided where they ran.

    :meth:`of` decides the verdict (the game days' verdicts combined: any
    fail fails; none at all is inconclusive); the results file carries it, so
    whoever reads the file reads that verdict instead of deciding again.
    """

    gamedays: tuple[GameDayResult, ...]
    verdict: VerdictName

    @classmethod
    def of(cls, gamedays: Iterable[GameDayResult]) -> GameDayResults:
        """The results of a session, its verdict decided from its game days' verdicts."""
        done = tuple(gamedays)
        return cls(done, combine(r.verdict for r in done))


# -- JSON round trip -----------------------------------------------------------
_BYTES_FIELDS = ("plot_png", "mttr_plot_png")


def _to_json(result: GameDayResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(result):
        name = f.name
        value = getattr(result, name)
        if name in _BYTES_FIELDS:
            value = None if value is None else base64.b64encode(value).decode("ascii")
        elif name == "slos":
            value = [{g.name: getattr(row, g.name) for g in fields(row)} for row in value]
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[name] = value
    return out


def _from_json(data: dict[str, Any]) -> GameDayResult:
    kwargs = dict(data)
    for name in _BYTES_FIELDS:
        if kwargs.get(name) is not None:
            kwargs[name] = base64.b64decode(kwargs[name])
    kwargs["slos"] = tuple(SLORow(**row) for row in kwargs.get("slos", ()))
    kwargs["ttr_repetitions"] = tuple(kwargs.get("ttr_repetitions", ()))
    kwargs["labels"] = tuple((str(k), str(v)) for k, v in kwargs.get("labels", ()))
    if kwargs.get("ttr_bounds") is not None:
        lo, hi = kwargs["ttr_bounds"]
        kwargs["ttr_bounds"] = (float(lo), float(hi))
    if not is_verdict(kwargs.get("verdict")):
        raise ValueError(f"unknown verdict {kwargs.get('verdict')!r}")
    return GameDayResult(**kwargs)


def save_gameday_results(path: Path | str,
                         results: GameDayResults | Sequence[GameDayResult]) -> Path:
    """Write results and their verdict as JSON (PNGs base64), atomically; returns the path.

    A plain sequence of game days is saved with the verdict
    :meth:`GameDayResults.of` decides for it.
    """
    decided = results if isinstance(results, GameDayResults) else GameDayResults.of(results)
    doc = {"version": 1, "verdict": decided.verdict,
           "gamedays": [_to_json(r) for r in decided.gamedays]}
    return atomic_write(path, json.dumps(doc, indent=1) + "\n")


def load_results(path: Path | str) -> GameDayResults:
    """Read what :func:`save_gameday_results` wrote: the game days and their verdict.

    A file without a ``verdict`` (written before it was recorded) gets the
    one :meth:`GameDayResults.of` decides. Raises ``ValueError`` when the
    file is not such a document.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise ValueError(f"{path}: not a chaosgate game-day results file (version 1)")
    items = cast(list[dict[str, Any]], doc.get("gamedays", []))
    try:
        gamedays = [_from_json(item) for item in items]
    except TypeError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    verdict = doc.get("verdict")
    if verdict is None:
        return GameDayResults.of(gamedays)
    if not is_verdict(verdict):
        raise ValueError(f"{path}: unknown verdict {verdict!r}")
    return GameDayResults(tuple(gamedays), verdict)


def load_gameday_results(path: Path | str) -> list[GameDayResult]:
    """The game days of a results file (see :func:`load_results`)."""
    return list(load_results(path).gamedays)
