"""The Allure HTML report and the summary page, built for real and looked at in Chromium.

The summary is also opened as a stakeholder would, at 1280 x 800 after two
recorded runs (history appended from recorded results, no sandbox): no
sideways scrolling, every game-day card shows its plot, the headline is the
verdict's, the trend has two points per game day; and it prints to PDF.

Two fake but complete game days (phase steps with nested steps, a timeline
PNG, the SLO table, a journal) are written as Allure results by
chaosgate.report, the real npm ``allure`` CLI builds the report, and
Debian's headless Chromium opens it as a person would: the game days are
listed, a game day's page shows its steps (expanded) and, once its
"timeline" attachment is opened, the plot image decoded at its full size.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``,
fds 3 and 4): no port, no extra package. Screenshots are kept in
``reports/test-report-html/`` for a person to look at.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaosgate.clients.allure import build_allure_html
from chaosgate.load.requestlog import RequestRecord
from chaosgate.report.allure_gameday import PhaseRecorder, gameday_test_result
from chaosgate.report.allure_results import AllureResultsWriter, allure3_history_ids
from chaosgate.report.history import allure_history_points, append_run, load_runs
from chaosgate.report.model import GameDayResult, GameDayResults, SLORow, TimelineMarks
from chaosgate.report.plots import timeline_png
from chaosgate.report.summary import allure_test_anchor, headline, write_summary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "reports" / "test-report-html"
T0 = 1_763_700_000.0
TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/bootstrap installs it)")


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, width: int = 1400, height: int = 1800) -> None:
        assert CHROMIUM is not None
        self._profile = tempfile.mkdtemp(prefix="chaosgate-chromium-")
        child_in, self._out = os.pipe()
        self._in, child_out = os.pipe()

        def on_fds_3_and_4() -> None:  # runs in the child, before exec
            a, b = os.dup(child_in), os.dup(child_out)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={self._profile}", "--remote-debugging-pipe",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=on_fds_3_and_4, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        pages = [t for t in self._call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        self._session = self._call("Target.attachToTarget", targetId=pages[0]["targetId"],
                                   flatten=True)["sessionId"]

    def _call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str) -> None:
        """Navigate (the report is a single-page app: a new fragment re-renders), and wait
        until the new document is the one loaded: ``Page.navigate`` returns before the
        navigation commits, so on a busy machine the previous page could still be read."""
        self._call("Page.navigate", self._session, url="about:blank")
        self.wait_for("location.href === 'about:blank'", "about:blank")
        self._call("Page.navigate", self._session, url=url)
        page = json.dumps(url.split("#")[0])
        self.wait_for(f"location.href.split('#')[0] === {page} && "
                      "document.readyState === 'complete'", f"{url} loaded")

    def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; returns the value."""
        reply = self._call("Runtime.evaluate", self._session, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(reply["exceptionDetails"])
        return reply["result"].get("value")

    def wait_for(self, expression: str, what: str) -> None:
        """Poll until the expression is truthy (generous timeout; not a timing assertion)."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.js(expression):
                return
            time.sleep(0.2)
        raise AssertionError(f"not seen within {TIMEOUT_S:g} s: {what}\n"
                             f"page text: {self.text()[:2000]}")

    def wait_for_text(self, *texts: str) -> None:
        """Wait until every text is visible on the page."""
        for text in texts:
            self.wait_for(f"document.body && document.body.innerText.includes({json.dumps(text)})",
                          f"text {text!r}")

    def throttle(self, rate: float) -> None:
        """Slow the page's CPU ``rate`` times (1: full speed), as a busy machine would."""
        self._call("Emulation.setCPUThrottlingRate", self._session, rate=rate)

    def text(self) -> str:
        """What a person reads: the page's rendered text."""
        return str(self.js("document.body ? document.body.innerText : ''"))

    def screenshot(self, path: Path) -> Path:
        """Save the viewport as PNG."""
        data = self._call("Page.captureScreenshot", self._session, format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the browser and remove its profile."""
        with contextlib.suppress(RuntimeError, OSError):
            self._call("Browser.close")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._in, self._out):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


# -- the data: two complete game days --------------------------------------------------
GAMEDAYS = {
    "pod-kill orders": ("pass", "kill 1 pod of app=orders", 4.5),
    "database failover": ("fail", "crash the PostgreSQL primary", 13.9),
}
PHASES = ["steady state before the fault", "inject fault", "recovery", "evaluate SLOs"]


def _records(seed: int, bad_s: float) -> list[RequestRecord]:
    rnd = random.Random(seed)
    out = []
    for i in range(50 * 50):  # 50 requests/s from t_inject - 15 s to + 35 s
        t = T0 - 15 + i / 50
        bad = 2 <= t - T0 < 2 + bad_s
        ok = not (bad and rnd.random() < 0.5)
        out.append(RequestRecord(t=t, ms=rnd.uniform(300, 900) if bad else rnd.uniform(15, 50),
                                 name="/api/checkout", method="POST", ok=ok,
                                 status=201 if ok else 503, error=None if ok else "http_5xx"))
    return out


def _write_gameday(writer: AllureResultsWriter, name: str, seed: int) -> GameDayResult:
    verdict, fault, ttr = GAMEDAYS[name]
    marks = TimelineMarks(t_inject=T0, t_revert=T0 + ttr + 1, t_impact=T0 + 2,
                          t_detect=T0 + 3, t_recover=T0 + 2 + ttr, ttr_s=ttr,
                          latency_threshold_ms=250)
    rows = (SLORow("availability", "99.995 %", ">= 99.99 %", "pass",
                   'sum(rate(haproxy_frontend_http_responses_total{code!~"5.."}[1m]))'),
            SLORow("p95 latency", "870 ms" if verdict == "fail" else "180 ms", "<= 250 ms",
                   verdict, "histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))"))  # type: ignore[arg-type]
    result = GameDayResult(
        name=name, verdict=verdict, slos=rows, ttr_s=ttr, fault=fault,  # type: ignore[arg-type]
        started=T0 - 15, stopped=T0 + 35, allure_uuid=str(uuid.uuid4()),
        plot_png=timeline_png(_records(seed, ttr), marks, title=name),
        message="p95 latency 870 ms > 250 ms" if verdict == "fail" else "")
    phases = PhaseRecorder()
    with phases.step(PHASES[0]), phases.step("probe: availability"):
        pass
    with phases.step(PHASES[1], selector="app=orders") as step:
        step.attachments.append(writer.attach(f"ledger: {fault}; Authorization: Bearer s3cr3t",
                                              name="ledger entry", mime="text/plain"))
    with phases.step(PHASES[2]), phases.step("wait for recovery"):
        pass
    with phases.step(PHASES[3]):
        pass
    writer.write_result(gameday_test_result(writer, result, steps=phases.steps,
                                            journal={"title": name, "token": "s3cr3t"}))
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("report")
    writer = AllureResultsWriter(root / "allure-results")
    writer.write_environment({"target": "sandbox", "PROMETHEUS_TOKEN": "s3cr3t"})
    writer.write_categories()
    results = [_write_gameday(writer, name, seed) for seed, name in enumerate(GAMEDAYS)]
    single = build_allure_html(root / "allure-results", root / "single", single_file=True)
    served = build_allure_html(root / "allure-results", root / "allure-report")
    summary = write_summary(root / "summary.html", results, allure_href="single/index.html")
    return {"root": root, "results": results, "single": single, "served": served,
            "summary": summary}


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def http_root(built: dict[str, Any]) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(built["served"].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_report_files(built: dict[str, Any]) -> None:
    single: Path = built["single"]
    assert single.is_file() and sorted(p.name for p in single.parent.glob("*.html")) == [
        "index.html"]
    assert built["served"].is_file() and (built["served"].parent / "data").is_dir()
    for path in (built["root"] / "allure-results").iterdir():
        if path.suffix != ".png":
            assert "s3cr3t" not in path.read_text(encoding="utf-8", errors="replace")


def test_single_file_report_lists_the_game_days(built: dict[str, Any],
                                                browser: Chromium) -> None:
    browser.open(built["single"].as_uri())
    browser.wait_for_text(*GAMEDAYS, "Metadata", "target", "sandbox")
    text = browser.text()
    assert "s3cr3t" not in text and "PROMETHEUS_TOKEN" in text
    browser.screenshot(SHOTS / "overview.png")


@pytest.mark.parametrize("index", [0, 1])
def test_game_day_page_shows_steps_and_timeline(built: dict[str, Any], browser: Chromium,
                                                index: int) -> None:
    result: GameDayResult = built["results"][index]
    assert result.allure_uuid is not None
    browser.open(built["single"].as_uri() + allure_test_anchor(result.allure_uuid))
    category = "SLO violated" if result.verdict == "fail" else "Passed"
    browser.wait_for_text(result.name, "Test body", *PHASES, category)
    # The description (fault, verdict, TTR) is rendered in its own frame.
    ttr = json.dumps(f"TTR (impact to recovery): {result.ttr_s:.1f} s")
    browser.wait_for(f"""(() => {{
        const f = document.querySelector('[data-testid=test-result-description-frame]');
        const doc = f && f.contentDocument;
        return !!doc && !!doc.body && doc.body.innerText.includes({ttr}); }})()""",
                     "the TTR in the description")
    # Expand every step, as a reader would, and the nested steps show.
    browser.js("document.querySelector('[data-testid=test-result-steps-subtree-toggle]').click()")
    browser.wait_for_text("probe: availability", "wait for recovery", "ledger entry")
    # Open the timeline attachment: the plot is decoded at its full size and on screen.
    opened = browser.js("""(() => {
        for (const h of document.querySelectorAll('[data-testid=test-result-attachment-header]'))
            if (/timeline|SLO table/.test(h.innerText)) h.querySelector('button').click();
        return true; })()""")
    assert opened
    browser.wait_for("[...document.images].some(i => i.complete && i.naturalWidth === 1200 "
                     "&& i.naturalHeight === 720 && i.getBoundingClientRect().width > 400)",
                     "the timeline image, rendered")
    assert "s3cr3t" not in browser.text()
    browser.screenshot(SHOTS / f"gameday-{index + 1}.png")


def test_the_single_file_report_loads_its_data_on_a_slow_machine(
        built: dict[str, Any], browser: Chromium) -> None:
    """Allure's app script runs before the page's inline data; without the data store
    declared first, a slow machine showed "Failed to fetch" in about half of the loads
    (CPU throttled 20x, as here). The data store is declared before the app, and the
    report loads every time."""
    html = built["single"].read_text(encoding="utf-8")
    app = re.search(r'<script\s+src="data:text/javascript', html)
    assert app is not None
    assert html.index("window.allureReportData = window.allureReportData || {};") < app.start()
    result: GameDayResult = built["results"][1]
    assert result.allure_uuid is not None
    browser.throttle(20.0)
    try:
        for _ in range(3):
            browser.open(built["single"].as_uri() + allure_test_anchor(result.allure_uuid))
            browser.wait_for_text(result.name, "Test body")
            assert "Failed to fetch" not in browser.text()
    finally:
        browser.throttle(1.0)


def test_served_report_lists_the_game_days(http_root: str, browser: Chromium) -> None:
    browser.open(http_root)
    browser.wait_for_text(*GAMEDAYS)
    browser.screenshot(SHOTS / "served-overview.png")


def test_summary_page(built: dict[str, Any], browser: Chromium) -> None:
    browser.open(built["summary"].as_uri())
    browser.wait_for_text("1 of 2 game days violated a gate", "FAIL", *GAMEDAYS, "p95 latency",
                          "870 ms", "13.9 s")
    browser.wait_for("[...document.images].filter(i => i.complete && i.naturalWidth === 1200)"
                     ".length === 2", "both timeline plots, decoded")
    browser.screenshot(SHOTS / "summary.png")
    # The per-game-day link opens that game day in the Allure report.
    href = browser.js("[...document.links].find(a => a.textContent.includes("
                      "'Open database failover')).href")
    browser.open(href)
    browser.wait_for_text("database failover", "Test body", "SLO violated")


def test_allure_history_is_fed_from_the_store(built: dict[str, Any]) -> None:
    """An earlier run of the store shows as each game day's history in the Allure report."""
    root: Path = built["root"]
    ids = allure3_history_ids(root / "allure-results")
    results: list[GameDayResult] = built["results"]
    assert {r.allure_uuid for r in results} <= set(ids)
    earlier = GameDayResults.of([replace(r, verdict="fail") for r in results])
    append_run(root / "history.sqlite", earlier, target="sandbox", version="0.1.0",
               revision="rev0", recorded_at=T0 - 86400, allure_history_ids=ids)
    points = allure_history_points(load_runs(root / "history.sqlite"))
    index = build_allure_html(root / "allure-results", root / "with-history", history=points)
    assert not (root / "with-history" / "history.jsonl").exists()  # scratch, not kept
    history = {}
    for path in (index.parent / "data" / "test-results").glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        history[doc["name"]] = [h["status"] for h in doc.get("history", [])]
    assert history == {name: ["failed"] for name in GAMEDAYS}


# -- the summary as a stakeholder opens it: 1280 x 800, two runs of history, printed ----------
LONG_PROMQL = ('sum by (le) (rate(shop_request_duration_seconds_bucket{service="gateway",'
               'route="/api/checkout",method="POST",code!~"5.."}[1m])) / ignoring(le) '
               'group_left sum(rate(shop_request_duration_seconds_count[1m]))')


def _summary_results(plots: dict[str, bytes], slower_s: float) -> GameDayResults:
    """Two game days as a run records them (the failing one slower by ``slower_s``)."""
    out = []
    for name, (verdict, fault, ttr) in GAMEDAYS.items():
        ttr += slower_s if verdict == "fail" else 0.0
        rows = (SLORow("time-to-recover (client)", f"{ttr:.2f} s", "≤ 30 s", "pass",
                       "", "TTR within 30 s"),
                SLORow("availability: error budget", "0.75%", "≤ 10% of the 30-day budget",
                       "pass", "", "78 failed of 1405 requests at 40.0/s"),
                SLORow("p95 latency", "870 ms" if verdict == "fail" else "180 ms", "<= 250 ms",
                       verdict, LONG_PROMQL, "exact p95 of 44 requests " * 8),  # type: ignore[arg-type]
                SLORow("availability (reported, not gating)", "93.5732 % good", "≥ 99.99 %",
                       "fail", LONG_PROMQL, "79 bad of 1404 (server side)"))
        out.append(GameDayResult(name, verdict, slos=rows, ttr_s=ttr, fault=fault,  # type: ignore[arg-type]
                                 ttr_bounds=(ttr - 0.05, ttr + 0.1), ttr_client_s=ttr,
                                 ttr_server_s=ttr + 0.4, budget_burn=0.0075,
                                 started=T0 - 15, stopped=T0 + 35, plot_png=plots[name],
                                 message="p95 latency 870 ms > 250 ms" if verdict == "fail"
                                 else ""))
    return GameDayResults.of(out)


@pytest.fixture(scope="module")
def summary_two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The summary after two recorded runs (history appended as chaosgate gameday does)."""
    root = tmp_path_factory.mktemp("summary")
    plots = {name: timeline_png(_records(seed, ttr), TimelineMarks(
        t_inject=T0, t_revert=T0 + ttr + 1, t_impact=T0 + 2, t_recover=T0 + 2 + ttr,
        ttr_s=ttr, latency_threshold_ms=250), title=name)
        for seed, (name, (_, _, ttr)) in enumerate(GAMEDAYS.items())}
    for k, slower in enumerate((0.0, 6.5)):
        results = _summary_results(plots, slower)
        append_run(root / "history.sqlite", results, target="sandbox", version="0.1.0",
                   revision=f"rev{k + 1}", recorded_at=T0 + 86400 * k)
    runs = load_runs(root / "history.sqlite", target="sandbox")
    page = write_summary(root / "summary.html", results, target="sandbox", history=runs)
    return {"page": page, "results": results}


@pytest.fixture(scope="module")
def laptop() -> Iterator[Chromium]:
    chromium = Chromium(1280, 800)
    try:
        yield chromium
    finally:
        chromium.close()


def test_summary_at_1280_px(summary_two_runs: dict[str, Any], laptop: Chromium) -> None:
    results: GameDayResults = summary_two_runs["results"]
    laptop.open(summary_two_runs["page"].as_uri())
    laptop.wait_for("document.readyState === 'complete' && [...document.images].every("
                    "i => i.complete && i.naturalWidth > 0)", "every image decoded")
    layout = laptop.js("""(() => ({
        width: window.innerWidth, scroll: document.documentElement.scrollWidth,
        cards: [...document.querySelectorAll('.card')].map(c => {
            const img = c.querySelector('img.plot');
            return {name: c.querySelector('h3').innerText,
                    image: !!img && img.complete && img.naturalWidth === 1200
                           && img.getBoundingClientRect().width > 300}; }),
        verdict: document.querySelector('#headline').dataset.verdict,
        headline: document.querySelector('#headline .verdict').innerText,
        runs: document.querySelector('#trend').dataset.runs,
        trend: [...document.querySelectorAll('#trend tbody tr')].map(
            r => r.cells[1].innerText),
        trendPlot: document.querySelector('#trend img').naturalWidth }))()""")
    assert layout["width"] == 1280
    assert layout["scroll"] <= layout["width"], "the page scrolls sideways at 1280 px"
    assert [c["name"].split("\n")[0].rsplit(" ", 1)[0] for c in layout["cards"]] == list(GAMEDAYS)
    assert all(c["image"] for c in layout["cards"]), layout["cards"]
    assert layout["verdict"] == results.verdict == "fail"
    assert headline(results) in layout["headline"]
    assert layout["runs"] == "2" and layout["trendPlot"] > 0
    assert [t.endswith("(2 runs)") for t in layout["trend"]] == [True, True]  # 2 points each
    # no element (the PromQL of the appendix included) sticks out of its box sideways
    assert laptop.js("[...document.querySelectorAll('td, code, dd, li')].every("
                     "e => e.scrollWidth <= e.clientWidth + 1 || e.clientWidth === 0)")
    laptop.screenshot(SHOTS / "summary-1280.png")


def test_summary_prints_to_pdf(summary_two_runs: dict[str, Any], laptop: Chromium) -> None:
    laptop.open(summary_two_runs["page"].as_uri())
    laptop.wait_for("document.readyState === 'complete'", "the page loaded")
    # As the print layout sees it: print media, the width of an A4 page less its margins.
    laptop._call("Emulation.setEmulatedMedia", laptop._session, media="print")
    laptop._call("Emulation.setDeviceMetricsOverride", laptop._session, width=703, height=1000,
                 deviceScaleFactor=1, mobile=False)
    try:
        fits = laptop.js("document.documentElement.scrollWidth <= window.innerWidth")
        pdf = base64.b64decode(laptop._call("Page.printToPDF", laptop._session,
                                            preferCSSPageSize=True)["data"])
    finally:
        laptop._call("Emulation.clearDeviceMetricsOverride", laptop._session)
        laptop._call("Emulation.setEmulatedMedia", laptop._session, media="")
    assert fits, "the print layout is wider than an A4 page"
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "summary.pdf").write_bytes(pdf)
