"""``chaosgate timeline``: every incident in a window, from the observers alone.

No fault and no ``t_inject`` needed: the server observer (Prometheus' raw
counters of the SLOs a ``recovery`` SLO names) and, with ``--request-log``,
the client observer (a load run's request log) are read over the window and
handed to the incident finder (:mod:`chaosgate.slo.incidents`). Each
incident is listed with its impact, detection (when the recovery SLO's
hold-down window first showed the breach), recovery and TTR from both observers,
their uncertainty and whether they agree; ``--json`` prints
``{"incidents": [...]}`` in time order (``impact``, ``detected``,
``recovered`` — null while still out —, ``ttr``, ``observers`` →
``client``/``server``).

Exit codes: 0 every incident recovered within the recovery SLO (or none),
1 one took longer or is still out past it, 2 bad input, 3 inconclusive (no
data from either observer, Prometheus unreachable without a request log,
an incident still out but not yet over the objective).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.table import Table

from ._common import console, duration_option, target_option

if TYPE_CHECKING:
    from ..slo.incidents import Incident, Seen

__all__ = ["timeline"]


def _moment(option: str, text: str | None) -> float | None:
    """``--from``/``--to``: epoch seconds or an ISO 8601 time (UTC unless it says)."""
    from ..exceptions import UsageError

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r}: not a time. Fix: give epoch seconds "
                         "(1764763200) or an ISO time (2026-12-03T10:00:00Z)") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _edge(x: Incident | None) -> str:
    if x is None:
        return "not seen"
    from ..faults.timeline import format_clock

    ttr = x.ttr
    rec = "still out" if x.recover is None else format_clock(x.recover.t)
    span = "" if ttr is None else f"TTR {ttr.t:.3f} ± {ttr.err:.3f} s\n"
    return (f"{span}{format_clock(x.impact.t)} → {rec}\n"
            f"detected +{x.detect.t - x.impact.t:.3f} s\n"
            f"{x.bad} bad of {x.total}")


def _table(seen: list[Seen], title: str) -> Table:
    table = Table(title=title, show_lines=True)
    for col in ("#", "client (request log)", "server (Prometheus)", "agree", "SLOs"):
        table.add_column(col, overflow="fold")
    for k, s in enumerate(seen, 1):
        slos = sorted({n for x in (s.client, s.server) if x is not None for n in x.slos})
        agree = "[green]yes[/]" if s.agree else "[yellow]no[/]"
        table.add_row(str(k), _edge(s.client), _edge(s.server), agree, "\n".join(slos))
    return table


@click.command("timeline")
@target_option(help="Target file: where Prometheus answers, its scrape interval.")
@duration_option("--since", help="The window: the last 10m, 1h, ... (default 10m).")
@click.option("--from", "from_", default=None, help="Window start: epoch seconds or ISO time.")
@click.option("--to", default=None, help="Window end: epoch seconds or ISO time (default now).")
@click.option("--request-log", default=None, type=click.Path(dir_okay=False),
              help="A load run's request log (requests.jsonl): the client observer.")
@click.option("--catalog", default=None,
              help="SLO catalogue: a folder of *.yaml files or one file (default: probes/ "
                   "beside the target file or the folder above it, else the shipped one).")
@click.option("--slo", "slo_name", default="time-to-recover", show_default=True,
              help="The recovery SLO: the SLOs it names make an incident, its hold-down "
                   "separates two, its objective judges each TTR.")
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as JSON.")
def timeline(target_file: str, since: float | None, from_: str | None, to: str | None,
             request_log: str | None, catalog: str | None, slo_name: str,
             as_json: bool) -> None:
    """List every incident in a window from both observers; exit 0/1/3 on its TTRs."""
    from ..clients.prometheus import PrometheusClient
    from ..exceptions import ChaosgateError, UsageError
    from ..load.requestlog import read_request_log
    from ..paths import default_folder
    from ..slo.catalog import load_catalog
    from ..slo.check import fetch_bins
    from ..slo.incidents import client_incidents, pair, server_incidents, verdict_of
    from ..slo.measure import covered, timeline_slos
    from ..targets import load_target
    from ..verdict import exit_code

    if since is not None and (from_ is not None or to is not None):
        raise UsageError("--since and --from/--to both given. Fix: give --since 10m, or "
                         "--from T [--to T]")
    now = time.time()
    end = _moment("--to", to) or now
    start = _moment("--from", from_)
    if start is None:
        start = end - (since if since is not None else 600.0)
    if start >= end:
        raise UsageError(f"the window starts at {start:.3f}, not before its end {end:.3f}. "
                         "Fix: --from earlier than --to")
    target = load_target(target_file)
    cat = load_catalog(catalog or default_folder("probes", target.source))
    recovery = cat.get(slo_name)
    if recovery.type != "recovery":
        raise UsageError(f"--slo {slo_name!r} is a {recovery.type} SLO. Fix: name a recovery "
                         "SLO (type: recovery), e.g. time-to-recover")
    scrape = target.prometheus.scrape_interval
    problems = []
    client: list[Incident] = []
    server: list[Incident] = []
    have_data = False
    if request_log is not None:
        try:
            records = [r for r in read_request_log(request_log) if start <= r.t < end]
        except OSError as exc:
            raise UsageError(f"--request-log {request_log}: {exc.strerror or exc}. Fix: give "
                             "the requests.jsonl of a load run") from None
        have_data = bool(records)
        client = client_incidents(records, covered(recovery, cat, client=True),
                                  hold_down=recovery.hold_down, start=start,
                                  end=min(end, max((r.end for r in records), default=end)))
    try:
        prom = PrometheusClient.from_config(target.prometheus)
        bins = {s.name: fetch_bins(prom, s, start - 2 * scrape, end, scrape)
                for s in timeline_slos(recovery, cat)}
        have_data = have_data or any(b.total for v in bins.values() for b in v)
        server = server_incidents(bins, covered(recovery, cat, client=False),
                                  scrape_interval=scrape,
                                  fail_within=target.prometheus.fail_within,
                                  hold_down=recovery.hold_down, start=start, end=end)
    except UsageError:
        raise
    except ChaosgateError as exc:
        problems.append(f"server observer unavailable: {exc}")
    seen = pair(client, server)
    verdict, reason = verdict_of(seen, recovery.objective, end, have_data)
    code = exit_code(verdict)
    if as_json:
        doc = {"from": start, "to": end, "slo": recovery.name, "objective": recovery.objective,
               "hold_down": recovery.hold_down, "verdict": verdict, "reason": reason,
               "exit_code": code, "problems": problems,
               "incidents": [s.to_json() for s in seen]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        from ..faults.timeline import format_clock

        title = (f"Incidents {format_clock(start)} → {format_clock(end)} UTC "
                 f"({recovery.name}: hold-down {recovery.hold_down:g} s)")
        console.print(_table(seen, title) if seen else f"{title}: no incident")
        for p in problems:
            console.print(f"[yellow]{p}[/]")
        console.print(f"{verdict}: {reason}")
    click.get_current_context().exit(code)
