"""``chaosgate fault kill-pods|partition|latency|failover-db|stress`` and ``chaosgate cleanup``.

Each fault command turns its options, ``--duration`` included, into a fault
spec (the same data a scenario or an experiment writes,
:mod:`chaosgate.faults.spec`), loads the target, checks every value against
it (its ``safety`` limits; exit 2 before the platform is reached or anything
is touched), plans the fault (``--dry-run`` prints
the plan and stops: nothing touched, no ledger entry) and runs it through one
:class:`~chaosgate.faults.FaultSession`: inject through the ledger, verify it
took hold, hold it ``--duration`` seconds, revert it, wait until the system
is healed, print the timeline. Exit codes: 0 done; 2 bad input or a safety
refusal; 3 the fault did not take hold, the system did not heal, the
platform was unreachable, or another process (``chaosgate cleanup --force``)
reverted the fault during its hold (the ledger is read every second, so the
command stops holding at once and says by whom); 130/143 interrupted by
SIGINT/SIGTERM (after reverting; no verdict).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from ..platforms.base import DIRECTIONS, STRESS_MODES, FaultKind
from ._common import console, err_console, ledger_option, target_option

if TYPE_CHECKING:
    from ..faults import FaultRun, FaultSession, FaultTimeline
    from ..faults.stop import StopWatch
    from ..targets import Target

__all__ = ["cleanup", "fault", "stop_watch"]

F = TypeVar("F", bound=Callable[..., Any])

#: Longest --verify-timeout or --heal-timeout (seconds).
MAX_WAIT_S = 3600.0


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)  # a line is never broken


def _common(default_duration: float) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed([
            target_option(),
            click.option("--duration", type=float, default=default_duration, show_default=True,
                         help="Seconds to hold the fault (from t_inject) before reverting."),
            click.option("--dry-run", is_flag=True,
                         help="Print what would happen; touch nothing, write no ledger entry."),
            click.option("--seed", type=int, default=None, help="Seed of the random selection."),
            ledger_option,
            click.option("--verify-timeout", type=float, default=30.0, show_default=True,
                         help="Seconds the active probe may take to see the fault take hold."),
            click.option("--heal-timeout", type=float, default=120.0, show_default=True,
                         help="Seconds to wait, after the revert, for the system to heal."),
            click.option("--stop-when", "stop_when", multiple=True,
                         help="Revert at once and end 'aborted' (exit 4) when this holds, "
                              "checked every second (repeatable; added to the target's "
                              "safety.stop_when): alert:NAME, burn:SLO>5%, or a PromQL "
                              "expression that returns a sample."),
        ]):
            func = option(func)
        return func

    return decorate


def _timeline_table(timeline: FaultTimeline) -> Table:
    from ..faults.timeline import format_clock

    table = Table(title=f"timeline of {timeline.kind} {timeline.fault_id}")
    for col in ("time (UTC)", "t - t_inject", "what", "subject", "source"):
        table.add_column(col)
    for row in timeline.rows():
        offset = "" if row.offset is None else f"{row.offset:+.3f} s"
        table.add_row(format_clock(row.t), offset, row.what, row.subject, row.source)
    return table


def _print_run(run: FaultRun) -> None:
    from ..faults.summary import summarize

    console.print(_timeline_table(run.timeline))
    for line in summarize(run.timeline):
        _say(f"  {line}")


def _session(target: Target, ledger_path: str | None, seed: int | None,
             stop: StopWatch | None = None) -> FaultSession:
    from rich.markup import escape

    from ..faults import FaultSession, ledger_for
    from ..platforms import platform_for

    return FaultSession(target, platform_for(target), ledger_for(target, ledger_path), seed=seed,
                        log=lambda m: err_console.print(f"[dim]{escape(m)}[/]"),
                        owner="chaosgate fault", stop=stop)


def stop_watch(target: Target, given: Sequence[str], option_name: str = "--stop-when"
               ) -> StopWatch | None:
    """The run's stop conditions: the target's ``safety.stop_when`` and ``given`` (an
    option's values); None when there are none. Bad ones are exit 2."""
    from ..clients.prometheus import PrometheusClient
    from ..faults.stop import StopWatch
    from ..paths import default_folder
    from ..slo.catalog import load_catalog
    from ..targets import parse_stop_condition

    conditions = [*target.safety.stop_when,
                  *(parse_stop_condition(text, option_name) for text in given)]
    if not conditions:
        return None
    catalog = load_catalog(default_folder("probes", target.source)) \
        if any(c.kind == "burn" for c in conditions) else None
    return StopWatch(conditions, PrometheusClient.from_config(target.prometheus),
                     catalog=catalog)


def _run(spec: dict[str, Any], *, target_file: str, duration: float, dry_run: bool,
         seed: int | None, ledger_path: str | None, verify_timeout: float,
         heal_timeout: float, stop_when: Sequence[str] = ()) -> None:
    """Build the fault ``spec`` describes and run it end to end through one session."""
    from ..exceptions import (
        FaultAborted,
        FaultNotEffective,
        FaultRevertedElsewhere,
        Inconclusive,
        UsageError,
    )
    from ..faults import check_spec
    from ..targets import load_target

    source = f"chaosgate fault {spec['kind']}"
    spec = {k: v for k, v in {**spec, "duration": duration}.items() if v not in (None, ())}
    target = load_target(target_file)  # reads one file; its safety block bounds the values
    # before the platform or the ledger
    check_spec(spec, source, target.safety.limits, platform=target.platform.type)
    for option, seconds in (("--verify-timeout", verify_timeout),
                            ("--heal-timeout", heal_timeout)):
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_WAIT_S):
            raise UsageError(f"{source}: {option}: {seconds!r} is not a timeout in seconds. "
                             f"Fix: pass {option} above 0 and at most {MAX_WAIT_S:g}")
    stop = stop_watch(target, stop_when)
    session = _session(target, ledger_path, seed, stop)
    fault = session.build(spec, source=source)
    if dry_run or session.dry_run:
        _say(fault.plan())
        if stop:
            _say("stop conditions: " + "; ".join(str(c) for c in stop.conditions))
        _say("dry run: nothing was touched, no ledger entry was written")
        return
    change, _ = fault.prepared()
    if stop:
        stop.preflight()  # a bad PromQL is exit 2, one already true exit 4: nothing touched
        _say("stop conditions (checked every second): "
             + "; ".join(str(c) for c in stop.conditions))
    _say(f"{fault.kind} {change.fault_id}: {change.description}")
    try:
        with session.guard():
            run = session.run(fault, duration, verify_timeout=verify_timeout,
                              heal_timeout=heal_timeout,
                              on_applied=lambda _a: _say(f"applied; holding {duration:g} s"))
    except (FaultNotEffective, FaultRevertedElsewhere, FaultAborted) as exc:
        if exc.run is not None:
            _print_run(exc.run)
        raise
    _say(f"verified: {run.verified.detail}")
    _print_run(run)
    if run.healed is not None and not run.healed.ok:
        raise Inconclusive(f"not healed within {heal_timeout:g} s: {run.healed.detail}")


@click.group("fault")
def fault() -> None:
    """Inject one fault, verify it, hold it, revert it, print its timeline."""


@fault.command(FaultKind.KILL_PODS.value)
@click.option("--selector", required=True, help="Label selector, e.g. app=api.")
@click.option("--namespace", default=None, help="Default: the target's namespace.")
@click.option("--qty", type=int, default=None, help="How many pods (default 1).")
@click.option("--percent", type=float, default=None, help="Or a percentage, rounded up.")
@_common(default_duration=0.0)
def kill_pods(selector: str, namespace: str | None, qty: int | None, percent: float | None,
              **common: Any) -> None:
    """Kill pods (grace period 0); print their restart and the time until ready again."""
    _run({"kind": FaultKind.KILL_PODS, "selector": selector, "namespace": namespace,
          "qty": qty, "percent": percent}, **common)


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


@fault.command(FaultKind.PARTITION.value)
@_network_options
@click.option("--direction", type=click.Choice(DIRECTIONS), default="both", show_default=True,
              help="Seen from --selector: to, from or both.")
@_common(default_duration=10.0)
def partition(selector: str | None, namespace: str | None, peer_selector: str | None,
              dependency: str | None, links: tuple[str, ...], direction: str,
              **common: Any) -> None:
    """Cut the network between a selector and a dependency, another selector, or links."""
    _run({"kind": FaultKind.PARTITION, "selector": selector, "namespace": namespace,
          "peer_selector": peer_selector, "dependency": dependency, "links": links,
          "direction": direction}, **common)


@fault.command(FaultKind.LATENCY.value)
@_network_options
@click.option("--latency", "latency_ms", type=int, required=True, help="Added delay (ms).")
@click.option("--jitter", "jitter_ms", type=int, default=0, show_default=True, help="± ms.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="to", show_default=True,
              help="Seen from --selector (or the link's source): to, from or both.")
@_common(default_duration=10.0)
def latency(selector: str | None, namespace: str | None, peer_selector: str | None,
            dependency: str | None, links: tuple[str, ...], latency_ms: int, jitter_ms: int,
            direction: str, **common: Any) -> None:
    """Add latency (and jitter) to a link or between two sides."""
    _run({"kind": FaultKind.LATENCY, "selector": selector, "namespace": namespace,
          "peer_selector": peer_selector, "dependency": dependency, "links": links,
          "latency_ms": latency_ms, "jitter_ms": jitter_ms, "direction": direction}, **common)


@fault.command(FaultKind.FAILOVER_DB.value)
@click.option("--method", required=True,
              help="patroni: switchover | failover | node-crash (see the adapter for others).")
@click.option("--candidate", default=None, help="The member to promote (default: a replica).")
@click.option("--checkout-log", default=None, type=click.Path(dir_okay=False),
              help="Under load: a load run's checkouts.jsonl. After the failover, every "
                   "checkout it acknowledged is looked up on the new primary; one lost "
                   "exits 1 (sandbox).")
@_common(default_duration=10.0)
def failover_db(method: str, candidate: str | None, verify_timeout: float,
                checkout_log: str | None, **common: Any) -> None:
    """Fail the target's database over; node-crash keeps the old primary down --duration s."""
    from pathlib import Path

    from ..exceptions import UsageError

    if checkout_log is not None and not Path(checkout_log).is_file():
        raise UsageError(f"--checkout-log {checkout_log}: no such file. Fix: give the "
                         "checkouts.jsonl of a running `chaosgate load run`")
    _run({"kind": FaultKind.FAILOVER_DB, "method": method, "candidate": candidate},
         verify_timeout=max(verify_timeout, 60.0), **common)
    if checkout_log is not None and not common["dry_run"]:
        _check_writes(common["target_file"], checkout_log)


def _check_writes(target_file: str, checkout_log: str) -> None:
    """The recovery point: the acknowledged checkouts of ``checkout_log`` read back on the
    primary; lost ones raise SLOViolated (exit 1), no data or no lookup Inconclusive (3)."""
    from pathlib import Path

    from ..exceptions import Inconclusive, SLOViolated
    from ..gameday.recovery_point import acknowledged, recovery_point
    from ..load.run import read_checkout_log
    from ..platforms.recovery import stored_writes, unchecked_reason
    from ..targets import load_target

    path = Path(checkout_log)
    target = load_target(target_file)
    reason = unchecked_reason(target)
    if reason is not None:
        raise Inconclusive(f"--checkout-log: {reason}")
    checkouts = read_checkout_log(path)
    acked = acknowledged(checkouts)
    if not acked:
        raise Inconclusive(f"--checkout-log {checkout_log}: no acknowledged checkout to look up")
    found = stored_writes(target, [c.client_seq for c in acked], min(c.t for c in acked) - 5)
    point = recovery_point(checkouts, found)
    _say(f"recovery point: {point.describe()}")
    if point.lost:
        raise SLOViolated(f"{len(point.lost)} acknowledged checkout(s) lost by the failover")


@fault.command(FaultKind.STRESS.value)
@click.option("--selector", required=True, help="Label selector, e.g. app=worker.")
@click.option("--namespace", default=None, help="Default: the target's namespace.")
@click.option("--mode", type=click.Choice(STRESS_MODES), required=True)
@click.option("--qty", type=int, default=None, help="How many pods (default 1).")
@click.option("--percent", type=float, default=None, help="Or a percentage, rounded up.")
@click.option("--workers", type=int, default=1, show_default=True, help="cpu: busy loops.")
@click.option("--memory-mb", type=int, default=256, show_default=True, help="memory: MiB.")
@_common(default_duration=10.0)
def stress(selector: str, namespace: str | None, mode: str, qty: int | None,
           percent: float | None, workers: int, memory_mb: int, duration: float,
           **common: Any) -> None:
    """Exhaust pods' CPU or memory, or freeze them (SIGSTOP), for --duration s."""
    _run({"kind": FaultKind.STRESS, "selector": selector, "namespace": namespace,
          "mode": mode, "qty": qty, "percent": percent, "cpu_workers": workers,
          "memory_mb": memory_mb}, duration=duration, **common)


@click.command("cleanup")
@target_option()
@ledger_option
@click.option("--force", is_flag=True, help="Also revert faults a live chaosgate still owns.")
def cleanup(target_file: str, ledger_path: str | None, force: bool) -> None:
    """Revert every fault the target's ledger still lists as open (e.g. after a SIGKILL),
    from any folder; without --ledger, also those of the old default ledger,
    ./.chaosgate/ledger.jsonl, when there is one.

    On a running sandbox it also restores the fault proxy's links to the
    topology (a deleted link created again, a disabled one enabled, a toxic
    no open fault holds removed) and says so.
    """
    from rich.markup import escape

    from ..exceptions import Inconclusive
    from ..faults import LEGACY_LEDGER, Ledger, ledger_for, target_key
    from ..faults.cleanup import cleanup as revert_open_entries
    from ..platforms import platform_for
    from ..targets import load_target

    target = load_target(target_file)
    ledgers = [ledger_for(target, ledger_path)]
    legacy = LEGACY_LEDGER.absolute()
    if ledger_path is None and legacy.exists() and legacy.resolve() != ledgers[0].path.resolve():
        ledgers.append(Ledger(legacy))  # faults left before ledgers were per target
    platform = platform_for(target)
    left_open, links_error = 0, None
    for ledger in ledgers:
        report = revert_open_entries(target, ledger, platform, force=force,
                                     log=lambda m: err_console.print(f"[dim]{escape(m)}[/]"))
        for orphan in report.ended:
            rec = orphan.record
            _say(f"{orphan.outcome}: {rec.role} pid {rec.child.pid} of dead owner pid "
                 f"{rec.owner.pid}")
        for entry, healed in report.reverted:
            state = "healed" if healed.ok else "NOT healed yet"
            _say(f"reverted {entry.fault} {entry.id} (applied by pid {entry.pid}): "
                 f"{entry.change.description}; {state}: {healed.detail}")
        for entry, why in report.skipped:
            _say(f"left open {entry.fault} {entry.id}: {why} (use --force)")
        for entry, error in report.failed:
            err_console.print(f"[red]revert failed[/] {entry.fault} {entry.id}: "
                              f"{escape(error)}")
        for issue in report.links:
            _say(f"restored sandbox {issue.describe()}")
        if report.links_error:
            links_error = report.links_error
            err_console.print(f"[red]links not restored[/]: {escape(report.links_error)}")
        others = [e for e in ledger.open_entries() if e.target.get("key") != target_key(target)]
        for entry in others:
            _say(f"not this target's: {entry.fault} {entry.id} on {entry.target.get('name')} "
                 f"({entry.target.get('source')})")
        if not report.reverted and not report.ended and not report.links and report.clean:
            _say(f"nothing to clean up: no open fault of {target.name!r} in {ledger.path}")
        left_open += len(report.failed) + len(report.skipped)
    if left_open:
        where = " and ".join(str(ledger.path) for ledger in ledgers)
        raise Inconclusive(f"{left_open} fault(s) of {target.name!r} are still open in "
                           f"{where}. Fix: see above; `chaosgate cleanup --force` also "
                           "reverts a live owner's faults")
    if links_error:
        raise Inconclusive(f"the sandbox's links of {target.name!r} are not as its topology "
                           "declares: see above")
