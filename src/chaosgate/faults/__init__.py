"""What to break, always with a way back: faults, the ledger, the fault session.

- :class:`FaultSession` (:mod:`.session`): the one owner of a run's faults;
  inject, verify, hold, revert, wait healed, ``revert_all``, signal guard.
  Every front end goes through it.
- :class:`PodKill`, :class:`NetworkPartition`, :class:`Latency`,
  :class:`DatabaseFailover`, :class:`ResourceExhaustion`: each plans a
  platform change (no side effect; ``plan()`` is the dry run), writes it to
  the :class:`Ledger` before applying it, verifies it with an active probe
  and reverts it idempotently (:mod:`.base`).
- :mod:`.spec`: a fault as plain data (``{"kind": "partition", ...}``);
  :class:`FaultKind` is each kind's one name.
- :func:`cleanup` reverts what a killed process left open in the ledger.
- :mod:`.selection` (pure): seeded selection and the safety block.
"""

from __future__ import annotations

from ..platforms.base import FaultKind
from .base import AppliedFault, Fault, FaultContext, new_fault_id
from .cleanup import CleanupReport, cleanup
from .database import DatabaseFailover
from .ledger import LEGACY_LEDGER, Ledger, LedgerEntry, ledger_for, ledger_path, target_key
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion
from .selection import SafetyRefused
from .session import FaultRun, FaultSession, RevertReport
from .signals import Interrupted
from .spec import build_fault, check_spec, describe_fault
from .timeline import FaultTimeline

__all__ = [
    "LEGACY_LEDGER",
    "AppliedFault",
    "CleanupReport",
    "DatabaseFailover",
    "Fault",
    "FaultContext",
    "FaultKind",
    "FaultRun",
    "FaultSession",
    "FaultTimeline",
    "Interrupted",
    "Latency",
    "Ledger",
    "LedgerEntry",
    "NetworkPartition",
    "PodKill",
    "ResourceExhaustion",
    "RevertReport",
    "SafetyRefused",
    "build_fault",
    "build_scope",
    "check_spec",
    "cleanup",
    "describe_fault",
    "ledger_for",
    "ledger_path",
    "new_fault_id",
    "target_key",
]
