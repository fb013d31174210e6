"""The one-page stakeholder summary: a self-contained HTML file read in two minutes.

From the top:

1. the **headline**: the session's verdict and, truthfully, what the gates
   proved and what this volume of traffic could not prove (the statistical
   SLO verdicts that are only reported: a long-term objective such as
   99.99 % needs ~30 000 requests without a failure; the whole-game-day
   ratios count the fault's own errors, judged instead as error budget);
2. the **resilience score** (:mod:`.score`), overall and per game day;
3. the **trend** across runs when a history is given (:mod:`.history`): TTR
   per game day over the last runs (a plot and a table with MTTR and its
   interval, pass rate, change since the previous run);
4. **one card per game day**: verdict, fault, timeline plot (load, errors,
   p95, fault window, impact and recovery marked), TTR with its
   uncertainty and each observer's, time to detect when an alert fired,
   error budget burned, score, and the few gates that decided it;
5. the **appendix**: the score's formula and inputs, and the full SLO table
   of each game day with the PromQL used.

Plots are embedded as base64 PNG and the style is inline (the file can be
mailed as is); the layout never overflows a 1280 px window (fixed-layout
tables, wrapping code) and prints cleanly (print CSS: cards kept whole, the
appendix on a new page). Every text is redacted and escaped. Only the trend
plot needs matplotlib, imported when there is a history to draw.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ._files import atomic_write
from .history import MTTR_METHOD, HistoryRun, change_text, trends
from .model import GameDayResult, GameDayResults, SLORow
from .redact import redact_text
from .score import FORMULA, WEIGHTS, GameDayScore, gate_class, overall_score, score_gameday
from .tables import format_seconds, slo_table_html

__all__ = ["allure_test_anchor", "headline", "render_summary", "write_summary"]

_COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "inconclusive": "#9a6700",
           "aborted": "#8250df"}
_REPORTED = " (reported, not gating)"
_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem auto;
max-width:72rem;color:#1f2328;padding:0 1rem;line-height:1.4}
h1{margin:0 0 .25rem}.meta{color:#57606a;margin:0 0 1rem}
h2{margin:1.5rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:1rem;color:#fff;font-weight:700;
font-size:.85em;vertical-align:middle;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.headline{border:2px solid #d0d7de;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
.headline .verdict{font-size:1.35rem;font-weight:700;margin:0 0 .4rem}
.headline p{margin:.35rem 0}.unproven{color:#57606a}
.score{font-size:1.1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(32rem,1fr));gap:1rem}
.card{border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem;min-width:0}
.card h3{margin:0 0 .3rem;font-size:1.1rem}
.card .fault{color:#57606a;margin:0 0 .4rem;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .75rem;margin:.4rem 0}
.facts dt{font-weight:600}.facts dd{margin:0;overflow-wrap:anywhere}
.decided{margin:.3rem 0 0;padding-left:1.2rem}.decided li{overflow-wrap:anywhere}
img.plot{display:block;width:100%;height:auto;border:1px solid #d0d7de}
#trend img.plot{max-width:56rem}
.message{background:#fff8c5;padding:.4rem;border-radius:.3rem;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f6f8fa}
code{font-size:.8em;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all}
.small{font-size:.85rem;color:#57606a}
@page{size:A4;margin:12mm}
@media print{
body{margin:0;max-width:none;padding:0;font-size:10pt}
.cards{grid-template-columns:1fr 1fr;gap:.5rem}
.card,.headline,figure,tr{break-inside:avoid;page-break-inside:avoid}
h2,h3,h4{break-after:avoid;page-break-after:avoid}
#appendix{break-before:page;page-break-before:always;font-size:8pt}
#appendix code{font-size:7pt}
a{color:inherit;text-decoration:none}
}
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
    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.0f} / 100"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- the headline ------------------------------------------------------------------
def _worst(row: SLORow) -> tuple[float, str] | None:
    """A failed reported row's value as a number to compare, larger is worse (a mean or a
    gauge maximum as it reads, a ratio or a rate negated), and how it reads; None: none."""
    words = row.value.split()
    higher_is_worse = row.value.startswith(("mean ", "max "))
    try:
        number = float(words[1] if higher_is_worse else words[0])
    except (ValueError, IndexError):
        return None
    return (number if higher_is_worse else -number,
            f"{'as high as' if higher_is_worse else 'as low as'} {row.value}")


def _unproven(gamedays: Sequence[GameDayResult]) -> list[str]:
    """What the reported (not gating) verdicts say this traffic could not prove."""
    short: dict[str, tuple[str, str]] = {}  # slo -> (objective, why)
    worst: dict[str, tuple[float, str]] = {}  # slo -> worst whole-game-day value
    for r in gamedays:
        for row in r.slos:
            if not row.slo.endswith(_REPORTED) or row.slo.startswith("#"):
                continue
            slo = row.slo[: -len(_REPORTED)]
            if row.verdict == "inconclusive" and slo not in short:
                needed = row.detail.split(";")[-1].split("(")[0].strip()
                short[slo] = (row.objective, needed)
            elif row.verdict == "fail" and (found := _worst(row)) is not None and (
                    slo not in worst or found[0] > worst[slo][0]):
                worst[slo] = found
    lines = [f"{slo} {objective}: not provable in one game day's traffic"
             + (f" ({needed})" if needed else "")
             for slo, (objective, needed) in short.items()]
    if worst:
        lines.append("Over the whole game day, faults included, the measured values fall "
                     "short of the long-term objectives ("
                     + ", ".join(f"{slo} {text}" for slo, (_, text) in worst.items())
                     + "): that is the faults' own damage, which the error-budget gates "
                       "judge. These rows are reported, not gating (appendix).")
    return lines


def _proven(gamedays: Sequence[GameDayResult], scores: Sequence[GameDayScore]) -> str:
    """One sentence of what the passed gates proved."""
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in WEIGHTS}
    for s in scores:
        for g in s.inputs:
            by_kind[g.kind][1] += 1
            by_kind[g.kind][0] += int(g.passed)
    parts = []
    ttrs = [r.ttr_s for r in gamedays if r.ttr_s is not None]
    if by_kind["recovery"][1]:
        parts.append(f"{by_kind['recovery'][0]} of {by_kind['recovery'][1]} recovery gates held"
                     + (f" (TTR {min(ttrs):.1f} to {max(ttrs):.1f} s)" if ttrs else ""))
    burns = [r.budget_burn for r in gamedays if r.budget_burn is not None]
    if by_kind["error budget"][1]:
        parts.append(f"{by_kind['error budget'][0]} of {by_kind['error budget'][1]} error-budget "
                     "gates held" + (f" (at most {max(burns):.2%} of a budget burned)"
                                     if burns else ""))
    if by_kind["scenario check"][1]:
        parts.append(f"{by_kind['scenario check'][0]} of {by_kind['scenario check'][1]} "
                     "scenario checks passed")
    if by_kind["steady state"][1]:
        parts.append(f"{by_kind['steady state'][0]} of {by_kind['steady state'][1]} "
                     "steady-state checks before and after the faults passed")
    return "; ".join(parts)


def headline(results: GameDayResults) -> str:
    """The headline sentence of the verdict (plain text), as the page prints it."""
    gamedays, verdict = results.gamedays, results.verdict
    n = len(gamedays)
    if not n:
        return "No verdict: no game day ran (no data is never a pass)."
    bad = [r.name for r in gamedays if r.verdict == verdict]
    if verdict == "pass":
        return f"All {_plural(n, 'game day')} passed every gate that decides them."
    if verdict == "fail":
        return (f"{len(bad)} of {_plural(n, 'game day')} violated a gate: "
                + ", ".join(bad) + ".")
    if verdict == "aborted":
        return (f"{len(bad)} of {_plural(n, 'game day')} aborted by a stop condition (the "
                "fault was reverted at once to protect the system): " + ", ".join(bad) + ".")
    return (f"{len(bad)} of {_plural(n, 'game day')} could not be judged "
            "(data missing, infrastructure unreachable or a fault did not take hold): "
            + ", ".join(bad) + ". Never a pass.")


def _headline_html(results: GameDayResults, scores: Sequence[GameDayScore]) -> str:
    verdict = results.verdict
    color = _COLORS.get(verdict, "#57606a")
    parts = [f'<section class="headline" id="headline" data-verdict="{verdict}" '
             f'style="border-color:{color}">',
             f'<p class="verdict">{_badge(verdict)} {_e(headline(results))}</p>']
    proven = _proven(results.gamedays, scores)
    if proven:
        parts.append(f"<p><strong>What the gates showed:</strong> {_e(proven)}.</p>")
    failing = [f"{r.name}: {r.message}" for r in results.gamedays
               if r.verdict != "pass" and r.message]
    if failing:
        parts.append("<p><strong>Why not a pass:</strong></p><ul>"
                     + "".join(f"<li>{_e(m)}</li>" for m in failing) + "</ul>")
    unproven = _unproven(results.gamedays)
    if unproven:
        parts.append('<div class="unproven"><p><strong>What this volume of traffic could not '
                     "prove:</strong></p><ul>"
                     + "".join(f"<li>{_e(u)}</li>" for u in unproven) + "</ul></div>")
    total = overall_score(scores)
    parts.append(f'<p class="score"><strong>Resilience score:</strong> '
                 f'<span id="overall-score">{_score_text(total)}</span> '
                 '<span class="small">(weighted share of the gates passed; formula and '
                 'inputs in the <a href="#score">appendix</a>)</span></p>')
    parts.append("</section>")
    return "\n".join(parts)


# -- the cards ----------------------------------------------------------------------
def _deciding(r: GameDayResult) -> list[SLORow]:
    """The few gates that decided a game day: those with its verdict, recovery and budget
    first; steady state only when it is what failed."""
    gates = [row for row in r.slos if gate_class(row.slo) is not None]
    if r.verdict != "pass":
        return [g for g in gates if g.verdict == r.verdict][:6]
    key = ["recovery", "error budget", "scenario check"]
    chosen = [g for kind in key for g in gates if gate_class(g.slo) == kind]
    return chosen[:6]


def _ttr_text(r: GameDayResult) -> str:
    if r.ttr_s is None:
        if r.fault.startswith("none"):
            return "no fault injected (baseline)"
        return "not measured" if r.verdict == "pass" else "did not recover / not measured"
    text = format_seconds(r.ttr_s)
    if r.ttr_s == 0.0 and not r.ttr_repetitions:
        return text + " (no impact seen: nothing to recover from)"
    if r.ttr_bounds is not None:
        lo, hi = r.ttr_bounds
        err = max(r.ttr_s - lo, hi - r.ttr_s)
        digits = 2 if err < 0.1 else 1
        what = "95 % interval" if r.ttr_repetitions else "bounds"
        text = (f"{r.ttr_s:.{digits}f} s ± {err:.{digits}f} s "
                f"({what} {lo:.{digits}f} to {hi:.{digits}f} s)")
    if r.ttr_repetitions:
        text += f", mean of {len(r.ttr_repetitions)} repetitions"
    return text


def _card(index: int, r: GameDayResult, s: GameDayScore, allure_href: str | None) -> str:
    parts = [f'<article class="card" id="gameday-{index}" data-verdict="{r.verdict}">',
             f"<h3>{_e(r.name)} {_badge(r.verdict)}</h3>"]
    if r.fault:
        parts.append(f'<p class="fault">Fault: {_e(r.fault)}</p>')
    parts.append(_img(r.plot_png, f"timeline of {r.name}")
                 or '<p class="message">No timeline: no requests were recorded.</p>')
    facts = [("Time to recover", _ttr_text(r))]
    observers = [f"{k} {format_seconds(v)}" for k, v in
                 (("request log", r.ttr_client_s), ("Prometheus", r.ttr_server_s))
                 if v is not None]
    if observers:
        facts.append(("TTR by observer", ", ".join(observers)))
    measured = [t for t in r.ttr_repetitions if t is not None]
    if r.ttr_repetitions:
        facts.append(("Repetitions", "TTR " + ", ".join(
            "—" if t is None else f"{t:.1f}" for t in r.ttr_repetitions) + " s; MTTR "
            + (format_seconds(sum(measured) / len(measured)) if measured else "—")
            + f" over {len(r.ttr_repetitions)} repetitions"))
    if r.ttd_s is not None:
        facts.append(("Time to detect", f"{format_seconds(r.ttd_s)} (impact to first alert)"))
    if r.rpo_s is not None:
        facts.append(("Data lost (RPO)", format_seconds(r.rpo_s)))
    if r.budget_burn is not None:
        facts.append(("Error budget burned", f"{r.budget_burn:.2%} of the period's budget"))
    facts.append(("Score", f"{_score_text(s.score)} ({s.earned} of {s.possible} points)"))
    parts.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                                for k, v in facts) + "</dl>")
    if r.message:
        parts.append(f'<p class="message">{_e(r.message)}</p>')
    decided = _deciding(r)
    if decided:
        parts.append("<strong>Decided by</strong><ul class=\"decided\">" + "".join(
            f"<li>{_badge(g.verdict)} {_e(g.slo)}: {_e(g.value)} "
            f"(objective {_e(g.objective)})</li>" for g in decided) + "</ul>")
    if r.mttr_plot_png is not None:
        parts.append(_img(r.mttr_plot_png, f"time to recover over repetitions of {r.name}"))
    if allure_href:
        href = allure_href + (allure_test_anchor(r.allure_uuid) if r.allure_uuid else "")
        parts.append(f'<p class="small"><a href="{html.escape(href, quote=True)}">'
                     f"Open {_e(r.name)} in the Allure report</a> (steps, logs, journal)</p>")
    parts.append("</article>")
    return "\n".join(p for p in parts if p)


# -- the trend --------------------------------------------------------------------
def _trend_html(runs: Sequence[HistoryRun]) -> str:
    rows = trends(runs)
    if not rows:
        return ""
    from .plots import trend_png  # matplotlib only when there is a trend to draw

    names = [run.name for run in runs]
    series = [(t.gameday, [next((v for n, v, _ in t.points if n == name), None)
                           for name in names]) for t in rows]
    png = trend_png(names, series)
    head = "".join(f"<th>{h}</th>" for h in (
        "game day", "TTR per run (oldest first)", "MTTR [95 % interval]", "pass rate",
        "change since the previous run"))
    body = []
    for t in rows:
        ttrs = ", ".join("—" if v is None else f"{v:.1f} s" for _, v, _ in t.points)
        mttr = "—" if t.mttr is None else (
            f"{t.mttr:.1f} s" + (f" [{t.mttr_ci[0]:.1f}, {t.mttr_ci[1]:.1f}]"
                                 if t.mttr_ci else "") + f" over {t.measured}")
        cells = (t.gameday, f"{ttrs} ({_plural(len(t.points), 'run')})", mttr,
                 f"{t.pass_rate:.0%}",
                 change_text(t))
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return "\n".join([
        f'<section id="trend" data-runs="{len(runs)}"><h2>Trend over the last '
        f"{_plural(len(runs), 'run')}</h2>",
        f"<figure>{_img(png, 'time to recover per game day over runs')}</figure>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        f'<p class="small">{_e(MTTR_METHOD)}.</p></section>'])


# -- the appendix -------------------------------------------------------------------
def _score_appendix(scores: Sequence[GameDayScore]) -> str:
    weights = ", ".join(f"{k} = {v}" for k, v in WEIGHTS.items())
    parts = ['<section id="score"><h3>Resilience score: formula and inputs</h3>',
             f"<p>{_e(FORMULA)}.</p><p class=\"small\">Weights: {_e(weights)}. Rows marked "
             "“reported, not gating” and the MTTR summary rows do not count.</p>"]
    head = "".join(f"<th>{h}</th>" for h in ("gate", "class", "weight", "verdict", "points"))
    for s in scores:
        rows = "".join(
            f"<tr><td>{_e(g.gate)}</td><td>{_e(g.kind)}</td><td>{g.weight}</td>"
            f"<td>{_e(g.verdict)}</td><td>{g.weight if g.passed else 0}</td></tr>"
            for g in s.inputs)
        parts.append(f"<p><strong>{_e(s.gameday)}</strong>: {s.earned} of {s.possible} points "
                     f"= {_score_text(s.score)}</p>"
                     f'<table class="score-inputs"><colgroup><col style="width:46%">'
                     f'<col style="width:18%"><col style="width:12%"><col style="width:12%">'
                     f'<col style="width:12%"></colgroup><thead><tr>{head}</tr></thead>'
                     f"<tbody>{rows}</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _slo_appendix(gamedays: Sequence[GameDayResult]) -> str:
    parts = ['<section id="slo-tables"><h3>Every SLO row, with the PromQL used</h3>']
    for r in gamedays:
        if r.slos:
            parts.append(f"<h4>{_e(r.name)}</h4>")
            parts.append(slo_table_html(r.slos, standalone=False).replace(
                '<table class="slo-table">',
                '<table class="slo-table"><colgroup><col style="width:17%">'
                '<col style="width:10%"><col style="width:12%"><col style="width:13%">'
                '<col style="width:25%"><col style="width:23%"></colgroup>', 1))
    parts.append("</section>")
    return "\n".join(parts)


def render_summary(results: GameDayResults | Sequence[GameDayResult], *,
                   title: str = "Game-day summary", allure_href: str | None = None,
                   target: str = "", generated_at: float | None = None,
                   history: Sequence[HistoryRun] = ()) -> str:
    """The summary page as an HTML string.

    The overall verdict is the one ``results`` carries (the session's, as
    the results file recorded it); a plain sequence of game days gets the
    one :meth:`GameDayResults.of` decides. ``allure_href`` is the Allure
    report's ``index.html`` relative to where the page will be saved;
    ``generated_at`` (epoch seconds) is printed in UTC and defaults to none,
    keeping the output a pure function of its input. ``history`` holds the
    recorded runs to show the trend of (oldest first, this one included).
    """
    decided = results if isinstance(results, GameDayResults) else GameDayResults.of(results)
    gamedays = decided.gamedays
    scores = [score_gameday(r) for r in gamedays]
    meta = [_plural(len(gamedays), "game day")]
    if target:
        meta.append(f"target: {target}")
    if history:
        meta.append(f"run: {history[-1].name}")
    if generated_at is not None:
        meta.append("generated " + datetime.fromtimestamp(generated_at, UTC)
                    .strftime("%Y-%m-%d %H:%M:%S UTC"))
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(" · ".join(meta))}</p>',
            _headline_html(decided, scores)]
    if allure_href:
        body.append(f'<p><a href="{html.escape(allure_href, quote=True)}">'
                    "Open the full Allure report</a> (steps, logs, attachments)</p>")
    if history:
        body.append(_trend_html(history))
    body.append('<h2>Game days</h2>')
    if gamedays:
        body.append('<div class="cards">' + "\n".join(
            _card(i, r, s, allure_href) for i, (r, s) in enumerate(zip(gamedays, scores,
                                                                        strict=True), 1))
            + "</div>")
    else:
        body.append("<p><strong>No game day ran: no data is never a pass.</strong></p>")
    body += ['<section id="appendix"><h2>Appendix</h2>', _score_appendix(scores),
             _slo_appendix(gamedays), "</section>"]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body></html>\n")


def write_summary(path: Path | str, results: GameDayResults | Sequence[GameDayResult], *,
                  title: str = "Game-day summary", allure_href: str | None = None,
                  target: str = "", generated_at: float | None = None,
                  history: Sequence[HistoryRun] = ()) -> Path:
    """Render the summary (see :func:`render_summary`) and write it atomically to ``path``."""
    return atomic_write(path, render_summary(results, title=title, allure_href=allure_href,
                                             target=target, generated_at=generated_at,
                                             history=history))
