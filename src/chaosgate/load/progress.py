"""Follow a request log while Locust writes it, and show the run's progress.

:class:`LogTail` reads only what was appended since the last call (a torn
last line waits for the next call). :class:`Progress` keeps running totals
and a sliding window of recent records, and renders them with rich: elapsed
time, requests, failures by kind, RPS and exact p95 over the window.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from pathlib import Path

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .requestlog import RequestRecord, records_from
from .stats import percentile

__all__ = ["LogTail", "Progress"]


class LogTail:
    """New complete lines of a growing JSON-lines file, as records."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read_new(self) -> list[RequestRecord]:
        """Records appended since the last call (none while the file does not exist)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        complete, _, self.partial = data.rpartition(b"\n")
        if not complete:
            return []
        return list(records_from(complete.decode("utf-8", "replace").splitlines()))


class Progress:
    """Running totals and a recent window of a load run, renderable with rich."""

    def __init__(self, title: str, duration: float, window: float = 10.0) -> None:
        self.title = title
        self.duration = duration
        self.window = window
        self.started = time.time()
        self.count = 0
        self.failures: Counter[str] = Counter()
        self.recent: deque[RequestRecord] = deque()
        self.status = "starting"

    def add(self, records: Iterable[RequestRecord]) -> None:
        """Count new records and keep those that ended within the window."""
        for r in records:
            self.count += 1
            if not r.ok:
                self.failures[r.error or "unknown"] += 1
            self.recent.append(r)
        horizon = time.time() - self.window
        while self.recent and self.recent[0].end < horizon:
            self.recent.popleft()

    def window_figures(self) -> tuple[float, float | None, float]:
        """``(rps, p95 ms or None, error ratio)`` over the recent window."""
        if not self.recent:
            return 0.0, None, 0.0
        span = min(self.window, max(time.time() - self.started, 1e-3))
        durations = sorted(r.ms for r in self.recent)
        bad = sum(1 for r in self.recent if not r.ok)
        return len(durations) / span, percentile(durations, 95.0), bad / len(durations)

    def render(self) -> RenderableType:
        """The progress panel: a bar, then totals and the recent window."""
        elapsed = time.time() - self.started
        bar = ProgressBar(total=self.duration, completed=min(elapsed, self.duration), width=40)
        rps, p95, err = self.window_figures()
        table = Table.grid(padding=(0, 2))
        table.add_row("requests", f"{self.count}", "failed",
                      f"{sum(self.failures.values())}" + (
                          f" ({', '.join(f'{k} {v}' for k, v in self.failures.most_common())})"
                          if self.failures else ""))
        table.add_row(f"last {self.window:g} s", f"{rps:.1f} req/s",
                      "p95", "-" if p95 is None else f"{p95:.1f} ms")
        table.add_row("errors", f"{err:.2%}", "status", self.status)
        head = Table.grid()
        head.add_row(Text.assemble((self.title, "bold"),
                                   f"  {elapsed:5.1f} s / {self.duration:g} s  "), bar)
        return Group(head, table)
