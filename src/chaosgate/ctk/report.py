"""A Chaos Toolkit run as the reports see it: SLO rows, plot marks, a game-day result. Pure.

Read from the journal alone (its ``chaosgate`` section, see
:mod:`chaosgate.ctk.journal`) and the SLO catalogue, so a journal on disk
gives the same report as the run that wrote it. The rows say why the run
got its verdict: the steady-state hypothesis (Chaos Toolkit's), the actions
that failed and the controls' problems, every gate, then each statistical
SLO verdict (with its PromQL), reported and not gating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..report.model import GameDayResult, SLORow, TimelineMarks
from ..slo.evaluate import objective_text, value_text
from ..slo.measure import timeline_slos
from ..slo.model import Catalog
from ..verdict import is_verdict
from .journal import KEY, failed_actions

__all__ = ["SUITE", "experiment_result", "plot_marks", "slo_rows"]

SUITE = "chaos experiments"


def _best(estimate: Mapping[str, Any] | None) -> float | None:
    return None if not estimate else float(estimate["t"])


def _hypothesis_rows(section: Mapping[str, Any]) -> list[SLORow]:
    rows = []
    for phase, met in (section.get("steady_state") or {}).items():
        if met is None:
            continue
        rows.append(SLORow(f"steady-state hypothesis {phase} the method",
                           "met" if met else "not met", "every probe within its tolerance",
                           "pass" if met else ("fail" if phase == "after" else "inconclusive"),
                           "", "Chaos Toolkit's hypothesis, as declared in the experiment"))
    return rows


def _reported_row(v: Mapping[str, Any], catalog: Catalog) -> SLORow:
    slo = catalog.get(v["slo"]) if v["slo"] in catalog.names() else None
    value = v.get("value")
    if value is None:
        shown = "no data"
    elif v["type"] == "recovery":
        shown = f"{value:.2f} s"
    elif slo is not None and not slo.is_ratio:
        shown = f"{value_text(slo, value)} of {v.get('total')}"
    else:
        shown = f"{value * 100:.4f} % good of {v.get('total')}"
    query = "\n".join(f"{k}: {q}" for k, q in (v.get("query") or {}).items())
    return SLORow(f"{v['slo']} ({v['observer']}, reported)", shown,
                  objective_text(slo) if slo is not None else f"{v['objective']:g}",
                  v["status"], query, f"{v['reason']} (over the whole run; not gating)")


def _series(catalog: Catalog, recovery_slo: str) -> str:
    """The raw counters Prometheus' recovery timeline is read from."""
    if recovery_slo not in catalog.names():
        return ""
    return "\n".join(f"{s.name} {key}: {selector}"
                     for s in timeline_slos(catalog.get(recovery_slo), catalog)
                     for key, selector in s.series.items())


def slo_rows(journal: Mapping[str, Any], catalog: Catalog,
             recovery_slo: str = "time-to-recover") -> list[SLORow]:
    """Every row of the run's SLO table, deciding rows first."""
    section = journal.get(KEY) or {}
    rows = _hypothesis_rows(section)
    rows += [SLORow("action", "failed", "the fault took hold", "inconclusive", "", why)
             for why in failed_actions(journal)]
    series = _series(catalog, recovery_slo)
    rows += [SLORow(str(g["name"]), str(g["value"]), str(g["objective"]), g["status"],
                    str(g.get("query") or (series if g["name"].endswith("(server)") else "")),
                    str(g["detail"]))
             for g in section.get("gates") or ()]
    rows += [_reported_row(v, catalog) for v in section.get("verdicts") or ()]
    return rows


def plot_marks(section: Mapping[str, Any], catalog: Catalog,
               recovery_slo: str = "time-to-recover") -> TimelineMarks | None:
    """The timeline plot's marks (request log first, else Prometheus); None without a fault."""
    timeline = section.get("timeline") or {}
    seen = timeline.get("client") or timeline.get("server")
    if not seen or timeline.get("t_inject") is None:
        return None
    reverts = [f["t_revert"] for f in section.get("faults") or () if f.get("t_revert")]
    thresholds = [s.threshold for s in timeline_slos(catalog.get(recovery_slo), catalog)
                  if s.type == "latency" and s.threshold is not None]
    return TimelineMarks(
        t_inject=float(timeline["t_inject"]),
        t_revert=max(reverts) if reverts else float(timeline["t_inject"]),
        t_impact=_best(seen.get("t_impact")), t_detect=_best(seen.get("t_detect")),
        t_recover=_best(seen.get("t_recover")), ttr_s=_best(seen.get("ttr")),
        latency_threshold_ms=thresholds[0] * 1000 if thresholds else None)


def _epoch(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def experiment_result(journal: Mapping[str, Any], rows: Sequence[SLORow], *,
                      plot_png: bytes | None = None,
                      labels: Sequence[tuple[str, str]] = ()) -> GameDayResult:
    """The run as a game-day result (the Allure test, the summary page).

    Its verdict is the one the ``slo`` control decided and wrote into the
    journal (inconclusive when there is none).
    """
    experiment = journal.get("experiment") or {}
    section = journal.get(KEY) or {}
    ttrs = section.get("ttr") or {}
    ttr = next((ttrs[k] for k in ("client", "server") if ttrs.get(k) is not None), None)
    timeline = section.get("timeline") or {}
    seen = timeline.get("client") or timeline.get("server") or {}
    faults = section.get("faults") or ()
    kinds = ", ".join(dict.fromkeys(str(f["kind"]) for f in faults))
    told = "\n\n".join(f"**{f['kind']}** `{f['fault_id']}`: {f['description']}" for f in faults)
    tags = [("tag", str(t)) for t in experiment.get("tags") or ()]
    verdict = section.get("verdict")
    detection = section.get("detection") or {}
    first = [(detection.get(k) or {}).get("ttd") for k in ("prometheus", "notification")]
    return GameDayResult(
        name=str(experiment.get("title", "chaos experiment")),
        verdict=verdict if is_verdict(verdict) else "inconclusive", slos=tuple(rows), ttr_s=ttr,
        ttr_from_inject_s=_best(seen.get("ttr_from_inject")), suite=SUITE,
        ttd_s=next((float(t) for t in first if t is not None), None),
        fault=kinds or "none (baseline)",
        description="\n\n".join(t for t in (str(experiment.get("description", "")), told) if t),
        message="; ".join(section.get("reasons") or ()), started=_epoch(journal.get("start")),
        stopped=_epoch(journal.get("end")), plot_png=plot_png,
        labels=(("tag", "chaostoolkit"), *tags, *labels))
