"""How chaosgate reaches pods, links and databases: the sandbox or Kubernetes.

:mod:`.base` holds the contract (:class:`Platform`, :class:`DatabaseAdapter`
and their JSON-serialisable data). :func:`platform_for` and
:func:`database_for` build the right implementation for a target; the
implementations are imported only when needed (the Kubernetes client is
not loaded for a sandbox target).
"""

from __future__ import annotations

from .base import (
    DB_METHODS,
    DIRECTIONS,
    STRESS_MODES,
    Change,
    DatabaseAdapter,
    DbMemberState,
    Direction,
    LatencySpec,
    Moment,
    NetworkScope,
    PartitionSpec,
    Platform,
    PodRef,
    ProbeResult,
    StressMode,
    StressSpec,
)

__all__ = [
    "DB_METHODS",
    "DIRECTIONS",
    "STRESS_MODES",
    "Change",
    "DatabaseAdapter",
    "DbMemberState",
    "Direction",
    "LatencySpec",
    "Moment",
    "NetworkScope",
    "PartitionSpec",
    "Platform",
    "PodRef",
    "ProbeResult",
    "StressMode",
    "StressSpec",
]

