"""The result of a load run, as the harness and the SLO code consume it.

A :class:`LoadRun` is frozen and small: exact statistics from the request
log (:mod:`.stats`), Locust's own per-route totals for comparison, where
every file of the run is, how its processes ended, and the CPU time they
used. The records themselves stay on disk; :meth:`LoadRun.records` reads
them back in start order for timelines.

What went wrong is said in one line, never by dumping Locust's output:
:meth:`LoadRun.problem` (Locust crashed, overran or sent nothing: "Locust
exited 1: <its last error line>") and :attr:`LoadRun.unanswered` (requests
were sent but every one failed to connect: nothing answered at the host).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .requestlog import RequestRecord, read_request_log
from .stats import LoadStats, LocustEntry, Mismatch, locust_entries

__all__ = ["Checkout", "LoadRun", "WorkerNode", "last_error_line", "read_checkout_log",
           "read_locust_json", "read_workers_file"]

_ERROR_LINE = re.compile(r"(?:\b\w*(?:Error|Exception|Exit)\b|\berror:|\bERROR\b|Traceback)")
_MAX_LINE = 300  # characters of a quoted log line


def last_error_line(text: str) -> str:
    """The line of a Locust log that says what went wrong, in one line. Pure.

    The last line that names an error (``OverflowError: ...``, ``locust: error:
    ...``, a logged ``ERROR``), else the last non-empty line; a traceback's
    frames are never returned, and the line is cut to 300 characters.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("File \"", "Traceback (most recent", "^"))]
    hits = [ln for ln in lines if _ERROR_LINE.search(ln)]
    line = (hits or lines or ["(no output)"])[-1]
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 3] + "..."


@dataclass(frozen=True)
class Checkout:
    """One checkout: the client's sequence number and the order id it got back."""

    t: float  # request start, epoch seconds
    client_seq: int
    order_id: int | None  # None when the checkout failed
    ok: bool
    status: int | None


def read_checkout_log(path: Path) -> list[Checkout]:
    """The checkout log's entries in file order (missing file: none; torn lines skipped)."""
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(Checkout(**json.loads(line)))
            except (ValueError, TypeError):
                continue
    return out


@dataclass(frozen=True)
class WorkerNode:
    """One worker of a distributed run, as its master saw it (``workers.json``)."""

    id: str
    index: int
    records: int  # request records it sent (or wrote)
    offset_s: float | None  # its clock minus the master's; None: never measured
    uncertainty_s: float | None  # half the shortest ping round trip
    lost_at: float | None  # epoch s when Locust marked it missing (no heartbeat)
    last_request_t: float | None  # start of the last request it shipped (master's clock)

    def describe(self) -> str:
        """One line: which worker, what it sent, and (if lost) when it went."""
        text = f"worker {self.index} ({self.id}): {self.records} requests shipped"
        if self.offset_s is not None and self.uncertainty_s is not None:
            text += (f", clock offset {self.offset_s * 1000:+.1f} ms "
                     f"± {self.uncertainty_s * 1000:.1f} ms")
        if self.lost_at is not None:
            text += f", LOST at {time.strftime('%H:%M:%S', time.localtime(self.lost_at))}"
            if self.last_request_t is not None:
                text += f" (its last request started {self.lost_at - self.last_request_t:.1f} s " \
                        "earlier)"
        return text


def read_workers_file(path: Path) -> tuple[WorkerNode, ...]:
    """The workers a master wrote down (none for a local run or a missing file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        nodes = []
        for w in data["workers"]:
            clock = w.get("clock") or {}
            nodes.append(WorkerNode(
                id=str(w["id"]), index=int(w["index"]), records=int(w["records"]),
                offset_s=clock.get("offset_s"), uncertainty_s=clock.get("uncertainty_s"),
                lost_at=w.get("lost_at"), last_request_t=w.get("last_request_t")))
        return tuple(sorted(nodes, key=lambda n: n.index))
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def read_locust_json(path: Path) -> list[LocustEntry]:
    """Locust's ``--json-file`` entries; none when Locust wrote no (valid) file."""
    try:
        return locust_entries(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return []


@dataclass(frozen=True)
class LoadRun:
    """One finished load run.

    ``stats`` is exact (every request of the request log; nearest-rank
    percentiles). ``locust`` is what Locust itself counted; ``mismatches``
    lists the routes where the two differ (see :meth:`report_lag`).
    """

    run_id: str
    profile: str
    host: str
    out_dir: Path
    request_log: Path
    checkout_log: Path
    locust_json: Path
    logs: tuple[Path, ...]  # stdout+stderr of each process, master (or local) first
    commands: tuple[tuple[str, ...], ...]
    started: float  # epoch seconds: the first process started
    ended: float  # epoch seconds: the last process was reaped
    exit_codes: tuple[int, ...]  # master (or local) first; -1: never reaped
    killed: bool  # the harness had to signal a process (over time)
    workers: int  # 0: local run
    stats: LoadStats
    locust: tuple[LocustEntry, ...]
    mismatches: tuple[Mismatch, ...]
    cpu_seconds: float  # user + system CPU of every Locust process
    nodes: tuple[WorkerNode, ...] = ()  # the master's view of its workers

    @property
    def lost_workers(self) -> tuple[WorkerNode, ...]:
        """Workers Locust marked missing during the run: their load stopped early."""
        return tuple(n for n in self.nodes if n.lost_at is not None)

    @property
    def clock_uncertainty(self) -> float:
        """Seconds by which a record's start may be off the master's clock: the
        largest worker clock-offset uncertainty (0 for a local run; a worker
        never measured counts as 1 s)."""
        return max((1.0 if n.uncertainty_s is None else n.uncertainty_s
                    for n in self.nodes), default=0.0)

    @property
    def ok(self) -> bool:
        """Locust ran to its end by itself, exited 0 and wrote its summary."""
        return not self.killed and bool(self.exit_codes) and not any(self.exit_codes) \
            and self.locust_json.exists()

    @property
    def requests(self) -> int:
        """Requests in the request log."""
        return self.stats.total.count

    @property
    def locust_requests(self) -> int:
        """Requests Locust counted (its ``--json`` summary)."""
        return sum(e.num_requests for e in self.locust)

    def report_lag(self) -> int:
        """Requests logged that Locust's summary missed (distributed: late worker reports).

        0 for a local run: the recorder and Locust's statistics see the same
        request events. A master waits only 0.5 s for its workers' final
        reports before it writes the summary, so a late report is missing
        there but not in the request log (positive lag).
        """
        return self.requests - self.locust_requests

    def records(self) -> list[RequestRecord]:
        """Every request of the run, by start time."""
        if not self.request_log.exists():
            return []
        return sorted(read_request_log(self.request_log), key=lambda r: r.t)

    def checkouts(self) -> list[Checkout]:
        """Every checkout with its client_seq and the order id it got back."""
        return read_checkout_log(self.checkout_log)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the master's (or local process's) output."""
        try:
            return "\n".join(self.logs[0].read_text(errors="replace").splitlines()[-lines:])
        except (OSError, IndexError):
            return ""

    def _last_error(self, index: int) -> str:
        """:func:`last_error_line` of process ``index``'s log (its last 64 KiB)."""
        try:
            with open(self.logs[index], "rb") as f:
                f.seek(0, 2)
                start = max(0, f.tell() - 65536)
                f.seek(start)
                text = f.read().decode(errors="replace")
        except (OSError, IndexError):
            return "(no log)"
        if start == 0:  # the first line is the command chaosgate ran
            text = text.partition("\n")[2]
        return last_error_line(text)

    @property
    def unanswered(self) -> bool:
        """Requests were sent and every one failed to connect (no HTTP response at all).

        A run like that measured nothing about the system, so it is
        inconclusive: the ingress is down or the host is wrong. Timeouts and
        HTTP errors are answers (a slow or failing system is data).
        """
        total = self.stats.total
        return total.count > 0 and total.ok == 0 and set(total.errors_by_kind) == {"connection"}

    def problem(self) -> str | None:
        """Why the run did not complete, in one line (None when it did).

        Locust overran its time and was stopped, exited non-zero, wrote no
        summary, or sent no request; the line quotes the last error line of
        its log (:func:`last_error_line`), never a traceback.
        """
        last = self._last_error(0)
        if self.killed:
            return f"Locust overran its run time and was stopped by chaosgate: {last}"
        failed = [i for i, code in enumerate(self.exit_codes) if code != 0]
        if failed:
            i, code = failed[0], self.exit_codes[failed[0]]
            role = self.logs[i].stem.removeprefix("locust-") if i < len(self.logs) else "?"
            how = "never exited" if code == -1 else (
                f"was killed by signal {-code}" if code < 0 else f"exited {code}")
            return f"Locust ({role}) {how}: {self._last_error(i)}"
        if not self.exit_codes or not self.locust_json.exists():
            return f"Locust wrote no summary: {last}"
        if self.requests == 0:
            return f"Locust sent no request: {last}"
        if self.lost_workers:
            return "; ".join(n.describe() for n in self.lost_workers) + \
                " — the load after that is short of what was asked"
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary (for reports and Allure attachments)."""
        return {
            "run_id": self.run_id, "profile": self.profile, "host": self.host,
            "started": self.started, "ended": self.ended, "workers": self.workers,
            "exit_codes": list(self.exit_codes), "killed": self.killed, "ok": self.ok,
            "requests": self.requests, "locust_requests": self.locust_requests,
            "report_lag": self.report_lag(), "cpu_seconds": self.cpu_seconds,
            "worker_nodes": [n.__dict__ for n in self.nodes],
            "clock_uncertainty_s": self.clock_uncertainty,
            "stats": self.stats.to_json(),
            "mismatches": [m.__dict__ for m in self.mismatches],
            "files": {"request_log": str(self.request_log), "checkout_log": str(self.checkout_log),
                      "locust_json": str(self.locust_json), "logs": [str(p) for p in self.logs]},
        }
