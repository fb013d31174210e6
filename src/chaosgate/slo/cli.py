"""``chaosgate slo check``: every SLO of the catalogue, judged through Prometheus now.

Prints each SLO with its observed value, objective, verdict, the numbers
behind it and the PromQL used (``--json`` for machines). Exit codes
(DESIGN.md section 6): 0 every SLO passes, 1 one is violated, 2 bad input
(target, catalogue, option or PromQL), 3 inconclusive (Prometheus down, no
data, or not yet provable with this much traffic). ``recovery`` SLOs need a
fault's timeline (game days, experiments) and are only listed here.
"""

from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console
from rich.table import Table

from ..exceptions import ChaosgateError, UsageError
from ..targets import load_target, parse_duration
from ..verdict import combine, exit_code
from .catalog import SLO, load_catalog, prom_duration
from .check import check_slos
from .evaluate import SLOVerdict, objective_text
from .prometheus import PrometheusClient

__all__ = ["slo", "verdict_table"]

_COLOR = {"pass": "green", "fail": "red", "inconclusive": "yellow"}


def _console(stderr: bool = False) -> Console:
    fixed = sys.stdout.isatty() or "COLUMNS" in os.environ
    return Console(stderr=stderr, highlight=False,
                   width=None if fixed else 200)  # PromQL stays readable in CI logs


def _window(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; write a duration such as 30s, 10m or 1h") from None


def _value_text(slo: SLO, v: SLOVerdict) -> str:
    if v.value is None:
        return "—"
    if slo.type == "error_ratio":
        return f"{(1 - v.value) * 100:.4f} % errors"
    text = f"{v.value * 100:.4f} %"
    return text + (f" (p{slo.percentile:g} {v.percentile_ms:.1f} ms)"
                   if v.percentile_ms is not None and slo.percentile else "")


def _detail(v: SLOVerdict) -> str:
    parts = [v.reason]
    if v.burn is not None:
        flag = " (fast burn)" if v.burn.firing else ""
        parts.append(f"burn rate {v.burn.long:.2f} (window), {v.burn.short:.2f} "
                     f"(window/12){flag}")
    return "\n".join(parts)


def verdict_table(pairs: list[tuple[SLO, SLOVerdict]], window: str) -> Table:
    """The rich table of ``slo check``: SLO, value, objective, verdict, detail, PromQL."""
    table = Table(title=f"SLOs over {window}", show_lines=True)
    for col in ("SLO", "value", "objective", "verdict", "detail", "PromQL"):
        table.add_column(col, overflow="fold")
    for slo, v in pairs:
        promql = "\n".join(f"{k}: {q}" for k, q in v.query.items())
        table.add_row(slo.name, _value_text(slo, v), objective_text(slo),
                      f"[{_COLOR[v.status]}]{v.status}[/]", _detail(v), promql)
    return table


@click.group("slo")
def slo() -> None:
    """SLOs of the catalogue (probes/), judged through Prometheus."""


@slo.command("check")
@click.option("--target", "target_file", required=True, type=click.Path(dir_okay=False),
              help="Target file: where Prometheus answers and how to authenticate.")
@click.option("--window", callback=_window, default=None,
              help="Evaluation window, e.g. 10m (default: each SLO's own window).")
@click.option("--catalog", default="probes", show_default=True,
              help="SLO catalogue: a folder of *.yaml files or one file.")
@click.option("--slo", "names", multiple=True, help="Check only this SLO (repeatable).")
@click.option("--confidence", default=0.95, show_default=True,
              type=click.FloatRange(0.5, 0.999999),
              help="Confidence of the Clopper-Pearson bound a pass must clear.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def check(target_file: str, window: float | None, catalog: str, names: tuple[str, ...],
          confidence: float, as_json: bool) -> None:
    """Judge each SLO over a window ending now; exit 0 pass, 1 violated, 3 inconclusive."""
    out, err = _console(), _console(stderr=True)
    try:
        target = load_target(target_file)
        slos = load_catalog(catalog).select(names)
        for s in slos:
            if names and not s.is_ratio:
                raise UsageError(f"{s.name!r} is a recovery SLO: it is judged on a fault's "
                                 "timeline (chaosgate gameday, chaos run), not by slo check. "
                                 "Fix: leave it out of --slo")
        client = PrometheusClient.from_config(target.prometheus)
        verdicts = check_slos(client, slos, window=window, confidence=confidence)
    except ChaosgateError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    by_name = {s.name: s for s in slos}
    code = exit_code(combine(v.status for v in verdicts))
    if as_json:
        doc = {"window": window, "confidence": confidence, "exit_code": code,
               "verdicts": [v.to_json() for v in verdicts]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        span = "each SLO's window" if window is None else f"the last {prom_duration(window)}"
        out.print(verdict_table([(by_name[v.slo], v) for v in verdicts], span))
        for s in slos:
            if not s.is_ratio:
                out.print(f"[dim]{s.name} ({objective_text(s)}) is judged on a fault's "
                          "timeline, not here[/]")
    sys.exit(code)
