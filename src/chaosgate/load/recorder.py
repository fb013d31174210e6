"""The request recorder: a Locust plugin that logs every request and exports metrics.

LOCUST-SIDE ONLY: it imports locust (guarded below). chaosgate loads it
into the Locust subprocess as an extra locustfile (``-f shop.py,recorder.py``);
with plain locust, add it the same way.

With ``--request-log FILE`` every request event becomes one line of the
request log (:mod:`chaosgate.load.requestlog`: start epoch, duration in ms,
route template, method, ok, status, error kind). Lines are buffered and
appended every ``--request-log-flush`` seconds (default 0.25) and when the
test stops, each batch with one ``write`` on an ``O_APPEND`` descriptor, so
the master's workers can share one file without tearing lines. Requests
whose context carries a ``client_seq`` also go to the checkout log
(``--checkout-log``, default ``<request log>.checkouts.jsonl``) with the
``order_id`` they got back.

With ``--loadgen-metrics-port N`` it serves client-side metrics at
``http://127.0.0.1:N/metrics`` (a Locust worker uses ``N + 1 + its index``;
the master serves none): requests by name, method and outcome, a latency
histogram with the shop's bucket edges, tasks in flight, users. With
``--loadgen-sd-file F`` it adds itself to that Prometheus ``file_sd`` file
(labels ``run_id``, ``role``), and at exit keeps serving for
``--metrics-linger`` seconds (so a last scrape sees the final counts) before
it removes the entry.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from chaosgate.load.export import (
    METRIC_DURATION,
    METRIC_IN_FLIGHT,
    METRIC_REQUESTS,
    METRIC_USERS,
    add_sd_target,
    error_kind,
    remove_sd_targets,
    require_locust_process,
)
from chaosgate.load.requestlog import RequestRecord, dump_record

require_locust_process(__name__)

import gevent  # type: ignore[import-untyped]  # noqa: E402
from gevent.pywsgi import WSGIServer  # type: ignore[import-untyped]  # noqa: E402
from locust import events  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402
from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
)

from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS  # noqa: E402

__all__ = ["Recorder"]

log = logging.getLogger("chaosgate.load.recorder")
HOST = "127.0.0.1"


class _AppendLog:
    """Lines buffered in memory (``buffer``), appended to a file in whole batches."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.buffer = io.StringIO()

    def flush(self) -> None:
        text = self.buffer.getvalue()
        if text:
            self.buffer.seek(0)
            self.buffer.truncate()
            view = memoryview(text.encode())
            while view:
                view = view[os.write(self.fd, view):]

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


class Recorder:
    """One per Locust process; wired to Locust's events by :func:`_install`."""

    def __init__(self, environment: Any) -> None:
        self.env = environment
        opts = environment.parsed_options
        self.role = ("master" if isinstance(environment.runner, MasterRunner)
                     else "worker" if isinstance(environment.runner, WorkerRunner) else "local")
        self.run_id = str(getattr(opts, "loadgen_run_id", "") or "")
        log_path = getattr(opts, "request_log", None)
        checkout_path = getattr(opts, "checkout_log", None)
        if log_path and not checkout_path:
            checkout_path = str(Path(log_path).with_suffix("")) + ".checkouts.jsonl"
        active = self.role != "master"
        self.log = _AppendLog(Path(log_path)) if log_path and active else None
        self.checkouts = _AppendLog(Path(checkout_path)) if checkout_path and active else None
        self.flush_every = float(getattr(opts, "request_log_flush", 0.25))
        self.linger = float(getattr(opts, "metrics_linger", 0.0))
        sd_file = getattr(opts, "loadgen_sd_file", None)
        self.sd_file = Path(sd_file) if sd_file else None
        self.server: WSGIServer | None = None
        self.address: str | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(METRIC_REQUESTS, "Requests sent by the load generator.",
                                ["name", "method", "outcome"], registry=self.registry)
        self.duration = Histogram(METRIC_DURATION, "Request duration seen by the load generator.",
                                  ["name", "method"], buckets=LATENCY_BUCKETS,
                                  registry=self.registry)
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        Gauge(METRIC_IN_FLIGHT, "Tasks (requests) in flight.",
              registry=self.registry).set_function(_in_flight)
        Gauge(METRIC_USERS, "Users running in this process.",
              registry=self.registry).set_function(lambda: float(self.env.runner.user_count))
        port = int(getattr(opts, "loadgen_metrics_port", 0) or 0)
        if port and active:
            if self.role == "worker":
                port += 1 + max(self.env.runner.worker_index, 0)
            self._serve(port)
        if self.log is not None:
            gevent.spawn(self._flusher)

    def _serve(self, port: int) -> None:
        self.server = WSGIServer((HOST, port), make_wsgi_app(self.registry), log=None)
        self.server.start()
        self.address = f"{HOST}:{port}"
        if self.sd_file is not None:
            labels = {"run_id": self.run_id, "role": self.role}
            if self.role == "worker":
                labels["worker"] = str(self.env.runner.worker_index)
            add_sd_target(self.sd_file, self.address, labels)
        log.info("client metrics at http://%s/metrics", self.address)

    def on_request(self, request_type: str, name: str, response_time: float | None,
                   response: Any = None, exception: Any = None, context: Any = None,
                   start_time: float | None = None, **_kw: Any) -> None:
        """Log one request and count it (a Locust ``request`` event listener)."""
        try:
            status = int(getattr(response, "status_code", 0) or 0) or None
            ms = float(response_time or 0.0)
            start = start_time if start_time is not None else time.time() - ms / 1000
            kind = error_kind(exception, status) if exception is not None else None
            if self.log is not None:
                dump_record(RequestRecord(t=start, ms=round(ms, 3), name=name,
                                          method=request_type, ok=kind is None,
                                          status=status, error=kind), self.log.buffer)
            key = (name, request_type, kind or "ok")
            children = self._children.get(key)
            if children is None:  # labels() costs a lock and a lookup: once per series
                children = self._children[key] = (self.requests.labels(*key),
                                                   self.duration.labels(name, request_type))
            children[0].inc()
            children[1].observe(ms / 1000.0)
            if self.checkouts is not None and context and "client_seq" in context:
                self.checkouts.buffer.write(json.dumps({
                    "t": start, "client_seq": context["client_seq"],
                    "order_id": context.get("order_id"), "ok": kind is None, "status": status,
                }, separators=(",", ":")) + "\n")
        except Exception:  # never let the recorder break a run
            log.exception("recorder failed on a request event")

    def flush(self) -> None:
        """Append the buffered lines to the files."""
        for out in (self.log, self.checkouts):
            if out is not None:
                out.flush()

    def _flusher(self) -> None:
        while True:
            gevent.sleep(self.flush_every)
            self.flush()

    def close(self) -> None:
        """Final flush; linger so a last scrape sees the totals; leave file_sd clean."""
        self.flush()
        if self.server is not None:
            if self.linger > 0:
                gevent.sleep(self.linger)
            if self.sd_file is not None and self.address is not None:
                remove_sd_targets(self.sd_file, address=self.address)
            self.server.stop(timeout=1)
        for out in (self.log, self.checkouts):
            if out is not None:
                out.close()


def _in_flight() -> float:
    users = sys.modules.get("chaosgate.load.users")
    return float(users.in_flight()) if users is not None else 0.0


def _install() -> None:
    if getattr(events, "_chaosgate_recorder", False):
        return  # imported twice (as a locustfile and as a module): wire once
    events._chaosgate_recorder = True  # type: ignore[attr-defined]
    state: dict[str, Recorder] = {}

    def _options(parser: Any, **_kw: Any) -> None:
        # Locust's own add_argument (not a group's) knows include_in_web_ui.
        group = parser
        for flag, help_text in (
            ("--request-log", "Append every request to this JSON-lines file"),
            ("--checkout-log", "Checkouts (client_seq, order_id); default: next to the log"),
            ("--loadgen-sd-file", "Prometheus file_sd JSON file to register the metrics in"),
            ("--loadgen-run-id", "run_id label of the file_sd entry"),
        ):
            group.add_argument(flag, default=None, include_in_web_ui=False, help=help_text)
        group.add_argument("--request-log-flush", type=float, default=0.25, include_in_web_ui=False,
                           help="Seconds between request log flushes")
        group.add_argument("--loadgen-metrics-port", type=int, default=0, include_in_web_ui=False,
                           help="Serve client metrics on 127.0.0.1:PORT (worker: PORT+1+index)")
        group.add_argument("--metrics-linger", type=float, default=0.0, include_in_web_ui=False,
                           help="Seconds to keep serving metrics at exit (last scrape)")

    def _init(environment: Any, **_kw: Any) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise
        recorder = state["recorder"] = Recorder(environment)
        environment.events.request.add_listener(recorder.on_request)

    def _stopped(**_kw: Any) -> None:
        if "recorder" in state:
            state["recorder"].flush()

    def _quit(**_kw: Any) -> None:
        if "recorder" in state:
            state.pop("recorder").close()

    hooks: Any = events  # locust's EventHook is untyped
    hooks.init_command_line_parser.add_listener(_options)
    hooks.init.add_listener(_init)
    hooks.test_stop.add_listener(_stopped)
    hooks.quit.add_listener(_quit)


_install()
