"""The one-page stakeholder summary: a self-contained HTML file.

Overall verdict, the verdict table (game day, SLO, value, objective, TTR,
verdict), then per game day its timeline plot (and MTTR plot when
repeated), its SLO detail and a link into the Allure report. Plots are
embedded as base64 PNG, the style is inline: the file can be mailed or
attached to a change ticket as is. Every text is redacted and escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ._files import atomic_write
from .model import GameDayResult, GameDayResults
from .redact import redact_text
from .tables import format_seconds, slo_table_html, summary_table_html

__all__ = ["allure_test_anchor", "render_summary", "write_summary"]

_COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "inconclusive": "#9a6700",
           "aborted": "#8250df"}
_MEANING = {
    "pass": "every SLO held under every fault",
    "fail": "at least one SLO was violated",
    "inconclusive": "no verdict: data missing, infrastructure unreachable or a fault "
                    "did not take hold (never a pass)",
    "aborted": "a stop condition tripped: a fault was reverted at once to protect the system",
}
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;
color:#1f2328;padding:0 1rem}
h1{margin-bottom:.25rem}.meta{color:#57606a;margin-top:0}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;color:#fff;font-weight:700}
.verdict{font-size:1.3rem;margin:1rem 0}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;
padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
section.gameday{border-top:1px solid #d0d7de;margin-top:2rem;padding-top:1rem}
img.plot{max-width:100%;height:auto;border:1px solid #d0d7de}
.message{background:#fff8c5;padding:.5rem;border-radius:.3rem}
code{font-size:.85em}
"""


def allure_test_anchor(allure_uuid: str) -> str:
    """The fragment that opens a test in an Allure 3 report (``#`` + md5 of its uuid)."""
    return "#" + hashlib.md5(allure_uuid.encode("utf-8"), usedforsecurity=False).hexdigest()


def _e(text: str) -> str:
    return html.escape(redact_text(text))


def _badge(verdict: str) -> str:
    color = _COLORS.get(verdict, "#57606a")
    return f'<span class="badge" style="background:{color}">{_e(verdict.upper())}</span>'


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _section(index: int, r: GameDayResult, allure_href: str | None) -> str:
    parts = [f'<section class="gameday" id="gameday-{index}">',
             f"<h2>{_e(r.name)} {_badge(r.verdict)}</h2>"]
    facts = [("fault", r.fault), ("TTR (impact to recovery)", format_seconds(r.ttr_s))]
    if r.ttr_from_inject_s is not None:
        facts.append(("TTR from injection", format_seconds(r.ttr_from_inject_s)))
    measured = [t for t in r.ttr_repetitions if t is not None]
    if measured:
        facts.append((f"MTTR over {len(r.ttr_repetitions)} repetitions",
                      format_seconds(sum(measured) / len(measured))))
    if r.duration_s:
        facts.append(("duration", format_seconds(r.duration_s)))
    parts.append("<p>" + " · ".join(f"<strong>{_e(k)}:</strong> {_e(v)}"
                                    for k, v in facts if v) + "</p>")
    if r.description:
        parts.append(f"<p>{_e(r.description)}</p>")
    if r.message:
        parts.append(f'<p class="message">{_e(r.message)}</p>')
    parts.append(_img(r.plot_png, f"timeline of {r.name}"))
    parts.append(_img(r.mttr_plot_png, f"time to recover over repetitions of {r.name}"))
    if r.slos:
        parts.append(slo_table_html(r.slos, standalone=False))
    if allure_href:
        href = allure_href + (allure_test_anchor(r.allure_uuid) if r.allure_uuid else "")
        parts.append(f'<p><a href="{html.escape(href, quote=True)}">'
                     f"Open {_e(r.name)} in the Allure report</a> (steps, logs, journal)</p>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def render_summary(results: GameDayResults | Sequence[GameDayResult], *,
                   title: str = "Game-day summary", allure_href: str | None = None,
                   target: str = "", generated_at: float | None = None) -> str:
    """The summary page as an HTML string.

    The overall verdict is the one ``results`` carries (the session's, as
    the results file recorded it); a plain sequence of game days gets the
    one :meth:`GameDayResults.of` decides. ``allure_href`` is the Allure
    report's ``index.html`` relative to where the page will be saved;
    ``generated_at`` (epoch seconds) is printed in UTC and defaults to none,
    keeping the output a pure function of its input.
    """
    decided = results if isinstance(results, GameDayResults) else GameDayResults.of(results)
    verdict, gamedays = decided.verdict, decided.gamedays
    counts = {v: sum(1 for r in gamedays if r.verdict == v) for v in _COLORS}
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "none"
    meta = [f"{len(gamedays)} game day(s): {tally}"]
    if target:
        meta.append(f"target: {target}")
    if generated_at is not None:
        meta.append("generated " + datetime.fromtimestamp(generated_at, UTC)
                    .strftime("%Y-%m-%d %H:%M:%S UTC"))
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(" · ".join(meta))}</p>',
            f'<p class="verdict">Overall verdict: {_badge(verdict)} '
            f"<span>{_e(_MEANING[verdict])}</span></p>"]
    if allure_href:
        body.append(f'<p><a href="{html.escape(allure_href, quote=True)}">'
                    "Open the full Allure report</a></p>")
    body.append("<h2>Verdicts</h2>")
    body.append(summary_table_html(gamedays) if gamedays
                else "<p><strong>No game day ran: no data is never a pass.</strong></p>")
    body += [_section(i, r, allure_href) for i, r in enumerate(gamedays, 1)]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_summary(path: Path | str, results: GameDayResults | Sequence[GameDayResult], *,
                  title: str = "Game-day summary", allure_href: str | None = None,
                  target: str = "", generated_at: float | None = None) -> Path:
    """Render the summary (see :func:`render_summary`) and write it atomically to ``path``."""
    return atomic_write(path, render_summary(results, title=title, allure_href=allure_href,
                                             target=target, generated_at=generated_at))
