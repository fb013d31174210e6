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

Distributed across hosts, a worker cannot write the harness's file: with
``--ship-requests`` it sends its records (and checkouts) to the master in
Locust worker-to-master messages (``chaosgate_requests``, one per flush),
and the master appends them to its ``--request-log``. The master estimates
each worker's clock offset NTP-style (``chaosgate_clock`` ping and reply
every second: offset = t_worker - (t_sent + t_back) / 2, uncertainty half
the round trip, the sample with the shortest round trip kept), corrects the
start times of that worker's records by it, and writes what it knows of
every worker to ``--workers-file`` (default ``workers.json`` next to the
request log): index, records received, clock offset and its uncertainty,
and when it was lost (Locust marked it missing: no heartbeat for ~3 s).

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

import bisect
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
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
from chaosgate.load.requestlog import AppendLog, record_line

require_locust_process(__name__)

import gevent  # type: ignore[import-untyped]  # noqa: E402
from gevent.pywsgi import WSGIServer  # type: ignore[import-untyped]  # noqa: E402
from locust import events  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402
from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Gauge,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.core import (  # noqa: E402
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector  # noqa: E402
from prometheus_client.utils import floatToGoString  # noqa: E402

from chaosgate.sandbox.shop.metrics import LATENCY_BUCKETS  # noqa: E402

__all__ = ["Recorder"]

log = logging.getLogger("chaosgate.load.recorder")
HOST = "127.0.0.1"


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
        self.ship = bool(getattr(opts, "ship_requests", False)) and self.role == "worker"
        self.shipped: list[list[Any]] = []  # records not yet sent to the master
        self.shipped_checkouts: list[str] = []
        writes = active and not self.ship
        self.log = AppendLog(Path(log_path)) if log_path and writes else None
        self.checkouts = AppendLog(Path(checkout_path)) if checkout_path and writes else None
        self.nodes: WorkerBook | None = None
        if self.role == "master" and log_path:
            workers_file = getattr(opts, "workers_file", None) or Path(log_path).with_name(
                "workers.json")
            self.nodes = WorkerBook(environment, Path(log_path), Path(checkout_path or ""),
                                    Path(workers_file))
        if self.role == "worker":
            environment.runner.register_message("chaosgate_clock", self._clock_ping)
        self.flush_every = float(getattr(opts, "request_log_flush", 0.25))
        self.linger = float(getattr(opts, "metrics_linger", 0.0))
        sd_file = getattr(opts, "loadgen_sd_file", None)
        self.sd_file = Path(sd_file) if sd_file else None
        self.server: WSGIServer | None = None
        self.address: str | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = ClientMetrics()
        self.registry.register(self.metrics)
        Gauge(METRIC_IN_FLIGHT, "Tasks (requests) in flight.",
              registry=self.registry).set_function(_in_flight)
        Gauge(METRIC_USERS, "Users running in this process.",
              registry=self.registry).set_function(lambda: float(self.env.runner.user_count))
        port = int(getattr(opts, "loadgen_metrics_port", 0) or 0)
        if port and active:
            if self.role == "worker":
                port += 1 + max(self.env.runner.worker_index, 0)
            self._serve(port)
        if self.log is not None or self.ship:
            gevent.spawn(self._flusher)

    def _clock_ping(self, environment: Any, msg: Any, **_kw: Any) -> None:
        """Worker: answer the master's clock ping with this host's time."""
        environment.runner.send_message(
            "chaosgate_clock_reply", {"t0": msg.data["t0"], "t1": time.time()})

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
                self.log.buffer.write(record_line(start, round(ms, 3), name, request_type,
                                                  kind is None, status, kind))
            elif self.ship:
                self.shipped.append([start, round(ms, 3), name, request_type, kind is None,
                                     status, kind])
            self.metrics.add(name, request_type, kind or "ok", ms / 1000.0)
            if (self.checkouts is not None or self.ship) and context and "client_seq" in context:
                line = json.dumps({
                    "t": start, "client_seq": context["client_seq"],
                    "order_id": context.get("order_id"), "ok": kind is None, "status": status,
                }, separators=(",", ":")) + "\n"
                if self.checkouts is not None:
                    self.checkouts.buffer.write(line)
                else:
                    self.shipped_checkouts.append(line)
        except Exception:  # never let the recorder break a run
            log.exception("recorder failed on a request event")

    def flush(self) -> None:
        """Append the buffered lines to the files (or send them to the master)."""
        for out in (self.log, self.checkouts):
            if out is not None:
                out.flush()
        if self.ship and (self.shipped or self.shipped_checkouts):
            batch, checkouts = self.shipped, self.shipped_checkouts
            self.shipped, self.shipped_checkouts = [], []
            try:
                self.env.runner.send_message(
                    "chaosgate_requests", {"records": batch, "checkouts": checkouts})
            except Exception:  # the master is gone: say how much is lost
                log.exception("could not ship %d records to the master", len(batch))

    def _flusher(self) -> None:
        while True:
            gevent.sleep(self.flush_every)
            self.flush()

    def close(self) -> None:
        """Final flush; linger so a last scrape sees the totals; leave file_sd clean."""
        self.flush()
        if self.nodes is not None:
            self.nodes.close()
        if self.server is not None:
            if self.linger > 0:
                gevent.sleep(self.linger)
            if self.sd_file is not None and self.address is not None:
                remove_sd_targets(self.sd_file, address=self.address)
            self.server.stop(timeout=1)
        for out in (self.log, self.checkouts):
            if out is not None:
                out.close()


class WorkerBook:
    """Master: what it knows of every worker, and the log lines its workers ship."""

    def __init__(self, environment: Any, log_path: Path, checkout_path: Path,
                 workers_file: Path) -> None:
        self.env = environment
        self.log = AppendLog(log_path)
        self.checkouts = AppendLog(checkout_path) if checkout_path.name else None
        self.file = workers_file
        self.workers: dict[str, dict[str, Any]] = {}
        runner = environment.runner
        runner.register_message("chaosgate_requests", self._records)
        runner.register_message("chaosgate_clock_reply", self._clock_reply)
        environment.events.worker_connect.add_listener(self._connected)
        gevent.spawn(self._watch)

    def _node(self, node_id: str) -> dict[str, Any]:
        node = self.workers.get(node_id)
        if node is None:
            index = self.env.runner.worker_indexes.get(node_id, -1)
            node = self.workers[node_id] = {
                "id": node_id, "index": index, "connected_at": time.time(), "records": 0,
                "last_request_t": None, "lost_at": None, "clock": None}
        return node

    def _connected(self, client_id: str, **_kw: Any) -> None:
        self._node(client_id)
        self._ping(client_id)
        self.save()

    def _ping(self, client_id: str) -> None:
        self.env.runner.send_message("chaosgate_clock", {"t0": time.time()}, client_id)

    def _clock_reply(self, msg: Any, **_kw: Any) -> None:
        t2 = time.time()
        t0, t1 = float(msg.data["t0"]), float(msg.data["t1"])
        node = self._node(msg.node_id)
        rtt = max(t2 - t0, 0.0)
        clock = node["clock"]
        samples = 1 + (clock["samples"] if clock else 0)
        if clock is None or rtt < clock["rtt_s"]:
            clock = {"offset_s": t1 - (t0 + t2) / 2, "uncertainty_s": rtt / 2, "rtt_s": rtt}
        node["clock"] = {**clock, "samples": samples}

    def _records(self, msg: Any, **_kw: Any) -> None:
        node = self._node(msg.node_id)
        clock = node["clock"]
        offset = clock["offset_s"] if clock else 0.0
        out = self.log.buffer
        records = msg.data.get("records", [])
        out.writelines(record_line(t - offset, ms, name, method, ok, status, error)
                       for t, ms, name, method, ok, status, error in records)
        if records:
            node["records"] += len(records)
            node["last_request_t"] = records[-1][0] - offset
        if self.checkouts is not None:
            for line in msg.data.get("checkouts", []):
                entry = json.loads(line)
                entry["t"] -= offset
                self.checkouts.buffer.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self.log.flush()
        if self.checkouts is not None:
            self.checkouts.flush()

    def _watch(self) -> None:
        """Every second: ping every worker's clock; note the ones Locust marked missing."""
        while True:
            gevent.sleep(1.0)
            try:
                self._check_workers()
            except Exception:  # never let the watch die: a lost worker must be seen
                log.exception("watching the workers failed")

    def _check_workers(self) -> None:
        clients = self.env.runner.clients
        for node_id, node in list(self.workers.items()):  # a ping may yield to a handler
            worker = clients.get(node_id)
            if worker is None:  # it quit (a lost one is kept for 60 s: seen below)
                node["quit_at"] = node.get("quit_at") or time.time()
            elif worker.state == "missing":
                if node["lost_at"] is None:
                    node["lost_at"] = time.time()
                    log.warning("worker %s (index %s) lost: no heartbeat", node_id,
                                node["index"])
            else:
                self._ping(node_id)
        self.save()

    def save(self) -> None:
        """Write the workers file (atomically)."""
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"workers": list(self.workers.values())}, indent=1))
        os.replace(tmp, self.file)

    def close(self) -> None:
        """The run ends: flush the shipped lines and write the workers file once more."""
        self.log.close()
        if self.checkouts is not None:
            self.checkouts.close()
        self.save()


class ClientMetrics(Collector):
    """The requests counter and the duration histogram, counted in plain Python on the
    request path (no lock per request: the recorder runs in one gevent thread) and
    turned into Prometheus families when scraped. Same names, labels and bucket
    edges as ``prometheus_client``'s Counter and Histogram would give."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        # per (name, method): a count per bucket, one for +Inf, then the sum
        self.durations: dict[tuple[str, str], list[float]] = {}

    def add(self, name: str, method: str, outcome: str, seconds: float) -> None:
        """Count one request."""
        key = (name, method, outcome)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.durations.get((name, method))
        if counts is None:
            counts = self.durations[(name, method)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # le is inclusive
        counts[-1] += seconds

    def collect(self) -> Iterable[Metric]:
        """The two families, as a scrape sees them."""
        requests = CounterMetricFamily(METRIC_REQUESTS, "Requests sent by the load generator.",
                                       labels=["name", "method", "outcome"])
        for key, n in list(self.requests.items()):
            requests.add_metric(list(key), n)
        durations = HistogramMetricFamily(
            METRIC_DURATION, "Request duration seen by the load generator.",
            labels=["name", "method"])
        edges = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]
        for (name, method), counts in list(self.durations.items()):
            cumulative = list(itertools.accumulate(counts[:-1]))
            durations.add_metric([name, method], list(zip(edges, cumulative, strict=True)),
                                 counts[-1])
        return [requests, durations]


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
        group.add_argument("--workers-file", default=None, include_in_web_ui=False,
                           help="Master: JSON of its workers (clock offsets, lost ones)")
        group.add_argument("--ship-requests", action="store_true", default=False,
                           include_in_web_ui=False,
                           help="Worker: send the request log to the master, not to a file")
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
