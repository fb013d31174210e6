"""Run Locust as a subprocess, locally or distributed, always bounded; return a LoadRun.

The harness side of :mod:`chaosgate.load` (never imports locust). A
:class:`LoadSession` starts the processes :func:`~.command.build_commands`
describes, follows the request log for a live progress display, and ends
the run however it goes: Locust stops itself at ``--run-time``; past
``run time + start-up allowance + grace`` the harness sends SIGTERM (Locust
still writes its summary), then SIGKILL. Workers left after their master
are killed too, and any file_sd entry of the run is removed. The result, a
:class:`LoadRun`, carries exact statistics computed from the request log.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from ..clients.locust import LocustProcess
from ..paths import default_reports
from ..targets import Target
from .command import EXPECT_WORKERS_MAX_WAIT, LoadSpec, build_commands
from .export import remove_sd_targets
from .profiles import Profile
from .progress import LogTail, Progress
from .requestlog import RequestRecord, read_request_log
from .run import LoadRun, read_locust_json, read_workers_file
from .stats import compare_with_locust, summarize

__all__ = ["LoadSession", "free_port", "new_run_id", "run_load", "run_worker",
           "spec_for_target"]

STARTUP_ALLOWANCE = 20.0  # seconds for Locust to import, connect and spawn
WORKER_EXIT_WAIT = 10.0  # seconds workers get to quit after their master
TERM_WAIT = 5.0  # seconds between SIGTERM and SIGKILL


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_run_id() -> str:
    """A sortable, unique run id: ``20260101-120000-1a2b3c``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


class LoadSession:
    """One bounded Locust run.

    ``run_load(spec)`` is ``LoadSession(spec).wait()``. To act while the load
    runs (inject a fault, follow the requests live)::

        with LoadSession(spec, show_progress=False) as session:   # started
            while session.poll():                                  # bounded
                for record in session.new_records():
                    ...
                time.sleep(0.5)
        run = session.wait()   # the LoadRun (leaving the block waited for it)
    """

    def __init__(self, spec: LoadSpec, *, console: Console | None = None,
                 show_progress: bool = True, grace: float = 15.0) -> None:
        self.spec = spec
        self.console = console or Console(stderr=True)
        self.show_progress = show_progress
        self.grace = grace
        self.procs: list[LocustProcess] = []
        self.started = 0.0
        self.killed = False
        self.tail = LogTail(spec.request_log)  # the progress display's
        self.consumer_tail = LogTail(spec.request_log)  # new_records()'s
        self.progress = Progress(f"load {spec.profile.name}", spec.duration)
        self._live: Live | None = None
        self._progress_lock = threading.Lock()
        self._main_done_at: float | None = None
        self._term_sent_at: float | None = None
        self._run: LoadRun | None = None

    @property
    def deadline(self) -> float:
        """Epoch second after which the harness terminates the run."""
        wait_workers = EXPECT_WORKERS_MAX_WAIT if self.spec.distributed else 0
        return (self.started + STARTUP_ALLOWANCE + wait_workers + self.spec.run_time_s
                + self.spec.metrics_linger + self.grace)

    def start(self) -> None:
        """Start the local process, or the master and its workers."""
        spec = self.spec
        spec.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (spec.request_log, spec.checkout_log, spec.json_file, spec.workers_file):
            stale.unlink(missing_ok=True)
        commands = build_commands(spec, free_port() if spec.distributed else None)
        self.started = time.time()
        self.progress.started = self.started
        roles = [("master" if spec.distributed else "local", commands.main)]
        roles += [(f"worker-{i}", cmd) for i, cmd in enumerate(commands.workers)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for role, cmd in roles:
            self.procs.append(LocustProcess.start(role, cmd, spec.out_dir / f"locust-{role}.log",
                                                  cwd=spec.cwd, env=env))
        self.progress.status = "running"
        if self.show_progress:  # live from the start, whoever drives the session
            self._live = Live(console=self.console, refresh_per_second=2,
                              get_renderable=self._update_progress)
            self._live.start()

    @property
    def running(self) -> bool:
        """Whether any Locust process is still alive."""
        return not all(p.reap() for p in self.procs)

    def new_records(self) -> list[RequestRecord]:
        """Records the request log gained since the last call (for a live consumer)."""
        return self.consumer_tail.read_new()

    def stop(self) -> None:
        """End the run early, gracefully: SIGTERM makes Locust stop and write its summary."""
        if self.procs:
            self.procs[0].signal(signal.SIGTERM)

    def poll(self) -> bool:
        """One supervision step, without blocking; True while the run goes on.

        Reaps exited processes, enforces the deadline (SIGTERM, then SIGKILL),
        kills workers that outlive their master, and feeds the progress
        display. :meth:`wait` calls it in a loop; a caller that drives the
        run itself (e.g. injecting faults meanwhile) calls it regularly.
        """
        main, workers = self.procs[0], self.procs[1:]
        now = time.time()
        if self._live is None:
            self._update_progress()
        if not main.reap():
            if now > self.deadline and self._term_sent_at is None:
                self.killed, self._term_sent_at = True, now
                self.progress.status = "over time: SIGTERM"
                main.signal(signal.SIGTERM)
            elif self._term_sent_at is not None and now > self._term_sent_at + TERM_WAIT:
                self.progress.status = "SIGKILL"
                main.signal(signal.SIGKILL)
            return True
        if self._main_done_at is None:
            self._main_done_at = now
            self.progress.status = "stopping"
        late = now - self._main_done_at - self.spec.metrics_linger
        for w in workers:
            if not w.reap() and late > WORKER_EXIT_WAIT:
                self.killed = True
                w.signal(signal.SIGTERM if late < WORKER_EXIT_WAIT + TERM_WAIT else signal.SIGKILL)
        return not all(w.reap() for w in workers)

    def _update_progress(self) -> RenderableType:
        with self._progress_lock:  # the Live display refreshes from its own thread
            self.progress.add(self.tail.read_new())
            return self.progress.render()

    def _supervise(self) -> None:
        while self.poll():
            time.sleep(0.25)

    def _kill_all(self) -> None:
        for p in self.procs:
            p.signal(signal.SIGKILL)
        for p in self.procs:
            p.kill()

    def wait(self) -> LoadRun:
        """Supervise the run to its end (progress shown if asked); the LoadRun."""
        if self._run is not None:
            return self._run
        if not self.procs:
            self.start()
        try:
            self._supervise()
        except BaseException:
            self._kill_all()
            raise
        finally:
            self._update_progress()
            if self._live is not None:
                self._live.stop()
                self._live = None
            if self.spec.sd_file is not None:
                remove_sd_targets(self.spec.sd_file, run_id=self.spec.run_id)
        self._run = self._result()
        return self._run

    def _result(self) -> LoadRun:
        spec = self.spec
        records = list(read_request_log(spec.request_log)) if spec.request_log.exists() else []
        stats = summarize(records)
        locust = read_locust_json(spec.json_file)
        return LoadRun(
            run_id=spec.run_id,
            profile=spec.profile.name,
            host=spec.host,
            out_dir=spec.out_dir,
            request_log=spec.request_log,
            checkout_log=spec.checkout_log,
            locust_json=spec.json_file,
            logs=tuple(p.log for p in self.procs),
            commands=tuple(tuple(p.popen.args) for p in self.procs),  # type: ignore[arg-type]
            started=self.started,
            ended=time.time(),
            exit_codes=tuple(-1 if p.exit_code is None else p.exit_code for p in self.procs),
            killed=self.killed,
            workers=spec.workers + spec.remote_workers,
            nodes=read_workers_file(spec.workers_file),
            stats=stats,
            locust=tuple(locust),
            mismatches=tuple(compare_with_locust(stats, locust)) if locust else (),
            cpu_seconds=sum(p.cpu_s for p in self.procs),
        )

    def __enter__(self) -> LoadSession:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self.stop()
        self.wait()


def spec_for_target(target: Target, profile: Profile, duration: float, *,
                    out_root: Path | None = None, run_id: str | None = None,
                    **options: Any) -> LoadSpec:
    """A LoadSpec against ``target``'s ingress, its results in ``out_root/<run_id>``
    (default: ``locust/`` in the target's reports folder, :mod:`chaosgate.paths`).

    On a sandbox target the client metrics go to the sandbox's load
    generator port and file_sd file, lingering two scrape intervals at the
    end so that Prometheus scrapes the final counts. The target's safety
    limits bound the duration, rate and users. ``options`` are
    :class:`LoadSpec` fields (users, rate, workers, request_timeout, ...).
    """
    run_id = run_id or new_run_id()
    root = out_root if out_root is not None else default_reports(target.source) / "locust"
    if target.is_sandbox:
        topo = target.sandbox_topology()
        options.setdefault("metrics_port", topo.ports.loadgen_metrics)
        options.setdefault("sd_file", topo.loadgen_sd_file.resolve())
        options.setdefault("metrics_linger", 2 * target.prometheus.scrape_interval)
    options.setdefault("limits", target.safety.limits)
    return LoadSpec(profile=profile, host=target.ingress_url, duration=duration,
                    out_dir=root / run_id, run_id=run_id, **options)


def run_load(spec: LoadSpec, **session_options: Any) -> LoadRun:
    """Run ``spec`` to its end and return the :class:`LoadRun` (see :class:`LoadSession`)."""
    return LoadSession(spec, **session_options).wait()


def run_worker(cmd: tuple[str, ...], log: Path, max_seconds: float, *,
               cwd: Path | None = None) -> int:
    """Run a worker for a master elsewhere (:func:`~.command.worker_command`) until it
    exits (the master ends the run) or ``max_seconds`` pass (SIGTERM, then SIGKILL);
    its exit code, 143/137 when it had to be stopped."""
    proc = LocustProcess.start("worker", cmd, log, cwd=cwd,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.time() + max_seconds
    try:
        while not proc.reap():
            if time.time() > deadline:
                proc.signal(signal.SIGTERM)
                stop = time.time() + TERM_WAIT
                while not proc.reap() and time.time() < stop:
                    time.sleep(0.1)
                proc.kill()
                return 143 if proc.exit_code == -signal.SIGTERM else 137
            time.sleep(0.25)
    except BaseException:
        proc.kill()
        raise
    return proc.exit_code if proc.exit_code is not None else 1
