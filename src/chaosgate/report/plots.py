"""Game-day plots as PNG bytes: the timeline, MTTR over repetitions, TTR over runs.

Data in, PNG bytes out: no file I/O apart from :func:`save_png`, no pyplot
(no global figure state), the Agg canvas directly, matplotlib's default
style whatever the user's matplotlibrc says, and no version stamp in the
PNG metadata, so the same data always gives the same bytes and the same
pixel size.

The timeline is drawn over time relative to ``t_inject`` in 1 s bins
aligned on it: requests/s and errors/s by request start (the open-model
arrival rate), and the client p95 latency of the successful requests that
started in each bin, as an exact nearest-rank percentile of their
durations (an observed value, never interpolated or rounded). Errors are
shown separately, so a failed request's fast error does not hide in the
latency line.
"""

from __future__ import annotations

import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..load.requestlog import RequestRecord
from .model import TimelineMarks

__all__ = ["TimelineBins", "bin_records", "mttr_png", "save_png", "timeline_png", "trend_png"]

# matplotlib's defaults (not the user's matplotlibrc), then ours.
_STYLE: list[str | dict[str, Any]] = [
    "default", {"font.size": 10, "axes.titlesize": 11, "axes.grid": True, "grid.alpha": 0.3},
]
_LOAD, _ERR, _P95, _THR = "#1f77b4", "#d62728", "#6a3d9a", "#ff7f0e"
_IMPACT, _DETECT, _RECOVER, _FAULT = "#d62728", "#ff7f0e", "#2ca02c", "#7f7f7f"


@dataclass(frozen=True, slots=True)
class TimelineBins:
    """Per-second figures; ``start[i]`` is the bin's start relative to t_inject (s)."""

    start: tuple[int, ...]
    requests: tuple[int, ...]
    errors: tuple[int, ...]
    p95_ms: tuple[float, ...]  # NaN where no request succeeded in the bin


def _nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    return sorted_values[max(1, math.ceil(p / 100.0 * len(sorted_values))) - 1]


def bin_records(records: Iterable[RequestRecord], t_inject: float) -> TimelineBins:
    """Count requests and errors and take the exact p95 of ok requests per 1 s bin.

    Bins are ``[t_inject + k, t_inject + k + 1)``; every bin between the first
    and the last request is present, empty ones with zero counts.
    """
    requests: dict[int, int] = defaultdict(int)
    errors: dict[int, int] = defaultdict(int)
    ok_ms: dict[int, list[float]] = defaultdict(list)
    for r in records:
        k = math.floor(r.t - t_inject)
        requests[k] += 1
        if r.ok:
            ok_ms[k].append(r.ms)
        else:
            errors[k] += 1
    if not requests:
        return TimelineBins((), (), (), ())
    ks = range(min(requests), max(requests) + 1)
    p95 = [_nearest_rank(sorted(ok_ms[k]), 95.0) if ok_ms.get(k) else math.nan for k in ks]
    return TimelineBins(tuple(ks), tuple(requests.get(k, 0) for k in ks),
                        tuple(errors.get(k, 0) for k in ks), tuple(p95))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _new_figure(width_px: int, height_px: int, dpi: int) -> Figure:
    return Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")


def _mark_events(ax: Axes, marks: TimelineMarks, *, labels: bool) -> None:
    """Fault window and the impact/detect/recover lines, relative to t_inject."""
    ax.axvspan(0.0, marks.t_revert - marks.t_inject, color=_FAULT, alpha=0.15,
               label="fault active (inject → revert)" if labels else None)
    for t, color, style, text in ((marks.t_impact, _IMPACT, "--", "impact"),
                                  (marks.t_detect, _DETECT, ":", "detected"),
                                  (marks.t_recover, _RECOVER, "--", "recovered")):
        if t is not None:
            ax.axvline(t - marks.t_inject, color=color, linestyle=style, linewidth=1.4,
                       label=text if labels else None)


def _ttr_span(marks: TimelineMarks) -> tuple[float, float] | None:
    """(start, length) of the TTR span relative to t_inject, when known."""
    start = (marks.t_impact if marks.t_impact is not None else marks.t_inject) - marks.t_inject
    if marks.ttr_s is not None:
        return start, marks.ttr_s
    if marks.t_recover is not None and marks.t_impact is not None:
        return start, marks.t_recover - marks.t_impact
    return None


def _annotate_ttr(ax: Axes, marks: TimelineMarks) -> None:
    span = _ttr_span(marks)
    top = ax.get_ylim()[1]
    if span is None:
        if marks.t_impact is not None:
            ax.annotate("not recovered", (marks.t_impact - marks.t_inject, top * 0.9),
                        color=_IMPACT, fontweight="bold", ha="left", va="center")
        return
    start, length = span
    y = top * 0.9
    ax.annotate("", xy=(start + length, y), xytext=(start, y),
                arrowprops={"arrowstyle": "<|-|>", "color": "black", "linewidth": 1.3})
    ax.annotate(f"TTR {length:.1f} s", (start + length / 2.0, y), xytext=(0, 4),
                textcoords="offset points", ha="center", va="bottom", fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                      "edgecolor": "none"})


def timeline_png(records: Iterable[RequestRecord], marks: TimelineMarks, *, title: str = "",
                 width_px: int = 1200, height_px: int = 720, dpi: int = 100) -> bytes:
    """The game-day timeline as PNG bytes of exactly ``width_px`` x ``height_px``.

    Top: requests/s and errors/s. Bottom: client p95 latency per second with
    the SLO threshold. Both: the fault window shaded and the impact,
    detection and recovery instants; the TTR is an annotated span.
    """
    bins = bin_records(records, marks.t_inject)
    x = [float(s) for s in bins.start]
    with matplotlib.style.context(_STYLE):
        fig = _new_figure(width_px, height_px, dpi)
        load_ax, lat_ax = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        fig.suptitle(title or "Game day timeline", fontweight="bold")
        _mark_events(load_ax, marks, labels=True)
        _mark_events(lat_ax, marks, labels=False)
        if x:
            edges = [*x, x[-1] + 1.0]
            load_ax.stairs(bins.requests, edges, color=_LOAD, linewidth=1.6,
                           label="requests/s (sent)")
            load_ax.stairs(bins.errors, edges, color=_ERR, fill=True, alpha=0.6,
                           label="errors/s")
            lat_ax.stairs(bins.p95_ms, edges, color=_P95, linewidth=1.6,
                          label="p95 latency (ok requests)")
        else:
            load_ax.text(0.5, 0.5, "no requests recorded", transform=load_ax.transAxes,
                         ha="center", va="center", color=_ERR, fontsize=14)
        if marks.latency_threshold_ms is not None:
            lat_ax.axhline(marks.latency_threshold_ms, color=_THR, linestyle="--",
                           linewidth=1.4, label=f"SLO p95 ≤ {marks.latency_threshold_ms:g} ms")
        load_ax.set_ylim(bottom=0.0, top=max([*bins.requests, 1]) * 1.25)
        finite = [v for v in bins.p95_ms if not math.isnan(v)]
        lat_top = max([*finite, marks.latency_threshold_ms or 0.0, 1.0]) * 1.15
        lat_ax.set_ylim(bottom=0.0, top=lat_top)
        load_ax.set_title("Load and errors (1 s bins)", loc="left")
        load_ax.set_ylabel("requests per second")
        lat_ax.set_title("Client p95 latency (1 s bins)", loc="left")
        lat_ax.set_ylabel("latency (ms)")
        _annotate_ttr(load_ax, marks)
        when = datetime.fromtimestamp(marks.t_inject, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lat_ax.set_xlabel(f"time since fault injection (s); injected at {when}")
        handles, names = load_ax.get_legend_handles_labels()
        more, more_names = lat_ax.get_legend_handles_labels()
        fig.legend([*handles, *more], [*names, *more_names], loc="outside lower center",
                   ncol=4, frameon=False)
        return _png(fig)


def mttr_png(ttrs: Sequence[float | None], *, title: str = "",
             ci: tuple[float, float] | None = None,
             width_px: int = 900, height_px: int = 450, dpi: int = 100) -> bytes:
    """TTR of each repetition as bars, with the mean and median (MTTR) lines.

    A ``None`` TTR (did not recover, or could not be measured) is drawn as a
    red cross on the axis and left out of the mean and median. ``ci`` is an
    optional confidence interval of the mean, drawn as a band.
    """
    measured = [t for t in ttrs if t is not None]
    with matplotlib.style.context(_STYLE):
        fig = _new_figure(width_px, height_px, dpi)
        ax = fig.subplots()
        fig.suptitle(title or "Time to recover over repetitions", fontweight="bold")
        reps = list(range(1, len(ttrs) + 1))
        ax.bar([r for r, t in zip(reps, ttrs, strict=True) if t is not None], measured,
               color=_LOAD, alpha=0.8, label="TTR of a repetition")
        missing = [r for r, t in zip(reps, ttrs, strict=True) if t is None]
        if missing:
            ax.plot(missing, [0.0] * len(missing), linestyle="none", marker="x", color=_ERR,
                    markersize=10, markeredgewidth=2, label="not recovered / no data")
        if ci is not None:
            ax.axhspan(ci[0], ci[1], color=_FAULT, alpha=0.2,
                       label=f"confidence interval {ci[0]:.1f} to {ci[1]:.1f} s")
        if measured:
            mean, median = statistics.fmean(measured), statistics.median(measured)
            ax.axhline(mean, color=_THR, linewidth=1.6, label=f"mean (MTTR) {mean:.1f} s")
            ax.axhline(median, color=_RECOVER, linestyle="--", linewidth=1.6,
                       label=f"median {median:.1f} s")
        else:
            ax.text(0.5, 0.5, "no repetition recovered", transform=ax.transAxes,
                    ha="center", va="center", color=_ERR, fontsize=14)
        ax.set_xticks(reps or [1])
        ax.set_xlim(0.4, max(len(reps), 1) + 0.6)
        ax.set_ylim(bottom=0.0, top=max([*measured, *(ci or ()), 1.0]) * 1.2)
        ax.set_xlabel("repetition")
        ax.set_ylabel("time to recover (s)")
        ax.legend(loc="upper left", fontsize=9)
        return _png(fig)


def trend_png(runs: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
              title: str = "", width_px: int = 1000, height_px: int = 420,
              dpi: int = 100) -> bytes:
    """TTR per game day over runs: one line per game day, one point per run.

    ``runs`` names the runs (oldest first, the x axis); each series is a game
    day and its TTR per run, ``None`` where it did not run, did not recover
    or was not measured (a gap in the line).
    """
    with matplotlib.style.context(_STYLE):
        fig = _new_figure(width_px, height_px, dpi)
        ax = fig.subplots()
        fig.suptitle(title or "Time to recover per game day, over runs", fontweight="bold")
        x = list(range(len(runs)))
        top = 1.0
        for name, values in series:
            ys = [math.nan if v is None else v for v in values]
            ax.plot(x, ys, marker="o", linewidth=1.6, label=name)
            top = max([top, *(v for v in values if v is not None)])
        ax.set_xticks(x or [0], list(runs) or [""])
        ax.set_xlim(-0.5, max(len(runs) - 1, 0) + 0.5)
        ax.set_ylim(bottom=0.0, top=top * 1.2)
        ax.set_xlabel("run (oldest first)")
        ax.set_ylabel("time to recover (s)")
        if series:
            fig.legend(loc="outside right center", fontsize=9, frameon=False)
        return _png(fig)


def save_png(png: bytes, path: Path | str) -> Path:
    """Write PNG bytes to ``path`` (parents created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    return target
