"""``chaosgate load run``: drive a load profile against a target, bounded in time.

Locust runs as a subprocess (locally, or a master with ``--workers N``;
across hosts ``--master --expect-workers N`` on this host and ``chaosgate
load worker --master-host H`` on each other one, whose request logs come
to this host's request log, corrected by each worker's clock offset);
the command shows live progress, then exact per-route figures from the
request log and how they compare with Locust's own summary. Exit codes:
0 the run completed, 2 usage error (every value is checked before Locust
starts), 3 inconclusive: the ingress does not accept connections (checked
before Locust starts), every request failed to connect, or the run did not
complete (Locust failed, was killed over time, or sent no request). What
went wrong is one line naming the host:port or quoting Locust's last error
line, with the path of its full log; Locust's output is never dumped.
130/143 interrupted by SIGINT/SIGTERM (no verdict; Locust is killed first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from ._common import console, duration_option, err_console, target_option

if TYPE_CHECKING:
    from ..load.run import LoadRun

__all__ = ["load", "summary_table"]


def summary_table(run: LoadRun) -> Table:
    """Per-route exact figures of a run: requests, failures, p50/p95/p99, max, RPS."""
    table = Table(title=f"load run {run.run_id} ({run.profile}, {run.stats.span_s:.1f} s)")
    errors = run.stats.total.failures > 0
    columns = ["route", "requests", "failed", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"]
    for col in [*columns, "errors"] if errors else columns:
        table.add_column(col, justify="left" if col in ("route", "errors") else "right",
                         no_wrap=col != "errors")
    for r in [*run.stats.routes.values(), run.stats.total]:
        kinds = [", ".join(f"{k} {v}" for k, v in r.errors_by_kind.items())] if errors else []
        table.add_row(r.name, str(r.count), str(r.failures), f"{r.p50_ms:.1f}",
                      f"{r.p95_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.max_ms:.1f}", f"{r.rps:.1f}",
                      *kinds, style="bold" if r is run.stats.total else None)
    return table


@click.group()
def load() -> None:
    """Load generation with Locust (always a bounded subprocess)."""


@load.command("run")
@target_option(help="Target file: the host is its ingress; a sandbox also gets client metrics.")
@click.option("--profile", default="steady", show_default=True,
              help="A profile name (loadprofiles/<name>.conf) or a .conf path.")
@duration_option("--duration", help="How long, e.g. 30s, 5m (default: the profile's run-time).")
@click.option("--users", type=click.IntRange(min=1),
              help="Users instead of the profile's (open model: arrival schedulers).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="Open model: total arrivals per second (spread over the profile's users).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Distributed: a master and N workers (0: one local process).")
@click.option("--master", is_flag=True,
              help="Distributed across hosts: also wait for --expect-workers workers that "
                   "`chaosgate load worker --master-host THIS-HOST` starts elsewhere.")
@click.option("--expect-workers", type=click.IntRange(min=1),
              help="With --master: how many remote workers to wait for (30 s at most).")
@click.option("--master-bind", default="0.0.0.0", show_default=True,
              help="With --master: the address the workers connect to.")
@click.option("--master-port", type=click.IntRange(1, 65535), default=5557,
              show_default=True, help="With --master: the port the workers connect to.")
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per request (default: the profile's, else 2).")
@click.option("--out", "out_root", default=None, type=click.Path(file_okay=False),
              help="Each run writes to OUT/<run id>/ (default: locust/ in reports/ of the "
                   "target's project folder).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Live progress display (on stderr).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def run_command(target_file: str, profile: str, duration: float | None, users: int | None,
                rate: float | None, workers: int, master: bool, expect_workers: int | None,
                master_bind: str, master_port: int, request_timeout: float | None,
                out_root: str | None, progress: bool, as_json: bool) -> None:
    """Run a load profile against a target, e.g. ``--profile open --rate 20 --duration 30s``."""
    if master != (expect_workers is not None):
        raise click.UsageError("--master and --expect-workers N go together (workers on "
                               "other hosts); for workers on this host use --workers N")
    remote: dict[str, Any] = {}
    if master:
        remote = {"remote_workers": expect_workers, "master_bind": master_bind,
                  "master_port": master_port}
    from ..clients.http import unreachable
    from ..exceptions import Inconclusive, UsageError
    from ..faults import ledger_for
    from ..load.profiles import find_profile, read_profile
    from ..load.runner import run_load, spec_for_target
    from ..paths import default_reports
    from ..targets import load_target

    target = load_target(target_file)
    try:
        prof = read_profile(find_profile(profile, Path.cwd(), target.source))
        seconds = duration if duration is not None else prof.run_time
        if seconds is None:
            raise click.UsageError(f"{prof.path} sets no run-time: pass --duration")
        out = Path(out_root) if out_root else default_reports(target.source) / "locust"
        spec = spec_for_target(target, prof, seconds, out_root=out, users=users,
                               rate=rate, workers=workers, request_timeout=request_timeout,
                               **remote)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    refused = unreachable(target.ingress_url)
    if refused is not None:
        raise Inconclusive(f"the ingress {_where(target.ingress_url)} is not reachable "
                           f"({refused}); no load was started. {_fix(target.source)}")
    ledger_for(target)  # Locust is recorded beside the target's ledger, for cleanup
    result = run_load(spec, console=err_console, show_progress=progress)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_result(result)
    log = result.logs[0] if result.logs else "-"
    problem = result.problem()
    if problem is not None:
        raise Inconclusive(f"the load run did not complete: {problem}. Full log: {log}")
    if result.unanswered:
        raise Inconclusive(f"every request ({result.requests}) failed to connect to "
                           f"{_where(target.ingress_url)}: nothing answered, so the run "
                           f"measured nothing. {_fix(target.source)}")


def _where(url: str) -> str:
    from ..clients.http import endpoint

    host, port = endpoint(url)
    return f"{host}:{port}"


def _fix(target_source: str) -> str:
    return (f"Fix: is the system up? (the sandbox: chaosgate sandbox up) or correct "
            f"ingress.url in {target_source}")


def _print_result(run: LoadRun) -> None:
    console.print(summary_table(run))
    lag = run.report_lag()
    agree = "equal" if not run.mismatches else f"differ on {len(run.mismatches)} route(s)"
    console.print(f"request log {run.requests} requests, Locust {run.locust_requests} ({agree}"
                  + (f"; Locust's summary missed {lag} late worker report(s) requests"
                     if lag > 0 and run.workers else "") + ")")
    checkouts = run.checkouts()
    if checkouts:
        with_id = sum(1 for c in checkouts if c.order_id is not None)
        console.print(f"checkouts {len(checkouts)}, with an order id {with_id}")
    for node in run.nodes:
        console.print(node.describe(), style="bold red" if node.lost_at is not None else None)
    console.print(f"Locust CPU {run.cpu_seconds:.2f} s; files in {run.out_dir}")


@load.command("worker")
@click.option("--master-host", required=True, help="Address of the master (`load run --master`).")
@click.option("--master-port", type=click.IntRange(1, 65535), default=5557, show_default=True,
              help="Its port (`--master-port` there).")
@click.option("--profile", default="steady", show_default=True,
              help="The profile the master runs (its locustfile is loaded here too).")
@click.option("--locustfile", type=click.Path(exists=True, dir_okay=False),
              help="The locustfile, instead of the profile's.")
@duration_option("--max-time", help="The longest this worker may run, e.g. 1h (default: 24h).")
@click.option("--log", "log_file", default="locust-worker.log", show_default=True,
              type=click.Path(dir_okay=False), help="Locust's output.")
def worker_command(master_host: str, master_port: int, profile: str, locustfile: str | None,
                   max_time: float | None, log_file: str) -> None:
    """A Locust worker for a master on another host: it takes the host, users and
    rate from the master and sends its request log there. Exits with Locust's code
    when the master ends the run; stopped past --max-time."""
    from ..exceptions import UsageError
    from ..load.command import worker_command as build
    from ..load.profiles import find_profile, read_profile
    from ..load.runner import run_worker

    try:
        if locustfile is not None:
            path = Path(locustfile)
        else:
            prof = read_profile(find_profile(profile, Path.cwd(), None))
            found = prof.locustfile(Path.cwd())
            if found is None:
                raise UsageError(f"{prof.path} names no locustfile. Fix: pass --locustfile")
            path = found
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    cmd = build(path.resolve(), master_host, master_port)
    err_console.print(f"worker for {master_host}:{master_port}; Locust's output in {log_file}")
    code = run_worker(cmd, Path(log_file), max_time if max_time is not None else 24 * 3600.0)
    raise SystemExit(code)
