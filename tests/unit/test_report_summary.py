"""The one-page summary: verdict, table, plots embedded, texts escaped and redacted."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from chaosgate.report.model import GameDayResult, SLORow
from chaosgate.report.summary import allure_test_anchor, render_summary, write_summary

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


def test_overall_verdict_and_table() -> None:
    page = render_summary(_results())
    assert "Overall verdict" in page and ">FAIL<" in page
    cells = _parse(page).cells
    header = ["game day", "SLO", "value", "objective", "TTR", "verdict"]
    assert cells[:6] == header
    assert cells[6:12] == ["pod kill", "availability", "99.995 %", ">= 99.99 %", "4.2 s", "PASS"]
    assert cells[18:24] == ["<script>alert(1)</script> & db", "p95 latency", "870 ms",
                            "<= 250 ms", "—", "FAIL"]


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
    assert "MTTR over 2 repetitions" in page and "15.0 s" in page


def test_links_to_the_allure_report() -> None:
    page = render_summary(_results(), allure_href="allure-report/index.html")
    hrefs = [a["href"] for tag, a in _parse(page).tags if tag == "a"]
    anchor = "#" + hashlib.md5(b"uuid-1").hexdigest()
    assert allure_test_anchor("uuid-1") == anchor
    assert hrefs == ["allure-report/index.html", f"allure-report/index.html{anchor}",
                     "allure-report/index.html"]
    assert "<a " not in render_summary(_results())


def test_no_game_day_is_inconclusive() -> None:
    page = render_summary([])
    assert ">INCONCLUSIVE<" in page and "no data is never a pass" in page


def test_write_summary_and_determinism(tmp_path: Path) -> None:
    path = write_summary(tmp_path / "s" / "summary.html", _results(), generated_at=0.0)
    assert path.read_text(encoding="utf-8") == render_summary(_results(), generated_at=0.0)
    assert "generated 1970-01-01 00:00:00 UTC" in path.read_text(encoding="utf-8")
