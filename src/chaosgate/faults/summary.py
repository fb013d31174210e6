"""One-line facts about a finished fault, read off its timeline. Pure.

For a pod kill: when each pod died, was restarted, ran and was ready again;
for a network fault: how long each link was down (or slowed); for a
failover: the leader change and the new timeline. Offsets are seconds after
``t_inject``. Everything comes from the timeline: its marks, its ground-truth
moments and its ``subjects`` (the pods, links or members the change acts on,
as the platform named them); never from a platform's private change data.
"""

from __future__ import annotations

from ..platforms.base import FaultKind
from .timeline import FaultTimeline, first

__all__ = ["summarize"]


def _at(t: float | None, base: float) -> str:
    return "not seen" if t is None else f"{t - base:+.2f} s"


def _pods(timeline: FaultTimeline, base: float) -> list[str]:
    lines = []
    for name in timeline.subjects:
        died = first(timeline.moments, name, "process died", base - 1)
        started = first(timeline.moments, name, "starting", base - 1)
        running = first(timeline.moments, name, "RUNNING", base)
        ready = first(timeline.moments, name, "ready again", base)
        again = running.what.removeprefix("RUNNING").strip() if running else ""
        parts = [f"{name} killed",
                 f"died {_at(died.t if died else None, base)}"]
        if started or running:
            parts.append(f"restarted {_at(started.t if started else None, base)}")
        if running:  # supervisord says RUNNING `startsecs` after the spawn: maybe not yet
            parts.append(f"RUNNING {again} {_at(running.t, base)}")
        incarnation = ready.what.removeprefix("ready again").strip() if ready else ""
        parts.append(f"ready again {incarnation} {_at(ready.t, base)}" if ready and incarnation
                     else f"ready again {_at(ready.t if ready else None, base)}")
        lines.append(", ".join(parts))
        if ready is not None:
            lines.append(f"{name}: time until ready again: {ready.t - base:.2f} s "
                         "(from t_inject, to the readiness poll)")
    return lines


def _links(timeline: FaultTimeline, base: float) -> list[str]:
    lines = []
    for name in timeline.subjects:
        on = first(timeline.moments, name, "link down", base - 1) or first(
            timeline.moments, name, "", base - 1)
        ups = [m for m in timeline.moments if m.subject == name and m.t > (on.t if on else base)
               and (m.what == "link up" or m.what.endswith(" off")
                    or m.what.startswith("recover"))]
        off = max(ups, key=lambda m: m.t) if ups else None
        held = f" ({off.t - on.t:.2f} s)" if on and off else ""
        lines.append(f"{name}: {on.what if on else 'change not seen'} "
                     f"{_at(on.t if on else None, base)} -> "
                     f"{off.what if off else 'restore not seen'} "
                     f"{_at(off.t if off else None, base)}{held}")
    return lines


def _database(timeline: FaultTimeline, base: float) -> list[str]:
    old = timeline.subjects[0] if timeline.subjects else "?"
    lines = [f"leader {old} -> new leader verified "
             f"{_at(timeline.t_verified, base)} ({timeline.verify_detail})"]
    lines += [f"{m.what} {_at(m.t, base)}" for m in timeline.moments
              if m.what.startswith("timeline")]
    killed = first(timeline.moments, old, "SIGKILL", base - 1)
    if killed is not None:  # a node crash: the old leader's node went down and came back
        lines.insert(0, f"{old}: {killed.what} {_at(killed.t, base)}")
        back = first(timeline.moments, old, "starting", base)
        lines.append(f"{old}: started again {_at(back.t if back else None, base)}, "
                     f"rejoined {_at(timeline.t_healed, base)} ({timeline.healed_detail})")
    return lines


def summarize(timeline: FaultTimeline) -> list[str]:
    """Human lines for ``timeline``."""
    base = timeline.t_inject
    if base is None:
        return ["the fault was never applied"]
    if timeline.kind == FaultKind.KILL_PODS:
        lines = _pods(timeline, base)
    elif timeline.kind in (FaultKind.PARTITION, FaultKind.LATENCY):
        lines = _links(timeline, base)
    elif timeline.kind == FaultKind.FAILOVER_DB:
        lines = _database(timeline, base)
    else:
        lines = [f"verified {_at(timeline.t_verified, base)}: {timeline.verify_detail}"]
    lines.append(f"reverted {_at(timeline.t_revert, base)}; healed "
                 f"{_at(timeline.t_healed, base)}: {timeline.healed_detail}")
    return lines
