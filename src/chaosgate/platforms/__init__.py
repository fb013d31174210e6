"""How chaosgate reaches pods, links and databases: supervised processes or Kubernetes.

:mod:`.base` holds the contract (:class:`Platform`, :class:`DatabaseAdapter`
and their JSON-serialisable data). :func:`platform_for` and
:func:`database_for` build the right implementation for a target; the
implementations are imported only when needed (the Kubernetes client is
not loaded for a processes target).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..exceptions import UsageError
from ..targets import Target
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
    "database_for",
    "platform_for",
]


def platform_for(target: Target) -> Platform:
    """The platform ``target`` describes (processes, the sandbox among them, or Kubernetes)."""
    if target.platform.type == "processes":
        from .processes import ProcessesPlatform

        return ProcessesPlatform(target)
    platform: Platform = _kubernetes().KubernetesPlatform(target)
    return platform


def database_for(target: Target, platform: Platform) -> DatabaseAdapter:
    """The adapter for ``target``'s database; UsageError when the target has none."""
    if target.database is None:
        raise UsageError(
            f"{target.source}: database: the target describes no database. "
            "Fix: add a database block (type patroni, cloudnativepg or rds)"
        )
    if target.platform.type == "processes":
        if target.database.type != "patroni":
            raise UsageError(
                f"{target.source}: database.type: the processes platform fails over Patroni "
                f"only, not {target.database.type}. Fix: describe the Patroni members "
                "(type: patroni, members with patroni_url)")
        from .sandbox_db import ProcessesPatroni

        return ProcessesPatroni(target)
    adapter: DatabaseAdapter = _kubernetes().kubernetes_database(target, platform)
    return adapter


def _kubernetes() -> ModuleType:
    """``chaosgate.platforms.kubernetes``, imported on first use."""
    try:
        return importlib.import_module(f"{__name__}.kubernetes")
    except ImportError as exc:
        raise UsageError(f"the Kubernetes platform is not available here: {exc}") from exc
