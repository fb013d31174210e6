"""The ``chaosgate`` command line.

Exit codes follow DESIGN.md section 6: 0 pass, 1 an SLO violated, 2 usage or
input error, 3 inconclusive (infrastructure unreachable, no data, a fault
that did not take hold).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .exceptions import EXIT_USAGE, ChaosgateError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DEFAULT_STATE_DIR = ".chaosgate/sandbox"


def _handle_errors(func: F) -> F:
    """Turn ChaosgateError into a one-line message and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ChaosgateError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="chaosgate")
def cli() -> None:
    """chaosgate: prove, under load, that a system keeps its SLOs when things break."""


# -- sandbox ---------------------------------------------------------------
def _sandbox_topology(state_dir: str, base_port: int | None) -> Any:
    from .sandbox.topology import DEFAULT_BASE_PORT, build_topology

    root = Path(state_dir).resolve()
    saved = root / "sandbox.json"
    if base_port is None and saved.exists():
        base_port = int(json.loads(saved.read_text())["base_port"])
    try:
        return build_topology(root, base_port or DEFAULT_BASE_PORT)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-port") from exc


def _sandbox_options(func: F) -> F:
    func = click.option(
        "--base-port", type=int, envvar="CHAOSGATE_BASE_PORT", default=None,
        help="First of the 60 ports the sandbox uses (default 27000, or the running one's).",
    )(func)
    func = click.option(
        "--state-dir", default=DEFAULT_STATE_DIR, envvar="CHAOSGATE_STATE_DIR",
        show_default=True, help="Where the sandbox keeps config, data and logs.",
    )(func)
    return func


@cli.group()
def sandbox() -> None:
    """The embedded sandbox: a replicated shop on 127.0.0.1."""


def _status_table(rows: list[Any]) -> Table:
    table = Table(title="chaosgate sandbox")
    for col in ("component", "kind", "state", "pid", "restarts", "detail"):
        table.add_column(col)
    for r in rows:
        color = "green" if r.state == "RUNNING" else "red"
        table.add_row(r.name, r.kind, f"[{color}]{r.state}[/]", str(r.pid),
                      str(r.restarts), r.detail)
    return table


@sandbox.command("up")
@_sandbox_options
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for health.")
@_handle_errors
def sandbox_up(state_dir: str, base_port: int | None, timeout: float) -> None:
    """Start the sandbox (idempotent); return when every component is healthy."""
    import time

    from .sandbox.manager import SandboxManager
    from .targets import dump_target, render_sandbox_target

    topo = _sandbox_topology(state_dir, base_port)
    topo.state_dir.mkdir(parents=True, exist_ok=True)
    (topo.state_dir / "sandbox.json").write_text(
        json.dumps({"base_port": topo.ports.base}) + "\n"
    )
    started = time.monotonic()
    manager = SandboxManager(topo, log=lambda m: err_console.print(f"[dim]{m}[/]"))
    rows = manager.up(timeout=timeout)
    target_file = topo.state_dir / "target.yaml"
    dump_target(render_sandbox_target(topo), target_file)
    console.print(_status_table(rows))
    console.print(f"healthy in {time.monotonic() - started:.1f} s")
    console.print(f"  shop (ingress)   {topo.ingress_url}/api/products")
    console.print(f"  prometheus       {topo.prometheus_url}")
    console.print(f"  haproxy stats    http://127.0.0.1:{topo.ports.haproxy_stats}/stats")
    console.print(f"  fault proxy API  {topo.faultproxy_url}/proxies")
    console.print(f"  target file      {target_file}")


@sandbox.command("status")
@_sandbox_options
@_handle_errors
def sandbox_status(state_dir: str, base_port: int | None) -> None:
    """Show each pod and component with its state, pid and restarts."""
    from .sandbox.manager import SandboxManager

    manager = SandboxManager(_sandbox_topology(state_dir, base_port))
    console.print(_status_table(manager.status()))


@sandbox.command("down")
@_sandbox_options
@_handle_errors
def sandbox_down(state_dir: str, base_port: int | None) -> None:
    """Stop what the sandbox started and nothing else; report what names its directory."""
    from rich.markup import escape  # the log quotes other processes' command lines

    from .sandbox.manager import SandboxManager, leftover_processes

    topo = _sandbox_topology(state_dir, base_port)
    manager = SandboxManager(topo, log=lambda m: err_console.print(f"[dim]{escape(m)}[/]"))
    result = manager.down()
    if result.stopped:
        console.print(f"stopped {len(result.stopped)} sandbox process(es) that outlived "
                      f"supervisord: {result.stopped} (SIGKILL: {result.killed or 'none'})")
    if result.not_ours:  # each one is logged above, with its pid and command
        console.print(f"left running {len(result.not_ours)} process(es) that name the state "
                      f"directory but were not started by this sandbox: "
                      f"{[p.pid for p in result.not_ours]}")
    left = leftover_processes(topo)
    if left:
        err_console.print(f"[red]sandbox processes still running: {left}[/]")
        sys.exit(3)
    console.print("sandbox stopped; no sandbox process left")


# -- validate ----------------------------------------------------------------
@cli.command("validate")
@click.argument("target_file", type=click.Path(dir_okay=False))
@_handle_errors
def validate(target_file: str) -> None:
    """Check a target file; exit 2 with the field and the fix when it is wrong."""
    from .targets import load_target

    target = load_target(target_file)
    console.print(f"{target_file}: valid target {target.name!r} ({target.platform.type})")


# -- command groups defined next to the code they drive ----------------------
# Each module defines one click command or group; register it here, one line
# each, so this file stays the single map of the command line.
def _register_commands() -> None:
    from .faults.cli import cleanup_command, fault
    from .gameday.cli import gameday
    from .load.cli import load
    from .report.cli import report
    from .slo.cli import slo

    cli.add_command(fault)
    cli.add_command(cleanup_command)
    cli.add_command(load)
    cli.add_command(slo)
    cli.add_command(report)
    cli.add_command(gameday)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="chaosgate", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if isinstance(code, int):
            return code
        return EXIT_USAGE if code else 0
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
