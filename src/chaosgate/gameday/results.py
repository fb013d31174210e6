"""From game-day runs to what the reports read: SLO rows, TTR, MTTR, a journal.

Pure: plain data in (:class:`~chaosgate.gameday.engine.GameDayRun` and the SLO
catalogue), plain data out (:class:`~chaosgate.report.model.GameDayResult`,
:class:`~chaosgate.report.model.SLORow`, JSON-ready mappings). The pytest
plugin and ``chaosgate gameday`` draw the plots and write the files.

The SLO rows of a game day are every gate that decided it (steady state,
error budgets, recovery by each observer, scenario checks), then every
statistical verdict that is only *reported* (server side, Clopper-Pearson,
with the PromQL used), named ``<slo> (reported, not gating)``. A repeated game day has
MTTR rows (mean and median with their bootstrap interval) and then the rows
of each repetition prefixed ``#k``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..faults import describe_fault
from ..report.model import GameDayResult, SLORow, TimelineMarks, marks_from_timeline
from ..slo.evaluate import SLOVerdict, objective_text, value_text
from ..slo.measure import timeline_slos
from ..slo.model import SLO, Catalog
from ..slo.stats import summarize_ttr
from ..slo.timeline import Estimate, Timeline
from ..verdict import VerdictName, combine
from .engine import GameDayRun
from .gates import Gate

#: Suffix of the rows of statistical verdicts that are reported beside the gates.
REPORTED = " (reported, not gating)"

__all__ = [
    "REPORTED",
    "budget_burn_of",
    "build_result",
    "failure_message",
    "journal",
    "marks_of",
    "observer_ttrs",
    "recovery_promql",
    "slo_rows",
    "ttd_of",
    "ttr_from_inject_of",
    "ttr_of",
]


def ttr_of(run: GameDayRun) -> float | None:
    """Time to recover, seconds: the request log's, else Prometheus'.

    0.0 when a fault ran and neither observer saw any impact (nothing to
    recover from); None for a baseline or when it could not be measured.
    """
    if run.ttr is not None:
        return run.ttr
    m = run.measurement
    if run.fault_run is None or m is None:
        return None
    seen = [tl for tl in m.timelines if tl.total > 0]
    return 0.0 if seen and all(tl.t_impact is None for tl in seen) else None


def _observer_ttr(tl: Timeline | None) -> Estimate | None:
    """One observer's TTR; zero when it saw events but no impact; None: unknown."""
    if tl is None:
        return None
    if tl.ttr is not None:
        return tl.ttr
    return Estimate(0.0, 0.0, 0.0) if tl.total > 0 and tl.t_impact is None else None


def observer_ttrs(run: GameDayRun) -> tuple[Estimate | None, Estimate | None]:
    """The TTR of the request log and of Prometheus (see :func:`ttr_of` for zero)."""
    m = run.measurement
    if run.fault_run is None or m is None:
        return None, None
    return _observer_ttr(m.client), _observer_ttr(m.server)


def ttd_of(run: GameDayRun) -> float | None:
    """Time to detect, seconds: from the impact to the first alert that fired.

    None when no alert fired (or none is configured): a game day without
    alerting has no time to detect, and the reports leave it out.
    """
    if run.ttd is not None:
        return run.ttd
    m = run.measurement
    return next((float(tl.t_alert.minus(tl.t_impact).t) for tl in m.timelines
                 if tl.t_alert is not None and tl.t_impact is not None), None) if m else None


def budget_burn_of(runs: Sequence[GameDayRun]) -> float | None:
    """The largest share of an error budget any run's failures used (the gates' measure)."""
    burns = [g.measure for r in runs for g in r.gates
             if g.name.endswith(": error budget") and g.measure is not None]
    return max(burns) if burns else None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def ttr_from_inject_of(run: GameDayRun) -> float | None:
    """Time to recover counted from the injection (request log first), seconds."""
    m = run.measurement
    return next((float(tl.ttr_from_inject.t) for tl in m.timelines
                 if tl.ttr_from_inject is not None), None) if m else None


def recovery_promql(run: GameDayRun, catalog: Catalog) -> str:
    """The raw counter selectors the server-side recovery timeline read."""
    recovery = catalog.get(run.config.recovery_slo)
    return "\n".join(f"{slo.name} {key}: {selector}"
                     for slo in timeline_slos(recovery, catalog)
                     for key, selector in slo.series.items())


def _gate_row(gate: Gate, prefix: str, server_promql: str) -> SLORow:
    promql = gate.query or (server_promql if gate.name.endswith("(server)") else "")
    return SLORow(prefix + gate.name, gate.value, gate.objective, gate.status, promql,
                  gate.detail)


def _reported_value(slo: SLO | None, v: SLOVerdict) -> str:
    if v.value is None:
        return "no data"
    if slo is not None and not slo.is_ratio:
        return value_text(slo, v.value)
    if slo is not None and slo.type == "error_ratio":
        return f"{(1.0 - v.value) * 100:.4f} % errors"
    text = f"{v.value * 100:.4f} % good"
    return text + (f", p{slo.percentile:g} {v.percentile_ms:.1f} ms"
                   if slo is not None and slo.percentile and v.percentile_ms is not None else "")


def _reported_row(v: SLOVerdict, catalog: Catalog, prefix: str) -> SLORow:
    slo = catalog.get(v.slo) if v.slo in catalog.names() else None
    objective = objective_text(slo) if slo is not None else f"≥ {v.objective:.4%}"
    promql = "\n".join(f"{k}: {q}" for k, q in v.query.items())
    return SLORow(f"{prefix}{v.slo}{REPORTED}", _reported_value(slo, v), objective, v.status,
                  promql, f"{v.reason} (server side, over the whole game day)")


def slo_rows(run: GameDayRun, catalog: Catalog, prefix: str = "") -> list[SLORow]:
    """Every gate of the run, then its reported verdicts (see the module docstring)."""
    server_promql = recovery_promql(run, catalog) if run.measurement else ""
    rows = [_gate_row(g, prefix, server_promql) for g in run.gates]
    if run.fault_error:
        rows.insert(0, SLORow(f"{prefix}fault took hold", "no", "verified by an active probe",
                              "inconclusive", "", run.fault_error))
    if run.aborted:
        rows.insert(0, SLORow(f"{prefix}stop conditions", "tripped", "none trips",
                              "aborted", "", run.aborted))
    rows += [_reported_row(v, catalog, prefix) for v in run.reported
             if isinstance(v, SLOVerdict)]
    return rows


def _mttr_rows(runs: Sequence[GameDayRun], catalog: Catalog) -> list[SLORow]:
    recovery = catalog.get(runs[0].config.recovery_slo)
    ttrs = [ttr_of(r) for r in runs]
    measured = [t for t in ttrs if t is not None]
    status = combine(g.status for r in runs for g in r.gates
                     if g.name.startswith(recovery.name))
    objective = f"≤ {recovery.objective:g} s"
    if not measured:
        return [SLORow("MTTR", "no data", objective, "inconclusive", "",
                       f"no repetition of {len(runs)} had a measured time to recover")]
    s = summarize_ttr(measured)
    conf = f"{s.confidence:.0%}"
    detail = (f"{len(measured)} of {len(runs)} repetitions measured; percentile bootstrap "
              f"({conf}, seed {s.seed}); TTR per repetition: "
              + ", ".join("—" if t is None else f"{t:.2f} s" for t in ttrs))
    return [
        SLORow("MTTR (mean)", f"{s.mean:.2f} s [{s.mean_ci[0]:.2f}, {s.mean_ci[1]:.2f}]",
               objective, status, "", detail),
        SLORow("MTTR (median)", f"{s.median:.2f} s [{s.median_ci[0]:.2f}, {s.median_ci[1]:.2f}]",
               objective, status, "", detail),
    ]


def failure_message(rows: Sequence[SLORow], verdict: VerdictName, fault_error: str = "") -> str:
    """One line saying why a game day did not pass ('' when it passed)."""
    if verdict == "pass":
        return ""
    if verdict in ("inconclusive", "aborted") and fault_error:
        return fault_error
    gating = [r for r in rows if r.verdict == verdict and not r.slo.endswith(REPORTED)]
    return "; ".join(f"{r.slo}: {r.value} (objective {r.objective})"
                     + (f" — {r.detail}" if verdict == "inconclusive" and r.detail else "")
                     for r in gating) or f"the game day is {verdict}"


def build_result(name: str, runs: Sequence[GameDayRun], catalog: Catalog, *,
                 description: str = "", suite: str = "gamedays",
                 labels: Sequence[tuple[str, str]] = (), plot_png: bytes | None = None,
                 mttr_plot_png: bytes | None = None,
                 allure_uuid: str | None = None) -> GameDayResult:
    """The report entry of one game day run ``len(runs)`` times (at least once)."""
    if not runs:
        raise ValueError(f"game day {name!r}: no run to report")
    first, last = runs[0], runs[-1]
    verdict = combine(r.verdict for r in runs)
    if len(runs) == 1:
        rows = slo_rows(first, catalog)
        ttr = ttr_of(first)
        reps: tuple[float | None, ...] = ()
    else:
        rows = _mttr_rows(runs, catalog)
        for k, run in enumerate(runs, 1):
            rows += slo_rows(run, catalog, prefix=f"#{k} ")
        reps = tuple(ttr_of(r) for r in runs)
        measured = [t for t in reps if t is not None]
        ttr = sum(measured) / len(measured) if measured else None
    fault_error = next((r.aborted for r in runs if r.aborted), "") or \
        next((r.fault_error for r in runs if r.fault_error), "")
    spec = first.config.fault
    observed = [observer_ttrs(r) for r in runs]
    bounds: tuple[float, float] | None = None
    if len(runs) == 1:
        best = next((e for e in observed[0] if e is not None), None)
        bounds = None if best is None or ttr is None else (best.lo, best.hi)
    elif ttr is not None:
        bounds = summarize_ttr([t for t in reps if t is not None]).mean_ci
    return GameDayResult(
        name=name, verdict=verdict, slos=tuple(rows), ttr_s=ttr,
        ttr_from_inject_s=ttr_from_inject_of(first) if len(runs) == 1 else None,
        suite=suite, fault=describe_fault(spec) if spec else "none (baseline)",
        description=description, message=failure_message(rows, verdict, fault_error),
        started=first.started, stopped=last.stopped or None, plot_png=plot_png,
        ttr_repetitions=reps, mttr_plot_png=mttr_plot_png, allure_uuid=allure_uuid,
        labels=tuple(labels), ttr_bounds=bounds,
        ttr_client_s=_mean([None if c is None else c.t for c, _ in observed]),
        ttr_server_s=_mean([None if srv is None else srv.t for _, srv in observed]),
        ttd_s=_mean([ttd_of(r) for r in runs]), budget_burn=budget_burn_of(runs))


def marks_of(run: GameDayRun, catalog: Catalog) -> TimelineMarks | None:
    """The timeline plot's marks (request-log timeline first); None without a timeline."""
    m = run.measurement
    timeline = (m.client or m.server) if m else None
    if timeline is None:
        return None
    fault = run.fault_timeline
    t_revert = fault.t_revert if fault and fault.t_revert else timeline.t_inject
    recovery = catalog.get(run.config.recovery_slo)
    thresholds = [s.threshold for s in timeline_slos(recovery, catalog)
                  if s.type == "latency" and s.threshold is not None]
    return marks_from_timeline(timeline, t_revert=t_revert,
                               latency_threshold_ms=thresholds[0] * 1000 if thresholds else None)


def _gate_json(g: Gate) -> dict[str, str]:
    return {"name": g.name, "status": g.status, "value": g.value, "objective": g.objective,
            "detail": g.detail, "query": g.query}


def journal(run: GameDayRun, *, ledger_entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole run as plain data (Chaos Toolkit journal-like), for an attachment."""
    c, m, fault = run.config, run.measurement, run.fault_timeline
    return {
        "gameday": c.name, "verdict": run.verdict, "started": run.started,
        "stopped": run.stopped, "ttr_s": ttr_of(run),
        "config": {"fault": dict(c.fault) if c.fault else None, "rate": c.rate,
                   "profile": c.profile, "warmup_s": c.warmup, "hold_s": c.hold_s,
                   "observe_s": c.observe, "recovery_slo": c.recovery_slo,
                   "max_budget_burn": c.max_budget_burn, "seed": c.seed},
        "target": {"name": run.target.name, "platform": run.target.platform.type,
                   "ingress": run.target.ingress_url},
        "phases": [{"name": p.name, "start": p.start, "stop": p.stop, "status": p.status,
                    "detail": p.detail} for p in run.phases],
        "gates": [_gate_json(g) for g in run.gates],
        "reported": [v.to_json() for v in run.reported if isinstance(v, SLOVerdict)],
        "measurement": None if m is None else {
            "slo": m.slo, "client": m.client.to_json() if m.client else None,
            "server": m.server.to_json() if m.server else None,
            "disagreements": [d.describe() for d in m.disagreements]},
        "fault": fault.to_json() if fault else None, "fault_error": run.fault_error,
        "ledger": dict(ledger_entry) if ledger_entry else None,
        "load": run.load.to_json() if run.load else None,
    }
