"""``chaosgate slo check`` and ``slo rules``: the catalogue judged now, and as Prometheus rules.

Prints each SLO with its observed value, objective, verdict, the numbers
behind it and the PromQL used (``--json`` for machines). Exit codes
0 every SLO passes, 1 one is violated, 2 bad input
(target, catalogue, option or PromQL), 3 inconclusive (Prometheus down, no
data, or not yet provable with this much traffic), 130/143 interrupted by
SIGINT/SIGTERM (no verdict). Every SLO type but ``recovery`` is judged here
(ratio types, mean_latency, throughput, gauge_bound: the server observer);
``recovery`` SLOs need a fault's timeline (game days, experiments) and are
only listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from ._common import console, duration_option, target_option

if TYPE_CHECKING:
    from ..slo.catalog import SLO
    from ..slo.evaluate import SLOVerdict

__all__ = ["slo", "verdict_table"]

_COLOR = {"pass": "green", "fail": "red", "inconclusive": "yellow", "aborted": "magenta"}


def _detail(v: SLOVerdict) -> str:
    parts = [v.reason]
    if v.burn is not None:
        flag = " (fast burn)" if v.burn.firing else ""
        parts.append(f"burn rate {v.burn.long:.2f} (window), {v.burn.short:.2f} "
                     f"(window/12){flag}")
    return "\n".join(parts)


def verdict_table(pairs: list[tuple[SLO, SLOVerdict]], window: str) -> Table:
    """The rich table of ``slo check``: SLO, value, objective, verdict, detail, PromQL."""
    from ..slo.evaluate import objective_text, value_text

    table = Table(title=f"SLOs over {window}", show_lines=True)
    for col in ("SLO", "value", "objective", "verdict", "detail", "PromQL"):
        table.add_column(col, overflow="fold")
    for slo, v in pairs:
        promql = "\n".join(f"{k}: {q}" for k, q in v.query.items())
        table.add_row(slo.name, value_text(slo, v.value, v.percentile_ms), objective_text(slo),
                      f"[{_COLOR[v.status]}]{v.status}[/]", _detail(v), promql)
    return table


@click.group("slo")
def slo() -> None:
    """SLOs of the catalogue (probes/), judged through Prometheus."""


@slo.command("check")
@target_option(help="Target file: where Prometheus answers and how to authenticate.")
@duration_option("--window", help="Evaluation window, e.g. 10m (default: each SLO's own window).")
@click.option("--catalog", default=None,
              help="SLO catalogue: a folder of *.yaml files or one file (default: probes/ "
                   "beside the target file or the folder above it, else the shipped one).")
@click.option("--slo", "names", multiple=True, help="Check only this SLO (repeatable).")
@click.option("--confidence", default=0.95, show_default=True,
              type=click.FloatRange(0.5, 0.999999),
              help="Confidence of the bound a pass must clear (Clopper-Pearson, Student t, "
                   "Poisson).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def check(target_file: str, window: float | None, catalog: str | None, names: tuple[str, ...],
          confidence: float, as_json: bool) -> None:
    """Judge each SLO over a window ending now; exit 0 pass, 1 violated, 3 inconclusive."""
    from ..clients.prometheus import PrometheusClient
    from ..exceptions import UsageError
    from ..paths import default_folder
    from ..slo.catalog import load_catalog, prom_duration
    from ..slo.check import check_slos
    from ..slo.evaluate import objective_text
    from ..slo.model import WINDOW_FIX, window_problem
    from ..targets import load_target
    from ..verdict import combine, exit_code

    if window is not None and (problem := window_problem(window)) is not None:
        raise UsageError(f"--window: {problem}. Fix: {WINDOW_FIX}")
    target = load_target(target_file)
    slos = load_catalog(catalog or default_folder("probes", target.source)).select(names)
    for s in slos:
        if names and not s.is_window:
            raise UsageError(f"{s.name!r} is a recovery SLO: it is judged on a fault's "
                             "timeline (chaosgate gameday, chaos run), not by slo check. "
                             "Fix: leave it out of --slo")
    client = PrometheusClient.from_config(target.prometheus)
    verdicts = check_slos(client, slos, window=window, confidence=confidence,
                          scrape_interval=target.prometheus.scrape_interval)
    by_name = {s.name: s for s in slos}
    code = exit_code(combine(v.status for v in verdicts))
    if as_json:
        doc = {"window": window, "confidence": confidence, "exit_code": code,
               "verdicts": [v.to_json() for v in verdicts]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        span = "each SLO's window" if window is None else f"the last {prom_duration(window)}"
        console.print(verdict_table([(by_name[v.slo], v) for v in verdicts], span))
        for s in slos:
            if not s.is_window:
                console.print(f"[dim]{s.name} ({objective_text(s)}) is judged on a fault's "
                          "timeline, not here[/]")
    click.get_current_context().exit(code)


def _service_name(source: Path) -> str:
    """The default ``sloth_service``: the catalogue file's name, or the folder's one file's."""
    if source.is_dir():
        files = sorted(source.glob("*.yaml")) + sorted(source.glob("*.yml"))
        if len(files) == 1:
            return files[0].stem
        return source.resolve().name
    return source.stem


@slo.command("rules")
@click.option("--catalog", default=None,
              help="SLO catalogue: a folder of *.yaml files or one file (default: probes/ "
                   "of this folder or the one above, else the shipped one).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the rule file here (default: print it).")
@click.option("--service", default=None,
              help="The sloth_service label (default: the catalogue file's name, e.g. shop "
                   "for probes/shop.yaml; the folder's name when it holds several).")
@duration_option("--period", help="The SLO period the budget is spent over (default: 30d).")
@click.option("--time-scale", "time_scale", default="1", show_default=True,
              help="Multiply every window and the period by this (e.g. 1/60: the page alert "
                   "looks at 5s and 1m), so that game days of minutes meet alerts of hours.")
def rules(catalog: str | None, out: str | None, service: str | None, period: float | None,
          time_scale: str) -> None:
    """Write Prometheus recording and alerting rules for the catalogue (Sloth-compatible).

    Exit codes: 0 written, 2 bad input (catalogue or option).
    """
    from .. import __name__ as package
    from ..exceptions import UsageError
    from ..paths import default_folder
    from ..report._files import atomic_write
    from ..slo.catalog import load_catalog
    from ..slo.rules import DEFAULT_PERIOD_S, RuleOptions, build_rules, dump_rules, parse_time_scale

    try:
        scale = parse_time_scale(time_scale)
    except ValueError as exc:
        raise UsageError(f"--time-scale: {exc}. Fix: give e.g. 1/60 or 0.5") from None
    source = Path(catalog) if catalog else default_folder("probes", None)
    loaded = load_catalog(source)
    name = service or _service_name(source)
    options = RuleOptions(service=name, period_s=period or DEFAULT_PERIOD_S, time_scale=scale)
    try:
        doc = build_rules(loaded, options)
    except ValueError as exc:
        raise UsageError(f"--time-scale {time_scale}: {exc}. Fix: give a larger factor, "
                         "e.g. 1/60") from None
    if not doc["groups"]:
        raise UsageError(f"{source}: no SLO to write rules for (recovery SLOs have none). "
                         "Fix: add an availability, error_ratio, latency, ratio, "
                         "mean_latency, throughput or gauge_bound SLO")
    text = dump_rules(doc, f"Prometheus rules for the SLO catalogue {source}, written by "
                           f"{package} slo rules (time scale {time_scale}).\n"
                           "Check them with: promtool check rules FILE")
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write(Path(out), text)
        click.echo(f"wrote {out}: {sum(len(g['rules']) for g in doc['groups'])} rules in "
                   f"{len(doc['groups'])} groups", err=True)
