"""The one-page summary: headline, cards, trend, appendix; plots embedded, texts escaped
and redacted. (Its layout in a real browser: tests/integration/test_report_html.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from chaosgate.report.history import GameDayPoint, HistoryRun
from chaosgate.report.model import GameDayResult, GameDayResults, SLORow
from chaosgate.report.summary import allure_test_anchor, headline, render_summary, write_summary

PNG_A = b"\x89PNG\r\n\x1a\nAAAA"
PNG_B = b"\x89PNG\r\n\x1a\nBBBB"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def _results() -> list[GameDayResult]:
    return [
        GameDayResult("pod kill", "pass", slos=(
            SLORow("availability", "99.995 %", ">= 99.99 %", "pass", "sum(rate(x[1m]))"),
            SLORow("p95 latency", "120 ms", "<= 250 ms", "pass")),
            ttr_s=4.25, plot_png=PNG_A, fault="kill 1 pod", allure_uuid="uuid-1"),
        GameDayResult("<script>alert(1)</script> & db", "fail", slos=(
            SLORow("p95 latency", "870 ms", "<= 250 ms", "fail"),),
            ttr_s=None, plot_png=PNG_B, message="p95 870 ms; Authorization: Bearer s3cr3t",
            ttr_repetitions=(10.0, 20.0), mttr_plot_png=PNG_A),
    ]


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    return parser


def test_headline_matches_the_verdict_and_says_what_was_not_proven() -> None:
    page = render_summary(_results())
    assert 'id="headline" data-verdict="fail"' in page and ">FAIL<" in page
    assert headline(GameDayResults.of(_results())).startswith("1 of 2 game days violated")
    ok = [GameDayResult("pod kill", "pass", slos=(
        SLORow("time-to-recover (client)", "4.2 s", "≤ 30 s", "pass"),
        SLORow("availability (reported, not gating)", "93.57 % good", "≥ 99.99 %", "fail",
               "sum(rate(x[1m]))", "79 bad of 1404"),
        SLORow("checkout-error-ratio (reported, not gating)", "100.0000 % good",
               "≤ 0.1 % errors", "inconclusive", "",
               "not yet provable: 0 bad of 134; 2995 events without a failure are needed "
               "(server side)")), ttr_s=4.2, plot_png=PNG_A)]
    page = render_summary(ok)
    top = page[page.index('id="headline"'):page.index("</section>")]
    assert 'data-verdict="pass"' in top and "All 1 game day passed every gate" in top
    assert "every SLO held" not in page
    assert "could not\nprove" in top or "could not prove" in top.replace("\n", " ")
    assert "2995 events without a failure are needed" in top
    assert "availability as low as 93.57 % good" in top  # said, in words, not a red FAIL
    assert ">FAIL<" not in top


def test_one_card_per_game_day_with_its_plot_and_figures() -> None:
    results = [replace(_results()[0], ttr_bounds=(4.0, 4.5), ttr_client_s=4.25,
                       ttr_server_s=5.0, ttd_s=1.5, budget_burn=0.0075),
               _results()[1]]
    page = render_summary(results)
    cards = re.findall(r'<article class="card".*?</article>', page, re.S)
    assert len(cards) == 2 and all('<img class="plot"' in c for c in cards)
    assert "4.2 s ± 0.2 s (bounds 4.0 to 4.5 s)" in cards[0]
    assert "request log 4.2 s, Prometheus 5.0 s" in cards[0]
    assert "Time to detect" in cards[0] and "1.5 s" in cards[0]
    assert "0.75% of the period" in cards[0]
    assert "Time to detect" not in cards[1]  # no alert: no TTD, not a zero
    assert "TTR 10.0, 20.0 s; MTTR 15.0 s over 2 repetitions" in cards[1]
    tight = render_summary([replace(results[0], ttr_s=10.33, ttr_bounds=(10.30, 10.37))])
    assert "10.33 s ± 0.04 s (bounds 10.30 to 10.37 s)" in tight  # never "± 0.0 s"
    baseline = render_summary([GameDayResult("baseline", "pass", fault="none (baseline)")])
    assert "no fault injected (baseline)" in baseline


def test_appendix_has_every_row_with_promql_and_the_score_inputs() -> None:
    page = render_summary(_results())
    appendix = page[page.index('id="appendix"'):]
    cells = _parse(appendix).cells
    header = ["SLO", "value", "objective", "verdict", "PromQL", "detail"]
    starts = [i for i in range(len(cells)) if cells[i:i + 6] == header]
    assert len(starts) == 2  # one full SLO table per game day
    assert cells[starts[1] + 6:starts[1] + 10] == ["p95 latency", "870 ms", "<= 250 ms", "FAIL"]
    assert "sum(rate(x[1m]))" in appendix
    assert "game day score = 100 * sum(weight * passed)" in appendix
    assert 'id="overall-score">50 / 100<' in page  # 100 and 0, averaged


def test_trend_from_two_runs() -> None:
    runs = [HistoryRun(i, 1e9 + i, "0.1.0", "sandbox", f"rev{i}", None, "pass", 100.0,
                       (GameDayPoint("pod kill", "pass", ttr_s=float(i)),))
            for i in (1, 2)]
    page = render_summary(_results(), history=runs)
    trend = page[page.index('id="trend"'):page.index("</section>", page.index('id="trend"'))]
    assert 'data-runs="2"' in trend and "1.0 s, 2.0 s (2 runs)" in trend
    assert "TTR +1.0 s (slower)" in trend and "percentile bootstrap" in trend
    assert trend.count("<img") == 1

def test_texts_are_escaped_and_redacted() -> None:
    page = render_summary(_results(), title="Q3 <game day>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; db" in page
    assert "<title>Q3 &lt;game day&gt;</title>" in page
    assert "s3cr3t" not in page


def test_plots_are_embedded() -> None:
    page = render_summary(_results())
    sources = [a["src"] or "" for tag, a in _parse(page).tags if tag == "img"]
    assert [base64.b64decode(s.split(",", 1)[1]) for s in sources] == [PNG_A, PNG_B, PNG_A]
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="https?://', page)  # self-contained
    assert "MTTR 15.0 s over 2 repetitions" in page


def test_links_to_the_allure_report() -> None:
    page = render_summary(_results(), allure_href="allure-report/index.html")
    hrefs = [a["href"] for tag, a in _parse(page).tags if tag == "a"]
    anchor = "#" + hashlib.md5(b"uuid-1").hexdigest()
    assert allure_test_anchor("uuid-1") == anchor
    assert hrefs == ["#score", "allure-report/index.html", f"allure-report/index.html{anchor}",
                     "allure-report/index.html"]
    assert '<a href="allure' not in render_summary(_results())


def test_no_game_day_is_inconclusive() -> None:
    page = render_summary([])
    assert ">INCONCLUSIVE<" in page and "no data is never a pass" in page


def test_write_summary_and_determinism(tmp_path: Path) -> None:
    path = write_summary(tmp_path / "s" / "summary.html", _results(), generated_at=0.0)
    assert path.read_text(encoding="utf-8") == render_summary(_results(), generated_at=0.0)
    assert "generated 1970-01-01 00:00:00 UTC" in path.read_text(encoding="utf-8")


def test_headline_words_measured_slos_by_their_direction() -> None:
    rows = (SLORow("time-to-recover (client)", "4.2 s", "≤ 30 s", "pass"),
            SLORow("ingest-mean (reported, not gating)", "mean 250.0 ms", "mean ≤ 200 ms",
                   "fail", "", "mean of 900 requests 250.0 ms misses mean ≤ 200 ms"),
            SLORow("throughput (reported, not gating)", "90 /s", "≥ 116 /s", "fail"),
            SLORow("consumer-lag (reported, not gating)", "max 1500", "max ≤ 1000", "fail"))
    page = render_summary([GameDayResult("kill a consumer", "pass", slos=rows, ttr_s=4.2,
                                         plot_png=PNG_A)])
    top = " ".join(page[page.index('id="headline"'):page.index("</section>")].split())
    assert "ingest-mean as high as mean 250.0 ms" in top
    assert "throughput as low as 90 /s" in top
    assert "consumer-lag as high as max 1500" in top
