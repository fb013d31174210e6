"""The SLO verdict tables of the reports, as HTML.

Pure string building. Every cell is redacted (secrets never appear) and
escaped. The columns are those of the final verdict table of
``chaosgate gameday``: game day, SLO, value, objective, TTR, verdict; the
Allure attachment adds the PromQL used and the detail.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .model import GameDayResult, SLORow
from .redact import redact_text

__all__ = [
    "SUMMARY_COLUMNS",
    "format_seconds",
    "slo_table_html",
    "summary_rows",
    "summary_table_html",
]

SUMMARY_COLUMNS = ("game day", "SLO", "value", "objective", "TTR", "verdict")
_SLO_COLUMNS = ("SLO", "value", "objective", "verdict", "PromQL", "detail")
_VERDICT_STYLE = {"pass": "#1a7f37", "fail": "#cf222e", "inconclusive": "#9a6700",
                  "aborted": "#8250df"}


def format_seconds(seconds: float | None) -> str:
    """``12.3 s``, or an em dash when unknown."""
    return "—" if seconds is None else f"{seconds:.1f} s"


def summary_rows(results: Sequence[GameDayResult]) -> list[tuple[str, ...]]:
    """One row per game day and SLO (one row for a game day without SLOs).

    The TTR is given on each row of its game day; the verdict of the row is
    the SLO's, and for a game day without SLO rows the game day's own.
    """
    rows: list[tuple[str, ...]] = []
    for r in results:
        ttr = format_seconds(r.ttr_s)
        if not r.slos:
            rows.append((r.name, "—", "—", "—", ttr, r.verdict))
        for s in r.slos:
            rows.append((r.name, s.slo, s.value, s.objective, ttr, s.verdict))
    return [tuple(redact_text(c) for c in row) for row in rows]


def _slo_cells(rows: Sequence[SLORow]) -> list[tuple[str, ...]]:
    return [tuple(redact_text(c) for c in (r.slo, r.value, r.objective, r.verdict, r.promql,
                                           r.detail)) for r in rows]


def _html_table(columns: Sequence[str], rows: Sequence[Sequence[str]], verdict_col: int,
                code_col: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(cell)
            if i == verdict_col:
                color = _VERDICT_STYLE.get(cell, "#57606a")
                text = f'<strong style="color:{color}">{text.upper()}</strong>'
            elif i == code_col and cell:
                text = f"<code>{text}</code>"
            cells.append(f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="slo-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def slo_table_html(rows: Sequence[SLORow], *, standalone: bool = True) -> str:
    """The SLO table of one game day as HTML (a whole page when ``standalone``)."""
    table = _html_table(_SLO_COLUMNS, _slo_cells(rows), verdict_col=3, code_col=4)
    if not standalone:
        return table
    style = ("body{font-family:system-ui,sans-serif;font-size:13px;margin:4px}"
             "table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;"
             "padding:3px 6px;text-align:left;vertical-align:top}th{background:#f6f8fa}"
             "code{white-space:pre-wrap;word-break:break-word}")
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{style}</style></head>' \
           f"<body>{table}</body></html>"


def summary_table_html(results: Sequence[GameDayResult]) -> str:
    """The verdict table of a run (game day, SLO, value, objective, TTR, verdict) as HTML."""
    return _html_table(SUMMARY_COLUMNS, summary_rows(results), verdict_col=5)
