"""``chaosgate sandbox up|status|down``: the embedded sandbox, a replicated shop on 127.0.0.1
(or, with ``--system events``, an event pipeline on a Redis stream).

``status`` and ``up`` hold the fault proxy's links against the topology:
``status`` shows each link (UP; FAULT when an open fault of the ledger holds
it; MISSING, MOVED, DISABLED or TOXIC otherwise) and exits 3 when one is
wrong; ``up`` restores them, leaving alone what an open fault of the ledger
(``--ledger``, the one ``chaosgate cleanup`` reads) holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from ._common import DEFAULT_STATE_DIR, console, err_console, ledger_option

if TYPE_CHECKING:
    from ..sandbox.links import LinkHolds
    from ..sandbox.manager import ComponentStatus
    from ..sandbox.topology import Topology

__all__ = ["sandbox"]

F = TypeVar("F", bound=Callable[..., Any])


def _topology(state_dir: str | None, base_port: int | None, system: str | None) -> Topology:
    from ..sandbox.state import saved_topology

    try:
        return saved_topology(state_dir, base_port, system)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-port") from exc


def _options(func: F) -> F:
    from ..sandbox.topology import SYSTEMS

    func = click.option(
        "--system", type=click.Choice(SYSTEMS), default=None,
        help="Which system the sandbox runs: the shop, or an event pipeline (events) "
             "[default: the one the state folder runs, else shop].",
    )(func)
    func = click.option(
        "--base-port", type=int, envvar="CHAOSGATE_BASE_PORT", default=None,
        help="First of the 60 ports the sandbox uses (default: the running one's, else "
             "27000 for the shop, 27100 for events).",
    )(func)
    return click.option(
        "--state-dir", default=None, envvar="CHAOSGATE_STATE_DIR",
        help=f"Where the sandbox keeps config, data and logs [default: {DEFAULT_STATE_DIR}; "
             ".chaosgate/events for --system events].",
    )(func)


def _holds(topo: Topology, ledger_path: str | None) -> LinkHolds:
    """What the open faults of this sandbox in its ledger (``--ledger``, else
    ``$CHAOSGATE_LEDGER``, else ``<state_dir>/ledger.jsonl``) hold on its links."""
    from ..faults import Ledger
    from ..faults.cleanup import link_holds
    from ..faults.ledger import LEDGER_ENV, LEDGER_NAME, sandbox_key

    path = (ledger_path or os.environ.get(LEDGER_ENV)
            or topo.state_dir.resolve() / LEDGER_NAME)
    return link_holds(Ledger(path).open_entries(sandbox_key(topo.state_dir,
                                                            topo.ports.base)))


def _check_links(rows: list[ComponentStatus]) -> None:
    """Exit 3 naming every link that differs from the topology with no open fault behind it."""
    from ..exceptions import SandboxError

    wrong = [r for r in rows if r.link_wrong]
    if wrong:
        raise SandboxError(
            "the fault proxy's links differ from the topology: "
            + "; ".join(f"{r.name} {r.state} ({r.detail})" for r in wrong)
            + ". Fix: `chaosgate sandbox up` restores them (or `chaosgate cleanup --target "
            "FILE` for the sandbox's target file)"
        )


def _log(message: str) -> None:
    err_console.print(f"[dim]{escape(message)}[/]")  # may quote other processes' command lines


def _status_table(rows: list[ComponentStatus]) -> Table:
    table = Table(title="chaosgate sandbox")
    for col in ("component", "kind", "state", "pid", "restarts", "detail"):
        table.add_column(col)
    for r in rows:
        color = ("green" if r.state in ("RUNNING", "UP")
                 else "yellow" if r.state == "FAULT" else "red")
        link = r.kind == "link"
        table.add_row(r.name, r.kind, f"[{color}]{r.state}[/]", "-" if link else str(r.pid),
                      "-" if link else str(r.restarts), escape(r.detail))
    return table


@click.group()
def sandbox() -> None:
    """The embedded sandbox: a replicated shop on 127.0.0.1 (--system events: an event
    pipeline on a Redis stream)."""


@sandbox.command("up")
@_options
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for health.")
@ledger_option
def up(state_dir: str | None, base_port: int | None, system: str | None, timeout: float,
       ledger_path: str | None) -> None:
    """Start the sandbox (idempotent); return when every component is healthy.

    On a running sandbox it restores the fault proxy's links to the topology:
    a deleted link is created again, a disabled one enabled, a toxic removed,
    except what an open fault of the ledger holds.
    """
    import time

    from ..sandbox.manager import SandboxManager
    from ..sandbox.state import write_state

    topo = _topology(state_dir, base_port, system)
    topo.state_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows = SandboxManager(topo, log=_log).up(timeout=timeout,
                                             holds=_holds(topo, ledger_path))
    target_file = write_state(topo)
    console.print(_status_table(rows))
    _check_links(rows)
    console.print(f"healthy in {time.monotonic() - started:.1f} s")
    console.print(f"  {topo.front_door}")
    console.print(f"  prometheus       {topo.prometheus_url}")
    console.print(f"  haproxy stats    http://127.0.0.1:{topo.ports.haproxy_stats}/stats")
    console.print(f"  fault proxy API  {topo.faultproxy_url}/proxies")
    console.print(f"  target file      {target_file}")


@sandbox.command("status")
@_options
@ledger_option
def status(state_dir: str | None, base_port: int | None, system: str | None,
           ledger_path: str | None) -> None:
    """Show each pod and component with its state, pid and restarts, and each link.

    Exits 3 when a link of the fault proxy differs from the topology (deleted,
    disabled, moved, or with a toxic) and no open fault of the ledger holds it.
    """
    from ..sandbox.manager import SandboxManager

    topo = _topology(state_dir, base_port, system)
    rows = SandboxManager(topo).status(_holds(topo, ledger_path))
    console.print(_status_table(rows))
    _check_links(rows)


@sandbox.command("down")
@_options
def down(state_dir: str | None, base_port: int | None, system: str | None) -> None:
    """Stop what the sandbox started and nothing else; report what names its directory."""
    from ..exceptions import SandboxError
    from ..sandbox.manager import SandboxManager, leftover_processes

    topo = _topology(state_dir, base_port, system)
    result = SandboxManager(topo, log=_log).down()
    if result.stopped:
        console.print(f"stopped {len(result.stopped)} sandbox process(es) that outlived "
                      f"supervisord: {result.stopped} (SIGKILL: {result.killed or 'none'})")
    if result.not_ours:  # each one is logged above, with its pid and command
        console.print(f"left running {len(result.not_ours)} process(es) that name the state "
                      f"directory but were not started by this sandbox: "
                      f"{[p.pid for p in result.not_ours]}")
    left = leftover_processes(topo)
    if left:
        raise SandboxError(f"sandbox processes still running: {left}. Fix: run "
                           "`chaosgate sandbox down` again, or stop them by pid")
    console.print("sandbox stopped; no sandbox process left")
