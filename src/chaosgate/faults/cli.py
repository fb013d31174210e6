"""``chaosgate fault kill-pods|partition|latency|failover-db|stress`` and ``chaosgate cleanup``.

Each fault command loads the target, plans the fault (``--dry-run`` prints
the plan and stops: nothing touched, no ledger entry), injects it through
the ledger, verifies it took hold, holds it ``--duration`` seconds, reverts
it, waits until the system is healed and prints the timeline. Exit codes:
0 done; 2 bad input or a safety refusal; 3 the fault did not take hold, the
system did not heal, or the platform was unreachable; 130/143 interrupted
by SIGINT/SIGTERM (after reverting).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..exceptions import EXIT_INCONCLUSIVE, ChaosgateError
from ..platforms import DIRECTIONS, STRESS_MODES, platform_for
from ..targets import load_target
from .base import Fault
from .cleanup import cleanup
from .database import DatabaseFailover
from .ledger import DEFAULT_LEDGER, Ledger, target_key
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion
from .session import FaultRun, FaultSession
from .signals import Interrupted
from .summary import summarize
from .timeline import FaultTimeline, format_clock

__all__ = ["cleanup_command", "fault"]

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False)


def _errors(func: F) -> F:
    """ChaosgateError -> message and exit code; Interrupted -> 128+signal after reverting."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Interrupted as exc:
            err.print(f"[yellow]{escape(str(exc))}: every fault this run applied was reverted[/]")
            sys.exit(exc.exit_code)
        except ChaosgateError as exc:
            run = getattr(exc, "run", None)
            if isinstance(run, FaultRun):
                _print_run(run)
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _common(default_duration: float) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed([
            click.option("--target", "target_file", required=True,
                         type=click.Path(dir_okay=False), help="Target file (YAML)."),
            click.option("--duration", type=float, default=default_duration, show_default=True,
                         help="Seconds to hold the fault (from t_inject) before reverting."),
            click.option("--dry-run", is_flag=True,
                         help="Print what would happen; touch nothing, write no ledger entry."),
            click.option("--seed", type=int, default=None, help="Seed of the random selection."),
            click.option("--ledger", "ledger_path", envvar="CHAOSGATE_LEDGER",
                         default=DEFAULT_LEDGER, show_default=True,
                         help="Write-ahead ledger of applied faults."),
            click.option("--verify-timeout", type=float, default=30.0, show_default=True,
                         help="Seconds the active probe may take to see the fault take hold."),
            click.option("--heal-timeout", type=float, default=120.0, show_default=True,
                         help="Seconds to wait, after the revert, for the system to heal."),
        ]):
            func = option(func)
        return _errors(func)

    return decorate


def _session(target_file: str, ledger_path: str, seed: int | None) -> FaultSession:
    target = load_target(target_file)
    return FaultSession(target, platform_for(target), Ledger(ledger_path), seed=seed,
                        log=lambda m: err.print(f"[dim]{escape(m)}[/]"),
                        owner="chaosgate fault")


def _timeline_table(timeline: FaultTimeline) -> Table:
    table = Table(title=f"timeline of {timeline.kind} {timeline.fault_id}")
    for col in ("time (UTC)", "t - t_inject", "what", "subject", "source"):
        table.add_column(col)
    for row in timeline.rows():
        offset = "" if row.offset is None else f"{row.offset:+.3f} s"
        table.add_row(format_clock(row.t), offset, row.what, row.subject, row.source)
    return table


def _print_run(run: FaultRun) -> None:
    console.print(_timeline_table(run.timeline))
    for line in summarize(run.timeline, run.applied.change.data):
        console.print(f"  {line}")


def _run(session: FaultSession, fault: Fault, dry_run: bool, duration: float,
         verify_timeout: float, heal_timeout: float) -> None:
    if dry_run or session.dry_run:
        console.print(fault.plan())
        console.print("dry run: nothing was touched, no ledger entry was written")
        return
    change, _ = fault.prepared()
    console.print(f"{fault.kind} {change.fault_id}: {change.description}")
    with session.guard():
        run = session.run(fault, duration, verify_timeout=verify_timeout,
                          heal_timeout=heal_timeout,
                          on_applied=lambda a: console.print(f"applied; holding {duration:g} s"))
    console.print(f"verified: {run.verified.detail}")
    _print_run(run)
    if run.healed is not None and not run.healed.ok:
        err.print(f"[bold red]not healed within {heal_timeout:g} s:[/] "
                  f"{escape(run.healed.detail)}")
        sys.exit(EXIT_INCONCLUSIVE)


@click.group("fault")
def fault() -> None:
    """Inject one fault, verify it, hold it, revert it, print its timeline."""


@fault.command("kill-pods")
@click.option("--selector", required=True, help="Label selector, e.g. app=orders.")
@click.option("--namespace", default=None, help="Default: the target's namespace.")
@click.option("--qty", type=int, default=None, help="How many pods (default 1).")
@click.option("--percent", type=float, default=None, help="Or a percentage, rounded up.")
@_common(default_duration=0.0)
def kill_pods(selector: str, namespace: str | None, qty: int | None, percent: float | None,
              target_file: str, duration: float, dry_run: bool, seed: int | None,
              ledger_path: str, verify_timeout: float, heal_timeout: float) -> None:
    """Kill pods (grace period 0); print their restart and the time until ready again."""
    session = _session(target_file, ledger_path, seed)
    _run(session, PodKill(session.context, selector, namespace, qty, percent), dry_run,
         duration, verify_timeout, heal_timeout)


def _network_options(func: F) -> F:
    for option in reversed([
        click.option("--selector", default=None, help="One side: label selector."),
        click.option("--namespace", default=None, help="Default: the target's namespace."),
        click.option("--peer-selector", default=None, help="Other side: label selector."),
        click.option("--dependency", default=None, help="Other side: a dependency, e.g. postgres."),
        click.option("--link", "links", multiple=True, help="Or name links (repeatable)."),
    ]):
        func = option(func)
    return func


@fault.command("partition")
@_network_options
@click.option("--direction", type=click.Choice(DIRECTIONS), default="both", show_default=True,
              help="Seen from --selector: to, from or both.")
@_common(default_duration=10.0)
def partition(selector: str | None, namespace: str | None, peer_selector: str | None,
              dependency: str | None, links: tuple[str, ...], direction: Any,
              target_file: str, duration: float, dry_run: bool, seed: int | None,
              ledger_path: str, verify_timeout: float, heal_timeout: float) -> None:
    """Cut the network between a selector and a dependency, another selector, or links."""
    session = _session(target_file, ledger_path, seed)
    scope = build_scope(session.target, selector, namespace, peer_selector, dependency, links)
    _run(session, NetworkPartition(session.context, scope, direction), dry_run, duration,
         verify_timeout, heal_timeout)


@fault.command("latency")
@_network_options
@click.option("--latency", "latency_ms", type=int, required=True, help="Added delay (ms).")
@click.option("--jitter", "jitter_ms", type=int, default=0, show_default=True, help="± ms.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="to", show_default=True,
              help="Seen from --selector (or the link's source): to, from or both.")
@_common(default_duration=10.0)
def latency(selector: str | None, namespace: str | None, peer_selector: str | None,
            dependency: str | None, links: tuple[str, ...], latency_ms: int, jitter_ms: int,
            direction: Any, target_file: str, duration: float, dry_run: bool,
            seed: int | None, ledger_path: str, verify_timeout: float,
            heal_timeout: float) -> None:
    """Add latency (and jitter) to a link or between two sides."""
    session = _session(target_file, ledger_path, seed)
    scope = build_scope(session.target, selector, namespace, peer_selector, dependency, links)
    _run(session, Latency(session.context, scope, latency_ms, jitter_ms, direction), dry_run,
         duration, verify_timeout, heal_timeout)


@fault.command("failover-db")
@click.option("--method", required=True,
              help="patroni: switchover | failover | node-crash (see the adapter for others).")
@click.option("--candidate", default=None, help="The member to promote (default: a replica).")
@_common(default_duration=10.0)
def failover_db(method: str, candidate: str | None, target_file: str, duration: float,
                dry_run: bool, seed: int | None, ledger_path: str, verify_timeout: float,
                heal_timeout: float) -> None:
    """Fail the target's database over; node-crash keeps the old primary down --duration s."""
    session = _session(target_file, ledger_path, seed)
    _run(session, DatabaseFailover(session.context, method, candidate), dry_run, duration,
         max(verify_timeout, 60.0), heal_timeout)


@fault.command("stress")
@click.option("--selector", required=True, help="Label selector, e.g. app=catalog.")
@click.option("--namespace", default=None, help="Default: the target's namespace.")
@click.option("--mode", type=click.Choice(STRESS_MODES), required=True)
@click.option("--qty", type=int, default=None, help="How many pods (default 1).")
@click.option("--percent", type=float, default=None, help="Or a percentage, rounded up.")
@click.option("--workers", type=int, default=1, show_default=True, help="cpu: busy loops.")
@click.option("--memory-mb", type=int, default=256, show_default=True, help="memory: MiB.")
@_common(default_duration=10.0)
def stress(selector: str, namespace: str | None, mode: Any, qty: int | None,
           percent: float | None, workers: int, memory_mb: int, target_file: str,
           duration: float, dry_run: bool, seed: int | None, ledger_path: str,
           verify_timeout: float, heal_timeout: float) -> None:
    """Exhaust pods' CPU or memory, or freeze them (SIGSTOP), for --duration s."""
    session = _session(target_file, ledger_path, seed)
    fault_ = ResourceExhaustion(session.context, selector, mode, namespace, qty, percent,
                                workers, memory_mb, duration)
    _run(session, fault_, dry_run, duration, verify_timeout, heal_timeout)


@click.command("cleanup")
@click.option("--target", "target_file", required=True, type=click.Path(dir_okay=False))
@click.option("--ledger", "ledger_path", envvar="CHAOSGATE_LEDGER", default=DEFAULT_LEDGER,
              show_default=True)
@click.option("--force", is_flag=True, help="Also revert faults a live chaosgate still owns.")
@_errors
def cleanup_command(target_file: str, ledger_path: str, force: bool) -> None:
    """Revert every fault the ledger still lists as open (e.g. after a SIGKILL)."""
    target = load_target(target_file)
    ledger = Ledger(ledger_path)
    report = cleanup(target, ledger, platform_for(target), force=force,
                     log=lambda m: err.print(f"[dim]{escape(m)}[/]"))
    for entry, healed in report.reverted:
        state = "healed" if healed.ok else "NOT healed yet"
        console.print(f"reverted {entry.fault} {entry.id} (applied by pid {entry.pid}): "
                      f"{entry.change.description}; {state}: {healed.detail}")
    for entry, why in report.skipped:
        console.print(f"left open {entry.fault} {entry.id}: {why} (use --force)")
    for entry, error in report.failed:
        err.print(f"[red]revert failed[/] {entry.fault} {entry.id}: {escape(error)}")
    others = [e for e in ledger.open_entries() if e.target.get("key") != target_key(target)]
    for entry in others:
        console.print(f"not this target's: {entry.fault} {entry.id} on "
                      f"{entry.target.get('name')} ({entry.target.get('source')})")
    if not report.reverted and report.clean:
        console.print(f"nothing to clean up: no open fault of {target.name!r} in {ledger.path}")
    if not report.clean:
        sys.exit(EXIT_INCONCLUSIVE)

