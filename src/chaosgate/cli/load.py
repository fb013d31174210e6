"""``chaosgate load run``: drive a load profile against a target, bounded in time.

Locust runs as a subprocess (locally, or a master with ``--workers N``);
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
from typing import TYPE_CHECKING

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
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per request (default: the profile's, else 2).")
@click.option("--out", "out_root", default=None, type=click.Path(file_okay=False),
              help="Each run writes to OUT/<run id>/ (default: locust/ in reports/ of the "
                   "target's project folder).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Live progress display (on stderr).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def run_command(target_file: str, profile: str, duration: float | None, users: int | None,
                rate: float | None, workers: int, request_timeout: float | None,
                out_root: str | None, progress: bool, as_json: bool) -> None:
    """Run a load profile against a target, e.g. ``--profile open --rate 20 --duration 30s``."""
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
                               rate=rate, workers=workers, request_timeout=request_timeout)
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
    console.print(f"Locust CPU {run.cpu_seconds:.2f} s; files in {run.out_dir}")
