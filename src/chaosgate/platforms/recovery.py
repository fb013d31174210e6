"""The recovery point's read-back: acknowledged writes looked up on the database.

What to read is data, not code: the target's ``database.recovery_point``
names the connection string (by value without a secret, or by environment
variable or file) and the query, which takes ``%(seqs)s`` (the client
sequence numbers) and ``%(since)s`` (epoch seconds) and returns rows
``(client_seq, id)``. :mod:`chaosgate.gameday.recovery_point` judges them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..clients import postgres
from ..exceptions import Inconclusive
from ..targets import Target

__all__ = ["stored_writes", "unchecked_reason"]


def unchecked_reason(target: Target) -> str | None:
    """Why ``target``'s writes cannot be read back (None: they can)."""
    if target.database is None or target.database.recovery_point is None:
        return (f"{target.source} sets no database.recovery_point, so acknowledged writes "
                "cannot be read back (add `recovery_point: {dsn_env: VAR, query: ...}` to "
                "its database block)")
    return None


def stored_writes(target: Target, client_seqs: Sequence[int],
                  since: float) -> dict[int, list[int]]:
    """``client_seq`` -> ids of the writes stored for it since ``since`` (epoch seconds),
    by the target's recovery-point query. Inconclusive when the target has none or the
    database cannot be read."""
    reason = unchecked_reason(target)
    if reason is not None:
        raise Inconclusive(reason)
    assert target.database is not None and target.database.recovery_point is not None
    point = target.database.recovery_point
    rows = postgres.query(point.conninfo(), point.query,
                          {"seqs": list(client_seqs), "since": since})
    found: dict[int, list[int]] = {}
    for seq, write_id in rows:
        found.setdefault(int(seq), []).append(int(write_id))
    return found
