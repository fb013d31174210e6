"""History across runs: a SQLite store every game-day run appends to, and its trends.

The store is one SQLite file (default ``<reports>/history.sqlite``; the
``--history`` option of ``chaosgate gameday`` and ``chaosgate report``, or
``history:`` in the target file, moves it). Two tables:

- ``runs``: one row per ``chaosgate gameday`` run: when, chaosgate version,
  target name, git revision, ``--label``, the session's verdict, the overall
  resilience score;
- ``gamedays``: one row per game day of a run: verdict, TTR (best) with its
  bounds, the TTR of each observer (request log, Prometheus), time to detect,
  error budget burned, RPO, the game day's score, its Allure history id.
  Figures a run did not measure are NULL (TTD without alerts; RPO today).

The rest is pure: :func:`trends` (TTR per game day over the last N runs,
MTTR with its confidence interval, pass rate, change since the previous
run), :func:`export_rows` (the same over time, flat, for JSON/CSV) and
:func:`allure_history_points` (the runs as Allure 3 history data points, for
the report's own history and trend widgets).
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..slo.stats import summarize_ttr
from .model import GameDayResults
from .score import overall_score, score_gameday

__all__ = [
    "DEFAULT_LAST",
    "EXPORT_COLUMNS",
    "HISTORY_FILE",
    "MTTR_METHOD",
    "GameDayPoint",
    "GameDayTrend",
    "HistoryRun",
    "allure_history_points",
    "append_run",
    "change_text",
    "export_rows",
    "load_runs",
    "trends",
]

#: The store's file name inside the reports folder.
HISTORY_FILE = "history.sqlite"
#: How many runs the trends look back over by default.
DEFAULT_LAST = 10
#: How the MTTR interval is computed, as the reports state it.
MTTR_METHOD = ("MTTR = mean of the measured TTRs of the game day over the runs shown; "
               "95 % percentile bootstrap interval of that mean (10 000 resamples, seed 0). "
               "With fewer than 5 runs the interval only spans the values seen: read it "
               "as indicative")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,
    chaosgate_version TEXT NOT NULL,
    target TEXT NOT NULL,
    revision TEXT,
    label TEXT,
    verdict TEXT NOT NULL,
    score REAL
);
CREATE TABLE IF NOT EXISTS gamedays (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    verdict TEXT NOT NULL,
    ttr_s REAL,
    ttr_lo REAL,
    ttr_hi REAL,
    ttr_client_s REAL,
    ttr_server_s REAL,
    ttd_s REAL,
    budget_burn REAL,
    rpo_s REAL,
    score REAL,
    started REAL,
    duration_s REAL,
    allure_history_id TEXT,
    PRIMARY KEY (run_id, name)
);
"""
_SCHEMA_VERSION = "1"
_GAMEDAY_COLUMNS = ("name", "verdict", "ttr_s", "ttr_lo", "ttr_hi", "ttr_client_s",
                    "ttr_server_s", "ttd_s", "budget_burn", "rpo_s", "score", "started",
                    "duration_s", "allure_history_id")


@dataclass(frozen=True, slots=True)
class GameDayPoint:
    """One game day of one recorded run."""

    name: str
    verdict: str
    ttr_s: float | None = None
    ttr_lo: float | None = None
    ttr_hi: float | None = None
    ttr_client_s: float | None = None
    ttr_server_s: float | None = None
    ttd_s: float | None = None
    budget_burn: float | None = None
    rpo_s: float | None = None
    score: float | None = None
    started: float | None = None
    duration_s: float | None = None
    allure_history_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryRun:
    """One recorded ``chaosgate gameday`` run."""

    id: int
    recorded_at: float
    chaosgate_version: str
    target: str
    revision: str | None
    label: str | None
    verdict: str
    score: float | None
    gamedays: tuple[GameDayPoint, ...]

    @property
    def name(self) -> str:
        """What the reports call the run: its label, else its revision, else ``run <id>``."""
        return self.label or self.revision or f"run {self.id}"

    def gameday(self, name: str) -> GameDayPoint | None:
        """The game day of that name in this run, if it ran."""
        return next((g for g in self.gamedays if g.name == name), None)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        with conn:
            conn.executescript(_SCHEMA)
            found = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if found is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
            elif found[0] != _SCHEMA_VERSION:
                raise ValueError(f"{path}: history schema {found[0]}, this chaosgate reads "
                                 f"{_SCHEMA_VERSION}")
        yield conn
    finally:
        conn.close()


def append_run(path: Path | str, results: GameDayResults, *, target: str, version: str,
               revision: str | None = None, label: str | None = None,
               recorded_at: float | None = None,
               allure_history_ids: Mapping[str, str] | None = None) -> int:
    """Append one run (its game days and verdict) to the store at ``path``; its id.

    The file and its folder are created when missing. ``allure_history_ids``
    maps a game day's Allure result uuid to the history id Allure gave it.
    Raises ``sqlite3.Error``/``OSError`` when the file cannot be written and
    ``ValueError`` when it is not a chaosgate history of this version.
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    ids = allure_history_ids or {}
    scores = [score_gameday(g) for g in results.gamedays]
    when = datetime.now(UTC).timestamp() if recorded_at is None else recorded_at
    with _connect(file) as conn, conn:
        cur = conn.execute(
            "INSERT INTO runs (recorded_at, chaosgate_version, target, revision, label, "
            "verdict, score) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (when, version, target, revision, label, results.verdict, overall_score(scores)))
        run_id = int(cur.lastrowid or 0)
        for g, s in zip(results.gamedays, scores, strict=True):
            lo, hi = g.ttr_bounds if g.ttr_bounds is not None else (None, None)
            conn.execute(
                f"INSERT OR REPLACE INTO gamedays (run_id, {', '.join(_GAMEDAY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(_GAMEDAY_COLUMNS) + 1))})",
                (run_id, g.name, g.verdict, g.ttr_s, lo, hi, g.ttr_client_s, g.ttr_server_s,
                 g.ttd_s, g.budget_burn, g.rpo_s, s.score, g.started, g.duration_s or None,
                 ids.get(g.allure_uuid or "")))
    return run_id


def load_runs(path: Path | str, *, target: str | None = None,
              last: int | None = None) -> list[HistoryRun]:
    """The recorded runs, oldest first: all of them, or the ``last`` N (of ``target``).

    A missing file is an empty history. Raises ``ValueError`` when the file
    is not a chaosgate history (``sqlite3.DatabaseError`` is turned into it).
    """
    file = Path(path)
    if not file.is_file():
        return []
    try:
        with _connect(file) as conn:
            where, args = ("WHERE target = ?", [target]) if target else ("", [])
            rows = conn.execute(
                "SELECT id, recorded_at, chaosgate_version, target, revision, label, verdict, "
                f"score FROM runs {where} ORDER BY id DESC"
                + (" LIMIT ?" if last else ""), [*args, *([last] if last else [])]).fetchall()
            runs = []
            for row in reversed(rows):
                points = conn.execute(
                    f"SELECT {', '.join(_GAMEDAY_COLUMNS)} FROM gamedays WHERE run_id = ? "
                    "ORDER BY rowid", (row[0],)).fetchall()
                run_id, when, version, tgt, revision, label, verdict, score = row
                runs.append(HistoryRun(run_id, when, version, tgt, revision, label, verdict,
                                       score, tuple(GameDayPoint(*p) for p in points)))
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{file}: not a chaosgate history ({exc})") from exc
    return runs


# -- trends (pure) ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GameDayTrend:
    """One game day over the runs shown."""

    gameday: str
    points: tuple[tuple[str, float | None, str], ...]  # (run name, TTR, verdict), oldest first
    mttr: float | None
    mttr_ci: tuple[float, float] | None
    measured: int  # runs with a measured TTR
    pass_rate: float  # share of the runs that passed
    change_s: float | None  # TTR of the last run minus the previous one
    previous_verdict: str | None
    verdict: str


def _mttr(values: Sequence[float]) -> tuple[float | None, tuple[float, float] | None]:
    if not values:
        return None, None
    s = summarize_ttr(values)
    return s.mean, s.mean_ci


def trends(runs: Sequence[HistoryRun]) -> list[GameDayTrend]:
    """Per game day (in order of first appearance): TTR per run, MTTR, pass rate, change.

    MTTR and its interval are computed as :data:`MTTR_METHOD` says, over the
    runs in which the game day ran and recovered with a measured TTR.
    """
    names: list[str] = []
    for run in runs:
        names += [g.name for g in run.gamedays if g.name not in names]
    out = []
    for name in names:
        points = [(run.name, p.ttr_s, p.verdict) for run in runs
                  if (p := run.gameday(name)) is not None]
        measured = [t for _, t, _ in points if t is not None]
        mttr, ci = _mttr(measured)
        last, prev = points[-1], points[-2] if len(points) > 1 else None
        change = (last[1] - prev[1]) if prev and last[1] is not None and prev[1] is not None \
            else None
        out.append(GameDayTrend(name, tuple(points), mttr, ci, len(measured),
                                sum(1 for *_, v in points if v == "pass") / len(points),
                                change, prev[2] if prev else None, last[2]))
    return out


def change_text(t: GameDayTrend) -> str:
    """The change since the previous run in words: TTR difference and verdict change."""
    if t.previous_verdict is None:
        return "first run"
    parts = []
    if t.change_s is not None:
        word = "slower" if t.change_s > 0 else "faster" if t.change_s < 0 else "same"
        parts.append(f"TTR {t.change_s:+.1f} s ({word})")
    if t.previous_verdict != t.verdict:
        parts.append(f"{t.previous_verdict} → {t.verdict}")
    return ", ".join(parts) or "no change"


#: The columns of :func:`export_rows` (and of the CSV export), in order.
EXPORT_COLUMNS = ("run_id", "recorded_at", "target", "revision", "label", "chaosgate_version",
                  "gameday", "verdict", "ttr_s", "ttr_lo", "ttr_hi", "ttr_client_s",
                  "ttr_server_s", "ttd_s", "budget_burn", "rpo_s", "score", "runs", "mttr_s",
                  "mttr_lo", "mttr_hi")


def export_rows(runs: Sequence[HistoryRun]) -> list[dict[str, Any]]:
    """One row per run and game day, oldest first, with the MTTR *up to that run*.

    ``mttr_s`` (and its interval ``mttr_lo``/``mttr_hi``, :data:`MTTR_METHOD`)
    is over every run shown up to and including the row's, so a dashboard
    plots MTTR over time; ``runs`` counts the measured TTRs in it.
    """
    rows: list[dict[str, Any]] = []
    seen: dict[str, list[float]] = {}
    for run in runs:
        when = datetime.fromtimestamp(run.recorded_at, UTC).isoformat(timespec="seconds")
        for g in run.gamedays:
            ttrs = seen.setdefault(g.name, [])
            if g.ttr_s is not None:
                ttrs.append(g.ttr_s)
            mttr, ci = _mttr(ttrs)
            rows.append({
                "run_id": run.id, "recorded_at": when, "target": run.target,
                "revision": run.revision, "label": run.label,
                "chaosgate_version": run.chaosgate_version, "gameday": g.name,
                "verdict": g.verdict, "ttr_s": g.ttr_s, "ttr_lo": g.ttr_lo, "ttr_hi": g.ttr_hi,
                "ttr_client_s": g.ttr_client_s, "ttr_server_s": g.ttr_server_s,
                "ttd_s": g.ttd_s, "budget_burn": g.budget_burn, "rpo_s": g.rpo_s,
                "score": g.score, "runs": len(ttrs), "mttr_s": mttr,
                "mttr_lo": ci[0] if ci else None, "mttr_hi": ci[1] if ci else None})
    return rows


_ALLURE_STATUS = {"pass": "passed", "fail": "failed", "inconclusive": "broken"}


def allure_history_points(runs: Sequence[HistoryRun]) -> list[dict[str, Any]]:
    """The runs as Allure 3 history data points (one JSON line each of its ``historyPath``).

    Allure 3 matches a test to its history by the history id it computed for
    it (kept in the store per game day); game days without one are left out.
    Its report then shows each game day's earlier results and the trend
    charts over these runs.
    """
    points = []
    for run in runs:
        tests: dict[str, Any] = {}
        for g in run.gamedays:
            if not g.allure_history_id:
                continue
            start = None if g.started is None else int(g.started * 1000)
            duration = None if g.duration_s is None else int(g.duration_s * 1000)
            tests[g.allure_history_id] = {
                "id": hashlib.md5(f"{run.id}/{g.name}".encode(),
                                  usedforsecurity=False).hexdigest(),
                "name": g.name, "fullName": g.name,
                "status": _ALLURE_STATUS.get(g.verdict, "unknown"),
                "start": start, "duration": duration,
                "stop": None if start is None or duration is None else start + duration,
                "labels": [], "historyId": g.allure_history_id, "reportLinks": [], "url": ""}
        if tests:
            points.append({
                "uuid": f"chaosgate-run-{run.id}", "name": run.name,
                "timestamp": int(run.recorded_at * 1000),
                "knownTestCaseIds": sorted({h.split(".")[0] for h in tests}),
                "testResults": tests, "metrics": {}, "url": ""})
    return points
