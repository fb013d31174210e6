"""Recovery point: did every acknowledged write survive a failover? Pure.

A write is *acknowledged* when the system said so: a checkout answered 201
with its order id, for the ``client_seq`` the load generator sent (the
checkout log, :class:`~chaosgate.load.run.Checkout`). After the failover,
the caller looks every acknowledged ``client_seq`` up on the new primary
and hands over what it found (``client_seq`` -> the order ids stored for
it since the run began: ``client_seq`` restarts with every run). An
acknowledged write whose order id is not among them is **lost** (a new
primary may hand the same id to another order, so the pair is checked);
one stored more than once is **duplicated** (a retry stored it twice). The gate allows no lost
write (the shop's promise: synchronous replication, no data loss).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..load.run import Checkout
from ..verdict import VerdictName
from .gates import Gate

__all__ = ["RecoveryPoint", "acknowledged", "recovery_point", "recovery_point_gate"]


@dataclass(frozen=True)
class RecoveryPoint:
    """What became of the acknowledged writes: how many were looked up, which were lost
    (by ``client_seq``), which stored more than once, and the span they were made in."""

    checked: int
    lost: tuple[int, ...]
    duplicated: tuple[int, ...]
    first: float | None = None  # the first acknowledged write's start, epoch seconds
    last: float | None = None

    def describe(self) -> str:
        """``412 acknowledged writes checked: 0 lost, 0 duplicated``."""
        text = (f"{self.checked} acknowledged writes checked: {len(self.lost)} lost, "
                f"{len(self.duplicated)} duplicated")
        if self.lost:
            text += f" (lost client_seq {', '.join(map(str, self.lost[:5]))}"
            text += ", ...)" if len(self.lost) > 5 else ")"
        return text

    def to_json(self) -> dict[str, Any]:
        """Plain data for reports and journals."""
        return {"checked": self.checked, "lost": len(self.lost),
                "duplicated": len(self.duplicated), "lost_client_seq": list(self.lost),
                "duplicated_client_seq": list(self.duplicated),
                "first": self.first, "last": self.last}


def acknowledged(checkouts: Iterable[Checkout]) -> list[Checkout]:
    """The checkouts the system acknowledged: answered 201 with an order id."""
    return [c for c in checkouts if c.ok and c.order_id is not None
            and (c.status is None or c.status == 201)]


def recovery_point(checkouts: Iterable[Checkout],
                   found: Mapping[int, Sequence[int]]) -> RecoveryPoint:
    """Lost and duplicated acknowledged writes, from what the lookup ``found``."""
    acked = acknowledged(checkouts)
    seqs = sorted({c.client_seq for c in acked})
    ids: dict[int, set[int]] = {}
    for c in acked:
        if c.order_id is not None:
            ids.setdefault(c.client_seq, set()).add(c.order_id)
    lost = tuple(s for s in seqs if not ids[s] <= set(found.get(s, ())))
    duplicated = tuple(s for s in seqs if len(found.get(s, ())) > 1)
    times = [c.t for c in acked]
    return RecoveryPoint(len(seqs), lost, duplicated, min(times, default=None),
                         max(times, default=None))


def recovery_point_gate(point: RecoveryPoint | None, *, max_lost: int = 0,
                        why_unchecked: str = "") -> Gate:
    """The gate: at most ``max_lost`` acknowledged writes lost (duplicates are reported).
    No acknowledged write, or no lookup, is inconclusive, never a pass."""
    name, objective = "acknowledged writes survive", f"≤ {max_lost} lost"
    if point is None:
        return Gate(name, "inconclusive", "not checked", objective,
                    why_unchecked or "the writes could not be looked up")
    if point.checked == 0:
        return Gate(name, "inconclusive", "0 checked", objective,
                    "no write was acknowledged during the run: nothing to look up")
    status: VerdictName = "pass" if len(point.lost) <= max_lost else "fail"
    return Gate(name, status, f"{len(point.lost)} lost, {len(point.duplicated)} duplicated",
                objective, point.describe())
