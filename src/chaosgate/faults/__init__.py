"""What to break, always with a way back: faults, the ledger, reverts on signals.

- :class:`PodKill`, :class:`NetworkPartition`, :class:`Latency`,
  :class:`DatabaseFailover`, :class:`ResourceExhaustion`: each plans a
  platform change (no side effect; ``plan()`` is the dry run), writes it to
  the :class:`Ledger` before applying it, verifies it with an active probe
  and reverts it idempotently (:mod:`.base`).
- :func:`run_fault`: inject, verify, hold, revert, wait healed, gather the
  ground truth into a :class:`Timeline`.
- :func:`reverting_on_signals`: SIGINT/SIGTERM revert before exiting;
  :func:`cleanup` reverts what a killed process left open in the ledger.
- :mod:`.selection` (pure): seeded selection and the safety block.
"""

from __future__ import annotations

from .base import AppliedFault, Fault, FaultContext, new_fault_id
from .cleanup import CleanupReport, cleanup
from .database import DatabaseFailover
from .ledger import DEFAULT_LEDGER, Ledger, LedgerEntry, target_key
from .network import Latency, NetworkPartition, build_scope
from .pods import PodKill
from .resources import ResourceExhaustion
from .runner import Outcome, run_fault
from .selection import SafetyRefused
from .signals import Interrupted, reverting_on_signals
from .timeline import Timeline

__all__ = [
    "DEFAULT_LEDGER",
    "AppliedFault",
    "CleanupReport",
    "DatabaseFailover",
    "Fault",
    "FaultContext",
    "Interrupted",
    "Latency",
    "Ledger",
    "LedgerEntry",
    "NetworkPartition",
    "Outcome",
    "PodKill",
    "ResourceExhaustion",
    "SafetyRefused",
    "Timeline",
    "build_scope",
    "cleanup",
    "new_fault_id",
    "reverting_on_signals",
    "run_fault",
    "target_key",
]
