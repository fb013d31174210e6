"""A fault's timeline: when chaosgate acted, and when the system really changed. Pure.

Every fault records ``t_inject`` (the fault call returned) and ``t_revert``
(the revert returned), as docs/architecture.md defines them, plus
``t_verified`` (its active probe first saw it take hold) and ``t_healed``
(the probe first saw it gone). Ground-truth :class:`Moment`\\ s come from
the platform (process events, link events, Patroni timeline changes) and
from polls (a killed pod's ``/healthz`` answering again, to the poll
interval). Times are epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..platforms.base import FaultKind, Moment

__all__ = ["CHAOSGATE", "FaultTimeline", "TimelineRow", "first", "format_clock", "healed_by"]

CHAOSGATE = "chaosgate"


@dataclass(frozen=True)
class TimelineRow:
    """One line of a printed timeline."""

    t: float
    offset: float | None  # seconds after t_inject
    what: str
    subject: str
    source: str


@dataclass
class FaultTimeline:
    """What a fault did and when, with the ground truth gathered for it."""

    fault_id: str
    kind: FaultKind
    description: str
    subjects: tuple[str, ...] = ()  # the pods, links or members the change acts on
    t_apply: float | None = None  # the change began: it may take hold before t_inject
    t_inject: float | None = None
    t_verified: float | None = None
    t_revert: float | None = None
    t_healed: float | None = None
    verify_detail: str = ""
    healed_detail: str = ""
    moments: list[Moment] = field(default_factory=list)

    def add(self, moments: Iterable[Moment]) -> None:
        """Add ground-truth moments (duplicates are dropped)."""
        seen = {(m.t, m.what, m.subject) for m in self.moments}
        for m in moments:
            if (m.t, m.what, m.subject) not in seen:
                self.moments.append(m)
                seen.add((m.t, m.what, m.subject))

    @property
    def healed_at(self) -> float | None:
        """When the fault was over: its ground-truth healed moment, else its revert (None:
        still applied, or never applied)."""
        return self.t_healed if self.t_healed is not None else self.t_revert

    def rows(self) -> list[TimelineRow]:
        """Every mark and moment, in time order, with offsets from ``t_inject``."""
        marks = [
            (self.t_inject, "t_inject: fault applied", self.fault_id),
            (self.t_verified, "verified: took hold", self.fault_id),
            (self.t_revert, "t_revert: revert returned", self.fault_id),
            (self.t_healed, "verified: healed", self.fault_id),
        ]
        items = [Moment(t, what, subject, CHAOSGATE) for t, what, subject in marks
                 if t is not None]
        items += self.moments
        items.sort(key=lambda m: (m.t, m.source != CHAOSGATE))
        base = self.t_inject
        return [TimelineRow(m.t, None if base is None else m.t - base, m.what, m.subject,
                            m.source) for m in items]

    def to_json(self) -> dict[str, Any]:
        """Plain data for reports and journals."""
        return {
            "fault_id": self.fault_id, "kind": self.kind, "description": self.description,
            "subjects": list(self.subjects), "t_apply": self.t_apply,
            "t_inject": self.t_inject, "t_verified": self.t_verified,
            "t_revert": self.t_revert, "t_healed": self.t_healed,
            "moments": [m.to_json() for m in sorted(self.moments, key=lambda m: m.t)],
        }


def first(moments: Iterable[Moment], subject: str, prefix: str, after: float) -> Moment | None:
    """The earliest moment of ``subject`` whose text starts with ``prefix`` after ``after``."""
    found = [m for m in moments
             if m.subject == subject and m.what.startswith(prefix) and m.t >= after]
    return min(found, key=lambda m: m.t) if found else None


def healed_by(timelines: Iterable[FaultTimeline | None]) -> float | None:
    """When the last of ``timelines``' faults was over (:attr:`FaultTimeline.healed_at`);
    None when there is none or one is not over yet (nothing bounds the incident then)."""
    found = [tl.healed_at for tl in timelines if tl is not None]
    if not found or any(t is None for t in found):
        return None
    return max(t for t in found if t is not None)


def format_clock(t: float) -> str:
    """``HH:MM:SS.mmm`` in UTC."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
